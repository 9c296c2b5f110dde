//! Frame names as users know them: demangled, without hash suffixes (the one definition;
//! `report::names` re-exports it, trimming and the pprof encoder use it).

use std::borrow::Cow;

use crate::model::profile::Frame;
// How names are spelled (closures, generic arguments) is data the symbolizer in `observe`
// applies as it names frames; it lives in `model` and reports reach it here.
pub use crate::model::frame_name::{closure_spelling, trailing_generics_start};

/// The name shown for a frame: its function, demangled (legacy `_ZN…E` and v0 `_R…`
/// symbols), without a trailing `::h<16 hex digits>` hash, or `"?"` when empty.
pub fn display_name(frame: &Frame) -> Cow<'_, str> {
    function_name(&frame.function)
}

/// [`display_name`] for a bare function name.
pub fn function_name(name: &str) -> Cow<'_, str> {
    let name = name.trim();
    if name.is_empty() {
        return Cow::Borrowed("?");
    }
    if name.starts_with("_ZN") || name.starts_with("_R") || name.starts_with("__ZN") {
        if let Ok(d) = rustc_demangle::try_demangle(name) {
            // `{:#}` leaves out the hash suffix.
            return Cow::Owned(format!("{d:#}"));
        }
    }
    let name = strip_hash(name).unwrap_or(name);
    match allocator_shim(name) {
        Some(shim) if !name.starts_with("__rustc::") => Cow::Owned(format!("__rustc::{shim}")),
        // Profiles named before closures were spelled one way (see `closure_spelling`).
        _ if name.contains("{closure#") => Cow::Owned(closure_spelling(name).into_owned()),
        _ => Cow::Borrowed(name),
    }
}

/// The allocator shim `name` is (`__rust_alloc`, `__rust_dealloc`, `__rust_realloc`,
/// `__rust_alloc_zeroed`), whatever crate path precedes it. rustc generates them in the
/// crate that declares the `#[global_allocator]`; their symbols are `__rustc::__rust_alloc`…,
/// but where one is inlined into its caller (as a user's build inlines allocscope's
/// allocation path) the debug info names it after that crate (`app::__rust_alloc`).
/// [`function_name`] shows every such frame under its symbol's name.
pub fn allocator_shim(name: &str) -> Option<&str> {
    let last = name.rsplit_once("::").map_or(name, |(_, last)| last);
    matches!(
        last,
        "__rust_alloc" | "__rust_dealloc" | "__rust_realloc" | "__rust_alloc_zeroed"
    )
    .then_some(last)
}

/// `name` without a trailing `::h` + 16 hex digits, if it has one.
fn strip_hash(name: &str) -> Option<&str> {
    const HASH_LEN: usize = 3 + 16; // "::h" + 16 hex digits
    let split = name.len().checked_sub(HASH_LEN)?;
    let (head, tail) = (name.get(..split)?, name.get(split..)?);
    let digits = tail.strip_prefix("::h")?;
    if !head.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(head)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names of profiles written before closures were spelled one way.
    #[test]
    fn old_closure_spellings_are_shown_the_new_way() {
        assert_eq!(function_name("app::{closure#1}"), "app::{{closure}}");
    }
}
