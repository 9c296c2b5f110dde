//! The memory figures of the process's memory cgroup (containers; cgroup v2, or v1), as the
//! snapshot and the profile carry them. Read by `observe::cgroup`; shown through
//! `gap_term::container_sentence`.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// Which cgroup hierarchy the figures come from: their files differ (docs/production.md,
/// "Containers").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum CgroupVersion {
    /// The unified hierarchy: `memory.current`, `memory.max`, `memory.stat`.
    #[default]
    V2,
    /// The legacy memory controller: `memory.usage_in_bytes`, `memory.limit_in_bytes`,
    /// `memory.stat`'s `total_*` figures.
    V1,
}

impl CgroupVersion {
    /// `cgroup v2` or `cgroup v1`, as the reports name it.
    pub fn label(self) -> &'static str {
        match self {
            CgroupVersion::V2 => "cgroup v2",
            CgroupVersion::V1 => "cgroup v1",
        }
    }

    /// How the reports say that there is no limit: what the limit's file holds then.
    pub fn no_limit(self) -> &'static str {
        match self {
            CgroupVersion::V2 => "memory.max is \"max\"",
            CgroupVersion::V1 => "memory.limit_in_bytes is unlimited",
        }
    }

    #[cfg(feature = "serde")]
    fn is_v2(&self) -> bool {
        *self == CgroupVersion::V2
    }
}

/// The memory figures of the process's cgroup at one moment, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct CgroupMemory {
    /// The hierarchy read (absent in a profile: v2, the only one read before).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "CgroupVersion::is_v2")
    )]
    pub version: CgroupVersion,
    /// The cgroup's path in the hierarchy (`/kubepods/pod…/…`, `/` inside a cgroup
    /// namespace).
    pub path: String,
    /// The process's resident set size, read at the same moment (`/proc/self/statm`).
    pub rss: u64,
    /// Everything the cgroup is charged: `memory.current` (v2), `memory.usage_in_bytes` (v1).
    pub current: u64,
    /// The hard limit, the tightest of the cgroup's and its ancestors' (`memory.max`; v1:
    /// `hierarchical_memory_limit` of `memory.stat`, else `memory.limit_in_bytes` up the
    /// tree); `None` when there is none.
    pub limit: Option<u64>,
    /// Anonymous memory (heaps, stacks): `anon` of `memory.stat` (v1: `total_rss`).
    pub anon: Option<u64>,
    /// The page cache (file-backed pages, `shmem` included): `file` of `memory.stat` (v1:
    /// `total_cache`).
    pub file: Option<u64>,
    /// Kernel memory: `kernel` of `memory.stat` (Linux ≥ 5.18; older kernels: `None`; v1:
    /// `memory.kmem.usage_in_bytes`).
    pub kernel: Option<u64>,
    /// Socket buffers: `sock` of `memory.stat` (v1: `memory.kmem.tcp.usage_in_bytes`).
    pub sock: Option<u64>,
    /// Shared memory and tmpfs (counted inside `file`): `shmem` of `memory.stat` (v1:
    /// `total_shmem`).
    pub shmem: Option<u64>,
}
