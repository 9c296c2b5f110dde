//! What can be known about RSS over an allocator without statistics (the system allocator),
//! as data: [`PartialGap`], computed by `observe::gap`, carried by profiles
//! (`Profile::partial_gap`).

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// What can be known about RSS over an allocator without statistics.
///
/// The program's requested bytes are exact; size-class rounding is estimated with jemalloc's
/// class table (the system allocator rounds differently: glibc adds an 8-byte header and
/// rounds to 16 bytes); RSS splits into anonymous and file-backed memory. What lies between
/// the requested bytes and anonymous RSS — the allocator's free space, caches, metadata,
/// thread stacks and C libraries' heaps — cannot be split. On glibc, `mallinfo2` adds the
/// malloc heap's own totals (which include C libraries' allocations).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct PartialGap {
    /// The inner allocator (`"system"`, `"mimalloc"`, …), or `None` when no
    /// [`crate::Profiler`] is installed.
    pub allocator: Option<String>,
    /// Resident set size.
    pub rss: u64,
    /// Live bytes the program asked for (`None` when no profiler is installed).
    pub requested: Option<u64>,
    /// Size-class rounding of the live blocks, estimated with jemalloc's class table.
    pub size_class_rounding_estimate: Option<u64>,
    /// Resident anonymous memory (heap, stacks, anonymous mappings), from `/proc/self/status`.
    pub anonymous: Option<u64>,
    /// Resident file-backed and shared memory (code, libraries, mapped files).
    pub file_backed: Option<u64>,
    /// glibc's malloc totals, when the process uses glibc.
    pub malloc: Option<MallocInfo>,
    /// allocscope's own memory ([`crate::OwnMemory::total`]), inside `anonymous`; `None`
    /// when no profiler is installed (and in data written before it existed).
    #[cfg_attr(feature = "serde", serde(default))]
    pub profiler: Option<u64>,
    /// Bytes of large live blocks never touched: inside `requested`, not in `anonymous`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub untouched: Option<u64>,
}

/// glibc's `mallinfo2` totals over all malloc arenas, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct MallocInfo {
    /// `arena`: bytes obtained from the OS for the heaps (not counting mmapped chunks).
    pub heap: u64,
    /// `uordblks`: bytes in chunks in use in the heaps.
    pub heap_in_use: u64,
    /// `fordblks`: free bytes inside the heaps (fragmentation and not-yet-trimmed space,
    /// resident or not).
    pub heap_free: u64,
    /// `keepcost`: free bytes at the top of the main heap that `malloc_trim` can release.
    pub releasable: u64,
    /// `hblkhd`: bytes in large chunks served by their own `mmap`.
    pub mmapped: u64,
}
