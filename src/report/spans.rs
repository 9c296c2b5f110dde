//! Reports by tracing span (issue 14): `summary --by span`, `flamegraph --by span`,
//! `diff --by span`, from the profile's `spans` table (written when the program installed
//! `allocscope::SpanLayer`, feature `tracing-spans`).
//!
//! A span path's `allocs`, `bytes` and `reallocs` are exact: what the program allocated while
//! the span was entered on the allocating thread, charged to the innermost span only (so the
//! rows add up, and what no span covered is one more row, `(outside any span)`). Live bytes,
//! the span's peak and lifetimes come from the sampled blocks.

use std::collections::BTreeMap;
use std::io::{self, Write};

use clap::ValueEnum;
use serde::Serialize;

use crate::model::profile::Profile;
use crate::model::spans::SpanStats;
use crate::model::units::{format_bytes, format_count, format_share, format_signed_bytes};
use inferno::{differential, flamegraph};

use crate::report::error::ReportError;
use crate::report::flamegraph::{inferno_options, sampling_note, FlamegraphOptions};
use crate::report::folded::stack_key;
use crate::report::metric::Metric;

/// What a report groups by: call sites (the default) or tracing spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum By {
    /// Call stacks.
    #[default]
    Site,
    /// Tracing span paths (`request > parse`), from the profile's `spans` table.
    Span,
}

/// The row name of what no span covered.
pub const OUTSIDE_SPANS: &str = "(outside any span)";

/// The value of [`SpanSummary::format`].
pub const SPAN_SUMMARY_FORMAT: &str = "allocscope-span-summary";

/// `summary --by span`: each span path's figures, most bytes first; also the stable JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SpanSummary {
    /// Always [`SPAN_SUMMARY_FORMAT`].
    pub format: &'static str,
    /// Always 1; keys are only ever added.
    pub version: u32,
    /// The profiled program.
    pub program: String,
    /// Mean sampling interval in bytes behind the sampled figures: 1 exact, 0 no samples.
    pub sampling_bytes: u64,
    /// Allocations of the whole program (exact).
    pub allocs: u64,
    /// Bytes of the whole program, reallocs' new sizes included (exact).
    pub bytes_allocated: u64,
    /// Span paths in the profile.
    pub distinct_spans: usize,
    /// The `top` span paths by bytes.
    pub spans: Vec<SpanStats>,
    /// Allocations made while no span was entered (exact).
    pub outside_allocs: u64,
    /// Bytes allocated while no span was entered (exact).
    pub outside_bytes: u64,
}

/// The error when a report by span meets a profile without spans.
pub fn no_spans_error() -> &'static str {
    "the profile has no spans table: install allocscope::SpanLayer (feature tracing-spans) in the program's tracing subscriber"
}

impl SpanSummary {
    /// Summarizes `profile`'s spans, keeping the `top` paths by bytes.
    pub fn new(profile: &Profile, top: usize) -> SpanSummary {
        let mut spans = profile.spans.clone();
        spans.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
        let in_allocs: u64 = profile.spans.iter().map(|s| s.allocs).sum();
        let in_bytes: u64 = profile.spans.iter().map(|s| s.bytes).sum();
        let distinct_spans = spans.len();
        spans.truncate(top);
        SpanSummary {
            format: SPAN_SUMMARY_FORMAT,
            version: 1,
            program: profile.meta.program.clone(),
            sampling_bytes: profile.meta.sampling_bytes,
            allocs: profile.totals.allocs,
            bytes_allocated: profile.totals.bytes_allocated,
            distinct_spans,
            spans,
            outside_allocs: profile.totals.allocs.saturating_sub(in_allocs),
            outside_bytes: profile.totals.bytes_allocated.saturating_sub(in_bytes),
        }
    }

    /// The stable JSON document, pretty-printed, with a final newline.
    pub fn to_json(&self) -> String {
        // Plain structs of numbers and strings: serializing cannot fail.
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }

