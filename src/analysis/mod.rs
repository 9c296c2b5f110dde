//! Conclusions drawn from profiles: convergence of the gap and frame trimming.

pub mod budget;
#[cfg(feature = "serde")]
pub mod convergence;
#[cfg(feature = "serde")]
pub mod trim;
