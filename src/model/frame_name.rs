//! How frame names are spelled, one way whatever the build: closures as `{{closure}}`, and
//! DWARF names without their function's generic arguments. The symbolizer
//! (`observe::symbolize`) applies it as it names frames; `analysis::names` re-exports it for
//! reports.

use std::borrow::Cow;

/// `{closure#0}` (DWARF names, v0 symbols) spelled `{{closure}}`, as legacy symbols (the
/// default) spell it: one spelling whatever the build's `debug` setting or mangling, so that
/// `diff` matches the same closure across builds. The closure's number is dropped: legacy
/// symbols have none, so two closures of one function are told apart by their callers and
/// lines, as they are in a default build. `{closure_env#0}` (a closure's type, inside
/// generic arguments) is left as it is.
pub fn closure_spelling(name: &str) -> Cow<'_, str> {
    const OPEN: &str = "{closure#";
    if !name.contains(OPEN) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..i]);
        if digits > 0 && after[digits..].starts_with('}') {
            out.push_str("{{closure}}");
            rest = &after[digits + 1..];
        } else {
            out.push_str(OPEN);
            rest = after;
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Where the generic arguments of a name's last segment begin (`collect<I, B>` → the `<`,
/// `collect::<I, B>` → the `::`), if the name ends with them. The `>` of a `->` (`call_mut<fn(usize) -> W, (usize)>`) is
/// not a bracket. A name that is all one bracket (`<T as Trait>`) has none.
pub fn trailing_generics_start(name: &str) -> Option<usize> {
    if !name.ends_with('>') {
        return None;
    }
    let bytes = name.as_bytes();
    let mut depth = 0usize;
    for i in (0..bytes.len()).rev() {
        match bytes[i] {
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' => depth += 1,
            b'<' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    // The segment the arguments belong to: a name (`f<T>`, or `f::<T>` as
                    // v0 names spell them), not nothing.
                    let head = &name[..i];
                    let head = head.strip_suffix("::").unwrap_or(head);
                    return (!head.is_empty() && !head.ends_with(':')).then_some(head.len());
                }
            }
            _ => {}
        }
    }
    None
}

/// A DWARF function name as the symbol table would spell it: without the generic arguments
/// of its function segment (`core::iter::traits::iterator::collect<Map<…>, Vec<…>>` →
/// `…::collect`, `<T as Trait>::f<U>` → `<T as Trait>::f`; a type's arguments in the path,
/// `Vec<T,A>::push`, stay) and with closures spelled `{{closure}}` ([`closure_spelling`]).
/// In `debug = "line-tables-only"` builds inlined frames have only these names, with
/// arguments of a hundred characters or more; non-inlined frames, from legacy symbols, have
/// none.
pub fn dwarf_name(name: &str) -> String {
    let mut name = name;
    while let Some(i) = trailing_generics_start(name) {
        name = &name[..i];
    }
    closure_spelling(name).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dwarf_names_lose_their_function_generics() {
        assert_eq!(
            dwarf_name("core::iter::traits::iterator::collect<core::iter::adapters::map::Map<core::ops::range::Range<usize>, depcrate::inner::many_strings::{closure_env#0}>, alloc::vec::Vec<alloc::string::String, alloc::alloc::Global>>"),
            "core::iter::traits::iterator::collect"
        );
        assert_eq!(dwarf_name("new<&[u64], &u64>"), "new");
        assert_eq!(
            dwarf_name(
                "core::ops::function::call_mut<fn(usize) -> depcrate::inner::Widget, (usize)>"
            ),
            "core::ops::function::call_mut"
        );
        assert_eq!(
            dwarf_name("<alloc::vec::Vec<T> as core::iter::traits::collect::FromIterator<T>>::from_iter<I>"),
            "<alloc::vec::Vec<T> as core::iter::traits::collect::FromIterator<T>>::from_iter"
        );
        // A type's arguments in the path stay; a qualified self type alone is not touched.
        assert_eq!(
            dwarf_name("alloc::vec::Vec<T,A>::push"),
            "alloc::vec::Vec<T,A>::push"
        );
        assert_eq!(dwarf_name("<T as a::Trait>"), "<T as a::Trait>");
        assert_eq!(dwarf_name("f<fn() -> u8>"), "f");
        // v0 names spell them with a turbofish.
        assert_eq!(
            dwarf_name("std::panicking::catch_unwind::do_call::<&dyn core::ops::function::Fn<(), Output = i32>, i32>"),
            "std::panicking::catch_unwind::do_call"
        );
        assert_eq!(dwarf_name("::<T>"), "::<T>");
        // Unbalanced: left alone.
        assert_eq!(dwarf_name("f<a>>"), "f<a>>");
        assert_eq!(
            dwarf_name("{closure#0}<alloc::string::String>"),
            "{{closure}}"
        );
        assert_eq!(
            dwarf_name("app::main::{closure#2}"),
            "app::main::{{closure}}"
        );
    }

    #[test]
    fn closures_are_spelled_one_way() {
        assert_eq!(
            closure_spelling("a::{closure#0}::{closure#12}"),
            "a::{{closure}}::{{closure}}"
        );
        assert_eq!(closure_spelling("a::{{closure}}"), "a::{{closure}}");
        assert_eq!(closure_spelling("f<{closure_env#0}>"), "f<{closure_env#0}>");
        assert_eq!(closure_spelling("odd{closure#}x"), "odd{closure#}x");
    }
}
