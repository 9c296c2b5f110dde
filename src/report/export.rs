//! `export`: the profile in another tool's format.

use crate::model::profile::Profile;
use crate::report::folded::FoldedStacks;
use crate::report::metric::Metric;
use crate::report::pprof;

/// A format `alloc-report export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum ExportFormat {
    /// Folded stacks (`root;…;leaf COUNT`), as inferno, flamegraph.pl and speedscope read.
    Folded,
    /// A gzipped pprof heap profile, as `go tool pprof` reads.
    Pprof,
}

/// The bytes of `profile` in `format`; `metric` chooses the count of folded stacks (pprof
/// carries allocs, bytes, live blocks and live bytes at once and ignores it).
pub fn export(profile: &Profile, format: ExportFormat, metric: Metric) -> Vec<u8> {
    match format {
        ExportFormat::Folded => FoldedStacks::from_profile(profile, metric)
            .to_text()
            .into_bytes(),
        ExportFormat::Pprof => pprof::to_pprof_gz(profile),
    }
}
