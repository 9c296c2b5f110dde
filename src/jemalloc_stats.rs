//! Typed reads of jemalloc's statistics (feature `jemalloc`).
//!
//! jemalloc keeps its `stats.*` values as a cached copy that is refreshed by writing the
//! `epoch` control; [`JemallocStats::read`] refreshes it and reads every figure the RSS gap
//! needs from the same refresh, through MIBs looked up once and cached (a read through a
//! cached MIB costs ~18 ns, by name ~80 ns; the refresh itself ~8 µs, as it merges all arenas
//! under their locks).
//!
//! Never call this from inside the allocator hooks: the refresh takes jemalloc's locks. It
//! works whether or not jemalloc is the installed global allocator (it is linked in with the
//! feature), but its figures describe the program's heap only when it is.

use std::sync::{Mutex, OnceLock};

use tikv_jemalloc_ctl::{raw, Access, AsName, Mib};

/// `MALLCTL_ARENAS_ALL`: the arena index that stands for all arenas merged.
pub const ARENAS_ALL: usize = 4096;

/// One consistent reading of jemalloc's statistics, all in bytes unless a name says pages.
///
/// See `../shared/NOTES.md` §1 for what each figure means and how they relate:
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
    /// Refreshes jemalloc's statistics (`epoch`) and reads them all from that one refresh.
    ///
    /// Concurrent callers are serialized, so a refresh by another thread cannot fall between
    /// this call's refresh and its reads.
    pub fn read() -> Result<JemallocStats, tikv_jemalloc_ctl::Error> {
        let mibs = match mibs() {
            Ok(m) => m,
            Err(e) => return Err(*e),
        };
        // Poisoning cannot leave the guarded `()` in a bad state: ignore it. In a forked child
        // a lock held at the fork is stale (its holder does not exist there): go on without.
        let _guard = crate::forked::lock(&READ_LOCK);
        mibs.epoch.advance()?;
        let z = |v: usize| v as u64;
        Ok(JemallocStats {
            allocated: z(mibs.allocated.read()?),
            active: z(mibs.active.read()?),
            metadata: z(mibs.metadata.read()?),
            base: z(mibs.base.read()?),
            internal: z(mibs.internal.read()?),
            resident: z(mibs.resident.read()?),
            mapped: z(mibs.mapped.read()?),
            retained: z(mibs.retained.read()?),
            pdirty: z(mibs.pdirty.read()?),
            pmuzzy: z(mibs.pmuzzy.read()?),
            tcache_bytes: z(mibs.tcache_bytes.read()?),
            dirty_purged_pages: mibs.dirty_purged.read()?,
            muzzy_purged_pages: mibs.muzzy_purged.read()?,
            page: mibs.page as u64,
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

/// MIBs of every control [`JemallocStats::read`] uses, looked up once.
struct Mibs {
    epoch: tikv_jemalloc_ctl::epoch_mib,
    allocated: tikv_jemalloc_ctl::stats::allocated_mib,
    active: tikv_jemalloc_ctl::stats::active_mib,
    metadata: tikv_jemalloc_ctl::stats::metadata_mib,
    resident: tikv_jemalloc_ctl::stats::resident_mib,
    mapped: tikv_jemalloc_ctl::stats::mapped_mib,
    retained: tikv_jemalloc_ctl::stats::retained_mib,
    base: Mib<[usize; 4]>,
    internal: Mib<[usize; 4]>,
    pdirty: Mib<[usize; 4]>,
    pmuzzy: Mib<[usize; 4]>,
    tcache_bytes: Mib<[usize; 4]>,
    dirty_purged: Mib<[usize; 4]>,
    muzzy_purged: Mib<[usize; 4]>,
    page: usize,
}

fn mibs() -> &'static Result<Mibs, tikv_jemalloc_ctl::Error> {
    static MIBS: OnceLock<Result<Mibs, tikv_jemalloc_ctl::Error>> = OnceLock::new();
    MIBS.get_or_init(|| {
        let all = |name: &str| -> Result<Mib<[usize; 4]>, tikv_jemalloc_ctl::Error> {
            let mut mib: Mib<[usize; 4]> = name.name().mib()?;
            // The name uses index 0 so that it resolves; point it at all arenas merged.
            mib[2] = ARENAS_ALL;
            Ok(mib)
        };
        Ok(Mibs {
            epoch: tikv_jemalloc_ctl::epoch::mib()?,
            allocated: tikv_jemalloc_ctl::stats::allocated::mib()?,
            active: tikv_jemalloc_ctl::stats::active::mib()?,
            metadata: tikv_jemalloc_ctl::stats::metadata::mib()?,
            resident: tikv_jemalloc_ctl::stats::resident::mib()?,
            mapped: tikv_jemalloc_ctl::stats::mapped::mib()?,
            retained: tikv_jemalloc_ctl::stats::retained::mib()?,
            base: all("stats.arenas.0.base\0")?,
            internal: all("stats.arenas.0.internal\0")?,
            pdirty: all("stats.arenas.0.pdirty\0")?,
            pmuzzy: all("stats.arenas.0.pmuzzy\0")?,
            tcache_bytes: all("stats.arenas.0.tcache_bytes\0")?,
            dirty_purged: all("stats.arenas.0.dirty_purged\0")?,
            muzzy_purged: all("stats.arenas.0.muzzy_purged\0")?,
            page: "arenas.page\0".name().read()?,
        })
    })
}

/// Reads one jemalloc option by name (a NUL-terminated mallctl name such as
/// `b"opt.dirty_decay_ms\0"`).
///
/// # Safety
///
/// `T` must be the exact C type of the control (`ssize_t` → `isize`, `size_t` → `usize`,
/// `unsigned` → `u32`, `bool` → `bool`): jemalloc writes `size_of::<T>()` bytes into it and
/// fails with `EINVAL` when the length differs, but a same-sized wrong type (e.g. `usize` for
/// `ssize_t`) is read as is.
pub unsafe fn read_opt<T: Copy>(name: &[u8]) -> Result<T, tikv_jemalloc_ctl::Error> {
    // SAFETY: forwarded to the caller: `T` is the control's C type.
    unsafe { raw::read(name) }
}

/// Forces every arena to return its unused dirty (and muzzy) pages to the OS now
/// (`arena.<MALLCTL_ARENAS_ALL>.purge`). The error is the errno value mallctl returned.
pub fn purge_all_arenas() -> std::io::Result<()> {
    // `arena.<i>.purge` is a "void" control: jemalloc rejects any old or new value, so it
    // cannot go through tikv-jemalloc-ctl's typed writes (NOTES §1).
    const NAME: &[u8] = b"arena.4096.purge\0";
    // SAFETY: `NAME` is NUL-terminated; all value pointers are null with length 0, which is
    // exactly what a void control expects, so jemalloc reads and writes no memory of ours.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            NAME.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_consistent() {
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
        purge_all_arenas().unwrap();
    }

    #[test]
    fn reads_options() {
        // SAFETY: opt.dirty_decay_ms is an ssize_t.
        let d: isize = unsafe { read_opt(b"opt.dirty_decay_ms\0") }.unwrap();
        assert!(d >= -1);
        // SAFETY: wrong length on purpose: jemalloc rejects it without writing.
        assert!(unsafe { read_opt::<u8>(b"opt.dirty_decay_ms\0") }.is_err());
    }
}
