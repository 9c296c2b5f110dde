//! `alloc-report compare`: profiles of the same program side by side.
//!
//! [`compare`] turns profiles (the same workload over different allocators, or different
//! commits) into a [`Comparison`]: one [`Row`] per figure (wall and CPU time, allocations,
//! bytes, peak requested bytes, peak RSS, and the RSS gap terms at exit and at peak where the
//! profiles recorded them) and [`Finding`]s that say in words what differs most from the
//! first profile (the baseline) and which gap term accounts for it:
//!
//! ```text
//! jemalloc: +71% peak RSS (+45.0 MiB vs system), of which 80% is dirty pages not yet
//! returned — decay, not a leak
//! ```
//!
//! The model serializes (`alloc-report compare --json`); its [`Display`](std::fmt::Display)
//! prints the table and the findings.
//!
//! ```
//! use allocscope::report::compare::compare;
//! # fn profiles() -> Vec<(String, allocscope::profile::Profile)> { Vec::new() }
//! let profiles = profiles(); // e.g. [("system", Profile::read("system.json")?), …]
//! let comparison = compare(&profiles);
//! println!("{comparison}");
//! ```

use std::fmt;

use serde::Serialize;

use crate::model::gap_term::{largest_increase, GapTerm};
use crate::model::profile::Profile;
use crate::model::units::{format_bytes, format_count, format_percent, format_seconds};
use crate::observe::gap::GapBreakdown;

/// Changes smaller than this (relative to the baseline) are not called out, except as the
/// largest difference of a profile.
pub const NOTABLE_CHANGE: f64 = 0.05;

/// A figure of a profile, with its unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Figure {
    /// A duration in seconds.
    Seconds(f64),
    /// A number of events (allocations).
    Count(u64),
    /// A number of bytes (a gap term can be negative).
    Bytes(i64),
}

impl Figure {
    fn as_f64(self) -> f64 {
        match self {
            Figure::Seconds(s) => s,
            Figure::Count(c) => c as f64,
            Figure::Bytes(b) => b as f64,
        }
    }
}

impl fmt::Display for Figure {
    /// Human units: `1.23 s`, `45 ms`, `3,000,012`, `45.0 MiB`, `-1.2 KiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Figure::Seconds(s) => f.write_str(&format_seconds(s)),
            Figure::Count(c) => f.write_str(&format_count(c)),
            Figure::Bytes(b) => f.write_str(&format_bytes(b)),
        }
    }
}

/// When a gap breakdown was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapMoment {
    /// When the profile was written (`Profile::gap`).
    Exit,
    /// At the periodic snapshot with the highest requested bytes (`Profile::gap_at_peak`).
    Peak,
}

impl GapMoment {
    fn name(self) -> &'static str {
        match self {
            GapMoment::Exit => "exit",
            GapMoment::Peak => "peak",
        }
    }

    fn gap_of(self, p: &Profile) -> Option<&GapBreakdown> {
        match self {
            GapMoment::Exit => p.gap.as_ref(),
            GapMoment::Peak => p.gap_at_peak.as_ref(),
        }
    }
}

/// What a row of the comparison shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComparedFigure {
    /// `meta.duration_secs`.
    WallTime,
    /// `meta.cpu_time_secs`.
    CpuTime,
    /// `totals.allocs`.
    Allocations,
    /// `totals.bytes_allocated`.
    BytesAllocated,
    /// `totals.peak_live_bytes`.
    PeakRequested,
    /// `meta.peak_rss` (the kernel's high-water mark).
    PeakRss,
    /// RSS at that moment: `rss` of the gap; at exit, for a profile without jemalloc's
    /// breakdown, the `rss` of mimalloc's gap, else the process's RSS its cgroup figures
    /// were read with (all three read when the profile was written). Never the last
    /// timeline point: that is a periodic snapshot, in a short run the one at t = 0.
    Rss(GapMoment),
    /// One term of the gap at that moment.
    Gap(GapMoment, GapTerm),
    /// One term of the gap over mimalloc when the profile was written
    /// (`Profile::mimalloc_gap`, terms of [`GapTerm::MIMALLOC`]).
    MimallocGap(GapTerm),
}

