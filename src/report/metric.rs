//! What a flamegraph measures: one figure of each call site.

use crate::model::profile::CallSite;

/// A figure of a call site that a flamegraph (or a folded-stacks export) can be drawn by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Metric {
    /// Allocations made, reallocs included (count).
    Allocs,
    /// Bytes requested.
    #[default]
    Bytes,
    /// Bytes still live when the profile was written.
    Live,
    /// Bytes live at the moment of the process's peak.
    Peak,
    /// Bytes never freed before exit (live bytes of a profile written at exit).
    Leaked,
    /// Allocations freed within 1 ms of being made (count).
    ShortLived,
    /// Bytes lost to size-class rounding: usable minus requested.
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

    /// The figure of `site` this metric measures: [`CallSite::allocs`], [`CallSite::bytes`],
    /// [`CallSite::live_bytes`] (live and leaked), [`CallSite::peak_bytes`],
    /// [`crate::profile::Lifetimes::under_1ms`] or [`CallSite::slack_bytes`].
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
