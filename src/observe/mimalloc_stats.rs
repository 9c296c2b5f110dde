//! mimalloc's statistics (read with the feature `mimalloc`), through the `libmimalloc-sys` 0.1 that the
//! program's `mimalloc` crate already links (Cargo unifies the two: every release is 0.1.x).
//!
//! mimalloc keeps its OS-level figures (bytes reserved and committed) always, whatever its
//! build's `MI_STAT` level; `mi_stats_get_json` returns them, with `mi_process_info`'s process
//! figures, merged over the process (mimalloc v3, the `mimalloc` crate's default since 0.1.44;
//! its `v2` feature lacks the call). See `docs/mimalloc.md`.
//!
//! Never call this from inside the allocator hooks: mimalloc merges statistics under locks.

/// One reading of mimalloc's statistics, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MimallocStats {
    /// `mi_process_info`'s `current_rss`: the process's resident set (as the OS reports it).
    pub process_rss: u64,
    /// `committed.current` (= `mi_process_info`'s `current_commit`): memory mimalloc has
    /// committed from the OS.
    pub committed: u64,
    /// `reserved.current`: address space mimalloc has reserved (committed or not).
    pub reserved: u64,
    /// `page_committed.current` ("touched"): committed memory inside mimalloc's pages, i.e.
    /// pages handed to a size class (live blocks and free blocks of partly used pages). Kept
    /// only by builds with statistics (`MI_STAT>0`); 0 otherwise.
    pub page_committed: u64,
    /// `purged.total`: bytes mimalloc has returned to the OS since start, cumulative.
    pub purged_total: u64,
    /// `mimalloc_version`: e.g. `316` for 3.1.6.
    pub version: u64,
}

#[cfg(feature = "mimalloc")]
#[derive(serde::Deserialize)]
struct Json {
    mimalloc_version: u64,
    process: Process,
    reserved: Count,
    committed: Count,
    page_committed: Count,
    purged: i64,
}

#[cfg(feature = "mimalloc")]
#[derive(serde::Deserialize)]
struct Process {
    rss_current: u64,
}

#[cfg(feature = "mimalloc")]
#[derive(serde::Deserialize)]
struct Count {
    current: i64,
}

/// Why mimalloc's statistics could not be read.
#[cfg(feature = "mimalloc")]
#[derive(Debug, thiserror::Error)]
pub enum MimallocError {
    /// `mi_stats_get_json` returned NULL (buffer too small or statistics version mismatch).
    #[error("mi_stats_get_json returned no statistics")]
    NoStats,
    /// The JSON did not have the expected fields.
    #[error("mimalloc statistics: {0}")]
    Parse(#[from] serde_json::Error),
}

#[cfg(feature = "mimalloc")]
impl MimallocStats {
    /// Reads mimalloc's statistics now (~tens of µs: mimalloc formats them as JSON, which is
    /// parsed here). Works whether or not mimalloc is the installed allocator (it is linked
    /// in with the feature), but describes the program's heap only when it is.
    pub fn read() -> Result<MimallocStats, MimallocError> {
        // The JSON holds ~200 lines of at most 128 bytes; 64 KiB is ample.
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: `buf` is `buf.len()` writable bytes; mimalloc writes a NUL-terminated string
        // into it (zeroing it first) and returns `buf` or NULL; it keeps no pointer to it.
        let p = unsafe { libmimalloc_sys::mi_stats_get_json(buf.len(), buf.as_mut_ptr().cast()) };
        if p.is_null() {
            return Err(MimallocError::NoStats);
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let j: Json = serde_json::from_slice(&buf[..end])?;
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(MimallocStats {
            process_rss: j.process.rss_current,
            committed: u(j.committed.current),
            reserved: u(j.reserved.current),
            page_committed: u(j.page_committed.current),
            purged_total: u(j.purged),
            version: j.mimalloc_version,
        })
    }
}

#[cfg(feature = "mimalloc")]
/// Makes mimalloc return its unused memory to the OS now (`mi_collect(true)`).
pub fn collect() {
    // SAFETY: mi_collect has no preconditions.
    unsafe { libmimalloc_sys::mi_collect(true) };
}