impl ComparedFigure {
    /// A stable key for scripts: `peak_rss`, `exit.rss`, `exit.dirty`, `peak.fragmentation`…
    pub fn key(self) -> String {
        match self {
            ComparedFigure::WallTime => "wall_time".into(),
            ComparedFigure::CpuTime => "cpu_time".into(),
            ComparedFigure::Allocations => "allocations".into(),
            ComparedFigure::BytesAllocated => "bytes_allocated".into(),
            ComparedFigure::PeakRequested => "peak_requested".into(),
            ComparedFigure::PeakRss => "peak_rss".into(),
            ComparedFigure::Rss(m) => format!("{}.rss", m.name()),
            ComparedFigure::Gap(m, t) => format!("{}.{}", m.name(), t.key()),
            ComparedFigure::MimallocGap(t) => format!("exit_mimalloc.{}", t.key()),
        }
    }

    /// The row label of the table.
    pub fn label(self) -> String {
        match self {
            ComparedFigure::WallTime => "wall time".into(),
            ComparedFigure::CpuTime => "CPU time".into(),
            ComparedFigure::Allocations => "allocations".into(),
            ComparedFigure::BytesAllocated => "bytes allocated".into(),
            ComparedFigure::PeakRequested => "peak requested".into(),
            ComparedFigure::PeakRss => "peak RSS".into(),
            ComparedFigure::Rss(GapMoment::Exit) => "RSS at exit".into(),
            ComparedFigure::Rss(GapMoment::Peak) => "  RSS".into(),
            ComparedFigure::Gap(_, t) | ComparedFigure::MimallocGap(t) => {
                format!("  {}", t.label())
            }
        }
    }

    /// How the metric is named inside a sentence ("+71% peak RSS").
    fn phrase(self) -> String {
        match self {
            ComparedFigure::Gap(m, t) => format!("{} at {}", t.label(), m.name()),
            ComparedFigure::MimallocGap(t) => format!("{} at exit (mimalloc)", t.label()),
            ComparedFigure::Rss(GapMoment::Peak) => "RSS at peak".into(),
            other => other.label(),
        }
    }

    /// This metric's figure in `p`, if `p` recorded it.
    pub fn figure(self, p: &Profile) -> Option<Figure> {
        Some(match self {
            ComparedFigure::WallTime => Figure::Seconds(p.meta.duration_secs),
            ComparedFigure::CpuTime => Figure::Seconds(p.meta.cpu_time_secs),
            ComparedFigure::Allocations => Figure::Count(p.totals.allocs),
            ComparedFigure::BytesAllocated => Figure::Bytes(to_i64(p.totals.bytes_allocated)),
            ComparedFigure::PeakRequested => Figure::Bytes(to_i64(p.totals.peak_live_bytes)),
            ComparedFigure::PeakRss => Figure::Bytes(to_i64(p.meta.peak_rss)),
            ComparedFigure::Rss(GapMoment::Exit) => {
                // The RSS read with the figures of the moment the profile was written: a gap
                // (jemalloc's, mimalloc's, or what can be known over System), else the
                // cgroup's reading; never a timeline point.
                Figure::Bytes(match (&p.gap, &p.mimalloc_gap, &p.partial_gap, &p.cgroup) {
                    (Some(g), _, _, _) => g.rss,
                    (None, Some(g), _, _) => g.rss,
                    (None, None, Some(g), _) => to_i64(g.rss),
                    (None, None, None, Some(cg)) => to_i64(cg.rss),
                    (None, None, None, None) => return None,
                })
            }
            ComparedFigure::Rss(GapMoment::Peak) => Figure::Bytes(p.gap_at_peak.as_ref()?.rss),
            ComparedFigure::Gap(m, t) => Figure::Bytes(t.value(m.gap_of(p)?)),
            ComparedFigure::MimallocGap(t) => {
                Figure::Bytes(t.value_mimalloc(p.mimalloc_gap.as_ref()?))
            }
        })
    }

