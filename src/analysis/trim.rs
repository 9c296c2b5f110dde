//! Trimming stacks to the user's part: the one definition every report uses
//! (re-exported as `report::names::{trim_frames, trim_profile, …}`). The profile file keeps
//! the raw frames; `alloc-report --all-frames` skips this.

use std::collections::HashMap;

use crate::analysis::names::display_name;
use crate::model::profile::{CallSite, Frame, Profile};

/// The frames a report shows of a stack (leaf first). Left out, in this order:
/// - allocator plumbing at the leaf end: allocscope itself, the global-allocator shims
///   (`__rust_alloc`…), `alloc`/`core`/`std` internals (`RawVec` growth, `String`, `Box`,
///   collections), hashbrown, the unwinder: `frames[0]` becomes the user's function that
///   allocated ([`is_plumbing`], [`is_plumbing_file`]);
/// - everything below the program's `main` or a thread's entry closure: the runtime's
///   prologue (`std::rt::lang_start…`, `__rust_begin_short_backtrace`, libc's
///   `__libc_start_main`, `start_thread`, `clone3`…) ([`is_entry`]);
/// - closure-call shims anywhere (`FnOnce::call_once`, `<&mut F as FnMut>::call_mut`,
///   vtable shims) ([`is_call_shim`]);
/// - the standard library's inner frames between two of the user's frames: of each such run
///   (`Iterator::collect` → `FromIterator::from_iter` → … → `Iterator::try_fold` →
///   `find_map::check::{{closure}}` → the user's closure) only the outermost frame stays, the
///   function the user's code called ([`collapse_library_runs`]).
///
/// A stack that would be left empty (an allocation made by the runtime itself, before
/// `main` or at a thread's start) keeps its runtime frames.
pub fn trim_frames(frames: &[Frame]) -> Vec<Frame> {
    let first_user = frames
        .iter()
        .position(|f| !is_plumbing(&f.function) && !is_plumbing_file(f.file.as_deref()))
        .unwrap_or(0);
    let rest = frames.get(first_user..).unwrap_or(&[]);
    let end = rest
        .iter()
        .position(|f| is_entry(display_name(f).as_ref()))
        .unwrap_or(rest.len());
    let mut kept: Vec<Frame> = rest
        .get(..end)
        .unwrap_or(&[])
        .iter()
        .filter(|f| !is_call_shim(display_name(f).as_ref()))
        .cloned()
        .collect();
    collapse_library_runs(&mut kept);
    // An inlined frame whose enclosing frame was dropped now ends its address's group.
    for i in 0..kept.len() {
        let next_addr = kept.get(i + 1).map(|f| f.addr);
        if let Some(f) = kept.get_mut(i) {
            if f.inlined && next_addr != Some(f.addr) {
                f.inlined = false;
            }
        }
    }
    if kept.is_empty() {
        // All runtime (e.g. std's own set-up before `main`): the stack without plumbing
        // and shims, else as it is.
        let rest: Vec<Frame> = rest
            .iter()
            .filter(|f| !is_call_shim(display_name(f).as_ref()))
            .cloned()
            .collect();
        if rest.is_empty() {
            frames.to_vec()
        } else {
            rest
        }
    } else {
        kept
    }
}

/// A frame of the standard library or of an allocator or collection crate
/// ([`is_plumbing`], [`is_plumbing_file`]), and not an unknown one (`?`, `[lib]`).
fn is_library(f: &Frame) -> bool {
    let unknown = f.function.starts_with(['?', '[']);
    !unknown && (is_plumbing(&f.function) || is_plumbing_file(f.file.as_deref()))
}

