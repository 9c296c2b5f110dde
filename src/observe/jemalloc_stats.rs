//! Typed reads of jemalloc's statistics, through the program's own `mallctl`.
//!
//! allocscope links no jemalloc of its own for this: the program hands it the `mallctl` of
//! whichever jemalloc it already links, a function with jemalloc's stable C signature
//! ([`Mallctl`]), e.g. `Profiler::new(MyJemalloc).with_jemalloc_stats(tikv_jemalloc_sys::mallctl)`
//! (any tikv-jemalloc-sys 0.5/0.6/0.7 or the older jemalloc-sys; see `docs/jemalloc.md`).
//! With the `jemalloc` feature, `Profiler::new(allocscope::Jemalloc)` registers the bundled
//! jemalloc's `mallctl` by itself.
//!
//! jemalloc keeps its `stats.*` values as a cached copy that is refreshed by writing the
//! `epoch` control; [`JemallocStats::read`] refreshes it and reads every figure the RSS gap
//! needs from the same refresh, by name (a read by name costs ~80 ns, the refresh itself
//! ~8 µs as it merges all arenas under their locks, so names cost little here).
//!
//! Never call this from inside the allocator hooks: the refresh takes jemalloc's locks. The
//! statistics exist only when that jemalloc was built with them (tikv-jemalloc-sys's `stats`
//! feature); without them every read fails with `ENOENT` and the gap is `None`.

use std::ffi::c_void;

pub use crate::hook::mallctl::{mallctl, set_mallctl, Mallctl};
use std::sync::Mutex;

/// `MALLCTL_ARENAS_ALL`: the arena index that stands for all arenas merged.
pub const ARENAS_ALL: usize = 4096;

/// Why jemalloc's statistics could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JemallocError {
    /// No `mallctl` was registered (see [`crate::Profiler::with_jemalloc_stats`]).
    #[error("no jemalloc mallctl registered: use Profiler::with_jemalloc_stats(<your jemalloc-sys>::mallctl)")]
    NoMallctl,
    /// `mallctl` failed on a control; `errno` is its return value (`ENOENT`: unknown control,
    /// e.g. jemalloc built without statistics; `EINVAL`: wrong value size).
    #[error("mallctl(\"{name}\") failed: {}", std::io::Error::from_raw_os_error(*errno))]
    Mallctl {
        /// The control's name.
        name: &'static str,
        /// mallctl's return value.
        errno: i32,
    },
}

/// Calls the registered `mallctl` on the NUL-terminated `name` with raw value pointers.
///
/// # Safety
///
/// As jemalloc's `mallctl`: `oldp`/`oldlenp` and `newp`/`newlen` must describe memory of the
/// control's exact C type (or be null/0).
unsafe fn call(
    name: &'static [u8],
    oldp: *mut c_void,
    oldlenp: *mut usize,
    newp: *mut c_void,
    newlen: usize,
) -> Result<(), JemallocError> {
    let f = mallctl().ok_or(JemallocError::NoMallctl)?;
    debug_assert_eq!(name.last(), Some(&0));
    // SAFETY: `name` is NUL-terminated (all callers pass literals ending in `\0`); the value
    // pointers are forwarded under the caller's contract; `f` is a registered mallctl.
    let rc = unsafe { f(name.as_ptr().cast(), oldp, oldlenp, newp, newlen) };
    if rc == 0 {
        Ok(())
    } else {
        let shown = std::str::from_utf8(name.strip_suffix(&[0]).unwrap_or(name)).unwrap_or("?");
        Err(JemallocError::Mallctl {
            name: shown,
            errno: rc,
        })
    }
}

/// Reads one control by name (a NUL-terminated mallctl name such as
/// `b"opt.dirty_decay_ms\0"`).
///
/// # Safety
///
/// `T` must be the exact C type of the control (`ssize_t` → `isize`, `size_t` → `usize`,
/// `unsigned` → `u32`, `uint64_t` → `u64`, `bool` → `bool`): jemalloc writes
/// `size_of::<T>()` bytes into it and fails with `EINVAL` when the length differs, but a
/// same-sized wrong type (e.g. `usize` for `ssize_t`) is read as is.
pub unsafe fn read_opt<T: Copy + Default>(name: &'static [u8]) -> Result<T, JemallocError> {
    let mut value = T::default();
    let mut len = std::mem::size_of::<T>();
    // SAFETY: `value` is `len` writable bytes of the control's type (caller's contract);
    // nothing is written to jemalloc.
    unsafe {
        call(
            name,
            (&mut value as *mut T).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )?
    };
    Ok(value)
}

