//! Reads what the hook counted, and the OS and the allocator: snapshots, the RSS gap, /proc,
//! jemalloc's and mimalloc's statistics, purging, the background thread, the timeline, the
//! stats logger, symbolization and the profile writer.

pub(crate) mod allocator_config;
pub(crate) mod background;
pub mod gap;
pub mod gap_mimalloc;
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
pub mod stats_logger;
#[cfg(feature = "serde")]
pub(crate) mod symbolize;
#[cfg(feature = "serde")]
pub mod timeline;
