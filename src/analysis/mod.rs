//! Conclusions drawn from profiles: convergence of the gap and frame trimming.

#[cfg(feature = "serde")]
pub mod convergence;
#[cfg(feature = "serde")]
pub mod trim;
