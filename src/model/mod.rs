//! The data: counts, the gap's terms and their wording, the profile file format, size classes
//! and number formatting. A leaf: imports nothing else of the crate.

pub(crate) mod counts;
pub(crate) mod gap;
pub mod gap_term;
#[cfg(feature = "serde")]
pub mod profile;
pub mod size_class;
#[cfg(feature = "serde")]
pub(crate) mod units;
