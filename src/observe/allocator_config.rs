//! The inner allocator's runtime configuration, for the profile's `meta.allocator_config`.

/// The runtime configuration of the installed inner allocator, as one line, or `None` when
/// there is nothing to say.
///
/// Over jemalloc: the `_RJEM_MALLOC_CONF` environment value (the variable the prefixed tikv
/// build reads; plain `MALLOC_CONF` is ignored) followed by the options in effect, read from
/// jemalloc, e.g.
/// `_RJEM_MALLOC_CONF=dirty_decay_ms:1000; opt.dirty_decay_ms=1000 opt.muzzy_decay_ms=0
/// opt.background_thread=false opt.narenas=8 opt.tcache=true opt.retain=true`.
/// Over the system allocator on glibc: `GLIBC_TUNABLES=…` and `MALLOC_ARENA_MAX=…` when set.
pub fn allocator_config() -> Option<String> {
    match crate::hook::profiler::installed_allocator() {
        Some(crate::hook::profiler::AllocatorKind::Jemalloc)
            if crate::observe::jemalloc_stats::mallctl().is_some() =>
        {
            Some(jemalloc_config())
        }
        Some(crate::hook::profiler::AllocatorKind::System) => {
            let vars: Vec<String> = ["GLIBC_TUNABLES", "MALLOC_ARENA_MAX"]
                .iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v}")))
                .collect();
            (!vars.is_empty()).then(|| vars.join(" "))
        }
        Some(crate::hook::profiler::AllocatorKind::Mimalloc) => std::env::var("MIMALLOC_OPTIONS")
            .ok()
            .map(|v| format!("MIMALLOC_OPTIONS={v}")),
        _ => None,
    }
}

/// `_RJEM_MALLOC_CONF` (if set) and the options jemalloc reports.
pub(crate) fn jemalloc_config() -> String {
    use crate::observe::jemalloc_stats::read_opt;
    use std::fmt::Write;

    let mut out = String::new();
    if let Ok(v) = std::env::var("_RJEM_MALLOC_CONF") {
        let _ = write!(out, "_RJEM_MALLOC_CONF={v};");
    }
    let mut opt = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "opt.{name}={v}");
        }
    };
    opt("dirty_decay_ms", ssize_opt(b"opt.dirty_decay_ms\0"));
    opt("muzzy_decay_ms", ssize_opt(b"opt.muzzy_decay_ms\0"));
    opt("background_thread", bool_opt(b"opt.background_thread\0"));
    // SAFETY: opt.narenas is an `unsigned` control.
    opt(
        "narenas",
        unsafe { read_opt::<u32>(b"opt.narenas\0") }
            .ok()
            .map(|v| v.to_string()),
    );
    opt("tcache", bool_opt(b"opt.tcache\0"));
    opt("retain", bool_opt(b"opt.retain\0"));
    out
}

/// Reads an `ssize_t` option (a NUL-terminated name of one).
fn ssize_opt(name: &'static [u8]) -> Option<String> {
    // SAFETY: callers pass only controls whose C type is `ssize_t`, i.e. `isize`.
    unsafe { crate::observe::jemalloc_stats::read_opt::<isize>(name) }
        .ok()
        .map(|v| v.to_string())
}

/// Reads a `bool` option (a NUL-terminated name of one).
fn bool_opt(name: &'static [u8]) -> Option<String> {
    // SAFETY: callers pass only controls whose C type is `bool`.
    unsafe { crate::observe::jemalloc_stats::read_opt::<bool>(name) }
        .ok()
        .map(|v| v.to_string())
}

#[cfg(all(test, feature = "jemalloc"))]
mod tests {
    #[test]
    fn jemalloc_config_lists_options() {
        // SAFETY: the bundled jemalloc is linked in with the feature.
        unsafe { crate::observe::jemalloc_stats::set_mallctl(tikv_jemalloc_sys::mallctl) };
        let s = super::jemalloc_config();
        assert!(s.contains("opt.dirty_decay_ms="), "{s}");
        assert!(s.contains("opt.muzzy_decay_ms="), "{s}");
        assert!(s.contains("opt.narenas="), "{s}");
        assert!(s.contains("opt.background_thread=false"), "{s}");
    }
}