    /// The metrics the largest difference is chosen among (the gap terms explain, they
    /// don't compete).
    const HEADLINE: [ComparedFigure; 8] = [
        ComparedFigure::WallTime,
        ComparedFigure::CpuTime,
        ComparedFigure::Allocations,
        ComparedFigure::BytesAllocated,
        ComparedFigure::PeakRequested,
        ComparedFigure::PeakRss,
        ComparedFigure::Rss(GapMoment::Exit),
        ComparedFigure::Rss(GapMoment::Peak),
    ];
}

/// A byte count as `i64`, saturating at `i64::MAX` (8 EiB).
fn to_i64(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// One profile's identity in the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedProfile {
    /// The name given on the command line (a file name or a label).
    pub name: String,
    /// `meta.allocator`.
    pub allocator: String,
    /// `meta.allocator_config`.
    pub allocator_config: Option<String>,
    /// `meta.program`.
    pub program: String,
}

/// One row of the table: a metric's figure in each profile, in the order of
/// [`Comparison::profiles`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// A stable key ([`ComparedFigure::key`]).
    pub key: String,
    /// What the row shows.
    #[serde(skip)]
    pub metric: ComparedFigure,
    /// The row label.
    pub label: String,
    /// The figure per profile; `None` where the profile did not record it.
    pub values: Vec<Option<Figure>>,
    /// Relative change against the first profile (`0.71` = +71%); `None` for the baseline
    /// itself and where either figure is missing, the baseline's is not positive or this
    /// one is negative.
    pub change: Vec<Option<f64>>,
}

/// Which gap term accounts for a difference in RSS.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// When the compared breakdowns were taken.
    pub moment: GapMoment,
    /// The term that grew most on the side with more RSS.
    pub term: GapTerm,
    /// By how much it grew, bytes.
    pub bytes: i64,
    /// `bytes` over the RSS difference (may exceed 1 when other terms shrank).
    pub share: f64,
    /// The name of the profile without a breakdown, if any: only its requested bytes were
    /// known, its other terms were counted as zero.
    pub missing_breakdown: Option<String>,
}

/// A difference against the baseline, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The profile this is about.
    pub profile: String,
    /// The metric ([`ComparedFigure::key`]).
    pub key: String,
    /// What differs.
    #[serde(skip)]
    pub metric: ComparedFigure,
    /// True for the largest difference of this profile (at most one per profile).
    pub largest: bool,
    /// The baseline's figure.
    pub baseline: Figure,
    /// This profile's figure.
    pub value: Figure,
    /// Relative change (`0.71` = +71%).
    pub change: f64,
    /// The gap term behind an RSS difference, when the profiles have breakdowns.
    pub attribution: Option<Attribution>,
    /// The sentence.
    pub text: String,
}

/// Profiles side by side, and their differences in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The profiles, in the order given; the first is the baseline.
    pub profiles: Vec<ComparedProfile>,
    /// The table.
    pub rows: Vec<Row>,
    /// Differences against the baseline: for each other profile its largest difference
    /// first, then the other changes of at least [`NOTABLE_CHANGE`].
    pub findings: Vec<Finding>,
}

impl Comparison {
    /// The row of `metric`, if the table has it.
    pub fn row(&self, metric: ComparedFigure) -> Option<&Row> {
        self.rows.iter().find(|r| r.metric == metric)
    }

    /// The largest difference of the profile named `name` against the baseline.
    pub fn largest_difference(&self, name: &str) -> Option<&Finding> {
        self.findings
            .iter()
            .find(|f| f.largest && f.profile == name)
    }
}

