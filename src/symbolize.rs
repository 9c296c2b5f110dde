//! Symbolization, away from the hot path: raw return addresses → demangled function names
//! (hash suffix stripped), inlined frames, file:line where debug info allows.
//!
//! Runs when a profile is written, inside `untracked` (backtrace's first `resolve` parses
//! the binary's DWARF and allocates a lot). Results are cached by address. Leading frames
//! of allocscope, the allocator and the standard library's allocation plumbing are trimmed,
//! so `frames[0]` is the user's function that allocated; the stack is then cut to
//! `max_depth` frames, keeping those nearest the allocation.

use std::collections::HashMap;

use crate::profile::Frame;

/// Resolves and caches addresses.
#[derive(Default)]
pub(crate) struct Symbolizer {
    cache: HashMap<usize, Vec<Frame>>,
}

impl Symbolizer {
    /// The frames of a raw stack (return addresses, innermost first), inlined frames
    /// expanded, plumbing trimmed, at most `max_depth` kept.
    pub(crate) fn stack(
        &mut self,
        raw: impl Iterator<Item = usize>,
        max_depth: usize,
    ) -> Vec<Frame> {
        let mut all = Vec::new();
        for addr in raw {
            let frames = self.cache.entry(addr).or_insert_with(|| resolve(addr));
            all.extend(frames.iter().cloned());
        }
        let first_user = all
            .iter()
            .position(|f| !is_plumbing(&f.function) && !is_plumbing_file(f.file.as_deref()));
        if let Some(i) = first_user {
            all.drain(..i);
        }
        all.truncate(max_depth);
        all
    }
}

fn resolve(ret_addr: usize) -> Vec<Frame> {
    let addr = ret_addr.saturating_sub(1) as u64;
    let mut out: Vec<Frame> = Vec::new();
    // `resolve` itself looks up `ret_addr - 1`, inside the call instruction.
    backtrace::resolve(ret_addr as *mut core::ffi::c_void, |sym| {
        let function = sym
            .name()
            .map(|n| clean_name(&n.as_str().map_or_else(|| n.to_string(), demangle)))
            .unwrap_or_else(|| "?".to_string());
        out.push(Frame {
            function,
            file: sym.filename().map(|p| p.display().to_string()),
            line: sym.lineno(),
            addr,
            inlined: true,
        });
    });
    match out.last_mut() {
        // Symbols come innermost first; the last one is the function the address is in.
        Some(last) => last.inlined = false,
        None => out.push(Frame {
            function: "?".to_string(),
            file: None,
            line: None,
            addr,
            inlined: false,
        }),
    }
    out
}

fn demangle(s: &str) -> String {
    match rustc_demangle::try_demangle(s) {
        // `{:#}` omits the `::h0123abcd…` hash.
        Ok(d) => format!("{d:#}"),
        Err(_) => s.to_string(),
    }
}

/// Strips a trailing `::h` + 16 hex digits, if any is left.
pub(crate) fn clean_name(s: &str) -> String {
    if let Some(i) = s.rfind("::h") {
        let tail = &s[i + 3..];
        if tail.len() == 16 && tail.bytes().all(|b| b.is_ascii_hexdigit()) {
            return s[..i].to_string();
        }
    }
    s.to_string()
}

/// Frames whose source file is the standard library (`/rustc/<hash>/library/…`),
/// allocscope's own sources, or an allocator/collection crate. With
/// `debug = "line-tables-only"` function names carry no module path, so the file is what
/// tells plumbing from user code.
pub(crate) fn is_plumbing_file(file: Option<&str>) -> bool {
    const OWN_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
    const CRATES: &[&str] = &[
        "/hashbrown-",
        "/tikv-jemallocator-",
        "/mimalloc-",
        "/backtrace-",
    ];
    let Some(f) = file else {
        return false;
    };
    f.starts_with("/rustc/")
        || f.starts_with(OWN_SRC)
        || CRATES.iter().any(|c| f.contains(c) && f.contains("/src/"))
}

/// Frames that are allocation plumbing, not the user's code: allocscope, the global
/// allocator shims, `alloc`/`core`/`std` (Vec growth, String, Box, collections), hashbrown,
/// backtrace and the unwinder, and unknown frames before the first known one.
pub(crate) fn is_plumbing(function: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "allocscope::",
        "alloc::",
        "core::",
        "std::",
        "hashbrown::",
        "backtrace::",
        "tikv_jemallocator::",
        "mimalloc::",
        "__rust_",
        "__rustc::",
        "__rdl_",
        "__rg_",
        "_Unwind_",
        "uw_",
        "_rjem_",
        "?",
    ];
    let name = function.trim_start_matches('<');
    if PREFIXES.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    // `<[T] as alloc::…>`, `<u8 as alloc::vec::spec_from_elem::SpecFromElem>`,
    // `<&str as …>`: std impls on primitive types (no path in the self type).
    if let Some(i) = name.find(" as ") {
        let (ty, tr) = (&name[..i], &name[i + 4..]);
        let primitive = !ty.contains("::") || ty.starts_with(['[', '&', '(', '*']);
        return primitive
            && ["alloc::", "core::", "std::"]
                .iter()
                .any(|p| tr.starts_with(p));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_suffixes_are_stripped() {
        assert_eq!(clean_name("foo::bar::h0123456789abcdef"), "foo::bar");
        assert_eq!(clean_name("foo::bar::hx"), "foo::bar::hx");
        assert_eq!(clean_name("main"), "main");
    }

    #[test]
    fn plumbing_is_recognised() {
        assert!(is_plumbing("alloc::raw_vec::RawVec<T,A>::grow_one"));
        assert!(is_plumbing(
            "<alloc::string::String as core::clone::Clone>::clone"
        ));
        assert!(is_plumbing("<[u8] as alloc::borrow::ToOwned>::to_owned"));
        assert!(is_plumbing("__rust_alloc"));
        assert!(is_plumbing("__rustc::__rust_alloc"));
        assert!(is_plumbing(
            "<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem"
        ));
        assert!(!is_plumbing("<u8 as mycrate::Parse>::parse"));
        assert!(is_plumbing("allocscope::callsites::record_alloc"));
        assert!(!is_plumbing("tiny_allocs::parse_version"));
        assert!(!is_plumbing("<my::Foo as core::clone::Clone>::clone"));
        assert!(is_plumbing_file(Some(
            "/rustc/59807616e/library/alloc/src/alloc.rs"
        )));
        assert!(is_plumbing_file(Some(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/profiler.rs"
        ))));
        assert!(!is_plumbing_file(Some(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/x.rs"
        ))));
        assert!(!is_plumbing_file(None));
    }
}
