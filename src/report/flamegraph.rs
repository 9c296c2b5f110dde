//! Flamegraphs of a profile, drawn by inferno with its memory palette.

use std::io::Write;

use inferno::flamegraph::{self, color::BasicPalette, Direction, Palette};

use crate::model::profile::Profile;
use crate::model::units;
use crate::report::error::ReportError;
use crate::report::folded::FoldedStacks;
use crate::report::metric::Metric;

/// How to draw a flamegraph.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FlamegraphOptions {
    /// The figure that gives each frame its width.
    pub metric: Metric,
    /// The title; `None` names the program and the metric with its unit.
    pub title: Option<String>,
    /// Draw an icicle graph: roots at the top, the allocating function at the bottom.
    pub icicle: bool,
    /// Frames narrower than this percentage of the total width are left out (inferno's
    /// default: 0.1).
    pub min_width: f64,
    /// Image width in pixels; `None` for a fluid width.
    pub image_width: Option<usize>,
}

impl Default for FlamegraphOptions {
    fn default() -> Self {
        FlamegraphOptions {
            metric: Metric::default(),
            title: None,
            icicle: false,
            min_width: flamegraph::defaults::MIN_WIDTH,
            image_width: None,
        }
    }
}

/// A line saying how precise the figures are, from the profile's sampling interval.
pub fn sampling_note(sampling_bytes: u64) -> String {
    match sampling_bytes {
        0 => "stack capture off: no call sites".to_string(),
        1 => "exact: every allocation recorded".to_string(),
        r => format!(
            "estimated from Poisson samples, mean interval {}",
            units::format_size(r)
        ),
    }
}

/// The inferno options shared by the plain and the differential flamegraph.
pub(crate) fn inferno_options<'a>(
    profile: &Profile,
    opts: &FlamegraphOptions,
    default_title: String,
    total: u64,
) -> flamegraph::Options<'a> {
    let mut o = flamegraph::Options::default();
    o.colors = Palette::Basic(BasicPalette::Mem);
    // Colour by name hash: the same function gets the same colour in every graph, and the
    // output is reproducible.
    o.hash = true;
    o.title = opts.title.clone().unwrap_or(default_title);
    let total = match opts.metric.unit() {
        "bytes" => units::format_size(total),
        _ => format!("{} {}", units::format_count(total), opts.metric.unit()),
    };
    o.subtitle = Some(format!(
        "{}; total {total}; {}",
        profile.meta.program,
        sampling_note(profile.meta.sampling_bytes)
    ));
    o.count_name = opts.metric.unit().to_string();
    o.name_type = "Function:".to_string();
    o.direction = if opts.icicle {
        Direction::Inverted
    } else {
        Direction::Straight
    };
    o.min_width = opts.min_width;
    o.image_width = opts.image_width;
    o
}

/// Draws the flamegraph of `profile` as SVG into `writer`.
///
/// Errors with [`ReportError::NoStacks`] when no call site has a nonzero figure for the
/// metric (nothing is written then).
pub fn write_flamegraph(
    profile: &Profile,
    opts: &FlamegraphOptions,
    writer: impl Write,
) -> Result<(), ReportError> {
    let stacks = FoldedStacks::from_profile(profile, opts.metric);
    if stacks.is_empty() {
        return Err(ReportError::no_stacks(
            opts.metric,
            profile.meta.sampling_bytes,
        ));
    }
    stacks.check_total()?;
    let mut o = inferno_options(
        profile,
        opts,
        opts.metric.title().to_string(),
        stacks.total(),
    );
    let lines: Vec<String> = stacks.lines().collect();
    flamegraph::from_lines(&mut o, lines.iter().map(String::as_str), writer)?;
    Ok(())
}