/// Compares `profiles` (name, profile) against the first one.
///
/// Rows: wall time, CPU time, allocations, bytes allocated, peak requested bytes, peak RSS,
/// RSS at exit, then the RSS and every gap term at peak, every gap term at exit, and every
/// term of the gap over mimalloc at exit, each
/// only when at least one profile recorded it. For each profile after the first, the largest difference is the
/// headline metric with the largest `|ln(value / baseline)|` (so that halving and doubling
/// weigh the same); a difference in RSS is attributed to the gap term that grew most.
pub fn compare(profiles: &[(String, Profile)]) -> Comparison {
    let mut metrics: Vec<ComparedFigure> = ComparedFigure::HEADLINE[..6].to_vec();
    if profiles
        .iter()
        .any(|(_, p)| ComparedFigure::Rss(GapMoment::Exit).figure(p).is_some())
    {
        metrics.push(ComparedFigure::Rss(GapMoment::Exit));
    }
    for moment in [GapMoment::Peak, GapMoment::Exit] {
        if profiles.iter().any(|(_, p)| moment.gap_of(p).is_some()) {
            if moment == GapMoment::Peak {
                metrics.push(ComparedFigure::Rss(moment));
            }
            metrics.extend(GapTerm::ALL.iter().map(|&t| ComparedFigure::Gap(moment, t)));
        }
    }
    // Over mimalloc: its own terms, in the same words (docs/mimalloc.md).
    if profiles.iter().any(|(_, p)| p.mimalloc_gap.is_some()) {
        metrics.extend(GapTerm::MIMALLOC.map(ComparedFigure::MimallocGap));
    }
    let rows: Vec<Row> = metrics
        .iter()
        .map(|&metric| {
            let values: Vec<Option<Figure>> =
                profiles.iter().map(|(_, p)| metric.figure(p)).collect();
            let base = values.first().copied().flatten();
            let change = values
                .iter()
                .enumerate()
                .map(|(i, v)| match (i, base, v) {
                    (0, _, _) => None,
                    (_, Some(b), Some(v)) => relative_change(b, *v),
                    _ => None,
                })
                .collect();
            Row {
                key: metric.key(),
                metric,
                label: metric.label(),
                values,
                change,
            }
        })
        .collect();

    let mut findings = Vec::new();
    if let Some((base_name, base)) = profiles.first() {
        for (name, p) in profiles.iter().skip(1) {
            findings.extend(findings_for(base_name, base, name, p));
        }
    }

    Comparison {
        profiles: profiles
            .iter()
            .map(|(name, p)| ComparedProfile {
                name: name.clone(),
                allocator: p.meta.allocator.clone(),
                allocator_config: p.meta.allocator_config.clone(),
                program: p.meta.program.clone(),
            })
            .collect(),
        rows,
        findings,
    }
}

/// What is known of the breakdown of `p` at `moment` without one: the requested bytes
/// (`peak_live_bytes` at peak, `live_bytes` at exit).
fn known_part(moment: GapMoment, p: &Profile) -> GapBreakdown {
    let requested = match moment {
        GapMoment::Peak => p.totals.peak_live_bytes,
        GapMoment::Exit => p.totals.live_bytes,
    };
    GapBreakdown {
        requested: to_i64(requested),
        ..GapBreakdown::default()
    }
}

/// `(value − base) / base`, or `None` unless both are positive (a percentage of a negative
/// `non_heap` or of zero says nothing).
fn relative_change(base: Figure, value: Figure) -> Option<f64> {
    let (b, v) = (base.as_f64(), value.as_f64());
    (b > 0.0 && v >= 0.0).then(|| (v - b) / b)
}

