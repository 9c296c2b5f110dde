//! The data: counts, the gap's terms and their wording, the profile file format, size classes
//! and number formatting. A leaf: imports nothing else of the crate.

pub mod cgroup;
pub(crate) mod counts;
// Used by the symbolizer and the reports, which need the profile format (`serde`).
#[cfg(feature = "serde")]
pub(crate) mod frame_name;
pub(crate) mod gap;
pub mod gap_mimalloc;
pub mod gap_partial;
pub mod gap_term;
#[cfg(feature = "serde")]
pub mod profile;
pub mod size_class;
pub mod spans;
// Without the CLI only the gap tables and the budget messages use it.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub(crate) mod units;
