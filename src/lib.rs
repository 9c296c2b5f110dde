//! allocscope: a memory profiler that lives inside the program it measures.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod allocator_config;
mod callsites;
mod counters;
pub mod gap;
#[cfg(feature = "jemalloc")]
pub mod jemalloc_stats;
mod measure;
pub mod procfs;
#[cfg(feature = "serde")]
pub mod profile;
pub mod profiler;
pub mod purge;
pub mod reentrancy;
mod reporter;
pub mod size_class;
pub mod snapshot;
pub mod stats_logger;
#[cfg(feature = "serde")]
pub mod timeline;

pub use allocator_config::allocator_config;
pub use counters::PEAK_SLACK_PER_THREAD;
pub use gap::{GapBreakdown, GapReport, PartialGap};
pub use measure::measure;
pub use profiler::{installed_allocator, is_installed, AllocatorKind, Profiler};
pub use purge::{purge, PurgeReport};
pub use reentrancy::{mark_thread_internal, untracked};
pub use size_class::SizeClass;
pub use snapshot::{snapshot, Counts, SizeClassCounts, Snapshot};
pub use stats_logger::{StatsLogger, StatsLoggerBuilder};

/// jemalloc, as a `GlobalAlloc` to wrap: `Profiler::new(allocscope::Jemalloc)`.
#[cfg(feature = "jemalloc")]
pub use tikv_jemallocator::Jemalloc;
