//! The `summary` report: totals, peak, size classes with rounding waste, top call sites with
//! lifetime figures, the RSS gap, and the sampling interval that bounds the figures'
//! precision. [`Summary`] is both the JSON document (`--json`) and the source of the text.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::gap_term::GapTerm;
use crate::model::profile::{CallSite, Profile};
use crate::model::units;
use crate::observe::gap::GapBreakdown;
use crate::report::diff::site_label;
use crate::report::flamegraph::sampling_note;
use crate::report::names::display_name;

/// The value of [`Summary::format`].
pub const SUMMARY_FORMAT: &str = "allocscope-summary";
/// The current value of [`Summary::version`]; keys are only ever added within a version.
pub const SUMMARY_VERSION: u32 = 1;

/// Everything the summary shows, serialized as the stable `--json` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Always [`SUMMARY_FORMAT`].
    pub format: &'static str,
    /// Always [`SUMMARY_VERSION`].
    pub version: u32,
    /// The profiled program.
    pub program: String,
    /// Its command line.
    pub args: Vec<String>,
    /// The inner allocator.
    pub allocator: String,
    /// `"final"`, or `"flushed"` for a profile written by the periodic flush of a process
    /// that was still running.
    pub profile_kind: crate::model::profile::ProfileKind,
    /// For a flushed profile, the sentence saying so (shown at the top of the text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_note: Option<String>,
    /// Wall time of the run, seconds.
    pub duration_secs: f64,
    /// Calls to `alloc` and `alloc_zeroed` (exact).
    pub allocs: u64,
    /// Calls to `dealloc` (exact).
    pub frees: u64,
    /// Calls to `realloc` (exact).
    pub reallocs: u64,
    /// Bytes requested, reallocs' new sizes included (exact).
    pub bytes_allocated: u64,
    /// Bytes freed, reallocs' old sizes included (exact).
    pub bytes_freed: u64,
    /// Highest live requested bytes during the run (exact).
    pub peak_live_bytes: u64,
    /// Live requested bytes when the profile was written: leaked at exit (exact).
    pub live_bytes_at_exit: u64,
    /// Live blocks when the profile was written (exact).
    pub live_blocks_at_exit: u64,
    /// Peak RSS of the process (`VmHWM`), bytes.
    pub peak_rss: u64,
    /// Mean sampling interval in bytes behind the call-site figures: 1 exact, 0 no stacks.
    pub sampling_bytes: u64,
    /// Size classes, ascending.
    pub size_classes: Vec<SizeClassRow>,
    /// Usable − requested bytes over all allocations (exact).
    pub rounding_waste_bytes: u64,
    /// The RSS gap when the profile was written, if the allocator gives statistics.
    pub gap: Option<GapBreakdown>,
    /// The RSS gap at the live-bytes peak, if recorded.
    pub gap_at_peak: Option<GapBreakdown>,
    /// Over mimalloc, the gap when the profile was written from mimalloc's statistics (its
    /// terms differ from jemalloc's `gap`, which is then absent; docs/mimalloc.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mimalloc_gap: Option<crate::model::gap_mimalloc::MimallocGap>,
    /// Over an allocator without statistics, what can be known of RSS when the profile was
    /// written (allocscope's own memory among it); `gap` and `mimalloc_gap` are then absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_gap: Option<crate::model::gap_partial::PartialGap>,
    /// One sentence on what dominates the gap, when there is a gap.
    pub diagnosis: Option<String>,
    /// The process's cgroup figures (v2 or v1) when the profile was written, if it had any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<crate::model::cgroup::CgroupMemory>,
    /// RSS against the cgroup's limit, one sentence ([`GapTerm`]'s vocabulary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Number of distinct call stacks in the profile.
    pub distinct_sites: usize,
    /// The call sites that requested the most bytes, most first.
    pub top_sites: Vec<SiteSummary>,
    /// The call sites that allocated most often, most first.
    pub top_sites_by_allocs: Vec<SiteSummary>,
}