/// One consistent reading of jemalloc's statistics, all in bytes unless a name says pages.
///
/// See `docs/jemalloc.md` for what each figure means and how they relate (and `docs/gap.md`
/// for how they make up the gap):
/// `allocated ≤ active`, `resident = active + dirty + resident metadata`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct JemallocStats {
    /// `stats.allocated`: live bytes rounded up to size classes, including objects parked in
    /// thread caches.
    pub allocated: u64,
    /// `stats.active`: bytes in active pages (pages that hold at least one live object).
    pub active: u64,
    /// `stats.metadata`: base allocator bytes plus internal allocations.
    pub metadata: u64,
    /// `stats.arenas.<all>.base`: bytes the base (bootstrap) allocator holds.
    pub base: u64,
    /// `stats.arenas.<all>.internal`: bytes of jemalloc's internal allocations (inside
    /// `active`).
    pub internal: u64,
    /// `stats.resident`: bytes in physically resident data pages, an upper bound (pages that
    /// were never touched count too). Muzzy pages are not in it.
    pub resident: u64,
    /// `stats.mapped`: bytes in active extents mapped by the allocator.
    pub mapped: u64,
    /// `stats.retained`: virtual memory kept instead of unmapped (essentially not resident).
    pub retained: u64,
    /// `stats.arenas.<all>.pdirty`: pages freed but not yet returned to the OS.
    pub pdirty: u64,
    /// `stats.arenas.<all>.pmuzzy`: pages returned lazily (`MADV_FREE`), which the kernel may
    /// still count as resident.
    pub pmuzzy: u64,
    /// `stats.arenas.<all>.tcache_bytes`: bytes parked in thread caches (inside `allocated`).
    pub tcache_bytes: u64,
    /// `stats.arenas.<all>.dirty_purged`: dirty pages purged since start, cumulative.
    pub dirty_purged_pages: u64,
    /// `stats.arenas.<all>.muzzy_purged`: muzzy pages purged since start, cumulative.
    pub muzzy_purged_pages: u64,
    /// `arenas.page`: jemalloc's page size.
    pub page: u64,
}