    /// Writes the text table.
    pub fn write_text(&self, mut w: impl Write) -> io::Result<()> {
        writeln!(w, "allocscope summary by span: {}", self.program)?;
        writeln!(w, "sampling: {}", sampling_note(self.sampling_bytes))?;
        writeln!(
            w,
            "allocs, bytes and reallocs are exact (charged to the innermost span entered on the \
             allocating thread); live, peak and lifetimes are estimated from samples"
        )?;
        let width = self
            .spans
            .iter()
            .map(|s| s.path.chars().count())
            .chain([OUTSIDE_SPANS.len(), 4])
            .max()
            .unwrap_or(4)
            .min(80);
        writeln!(w)?;
        writeln!(
            w,
            "{:<width$}  {:>12}  {:>10}  {:>7}  {:>9}  {:>10}  {:>10}  {:>9}",
            "span", "allocs", "bytes", "% bytes", "reallocs", "live", "peak", "freed<1ms"
        )?;
        let total = self.bytes_allocated as f64;
        for s in &self.spans {
            let short = if s.freed == 0 {
                "-".to_string()
            } else {
                format_share(s.freed_under_1ms as f64, s.freed as f64)
            };
            writeln!(
                w,
                "{:<width$}  {:>12}  {:>10}  {:>7}  {:>9}  {:>10}  {:>10}  {:>9}",
                truncate(&s.path, width),
                format_count(s.allocs),
                format_bytes(s.bytes as i64),
                format_share(s.bytes as f64, total),
                format_count(s.reallocs),
                format_bytes(s.live_bytes as i64),
                format_bytes(s.peak_live_bytes as i64),
                short
            )?;
        }
        if self.distinct_spans > self.spans.len() {
            writeln!(
                w,
                "… {} more span paths",
                self.distinct_spans - self.spans.len()
            )?;
        }
        writeln!(
            w,
            "{:<width$}  {:>12}  {:>10}  {:>7}",
            OUTSIDE_SPANS,
            format_count(self.outside_allocs),
            format_bytes(self.outside_bytes as i64),
            format_share(self.outside_bytes as f64, total),
        )?;
        Ok(())
    }
}

/// The first `width` characters of `s`, with `…` when cut.
fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// What a flamegraph or diff by span draws: the exact bytes, the exact allocation count, or
/// the sampled live bytes of each span path.
pub fn span_value(s: &SpanStats, metric: Metric) -> u64 {
    match metric {
        Metric::Allocs => s.allocs,
        Metric::Live | Metric::Leaked => s.live_bytes,
        Metric::Peak => s.peak_live_bytes,
        Metric::ShortLived => s.freed_under_1ms,
        _ => s.bytes,
    }
}

/// Folded lines by span (`request;parse VALUE`), sorted, merged, without zero lines.
///
/// Without `with_stacks`: one line per span path, from the `spans` table (exact `allocs` and
/// `bytes`; sampled `live`, `peak`, `short-lived`), plus `(outside any span)` for the exact
/// metrics. With `with_stacks`: each sampled call site under its span path (the site's own
/// figure for the metric), sites sampled outside any span under `(outside any span)`.
pub fn span_folded(profile: &Profile, metric: Metric, with_stacks: bool) -> Vec<(String, u64)> {
    let mut merged: BTreeMap<String, u64> = BTreeMap::new();
    let mut add = |k: String, v: u64| {
        if v > 0 {
            let t = merged.entry(k).or_insert(0);
            *t = t.saturating_add(v);
        }
    };
    if with_stacks {
        for site in &profile.sites {
            let prefix = match &site.span {
                Some(p) => folded_path(p),
                None => folded_path(OUTSIDE_SPANS),
            };
            add(format!("{prefix};{}", stack_key(site)), metric.value(site));
        }
    } else {
        for s in &profile.spans {
            add(folded_path(&s.path), span_value(s, metric));
        }
        if matches!(metric, Metric::Allocs | Metric::Bytes) {
            let summary = SpanSummary::new(profile, 0);
            let outside = if metric == Metric::Allocs {
                summary.outside_allocs
            } else {
                summary.outside_bytes
            };
            add(folded_path(OUTSIDE_SPANS), outside);
        }
    }
    merged.into_iter().collect()
}

fn folded_text(lines: &[(String, u64)]) -> String {
    lines.iter().map(|(k, v)| format!("{k} {v}\n")).collect()
}

/// Draws the flamegraph by span (`flamegraph --by span`) of `profile` as SVG: span paths as
/// frames, each followed by its sampled call stacks when `with_stacks`.
pub fn write_span_flamegraph(
    profile: &Profile,
    opts: &FlamegraphOptions,
    with_stacks: bool,
    writer: impl Write,
) -> Result<(), ReportError> {
    let lines = span_folded(profile, opts.metric, with_stacks);
    if lines.is_empty() {
        return Err(ReportError::no_stacks(
            opts.metric,
            profile.meta.sampling_bytes,
        ));
    }
    let total = lines.iter().fold(0u64, |t, (_, v)| t.saturating_add(*v));
    let title = format!("{} by span", opts.metric.title());
    let mut o = inferno_options(profile, opts, title, total);
    o.name_type = "Span:".to_string();
    let text = folded_text(&lines);
    flamegraph::from_lines(&mut o, text.lines(), writer)?;
    Ok(())
}