/// In a stack (leaf first), keeps of each run of library frames (the standard library and
/// allocator or collection crates, by [`is_plumbing`] and [`is_plumbing_file`], not unknown
/// frames) that has the user's frames on both sides only its outermost frame: the library
/// function the user
/// called (`Iterator::collect`, `HashMap::extend`), without the adapters, `try_fold`s and
/// internal closures it went through to call the user's code back. Runs at either end are
/// not touched (the leaf's plumbing and the runtime's prologue have their own rules).
pub fn collapse_library_runs(frames: &mut Vec<Frame>) {
    let library: Vec<bool> = frames.iter().map(is_library).collect();
    let mut keep = vec![true; frames.len()];
    let mut i = 0;
    while i < frames.len() {
        if !library[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < frames.len() && library[i] {
            i += 1;
        }
        // [start, i) is a run; between two user frames when neither end is the stack's.
        if start > 0 && i < frames.len() {
            for k in keep.iter_mut().take(i - 1).skip(start) {
                *k = false;
            }
        }
    }
    let mut k = keep.into_iter();
    frames.retain(|_| k.next().unwrap_or(true));
}

/// Trims every call site's frames ([`trim_frames`]), keeps at most [`Profile::max_depth`]
/// frames nearest the allocation (when recorded), and merges the sites whose trimmed stacks
/// are the same, in the same tracing span (their figures add up; the lifetime median is the one
/// of the site with most freed allocations). Sites stay sorted by bytes, descending. This is what every report
/// shows unless asked for all frames.
pub fn trim_profile(profile: &mut Profile) {
    let max_depth = profile.max_depth;
    let mut trimmed: Vec<Vec<Frame>> = profile
        .sites
        .iter()
        .map(|site| trim_frames(&site.frames))
        .collect();
    drop_shared_unresolved_leaves(&mut trimmed);
    if let Some(d) = max_depth {
        for frames in &mut trimmed {
            frames.truncate((d as usize).max(1));
        }
    }
    let mut trimmed = trimmed.into_iter();
    merge_trimmed(profile, |_| trimmed.next().unwrap_or_default());
}

/// A frame the symbolizer could not name: `[file+0xoffset]` (an object without symbols or
/// debug info, or one that could not be read). Not plumbing: it may be the user's code.
pub fn is_unresolved(function: &str) -> bool {
    function.starts_with('[') && function.ends_with(']') && function.contains("+0x")
}

/// Stacks (leaf first) whose leaf ends are unresolved frames ([`is_unresolved`]): a
/// stripped program without its debug file. Its allocator plumbing (allocscope's hook,
/// `__rust_alloc`, `RawVec` growth) cannot be told from its own code by name, so it would
/// stay at the leaf of every stack and every row would read the same. The plumbing is what
/// most stacks share at their leaf end: of each stack's leading run of unresolved frames,
/// the frames found in the leading runs of at least half the stacks (and of two) are
/// dropped, up to the first frame that is not; every stack keeps at least one frame. The
/// user's frames that differ between call sites stay, so the sites stay apart.
fn drop_shared_unresolved_leaves(stacks: &mut [Vec<Frame>]) {
    let leading = |frames: &[Frame]| -> usize {
        frames
            .iter()
            .take_while(|f| is_unresolved(&f.function))
            .count()
    };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut with_run = 0usize;
    for frames in stacks.iter() {
        let n = leading(frames);
        if n == 0 {
            continue;
        }
        with_run += 1;
        let mut names: Vec<&str> = frames[..n].iter().map(|f| f.function.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            *seen.entry(name).or_default() += 1;
        }
    }
    let threshold = with_run.div_ceil(2).max(2);
    let shared: std::collections::HashSet<String> = seen
        .into_iter()
        .filter(|&(_, count)| count >= threshold)
        .map(|(name, _)| name.to_string())
        .collect();
    if shared.is_empty() {
        return;
    }
    for frames in stacks.iter_mut() {
        let n = leading(frames);
        let drop = frames[..n]
            .iter()
            .take_while(|f| shared.contains(&f.function))
            .count()
            .min(frames.len().saturating_sub(1));
        frames.drain(..drop);
    }
}

/// [`trim_profile`] with each site's trimmed stack given by `trimmed` (the HTTP server's
/// endpoints pass the stacks they trimmed once and keep): sets each site's frames, merges the
/// sites whose stacks and spans are the same and sorts them by bytes, descending.
pub(crate) fn merge_trimmed(
    profile: &mut Profile,
    mut trimmed: impl FnMut(&CallSite) -> Vec<Frame>,
) {
    let sites = std::mem::take(&mut profile.sites);
    // Sites of one stack in two tracing spans stay two sites: per stack, (span, index).
    let mut index: HashMap<Vec<Frame>, Vec<(Option<String>, usize)>> =
        HashMap::with_capacity(sites.len());
    let mut merged: Vec<CallSite> = Vec::with_capacity(sites.len());
    for mut site in sites {
        site.frames = trimmed(&site);
        let found = index
            .get(&site.frames)
            .and_then(|v| v.iter().find(|(span, _)| *span == site.span))
            .map(|&(_, i)| i);
        match found {
            Some(i) => merge_site(&mut merged[i], site),
            None => {
                index
                    .entry(site.frames.clone())
                    .or_default()
                    .push((site.span.clone(), merged.len()));
                merged.push(site);
            }
        }
    }
    merged.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.allocs.cmp(&a.allocs)));
    profile.sites = merged;
}

