//! The memory figures of the process's cgroup v2 (containers), as the snapshot and the profile
//! carry them. Read by `observe::cgroup`; shown through `gap_term::container_sentence`.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// The memory figures of the process's cgroup v2 at one moment, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct CgroupMemory {
    /// The cgroup's path in the hierarchy (`/kubepods/pod…/…`, `/` inside a cgroup
    /// namespace).
    pub path: String,
    /// The process's resident set size, read at the same moment (`/proc/self/statm`).
    pub rss: u64,
    /// `memory.current`: everything the cgroup is charged.
    pub current: u64,
    /// `memory.max`: the hard limit, the tightest of the cgroup's and its ancestors'; `None`
    /// when every one of them says `max` (no limit).
    pub limit: Option<u64>,
    /// `anon` of `memory.stat`: anonymous memory (heaps, stacks).
    pub anon: Option<u64>,
    /// `file` of `memory.stat`: the page cache (file-backed pages, `shmem` included).
    pub file: Option<u64>,
    /// `kernel` of `memory.stat` (Linux ≥ 5.18; older kernels: `None`).
    pub kernel: Option<u64>,
    /// `sock` of `memory.stat`: socket buffers.
    pub sock: Option<u64>,
    /// `shmem` of `memory.stat`: shared memory and tmpfs (counted inside `file`).
    pub shmem: Option<u64>,
}
