//! The report side: what `alloc-report` does with a profile file, as a library.
//!
//! Input is a [`crate::profile::Profile`] (read with [`crate::profile::Profile::read`]).
//! Everything that turns call stacks into lines goes through [`folded::FoldedStacks`], so the
//! flamegraph, the differential flamegraph and the folded export agree stack for stack.
//!
//! | module | gives |
//! |---|---|
//! | [`metric`] | [`Metric`]: which figure of a call site is drawn |
//! | [`names`] | frame names as users know them, sanitized for folded stacks |
//! | [`folded`] | [`FoldedStacks`]: `root;…;leaf COUNT` lines |
//! | [`flamegraph`] | [`write_flamegraph`]: SVG through inferno, memory palette |
//! | [`diff`] | [`write_diff_flamegraph`], [`site_changes`], [`write_change_tables`] |
//! | [`summary`] | [`Summary`]: text and stable JSON |
//! | [`pprof`] | [`to_pprof_gz`]: gzipped `profile.proto` for `go tool pprof` |
//! | [`export`] | [`export()`] in an [`ExportFormat`] |
//! | [`output`], [`progress`] | atomic output files, progress on stderr |
//! | [`cli`] | the `alloc-report` command line |

pub mod cli;
pub mod diff;
pub mod error;
pub mod export;
pub mod flamegraph;
pub mod folded;
pub mod metric;
pub mod names;
pub mod output;
pub mod pprof;
pub mod progress;
pub mod summary;
pub mod units;

pub use diff::{site_changes, write_change_tables, write_diff_flamegraph, SiteChange};
pub use error::ReportError;
pub use export::{export, ExportFormat};
pub use flamegraph::{write_flamegraph, FlamegraphOptions};
pub use folded::FoldedStacks;
pub use metric::Metric;
pub use pprof::to_pprof_gz;
pub use summary::Summary;