/// One size class and its rounding waste.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SizeClassRow {
    /// Usable bytes of a block of this class.
    pub size: u64,
    /// Blocks that entered the class.
    pub allocs: u64,
    /// Bytes those blocks requested.
    pub requested_bytes: u64,
    /// Usable bytes of those blocks.
    pub usable_bytes: u64,
    /// `usable_bytes − requested_bytes`.
    pub rounding_waste_bytes: u64,
    /// Blocks of the class live at exit.
    pub live_blocks: u64,
    /// Rounding waste of the live blocks.
    pub live_rounding_waste_bytes: u64,
}

/// One call site as the summary shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SiteSummary {
    /// Function names, leaf (the user's allocating function) first.
    pub frames: Vec<String>,
    /// `file:line` of the allocating frame, when known.
    pub location: Option<String>,
    /// Allocations made here.
    pub allocs: u64,
    /// Bytes requested here.
    pub bytes: u64,
    /// Blocks still live at exit.
    pub live_blocks: u64,
    /// Bytes still live at exit.
    pub live_bytes: u64,
    /// Bytes live at the process's peak.
    pub peak_bytes: u64,
    /// Size-class rounding waste over this site's allocations.
    pub slack_bytes: u64,
    /// Allocations freed.
    pub freed: u64,
    /// Allocations freed within 1 ms.
    pub freed_under_1ms: u64,
    /// Median lifetime of the freed allocations, ns.
    pub median_lifetime_ns: Option<u64>,
    /// Samples behind the estimates; a figure from n samples is good to about ±1/√n.
    pub samples: u64,
    /// The tracing span path the samples were taken in, when `SpanLayer` saw one: one stack
    /// allocating in two spans is two sites, told apart by this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<String>,
}

impl SiteSummary {
    fn from_site(site: &CallSite) -> SiteSummary {
        let location = site.frames.first().and_then(|f| {
            f.file.as_ref().map(|file| match f.line {
                Some(line) => format!("{file}:{line}"),
                None => file.clone(),
            })
        });
        SiteSummary {
            frames: site
                .frames
                .iter()
                .map(|f| display_name(f).into_owned())
                .collect(),
            location,
            allocs: site.allocs,
            bytes: site.bytes,
            live_blocks: site.live_blocks,
            live_bytes: site.live_bytes,
            peak_bytes: site.peak_bytes,
            slack_bytes: site.slack_bytes,
            freed: site.lifetimes.freed,
            freed_under_1ms: site.lifetimes.under_1ms,
            median_lifetime_ns: site.lifetimes.median_ns,
            samples: site.samples,
            span: site.span.clone(),
        }
    }
}

/// The `top` sites by `key`, largest first; ties keep the profile's order.
fn top_sites(profile: &Profile, top: usize, key: impl Fn(&CallSite) -> u64) -> Vec<SiteSummary> {
    let mut ranked: Vec<&CallSite> = profile.sites.iter().filter(|s| key(s) > 0).collect();
    ranked.sort_by_key(|s| std::cmp::Reverse(key(s)));
    ranked
        .into_iter()
        .take(top)
        .map(SiteSummary::from_site)
        .collect()
}