/// The findings of one profile against the baseline: its largest difference first.
fn findings_for(base_name: &str, base: &Profile, name: &str, p: &Profile) -> Vec<Finding> {
    struct Candidate {
        metric: ComparedFigure,
        baseline: Figure,
        value: Figure,
        change: f64,
        weight: f64,
    }
    let mut candidates: Vec<Candidate> = ComparedFigure::HEADLINE
        .iter()
        .filter_map(|&metric| {
            let (b, v) = (metric.figure(base)?, metric.figure(p)?);
            let (bf, vf) = (b.as_f64(), v.as_f64());
            if bf <= 0.0 || vf <= 0.0 {
                return None;
            }
            Some(Candidate {
                metric,
                baseline: b,
                value: v,
                change: (vf - bf) / bf,
                weight: (vf / bf).ln().abs(),
            })
        })
        .collect();
    // Largest first; on a tie the earlier metric (stable sort).
    candidates.sort_by(|a, b| b.weight.total_cmp(&a.weight));

    candidates
        .iter()
        .enumerate()
        .filter(|(i, c)| *i == 0 || c.change.abs() >= NOTABLE_CHANGE)
        .map(|(i, c)| {
            let attribution = attribute(c.metric, base_name, base, name, p);
            let text = sentence(
                name,
                base_name,
                c.metric,
                c.baseline,
                c.value,
                c.change,
                attribution.as_ref(),
                i == 0,
            );
            Finding {
                profile: name.to_string(),
                key: c.metric.key(),
                metric: c.metric,
                largest: i == 0,
                baseline: c.baseline,
                value: c.value,
                change: c.change,
                attribution,
                text,
            }
        })
        .collect()
}

/// The gap term behind a difference in RSS between `base` and `p`, if `metric` is an RSS and
/// at least the profile with more RSS has a breakdown.
fn attribute(
    metric: ComparedFigure,
    base_name: &str,
    base: &Profile,
    name: &str,
    p: &Profile,
) -> Option<Attribution> {
    // The peak RSS (the kernel's high-water mark) is explained by the breakdown at peak.
    let moment = match metric {
        ComparedFigure::PeakRss | ComparedFigure::Rss(GapMoment::Peak) => GapMoment::Peak,
        ComparedFigure::Rss(GapMoment::Exit) => GapMoment::Exit,
        _ => return None,
    };
    let (gb, gp) = (moment.gap_of(base), moment.gap_of(p));
    let diff = match (metric.figure(p)?, metric.figure(base)?) {
        (Figure::Bytes(v), Figure::Bytes(b)) => v - b,
        _ => return None,
    };
    // Explain the side with more RSS against the side with less.
    let (more, less, less_profile, less_name) = if diff >= 0 {
        (gp?, gb, base, base_name)
    } else {
        (gb?, gp, p, name)
    };
    // A profile without a breakdown (glibc malloc gives no statistics) still knows its
    // requested bytes; its other terms are unknown and counted as zero.
    let known = known_part(moment, less_profile);
    let (term, bytes) = largest_increase(Some(less.unwrap_or(&known)), more)?;
    // With both breakdowns, divide by their own RSS difference, so the shares add up.
    let denominator = match less {
        Some(l) if more.rss != l.rss => (more.rss - l.rss).abs(),
        _ => diff.abs(),
    };
    if denominator == 0 {
        return None;
    }
    Some(Attribution {
        moment,
        term,
        bytes,
        share: bytes as f64 / denominator as f64,
        missing_breakdown: less.is_none().then(|| less_name.to_string()),
    })
}

#[allow(clippy::too_many_arguments)]
fn sentence(
    name: &str,
    base_name: &str,
    metric: ComparedFigure,
    baseline: Figure,
    value: Figure,
    change: f64,
    attribution: Option<&Attribution>,
    largest: bool,
) -> String {
    let delta = match (baseline, value) {
        (Figure::Seconds(b), Figure::Seconds(v)) => signed(Figure::Seconds(v - b)),
        (Figure::Count(b), Figure::Count(v)) => {
            let d = v as i128 - b as i128;
            let s = format_count(d.unsigned_abs().min(u64::MAX as u128) as u64);
            if d < 0 {
                format!("-{s}")
            } else {
                format!("+{s}")
            }
        }
        (Figure::Bytes(b), Figure::Bytes(v)) => signed(Figure::Bytes(v.saturating_sub(b))),
        _ => String::new(),
    };
    let mut s = format!(
        "{name}: {} {} ({delta} vs {base_name})",
        format_percent(change),
        metric.phrase()
    );
    if let Some(a) = attribution {
        let side = if change >= 0.0 { name } else { base_name };
        // Up to a rounding's worth above 100% still reads "of which 101%".
        let what = if a.share > 1.05 {
            format!(
                "more than the whole difference is {} ({} more in {side})",
                a.term.description(),
                format_bytes(a.bytes)
            )
        } else {
            format!(
                "of which {:.0}% is {} in {side}",
                a.share * 100.0,
                a.term.description()
            )
        };
        s.push_str(&format!(", {what} — {}", a.term.verdict()));
        if let Some(m) = &a.missing_breakdown {
            s.push_str(&format!(
                " ({m} records no gap breakdown: only its requested bytes are known)"
            ));
        }
    }
    if largest && change.abs() < NOTABLE_CHANGE {
        s.push_str(&format!(
            " — the largest difference, none reaches {:.0}%",
            NOTABLE_CHANGE * 100.0
        ));
    }
    s
}

