//! allocscope: a memory profiler that lives inside the program it measures.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod callsites;
mod clock;
mod config;
mod counters;
mod exit_hook;
pub mod gap;
mod live_table;
mod measure;
mod peak;
#[cfg(feature = "serde")]
pub mod profile;
#[cfg(feature = "serde")]
mod profile_writer;
pub mod profiler;
pub mod reentrancy;
mod sampler;
mod site_table;
pub mod size_class;
pub mod snapshot;
mod stack;
#[cfg(feature = "serde")]
mod symbolize;

pub use config::{
    settings, Config, Settings, Unwinder, DEFAULT_MAX_DEPTH, DEFAULT_SAMPLE_BYTES, MAX_DEPTH_LIMIT,
};
pub use counters::PEAK_SLACK_PER_THREAD;
pub use gap::GapBreakdown;
pub use measure::measure;
#[cfg(feature = "serde")]
pub use profile_writer::{collect_profile, write_profile};
pub use profiler::{installed_allocator, is_installed, AllocatorKind, Profiler};
pub use reentrancy::{mark_thread_internal, untracked};
pub use size_class::SizeClass;
pub use snapshot::{snapshot, Counts, SizeClassCounts, Snapshot};

/// jemalloc, as a `GlobalAlloc` to wrap: `Profiler::new(allocscope::Jemalloc)`.
#[cfg(feature = "jemalloc")]
pub use tikv_jemallocator::Jemalloc;
