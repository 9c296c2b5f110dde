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
//! | [`spans`] | reports by tracing span: [`spans::SpanSummary`], folded span paths, changes |
//! | [`pprof`] | [`to_pprof_gz`]: gzipped `profile.proto` for `go tool pprof` |
//! | [`export`](mod@export) | [`export()`] in an [`ExportFormat`] |
//! | [`output`], [`progress`] | atomic output files, progress on stderr |
//! | [`check`] | `alloc-report check`: limits and increases over a baseline, for CI |
//! | [`cli`] | the `alloc-report` command line |
//!
//! # The command line
//!
//! ```text
//! alloc-report flamegraph PROFILE [-o flamegraph.svg] [--metric allocs|bytes|live|peak|leaked|short-lived|slack]
//!                                 [--title TITLE] [--icicle] [--min-width PERCENT] [--width PIXELS]
//! alloc-report summary PROFILE [--json] [--top N] [--by site|span]
//! alloc-report diff BEFORE AFTER [-o diff.svg] [--top N] [--metric …]
//! alloc-report export PROFILE --format folded|pprof [--metric …] [-o FILE]
//! alloc-report symbolize PROFILE -o OUT
//! alloc-report check PROFILE [--baseline OLD] [--max-peak SIZE] [--max-allocs N] [--max-increase allocs=5%,peak=10%] [--budget FILE] [--json]
//! ```
//!
//! Every subcommand symbolizes profiles that hold raw addresses (`--binary PATH`,
//! `--debug-dir DIR`, see [`crate::profile::symbolize`]) and shows trimmed stacks
//! ([`names::trim_profile`]) unless `--all-frames`.
//!
//! Output files are written whole or not at all (a temporary file, then a rename). Errors are
//! one line on stderr naming the file and the problem, with exit status 1; a wrong flag gets
//! clap's message and status 2.
//!
//! # Using it as a library
//!
//! ```no_run
//! use allocscope::profile::Profile;
//! use allocscope::report::{write_flamegraph, FlamegraphOptions, Metric, Summary};
//!
//! let profile = Profile::read("app.allocscope.json")?;
//! let mut opts = FlamegraphOptions::default();
//! opts.metric = Metric::Leaked;
//! let mut svg = Vec::new();
//! write_flamegraph(&profile, &opts, &mut svg)?;
//! Summary::new(&profile, 10).write_text(std::io::stdout())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod check;
pub mod cli;
pub mod compare;
pub mod diff;
pub mod error;
pub mod export;
pub mod flamegraph;
pub mod folded;
pub mod html;
pub mod metric;
pub mod names;
pub mod output;
pub mod pprof;
pub mod progress;
pub mod spans;
pub mod summary;

pub use diff::{site_changes, write_change_tables, write_diff_flamegraph, SiteChange};
pub use error::ReportError;
pub use export::{export, ExportFormat};
pub use flamegraph::{write_flamegraph, FlamegraphOptions};
pub use folded::FoldedStacks;
pub use metric::Metric;
pub use pprof::to_pprof_gz;
pub use summary::Summary;
