//! allocscope: a memory profiler that lives inside the program it measures.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod callsites;
#[cfg(feature = "serde")]
pub mod convergence;
mod counters;
pub mod gap;
pub mod gap_term;
mod measure;
#[cfg(feature = "serde")]
pub mod profile;
pub mod profiler;
pub mod reentrancy;
#[cfg(feature = "cli")]
pub mod report;
pub mod size_class;
pub mod snapshot;
#[cfg(feature = "serde")]
mod units;

pub use counters::PEAK_SLACK_PER_THREAD;
pub use gap::GapBreakdown;
pub use gap_term::GapTerm;
pub use measure::measure;
pub use profiler::{installed_allocator, is_installed, AllocatorKind, Profiler};
pub use reentrancy::{mark_thread_internal, untracked};
pub use size_class::SizeClass;
pub use snapshot::{snapshot, Counts, SizeClassCounts, Snapshot};

/// jemalloc, as a `GlobalAlloc` to wrap: `Profiler::new(allocscope::Jemalloc)`.
#[cfg(feature = "jemalloc")]
pub use tikv_jemallocator::Jemalloc;
