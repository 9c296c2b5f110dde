//! Reads what the hook counted, and the OS and the allocator: snapshots, the RSS gap, /proc,
//! jemalloc's and mimalloc's statistics, purging, the background thread, the timeline, the
//! stats logger, symbolization, the profile writer and its periodic flush, and the process's
//! cgroup.

pub(crate) mod allocator_config;
pub(crate) mod background;
pub mod cgroup;
#[cfg(feature = "serde")]
pub(crate) mod flush;
pub mod gap;
pub mod gap_mimalloc;
pub(crate) mod internal_thread;
pub mod jemalloc_stats;
pub(crate) mod measure;
pub mod mimalloc_stats;
pub mod procfs;
#[cfg(feature = "serde")]
pub(crate) mod profile_writer;
pub mod purge;
#[cfg(feature = "serde")]
pub(crate) mod site_json;
pub mod snapshot;
#[cfg(feature = "tracing-spans")]
pub(crate) mod span_layer;
pub(crate) mod spans;
pub mod stats_logger;
#[cfg(feature = "serde")]
pub(crate) mod symbolize;
#[cfg(feature = "serde")]
pub mod timeline;