impl Summary {
    /// Summarizes `profile`, keeping the `top` call sites of each ranking.
    pub fn new(profile: &Profile, top: usize) -> Summary {
        let size_classes: Vec<SizeClassRow> = profile
            .size_classes
            .iter()
            .map(|c| SizeClassRow {
                size: c.size,
                allocs: c.allocs,
                requested_bytes: c.requested_bytes,
                usable_bytes: c.usable_bytes,
                rounding_waste_bytes: c.usable_bytes.saturating_sub(c.requested_bytes),
                live_blocks: c.live_blocks,
                live_rounding_waste_bytes: c
                    .live_usable_bytes
                    .saturating_sub(c.live_requested_bytes),
            })
            .collect();
        let t = &profile.totals;
        Summary {
            format: SUMMARY_FORMAT,
            version: SUMMARY_VERSION,
            program: profile.meta.program.clone(),
            args: profile.meta.args.clone(),
            allocator: profile.meta.allocator.clone(),
            profile_kind: profile.meta.kind,
            profile_note: profile.meta.kind_sentence(),
            duration_secs: profile.meta.duration_secs,
            allocs: t.allocs,
            frees: t.frees,
            reallocs: t.reallocs,
            bytes_allocated: t.bytes_allocated,
            bytes_freed: t.bytes_freed,
            peak_live_bytes: t.peak_live_bytes,
            live_bytes_at_exit: t.live_bytes,
            live_blocks_at_exit: t.live_blocks,
            peak_rss: profile.meta.peak_rss,
            sampling_bytes: profile.meta.sampling_bytes,
            rounding_waste_bytes: size_classes
                .iter()
                .map(|c| c.rounding_waste_bytes)
                .fold(0, u64::saturating_add),
            size_classes,
            gap: profile.gap,
            gap_at_peak: profile.gap_at_peak,
            mimalloc_gap: profile.mimalloc_gap,
            partial_gap: profile.partial_gap.clone(),
            diagnosis: profile.gap.as_ref().and_then(gap_diagnosis),
            cgroup: profile.cgroup.clone(),
            container: profile
                .cgroup
                .as_ref()
                .map(crate::model::gap_term::container_sentence),
            distinct_sites: profile.sites.len(),
            top_sites: top_sites(profile, top, |s| s.bytes),
            top_sites_by_allocs: top_sites(profile, top, |s| s.allocs),
        }
    }

    /// The stable JSON document, pretty-printed, with a final newline.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of numbers and strings cannot fail.
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }

    /// Writes the text report.
    pub fn write_text(&self, mut w: impl Write) -> io::Result<()> {
        writeln!(
            w,
            "allocscope summary: {} ({}, {:.1} s)",
            self.program, self.allocator, self.duration_secs
        )?;
        if let Some(note) = &self.profile_note {
            writeln!(w, "{note}")?;
        }
        if !self.args.is_empty() {
            writeln!(w, "command:  {}", self.args.join(" "))?;
        }
        writeln!(w, "sampling: {}", sampling_note(self.sampling_bytes))?;
        if self.sampling_bytes > 1 {
            writeln!(
                w,
                "          totals and size classes are exact; a call-site figure from n samples \
                 is good to about ±1/√n"
            )?;
        }

        writeln!(w)?;
        writeln!(w, "Totals (exact)")?;
        let row =
            |w: &mut dyn Write, label: &str, value: String| writeln!(w, "  {label:<22}{value}");
        row(&mut w, "allocations", units::format_count(self.allocs))?;
        row(&mut w, "reallocations", units::format_count(self.reallocs))?;
        row(&mut w, "frees", units::format_count(self.frees))?;
        row(&mut w, "bytes allocated", bytes_exact(self.bytes_allocated))?;
        row(&mut w, "bytes freed", bytes_exact(self.bytes_freed))?;
        row(&mut w, "peak live", bytes_exact(self.peak_live_bytes))?;
        row(
            &mut w,
            "live at exit",
            format!(
                "{} in {} blocks",
                bytes_exact(self.live_bytes_at_exit),
                units::format_count(self.live_blocks_at_exit)
            ),
        )?;
        row(&mut w, "peak RSS", bytes_exact(self.peak_rss))?;

        self.write_size_classes(&mut w)?;
        for (heading, sites) in [
            ("Top call sites by bytes", &self.top_sites),
            ("Top call sites by allocations", &self.top_sites_by_allocs),
        ] {
            writeln!(w)?;
            write_sites(&mut w, heading, sites, self.distinct_sites)?;
        }

        writeln!(w)?;
        match (&self.gap, &self.mimalloc_gap) {
            (Some(gap), _) => write_gap(&mut w, "RSS gap when the profile was written", gap)?,
            (None, Some(gap)) => write_mimalloc_gap(
                &mut w,
                "RSS gap when the profile was written (mimalloc's statistics)",
                gap,
            )?,
            (None, None) => match &self.partial_gap {
                Some(p) => {
                    writeln!(
                        w,
                        "RSS when the profile was written (the allocator gives no statistics: \
                         what can be known)"
                    )?;
                    // The one table of what can be known (its `Display`), indented.
                    for line in p.to_string().lines() {
                        writeln!(w, "  {line}")?;
                    }
                }
                None => writeln!(
                    w,
                    "RSS gap: not available (the allocator gives no statistics)"
                )?,
            },
        }
        if let Some(diagnosis) = &self.diagnosis {
            writeln!(w, "  diagnosis: {diagnosis}")?;
        }
        if let (Some(container), Some(cg)) = (&self.container, &self.cgroup) {
            writeln!(w, "  container ({}): {container}", cg.version.label())?;
        }
        if let Some(gap) = &self.gap_at_peak {
            writeln!(w)?;
            write_gap(&mut w, "RSS gap at the live-bytes peak", gap)?;
        }
        Ok(())
    }

    fn write_size_classes(&self, w: &mut impl Write) -> io::Result<()> {
        write_size_classes(&self.size_classes, w)
    }
}

