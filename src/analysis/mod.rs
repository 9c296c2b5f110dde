//! Conclusions drawn from profiles: convergence of the gap and frame trimming.

pub mod budget;
#[cfg(feature = "serde")]
pub mod convergence;
#[cfg(feature = "serde")]
pub mod names;
// The one pprof encoder: `alloc-report export` and the HTTP endpoints use it.
#[cfg(any(feature = "cli", feature = "http"))]
pub mod pprof;
#[cfg(feature = "serde")]
pub mod trim;