/// Draws the differential flamegraph by span (`diff --by span`): widths from `after`, red
/// where a span path grew, blue where it shrank.
pub fn write_span_diff_flamegraph(
    before: &Profile,
    after: &Profile,
    opts: &FlamegraphOptions,
    with_stacks: bool,
    writer: impl Write,
) -> Result<(), ReportError> {
    let old = span_folded(before, opts.metric, with_stacks);
    let new = span_folded(after, opts.metric, with_stacks);
    if old.is_empty() && new.is_empty() {
        return Err(ReportError::no_stacks(
            opts.metric,
            after.meta.sampling_bytes,
        ));
    }
    let mut two_columns = Vec::new();
    differential::from_readers(
        differential::Options::default(),
        folded_text(&old).as_bytes(),
        folded_text(&new).as_bytes(),
        &mut two_columns,
    )?;
    let total = new.iter().fold(0u64, |t, (_, v)| t.saturating_add(*v));
    let title = format!("Difference by span: {}", opts.metric.title());
    let mut o = inferno_options(after, opts, title, total);
    o.name_type = "Span:".to_string();
    let text = String::from_utf8_lossy(&two_columns);
    flamegraph::from_lines(&mut o, text.lines(), writer)?;
    Ok(())
}

/// A span path as a folded stack: ` > ` becomes `;`, a `;` inside a field value becomes `,`.
pub fn folded_path(path: &str) -> String {
    path.split(" > ")
        .map(|p| p.replace(';', ","))
        .collect::<Vec<_>>()
        .join(";")
}

/// One span path's change between two profiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanChange {
    /// The span path.
    pub path: String,
    /// Bytes before and after (0 where the path is absent).
    pub bytes: (u64, u64),
    /// Allocations before and after.
    pub allocs: (u64, u64),
    /// Sampled live bytes before and after.
    pub live_bytes: (u64, u64),
}

/// Every span path of either profile with its figures on both sides, largest byte change
/// first.
pub fn span_changes(before: &Profile, after: &Profile) -> Vec<SpanChange> {
    let mut by_path: BTreeMap<&str, SpanChange> = BTreeMap::new();
    for (side, p) in [(0, before), (1, after)] {
        for s in &p.spans {
            let c = by_path
                .entry(s.path.as_str())
                .or_insert_with(|| SpanChange {
                    path: s.path.clone(),
                    bytes: (0, 0),
                    allocs: (0, 0),
                    live_bytes: (0, 0),
                });
            if side == 0 {
                c.bytes.0 += s.bytes;
                c.allocs.0 += s.allocs;
                c.live_bytes.0 += s.live_bytes;
            } else {
                c.bytes.1 += s.bytes;
                c.allocs.1 += s.allocs;
                c.live_bytes.1 += s.live_bytes;
            }
        }
    }
    let mut out: Vec<SpanChange> = by_path.into_values().collect();
    out.sort_by_key(|c| std::cmp::Reverse((c.bytes.1 as i128 - c.bytes.0 as i128).unsigned_abs()));
    out
}

/// Writes the table of `diff --by span`: the `top` span paths whose bytes changed most.
pub fn write_span_changes(
    before: &Profile,
    after: &Profile,
    top: usize,
    mut w: impl Write,
) -> io::Result<()> {
    let changes = span_changes(before, after);
    writeln!(w, "span paths by change in bytes (exact):")?;
    let width = changes
        .iter()
        .take(top)
        .map(|c| c.path.chars().count())
        .chain([4])
        .max()
        .unwrap_or(4)
        .min(80);
    writeln!(
        w,
        "{:<width$}  {:>10}  {:>10}  {:>11}  {:>12}  {:>12}  {:>11}",
        "span", "before", "after", "change", "allocs before", "allocs after", "live change"
    )?;
    for c in changes.iter().take(top) {
        writeln!(
            w,
            "{:<width$}  {:>10}  {:>10}  {:>11}  {:>12}  {:>12}  {:>11}",
            truncate(&c.path, width),
            format_bytes(c.bytes.0 as i64),
            format_bytes(c.bytes.1 as i64),
            format_signed_bytes(c.bytes.1 as i128 - c.bytes.0 as i128),
            format_count(c.allocs.0),
            format_count(c.allocs.1),
            format_signed_bytes(c.live_bytes.1 as i128 - c.live_bytes.0 as i128),
        )?;
    }
    Ok(())
}