/// The size-class table of the text summary.
fn write_size_classes(rows: &[SizeClassRow], w: &mut impl Write) -> io::Result<()> {
    writeln!(w)?;
    writeln!(w, "Size classes (exact)")?;
    if rows.is_empty() {
        return writeln!(w, "  (none)");
    }
    // The class column widens for classes of 100 MB and more (`117,440,512`).
    let class_width = rows
        .iter()
        .map(|c| units::format_count(c.size).len())
        .max()
        .unwrap_or(0)
        .max(10);
    writeln!(
        w,
        "  {:>class_width$} {:>12} {:>11} {:>11} {:>11} {:>7} {:>11} {:>11}",
        "class (B)",
        "allocs",
        "requested",
        "usable",
        "waste",
        "waste%",
        "live blocks",
        "live waste"
    )?;
    let mut total = SizeClassRow {
        size: 0,
        allocs: 0,
        requested_bytes: 0,
        usable_bytes: 0,
        rounding_waste_bytes: 0,
        live_blocks: 0,
        live_rounding_waste_bytes: 0,
    };
    let line = |w: &mut dyn Write, class: String, c: &SizeClassRow| {
        writeln!(
            w,
            "  {:>class_width$} {:>12} {:>11} {:>11} {:>11} {:>7} {:>11} {:>11}",
            class,
            units::format_count(c.allocs),
            units::format_size(c.requested_bytes),
            units::format_size(c.usable_bytes),
            units::format_size(c.rounding_waste_bytes),
            units::format_share(c.rounding_waste_bytes as f64, c.usable_bytes as f64),
            units::format_count(c.live_blocks),
            units::format_size(c.live_rounding_waste_bytes),
        )
    };
    for c in rows {
        line(w, units::format_count(c.size), c)?;
        total.allocs = total.allocs.saturating_add(c.allocs);
        total.requested_bytes = total.requested_bytes.saturating_add(c.requested_bytes);
        total.usable_bytes = total.usable_bytes.saturating_add(c.usable_bytes);
        total.rounding_waste_bytes = total
            .rounding_waste_bytes
            .saturating_add(c.rounding_waste_bytes);
        total.live_blocks = total.live_blocks.saturating_add(c.live_blocks);
        total.live_rounding_waste_bytes = total
            .live_rounding_waste_bytes
            .saturating_add(c.live_rounding_waste_bytes);
    }
    line(w, "total".to_string(), &total)
}

/// `"12.3 MiB (12,897,484 bytes)"`, or `"512 B"` under 1 KiB.
fn bytes_exact(n: u64) -> String {
    if n < 1024 {
        units::format_size(n)
    } else {
        format!(
            "{} ({} bytes)",
            units::format_size(n),
            units::format_count(n)
        )
    }
}