impl JemallocStats {
    /// Refreshes jemalloc's statistics (`epoch`) and reads them all from that one refresh,
    /// through the registered [`mallctl()`].
    ///
    /// Concurrent callers are serialized, so a refresh by another thread cannot fall between
    /// this call's refresh and its reads.
    pub fn read() -> Result<JemallocStats, JemallocError> {
        mallctl().ok_or(JemallocError::NoMallctl)?;
        // Poisoning cannot leave the guarded `()` in a bad state: ignore it. In a forked child
        // a lock held at the fork is stale (its holder does not exist there): go on without.
        let _guard = crate::hook::forked::lock(&READ_LOCK);
        let mut epoch: u64 = 1;
        // SAFETY: `epoch` is a `uint64_t` control; we write one and read none.
        unsafe {
            call(
                b"epoch\0",
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                (&mut epoch as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )?
        };
        // SAFETY (every read below): the `stats.*` byte figures, `arenas.page` and the
        // per-arena `pdirty`/`pmuzzy`/`tcache_bytes`/`base`/`internal` are `size_t`; the
        // purge counters are `uint64_t` (jemalloc(3), "MALLCTL NAMESPACE").
        let size = |name: &'static [u8]| unsafe { read_opt::<usize>(name) }.map(|v| v as u64);
        let u64_ = |name: &'static [u8]| unsafe { read_opt::<u64>(name) };
        Ok(JemallocStats {
            allocated: size(b"stats.allocated\0")?,
            active: size(b"stats.active\0")?,
            metadata: size(b"stats.metadata\0")?,
            base: size(b"stats.arenas.4096.base\0")?,
            internal: size(b"stats.arenas.4096.internal\0")?,
            resident: size(b"stats.resident\0")?,
            mapped: size(b"stats.mapped\0")?,
            retained: size(b"stats.retained\0")?,
            pdirty: size(b"stats.arenas.4096.pdirty\0")?,
            pmuzzy: size(b"stats.arenas.4096.pmuzzy\0")?,
            tcache_bytes: size(b"stats.arenas.4096.tcache_bytes\0")?,
            dirty_purged_pages: u64_(b"stats.arenas.4096.dirty_purged\0")?,
            muzzy_purged_pages: u64_(b"stats.arenas.4096.muzzy_purged\0")?,
            page: size(b"arenas.page\0")?,
        })
    }

    /// Dirty pages in bytes (`pdirty · page`).
    pub fn dirty_bytes(&self) -> u64 {
        self.pdirty.saturating_mul(self.page)
    }

    /// Muzzy pages in bytes (`pmuzzy · page`): an upper bound of what they add to RSS.
    pub fn muzzy_bytes(&self) -> u64 {
        self.pmuzzy.saturating_mul(self.page)
    }

    /// The part of `resident` that is neither active nor dirty pages: the resident part of
    /// the base allocator's metadata (`page_ceil(base)` as measured).
    pub fn resident_metadata(&self) -> i64 {
        self.resident as i64 - self.active as i64 - self.dirty_bytes() as i64
    }
}

/// Serializes refresh-and-read sequences.
static READ_LOCK: Mutex<()> = Mutex::new(());

/// Forces every arena to return its unused dirty (and muzzy) pages to the OS now
/// (`arena.<MALLCTL_ARENAS_ALL>.purge`).
pub fn purge_all_arenas() -> Result<(), JemallocError> {
    // `arena.<i>.purge` is a "void" control: jemalloc rejects any old or new value.
    // SAFETY: all value pointers are null with length 0, which is exactly what a void
    // control expects, so jemalloc reads and writes no memory of ours.
    unsafe {
        call(
            b"arena.4096.purge\0",
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    }
}

#[cfg(all(test, feature = "jemalloc"))]
mod tests {
    use super::*;

    fn register() {
        // SAFETY: the bundled jemalloc is linked in with the feature.
        unsafe { set_mallctl(tikv_jemalloc_sys::mallctl) };
    }

    #[test]
    fn reads_are_consistent() {
        register();
        let s = JemallocStats::read().unwrap();
        assert!(
            s.page.is_power_of_two() && s.page >= 4096,
            "page {}",
            s.page
        );
        assert!(s.allocated <= s.active, "{s:?}");
        assert!(s.active + s.dirty_bytes() <= s.resident, "{s:?}");
        assert!(s.tcache_bytes <= s.allocated, "{s:?}");
        assert!(s.metadata >= s.base, "{s:?}");
        assert_eq!(s.metadata, s.base + s.internal, "{s:?}");
        // The resident metadata is the base allocator's resident part: page_ceil(base), give
        // or take a partly used page per base block (jemalloc rounds each block up).
        let rm = s.resident_metadata();
        let page_ceil_base = s.base.div_ceil(s.page) * s.page;
        assert!(rm >= page_ceil_base as i64 - 16 * s.page as i64, "{s:?}");
        assert!(rm <= page_ceil_base as i64 + 16 * s.page as i64, "{s:?}");
    }

    #[test]
    fn purge_is_accepted() {
        register();
        purge_all_arenas().unwrap();
    }

    #[test]
    fn reads_options() {
        register();
        // SAFETY: opt.dirty_decay_ms is an ssize_t.
        let d: isize = unsafe { read_opt(b"opt.dirty_decay_ms\0") }.unwrap();
        assert!(d >= -1);
        // SAFETY: wrong length on purpose: jemalloc rejects it without writing.
        assert!(unsafe { read_opt::<u8>(b"opt.dirty_decay_ms\0") }.is_err());
        // SAFETY: no such control: jemalloc writes nothing.
        let e = unsafe { read_opt::<usize>(b"stats.no_such\0") }.unwrap_err();
        assert_eq!(
            e,
            JemallocError::Mallctl {
                name: "stats.no_such",
                errno: libc::ENOENT
            }
        );
    }
}