fn signed(f: Figure) -> String {
    let s = f.to_string();
    if s.starts_with('-') {
        s
    } else {
        format!("+{s}")
    }
}

impl fmt::Display for Comparison {
    /// The table (one column per profile, the change against the first in parentheses),
    /// then the findings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.profiles.is_empty() {
            return writeln!(f, "no profiles to compare");
        }
        let mut table: Vec<Vec<String>> = Vec::new();
        table.push(
            std::iter::once(String::new())
                .chain(self.profiles.iter().map(|p| p.name.clone()))
                .collect(),
        );
        // The allocator row only when some name does not already say it.
        if self.profiles.iter().any(|p| p.name != p.allocator) {
            table.push(
                std::iter::once("allocator".to_string())
                    .chain(self.profiles.iter().map(|p| p.allocator.clone()))
                    .collect(),
            );
        }
        for row in &self.rows {
            // A blank line and a title before each gap block.
            let title = match row.metric {
                ComparedFigure::Rss(GapMoment::Peak) => Some("gap at peak"),
                ComparedFigure::Gap(GapMoment::Exit, GapTerm::Requested) => Some("gap at exit"),
                ComparedFigure::MimallocGap(GapTerm::Requested) => {
                    Some("gap at exit (mimalloc's statistics)")
                }
                _ => None,
            };
            if let Some(title) = title {
                table.push(vec![String::new(); self.profiles.len() + 1]);
                let mut cells = vec![String::new(); self.profiles.len() + 1];
                cells[0] = title.to_string();
                table.push(cells);
            }
            let mut cells = vec![row.label.clone()];
            for (v, c) in row.values.iter().zip(&row.change) {
                cells.push(match (v, c) {
                    (None, _) => "-".into(),
                    (Some(v), None) => v.to_string(),
                    (Some(v), Some(c)) => format!("{v} ({})", format_percent(*c)),
                });
            }
            table.push(cells);
        }
        let ncols = self.profiles.len() + 1;
        let widths: Vec<usize> = (0..ncols)
            .map(|c| {
                table
                    .iter()
                    .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for r in &table {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                let w = widths.get(c).copied().unwrap_or(0);
                // Padded by hand: a format width must fit in 16 bits, a cell need not.
                let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
                if c == 0 {
                    line.push_str(cell);
                    line.push_str(&pad);
                } else {
                    line.push_str("  ");
                    line.push_str(&pad);
                    line.push_str(cell);
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        // Configurations can be long (every jemalloc option in effect): one line each.
        let configs: Vec<_> = self
            .profiles
            .iter()
            .filter_map(|p| Some((&p.name, p.allocator_config.as_ref()?)))
            .collect();
        if !configs.is_empty() {
            writeln!(f)?;
            for (name, config) in configs {
                writeln!(f, "config of {name}: {config}")?;
            }
        }
        if !self.findings.is_empty() {
            writeln!(f)?;
            for finding in &self.findings {
                writeln!(f, "{}", finding.text)?;
            }
        }
        Ok(())
    }
}
