//! What a flamegraph measures: one figure of each call site.

use crate::profile::CallSite;

/// A figure of a call site that a flamegraph (or a folded-stacks export) can be drawn by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Metric {
    /// Allocations made (allocs and reallocs): [`CallSite::allocs`].
    Allocs,
    /// Bytes requested: [`CallSite::bytes`].
    #[default]
    Bytes,
    /// Bytes still live when the profile was written: [`CallSite::live_bytes`].
    Live,
    /// Bytes live at the process's peak: [`CallSite::peak_bytes`].
    Peak,
    /// Bytes never freed before exit: [`CallSite::live_bytes`] of a profile written at exit.
    Leaked,
    /// Allocations freed within 1 ms of being made: [`crate::profile::Lifetimes::under_1ms`].
    ShortLived,
    /// Bytes lost to size-class rounding (usable − requested): [`CallSite::slack_bytes`].
    Slack,
}

impl Metric {
    /// Every metric, in the order the CLI lists them.
    pub const ALL: [Metric; 7] = [
        Metric::Allocs,
        Metric::Bytes,
        Metric::Live,
        Metric::Peak,
        Metric::Leaked,
        Metric::ShortLived,
        Metric::Slack,
    ];

    /// The figure of `site` this metric measures.
    pub fn value(self, site: &CallSite) -> u64 {
        match self {
            Metric::Allocs => site.allocs,
            Metric::Bytes => site.bytes,
            Metric::Live | Metric::Leaked => site.live_bytes,
            Metric::Peak => site.peak_bytes,
            Metric::ShortLived => site.lifetimes.under_1ms,
            Metric::Slack => site.slack_bytes,
        }
    }

    /// The unit of [`Metric::value`]: `"bytes"` or `"allocations"`.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Allocs | Metric::ShortLived => "allocations",
            _ => "bytes",
        }
    }

    /// The name the CLI uses for this metric (`--metric NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Allocs => "allocs",
            Metric::Bytes => "bytes",
            Metric::Live => "live",
            Metric::Peak => "peak",
            Metric::Leaked => "leaked",
            Metric::ShortLived => "short-lived",
            Metric::Slack => "slack",
        }
    }

    /// A title that says what is measured and in which unit, e.g.
    /// `"Bytes allocated (bytes)"`.
    pub fn title(self) -> &'static str {
        match self {
            Metric::Allocs => "Allocations (count)",
            Metric::Bytes => "Bytes allocated (bytes)",
            Metric::Live => "Live bytes when the profile was written (bytes)",
            Metric::Peak => "Live bytes at the peak (bytes)",
            Metric::Leaked => "Leaked: bytes never freed before exit (bytes)",
            Metric::ShortLived => "Short-lived allocations: freed within 1 ms (count)",
            Metric::Slack => "Size-class rounding waste: usable - requested (bytes)",
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