fn write_sites(
    w: &mut impl Write,
    heading: &str,
    sites: &[SiteSummary],
    distinct: usize,
) -> io::Result<()> {
    writeln!(
        w,
        "{heading} (of {} distinct stacks)",
        units::format_count(distinct as u64)
    )?;
    if sites.is_empty() {
        return writeln!(w, "  (no call sites recorded)");
    }
    writeln!(
        w,
        "  {:>3} {:>12} {:>11} {:>11} {:>11} {:>9} {:>11} {:>8}  site",
        "#", "allocs", "bytes", "live", "peak", "freed<1ms", "median life", "samples"
    )?;
    for (i, s) in sites.iter().enumerate() {
        writeln!(
            w,
            "  {:>3} {:>12} {:>11} {:>11} {:>11} {:>9} {:>11} {:>8}  {}",
            i + 1,
            units::format_count(s.allocs),
            units::format_size(s.bytes),
            units::format_size(s.live_bytes),
            units::format_size(s.peak_bytes),
            units::format_share(s.freed_under_1ms as f64, s.freed as f64),
            s.median_lifetime_ns
                .map_or_else(|| "-".to_string(), units::format_duration_ns),
            units::format_count(s.samples),
            site_label(&s.frames),
        )?;
        if let Some(location) = &s.location {
            writeln!(w, "  {:>85}  at {location}", "")?;
        }
        if let Some(span) = &s.span {
            writeln!(w, "  {:>85}  in span {span}", "")?;
        }
    }
    Ok(())
}