fn merge_site(into: &mut CallSite, s: CallSite) {
    if s.lifetimes.freed > into.lifetimes.freed {
        into.lifetimes.median_ns = s.lifetimes.median_ns;
    }
    into.allocs += s.allocs;
    into.bytes += s.bytes;
    into.live_blocks += s.live_blocks;
    into.live_bytes += s.live_bytes;
    into.peak_bytes += s.peak_bytes;
    into.slack_bytes += s.slack_bytes;
    into.samples += s.samples;
    into.lifetimes.freed += s.lifetimes.freed;
    into.lifetimes.under_1us += s.lifetimes.under_1us;
    into.lifetimes.under_1ms += s.lifetimes.under_1ms;
    into.lifetimes.under_1s += s.lifetimes.under_1s;
    for c in s.size_classes {
        match into.size_classes.iter_mut().find(|x| x.size == c.size) {
            Some(x) => x.allocs += c.allocs,
            None => into.size_classes.push(c),
        }
    }
    into.size_classes.sort_by_key(|c| c.size);
}

/// The first frame below the user's code: the runtime's entry into `main` or into a
/// thread's closure, or the C runtime's roots.
pub fn is_entry(name: &str) -> bool {
    const CONTAINS: &[&str] = &[
        "__rust_begin_short_backtrace",
        "std::rt::lang_start",
        "std::thread::Builder::spawn_unchecked_",
        "std::thread::lifecycle::spawn_unchecked",
    ];
    const EXACT: &[&str] = &[
        "main",
        "__libc_start_main",
        "__libc_start_call_main",
        "_start",
        "start_thread",
        "clone",
        "clone3",
    ];
    EXACT.contains(&name)
        || name.starts_with("__libc_start")
        || CONTAINS.iter().any(|c| name.contains(c))
}

/// A closure-call shim: `core::ops::function::FnOnce::call_once`,
/// `<&mut F as core::ops::function::FnMut<A>>::call_mut`, `<Box<F> as FnOnce>::call_once`,
/// `…::{{vtable.shim}}`.
pub fn is_call_shim(name: &str) -> bool {
    if name.contains("{{vtable.shim}}") || name.contains("{vtable_shim}") {
        return true;
    }
    let base = name.split("::{{closure}}").next().unwrap_or(name);
    let base = strip_trailing_generics(base);
    ["::call_once", "::call_mut", "::call"]
        .iter()
        .any(|c| base.ends_with(c))
        && (base.starts_with("core::ops::function::")
            || base.contains(" as core::ops::function::Fn"))
}

/// `a::f<T, U>` → `a::f` (the generic arguments DWARF names of inlined frames carry; the
/// `>` of a `->` inside them is not a bracket).
fn strip_trailing_generics(name: &str) -> &str {
    match crate::analysis::names::trailing_generics_start(name) {
        Some(i) => &name[..i],
        None => name,
    }
}

