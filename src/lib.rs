//! allocscope: a memory profiler that lives inside the program it measures.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod gap;
#[cfg(feature = "serde")]
pub mod profile;
#[cfg(feature = "cli")]
pub mod report;
pub mod snapshot;

pub use gap::GapBreakdown;
pub use snapshot::{Counts, SizeClassCounts, Snapshot};
