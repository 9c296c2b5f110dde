//! Why a report could not be produced.

use crate::model::profile::ProfileError;
use crate::report::metric::Metric;

/// An error of the report side. Its message is one line; the CLI prefixes the file it
/// concerns when the error itself does not name one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The profile could not be read (the message names the file).
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// No call site has a nonzero figure for the metric, so there is nothing to draw.
    #[error("no call site has a nonzero `{metric}` figure (sampling_bytes = {sampling_bytes}{hint}), nothing to draw")]
    NoStacks {
        /// The metric asked for.
        metric: Metric,
        /// The profile's sampling interval.
        sampling_bytes: u64,
        /// An explanation, e.g. that stack capture was off.
        hint: &'static str,
    },
    /// Rendering or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ReportError {
    pub(crate) fn no_stacks(metric: Metric, sampling_bytes: u64) -> ReportError {
        ReportError::NoStacks {
            metric,
            sampling_bytes,
            hint: if sampling_bytes == 0 {
                ": stack capture was off"
            } else {
                ""
            },
        }
    }
}