/// Frames whose source file is the standard library (`/rustc/<hash>/library/…`),
/// allocscope's own sources, or an allocator/collection crate. In old profiles of
/// `debug = "line-tables-only"` builds, function names carry no module path, so the file is
/// what tells plumbing from user code.
pub fn is_plumbing_file(file: Option<&str>) -> bool {
    const OWN_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
    const CRATES: &[&str] = &[
        "/hashbrown-",
        "/tikv-jemallocator-",
        "/mimalloc-",
        "/backtrace-",
        "/allocscope-",
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
/// backtrace and the unwinder, jemalloc and libc's allocator, and frames outside every
/// mapping (`?`). Not frames the symbolizer could not name (`[file+0xoffset]`,
/// [`is_unresolved`]) nor placeholders (`[unknown]`): they may be the user's code, and
/// dropping them made every call site of a stripped program one row.
pub fn is_plumbing(function: &str) -> bool {
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
    if PREFIXES.iter().any(|p| name.starts_with(p))
        || crate::analysis::names::allocator_shim(name).is_some()
    {
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

    fn trimmed_names(stack: &[Frame]) -> Vec<String> {
        trim_frames(stack).into_iter().map(|f| f.function).collect()
    }

    fn frame(function: &str) -> Frame {
        Frame {
            function: function.to_string(),
            file: None,
            line: None,
            addr: 0,
            inlined: false,
        }
    }

    #[test]
    fn trims_plumbing_prologue_and_shims() {
        let stack: Vec<Frame> = [
            "allocscope::callsites::record_alloc",
            "__rust_alloc",
            "alloc::raw_vec::RawVecInner<A>::finish_grow",
            "alloc::raw_vec::RawVec<T,A>::grow_one",
            "app::table::Table::push",
            "<&mut F as core::ops::function::FnMut<A>>::call_mut",
            "app::build::{{closure}}",
            "core::ops::function::FnOnce::call_once",
            "app::main",
            "core::ops::function::FnOnce::call_once",
            "std::sys::backtrace::__rust_begin_short_backtrace",
            "std::rt::lang_start::{{closure}}",
            "std::rt::lang_start_internal",
            "main",
            "__libc_start_call_main",
            "_start",
        ]
        .iter()
        .map(|n| frame(n))
        .collect();
        let names = trimmed_names(&stack);
        assert_eq!(
            names,
            [
                "app::table::Table::push",
                "app::build::{{closure}}",
                "app::main"
            ]
        );
        // A thread: cut at its entry.
        let thread: Vec<Frame> = [
            "app::worker",
            "std::sys::backtrace::__rust_begin_short_backtrace",
            "std::thread::Builder::spawn_unchecked_::{{closure}}::{{closure}}",
            "start_thread",
            "clone3",
        ]
        .iter()
        .map(|n| frame(n))
        .collect();
        assert_eq!(trim_frames(&thread).len(), 1);
        // All runtime: kept, without plumbing.
        let runtime = vec![
            frame("__rust_alloc"),
            frame("std::rt::lang_start_internal"),
            frame("main"),
        ];
        assert_eq!(trim_frames(&runtime), runtime[2..]);
        // DWARF names of inlined shims carry generic arguments.
        assert!(is_call_shim("core::ops::function::call_once<fn(), ()>"));
        assert!(is_call_shim(
            "core::ops::function::FnOnce::call_once{{vtable.shim}}"
        ));
        assert!(is_call_shim(
            "<alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once"
        ));
        assert!(!is_call_shim("app::Table::call"));
        // `->` inside the arguments is not a closing bracket.
        assert!(is_call_shim(
            "core::ops::function::call_mut<fn(usize) -> depcrate::inner::Widget, (usize)>"
        ));
        assert!(is_call_shim(
            "core::ops::function::FnOnce::call_once<fn() -> alloc::string::String, ()>"
        ));
    }

    /// The demo's stack through `collect` and `find_map` (trimmed, leaf first): eleven frames
    /// of the standard library between the user's closure and the function that called
    /// `collect`; only `collect` stays.
    #[test]
    fn library_runs_between_user_frames_collapse_to_the_call() {
        let mut stack: Vec<Frame> = [
            "demo::workload::parse_version",
            "demo::workload::main::{{closure}}",
            "core::iter::traits::iterator::Iterator::find_map::check::{{closure}}",
            "core::iter::traits::iterator::Iterator::try_fold",
            "core::iter::traits::iterator::Iterator::find_map",
            "<core::iter::adapters::filter_map::FilterMap<I,F> as core::iter::traits::iterator::Iterator>::next",
            "alloc::vec::Vec<T,A>::extend_desugared",
            "<alloc::vec::Vec<T> as core::iter::traits::collect::FromIterator<T>>::from_iter",
            "core::iter::traits::iterator::Iterator::collect",
            "demo::workload::main",
            "demo::main",
        ]
        .iter()
        .map(|n| frame(n))
        .collect();
        // A frame known by its file only (an old `line-tables-only` profile) is the library's.
        stack[3].function = "try_fold".into();
        stack[3].file = Some("/rustc/59807616e/library/core/src/iter/traits/iterator.rs".into());
        let names = trimmed_names(&stack);
        assert_eq!(
            names,
            [
                "demo::workload::parse_version",
                "demo::workload::main::{{closure}}",
                "core::iter::traits::iterator::Iterator::collect",
                "demo::workload::main",
                "demo::main",
            ]
        );
        // A single library frame between user frames, and runs at the ends, stay.
        let mut short: Vec<Frame> = ["app::f", "std::thread::scope", "app::main"]
            .iter()
            .map(|n| frame(n))
            .collect();
        let before = short.clone();
        collapse_library_runs(&mut short);
        assert_eq!(short, before);
        let mut ends: Vec<Frame> = ["core::a", "core::b", "app::f", "std::c", "std::d"]
            .iter()
            .map(|n| frame(n))
            .collect();
        let before = ends.clone();
        collapse_library_runs(&mut ends);
        assert_eq!(ends, before);
        // Unknown frames are not the library's: nothing to collapse.
        let mut unknown: Vec<Frame> = ["app::f", "?", "??", "app::main"]
            .iter()
            .map(|n| frame(n))
            .collect();
        let before = unknown.clone();
        collapse_library_runs(&mut unknown);
        assert_eq!(unknown, before);
    }

    /// A stripped program without its debug file: every frame of the program is
    /// `[app+0x…]`. The frames all stacks share at the leaf (allocscope's hook, the shims)
    /// go; the user's frames that tell the sites apart stay, and no site is left empty.
    #[test]
    fn unresolved_frames_keep_sites_apart() {
        let stack = |names: &[&str]| -> Vec<Frame> { names.iter().map(|n| frame(n)).collect() };
        let hook = ["[app+0x100]", "[app+0x200]", "[app+0x300]"];
        let tail = ["[app+0x900]", "__libc_start_call_main", "_start"];
        let a = stack(&[&hook[..], &["[app+0x510]", "[app+0x600]"], &tail[..]].concat());
        let b = stack(&[&hook[..], &["[app+0x520]", "[app+0x600]"], &tail[..]].concat());
        let c = stack(&[&hook[..], &["[app+0x530]", "[app+0x700]"], &tail[..]].concat());
        assert!(!is_plumbing("[app+0x100]"));
        assert!(is_unresolved("[app+0x100]"));
        assert!(!is_unresolved("[unknown]"));
        assert!(!is_unresolved("[allocscope: site table full]"));
        // Trimming one stack keeps them (they may be the user's), cut at libc's entry.
        assert_eq!(trim_frames(&a), a[..6]);
        let mut trimmed: Vec<Vec<Frame>> = [a, b, c, stack(&["[unknown]"])]
            .iter()
            .map(|f| trim_frames(f))
            .collect();
        // (what `trim_profile` does before merging equal stacks)
        drop_shared_unresolved_leaves(&mut trimmed);
        let rows: Vec<Vec<String>> = trimmed
            .iter()
            .map(|s| s.iter().map(|f| f.function.clone()).collect())
            .collect();
        assert_eq!(
            rows,
            [
                vec!["[app+0x510]", "[app+0x600]", "[app+0x900]"],
                vec!["[app+0x520]", "[app+0x600]", "[app+0x900]"],
                vec!["[app+0x530]", "[app+0x700]", "[app+0x900]"],
                vec!["[unknown]"],
            ]
        );
        // A single stack: nothing is shared with others, nothing dropped.
        let mut one = vec![stack(&hook)];
        drop_shared_unresolved_leaves(&mut one);
        assert_eq!(one[0].len(), 3);
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
        // Inlined into its caller, the shim is named after the allocator's crate.
        assert!(is_plumbing("app::__rust_alloc"));
        assert_eq!(
            crate::analysis::names::function_name("app::__rust_alloc"),
            "__rustc::__rust_alloc"
        );
        assert!(!is_plumbing("app::rust_alloc_table"));
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