/// The gap's rows in table order, with the labels every report uses
/// ([`GapTerm::row_label`]: "less untouched …" for the term that is subtracted), each with
/// its value as stored ([`GapTerm::value`]).
pub fn gap_terms(gap: &GapBreakdown) -> [(&'static str, i64); 10] {
    GapTerm::ALL.map(|t| (t.row_label(), t.value(gap)))
}

fn write_gap(w: &mut impl Write, heading: &str, gap: &GapBreakdown) -> io::Result<()> {
    write_gap_rows(w, heading, &gap_terms(gap), gap.rss)
}

/// The gap over mimalloc in the same table as jemalloc's ([`write_gap`]): its terms in
/// [`GapTerm::MIMALLOC`] order with the same labels, the `~` of the estimated size-class
/// rounding, the part of free and cached inside pages when mimalloc reports it, RSS last,
/// then [`MimallocGap::notes`](crate::MimallocGap::notes) (committed and reserved memory,
/// the estimate, the diagnosis).
fn write_mimalloc_gap(
    w: &mut impl Write,
    heading: &str,
    gap: &crate::model::gap_mimalloc::MimallocGap,
) -> io::Result<()> {
    let mut rows = Vec::with_capacity(GapTerm::MIMALLOC.len() + 1);
    for t in GapTerm::MIMALLOC {
        let label = match t {
            GapTerm::SizeClassRounding => format!("{}~", t.row_label()),
            _ => t.row_label().to_string(),
        };
        rows.push((label, t.value_mimalloc(gap)));
        if let (GapTerm::FreeAndCached, Some(p)) = (t, gap.free_in_pages) {
            rows.push(("  of which in pages".to_string(), p));
        }
    }
    write_gap_rows(w, heading, &rows, gap.rss)?;
    writeln!(w, "  {}", gap.notes())
}

/// The one table of a gap: a row per term (label, value as stored), then RSS.
fn write_gap_rows(
    w: &mut impl Write,
    heading: &str,
    rows: &[(impl AsRef<str>, i64)],
    rss: i64,
) -> io::Result<()> {
    writeln!(w, "{heading}")?;
    writeln!(w, "  {:<30} {:>10} {:>9}", "term", "MiB", "% of RSS")?;
    for (name, value) in rows {
        writeln!(
            w,
            "  {:<30} {:>10} {:>9}",
            name.as_ref(),
            units::format_mib(*value),
            units::format_share(*value as f64, rss as f64)
        )?;
    }
    writeln!(
        w,
        "  {:<30} {:>10} {:>9}",
        "RSS",
        units::format_mib(rss),
        units::format_share(rss as f64, rss as f64)
    )
}

/// The diagnosis the summary prints under the gap table: the dominant term and what to do
/// about it, worded once for the whole crate by [`GapBreakdown::diagnosis`].
fn gap_diagnosis(gap: &GapBreakdown) -> Option<String> {
    Some(gap.diagnosis()).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(size: u64) -> SizeClassRow {
        SizeClassRow {
            size,
            allocs: 2,
            requested_bytes: size,
            usable_bytes: 2 * size,
            rounding_waste_bytes: size,
            live_blocks: 0,
            live_rounding_waste_bytes: 0,
        }
    }

    /// The demo's gap at its peak once printed `untouched (not in RSS) -36.17`: a term shown
    /// negative. It is shown as stored, on a "less" row after the others, above RSS.
    #[test]
    fn gap_table_shows_untouched_as_a_less_row_without_a_minus_sign() {
        const MIB: i64 = 1 << 20;
        let gap = GapBreakdown {
            rss: 100 * MIB,
            requested: 120 * MIB,
            non_heap: 16 * MIB,
            untouched: 36 * MIB,
            ..GapBreakdown::default()
        };
        assert_eq!(gap.sum_of_terms(), gap.rss);
        let mut out = Vec::new();
        write_gap(&mut out, "gap", &gap).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().skip(2).collect();
        let negative = |w: &str| w.starts_with(['-', '−']) && w.len() > 1;
        assert!(!text.split_whitespace().any(negative), "{text}");
        let n = rows.len();
        assert!(
            rows[n - 2].contains("less untouched (not resident)"),
            "{text}"
        );
        assert!(rows[n - 2].contains("36.00"), "{text}");
        assert!(rows[n - 2].contains("36.0%"), "{text}");
        assert!(rows[n - 1].trim_start().starts_with("RSS"), "{text}");
    }

    /// mimalloc's gap once printed raw keys (`rss` first, `free_and_cached`,
    /// `size_class_rounding~`): it reads as jemalloc's, with its own rows and notes.
    #[test]
    fn mimalloc_gap_table_uses_the_labels_of_jemalloc_table() {
        const MIB: i64 = 1 << 20;
        let gap = crate::model::gap_mimalloc::MimallocGap {
            rss: 30 * MIB,
            requested: 256 * MIB,
            size_class_rounding: MIB,
            free_and_cached: 14 * MIB,
            profiler: MIB,
            untouched: 245 * MIB,
            non_heap: 3 * MIB,
            committed: 271 * MIB,
            reserved: 1024 * MIB,
            free_in_pages: Some(6 * MIB),
        };
        assert_eq!(gap.sum_of_terms(), gap.rss);
        let mut out = Vec::new();
        write_mimalloc_gap(&mut out, "gap", &gap).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().skip(2).map(str::trim_start).collect();
        let expected = [
            "requested (live)",
            "size-class rounding~",
            "free and cached",
            "of which in pages",
            "allocscope (profiler)",
            "non-heap",
            "less untouched (not resident)",
            "RSS",
        ];
        assert_eq!(rows.len(), expected.len() + 1, "{text}");
        for (row, label) in rows.iter().zip(expected) {
            assert!(row.starts_with(label), "{row} is not {label}:\n{text}");
        }
        assert!(rows[3].contains("6.00"), "{text}");
        assert!(
            rows[6].contains("245.00") && rows[6].contains("816.7%"),
            "{text}"
        );
        assert!(
            rows[7].contains("30.00") && rows[7].contains("100.0%"),
            "{text}"
        );
        assert!(
            rows[8].starts_with("mimalloc has 271.0 MiB committed"),
            "{text}"
        );
        let negative = |w: &str| w.starts_with(['-', '−']) && w.len() > 1;
        assert!(!text.split_whitespace().any(negative), "{text}");
    }

    /// A class of 100 MB or more (the demo's `117,440,512`) once pushed its row one
    /// character right of the others.
    #[test]
    fn size_class_columns_stay_aligned_for_large_classes() {
        for sizes in [&[8, 4096][..], &[8, 117_440_512, 1 << 40]] {
            let rows: Vec<SizeClassRow> = sizes.iter().map(|&s| row(s)).collect();
            let mut out = Vec::new();
            write_size_classes(&rows, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            let lines: Vec<&str> = text.lines().skip(2).collect();
            assert_eq!(lines.len(), sizes.len() + 2, "{text}");
            // Right-aligned columns: every line (header, rows, total) has the same length, and
            // the allocs column ends at the same offset in each.
            let width = lines[0].len();
            for l in &lines {
                assert_eq!(l.len(), width, "{text}");
            }
            let allocs_end = |l: &str| l.find(" allocs").map(|i| i + 7);
            let end = allocs_end(lines[0]).unwrap();
            for l in &lines[1..=sizes.len()] {
                assert_eq!(&l[end - 2..end], " 2", "{text}");
            }
        }
    }
}
