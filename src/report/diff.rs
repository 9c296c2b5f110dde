//! Comparing two profiles: a differential flamegraph (inferno's differential mode: widths
//! from AFTER, red where a stack grew, blue where it shrank) and a table of the call sites
//! whose allocations or bytes changed most.
//!
//! Call sites are matched by their folded stack (function names, root first), not by
//! address, so two builds of one program, or one program over two allocators, compare.

use std::collections::HashMap;
use std::io::{self, Write};

use inferno::differential;
use inferno::flamegraph;

use crate::model::profile::Profile;
use crate::model::units;
use crate::report::error::ReportError;
use crate::report::flamegraph::{inferno_options, FlamegraphOptions};
use crate::report::folded::{stack_key, FoldedStacks};

/// Draws the differential flamegraph of `before` → `after` as SVG into `writer`, under
/// `opts.metric`. Frame widths are AFTER's figures; colours show the change.
pub fn write_diff_flamegraph(
    before: &Profile,
    after: &Profile,
    opts: &FlamegraphOptions,
    writer: impl Write,
) -> Result<(), ReportError> {
    let old = FoldedStacks::from_profile(before, opts.metric);
    let new = FoldedStacks::from_profile(after, opts.metric);
    if old.is_empty() && new.is_empty() {
        return Err(ReportError::no_stacks(
            opts.metric,
            after.meta.sampling_bytes,
        ));
    }
    old.check_total()?;
    new.check_total()?;
    let mut two_columns = Vec::new();
    differential::from_readers(
        differential::Options::default(),
        old.to_text().as_bytes(),
        new.to_text().as_bytes(),
        &mut two_columns,
    )?;
    let default_title = format!("Difference: {}", opts.metric.title());
    let mut o = inferno_options(after, opts, default_title, new.total());
    let total = |s: &FoldedStacks| match opts.metric.unit() {
        "bytes" => units::format_size(s.total()),
        unit => format!("{} {unit}", units::format_count(s.total())),
    };
    o.subtitle = Some(format!(
        "before {} ({}), after {} ({}); widths are after's, red grew, blue shrank",
        before.meta.program,
        total(&old),
        after.meta.program,
        total(&new)
    ));
    let text = String::from_utf8_lossy(&two_columns);
    flamegraph::from_lines(&mut o, text.lines(), writer)?;
    Ok(())
}

/// How one call site (one folded stack) changed between two profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SiteChange {
    /// Function names, leaf (the allocating function) first.
    pub frames: Vec<String>,
    /// Allocations before.
    pub allocs_before: u64,
    /// Allocations after.
    pub allocs_after: u64,
    /// Bytes before.
    pub bytes_before: u64,
    /// Bytes after.
    pub bytes_after: u64,
}

impl SiteChange {
    /// `allocs_after − allocs_before`.
    pub fn allocs_delta(&self) -> i128 {
        i128::from(self.allocs_after) - i128::from(self.allocs_before)
    }

    /// `bytes_after − bytes_before`.
    pub fn bytes_delta(&self) -> i128 {
        i128::from(self.bytes_after) - i128::from(self.bytes_before)
    }
}

/// Every call site of either profile with its figures before and after, sites with the same
/// folded stack merged. Order: by stack.
pub fn site_changes(before: &Profile, after: &Profile) -> Vec<SiteChange> {
    let mut by_stack: HashMap<String, SiteChange> = HashMap::new();
    for (profile, is_after) in [(before, false), (after, true)] {
        for site in &profile.sites {
            let change = by_stack
                .entry(stack_key(site))
                .or_insert_with(|| SiteChange {
                    frames: site
                        .frames
                        .iter()
                        .map(|f| crate::report::names::display_name(f).into_owned())
                        .collect(),
                    ..SiteChange::default()
                });
            let (allocs, bytes) = if is_after {
                (&mut change.allocs_after, &mut change.bytes_after)
            } else {
                (&mut change.allocs_before, &mut change.bytes_before)
            };
            *allocs = allocs.saturating_add(site.allocs);
            *bytes = bytes.saturating_add(site.bytes);
        }
    }
    let mut changes: Vec<(String, SiteChange)> = by_stack.into_iter().collect();
    changes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    changes.into_iter().map(|(_, c)| c).collect()
}

/// The `top` changes with the largest `|key|`, largest first, zero changes left out.
pub fn largest_changes(
    changes: &[SiteChange],
    top: usize,
    key: impl Fn(&SiteChange) -> i128,
) -> Vec<&SiteChange> {
    let mut ranked: Vec<&SiteChange> = changes.iter().filter(|c| key(c) != 0).collect();
    // Stable sort: ties keep stack order, so the table is reproducible.
    ranked.sort_by_key(|c| std::cmp::Reverse(key(c).unsigned_abs()));
    ranked.truncate(top);
    ranked
}

/// Writes the tables of the `top` call sites whose allocations, then bytes, changed most.
pub fn write_change_tables(
    before: &Profile,
    after: &Profile,
    top: usize,
    mut w: impl Write,
) -> io::Result<()> {
    let changes = site_changes(before, after);
    writeln!(
        w,
        "Totals: allocations {} -> {} ({}), bytes {} -> {} ({})",
        units::format_count(before.totals.allocs),
        units::format_count(after.totals.allocs),
        units::format_signed_count(
            i128::from(after.totals.allocs) - i128::from(before.totals.allocs)
        ),
        units::format_size(before.totals.bytes_allocated),
        units::format_size(after.totals.bytes_allocated),
        units::format_signed_bytes(
            i128::from(after.totals.bytes_allocated) - i128::from(before.totals.bytes_allocated)
        ),
    )?;
    for (heading, by_bytes) in [
        ("Call sites whose allocations changed most", false),
        ("Call sites whose bytes changed most", true),
    ] {
        writeln!(w)?;
        writeln!(w, "{heading}")?;
        let ranked = if by_bytes {
            largest_changes(&changes, top, SiteChange::bytes_delta)
        } else {
            largest_changes(&changes, top, SiteChange::allocs_delta)
        };
        if ranked.is_empty() {
            writeln!(w, "  (no change)")?;
            continue;
        }
        writeln!(
            w,
            "  {:>14} {:>14} {:>14}  {:>11} {:>11} {:>12}  site",
            "allocs before", "allocs after", "change", "bytes before", "bytes after", "change"
        )?;
        for c in ranked {
            writeln!(
                w,
                "  {:>14} {:>14} {:>14}  {:>11} {:>11} {:>12}  {}",
                units::format_count(c.allocs_before),
                units::format_count(c.allocs_after),
                units::format_signed_count(c.allocs_delta()),
                units::format_size(c.bytes_before),
                units::format_size(c.bytes_after),
                units::format_signed_bytes(c.bytes_delta()),
                site_label(&c.frames),
            )?;
        }
    }
    Ok(())
}

/// `leaf ← caller ← caller` (at most three frames), or `?` for an empty stack.
pub(crate) fn site_label(frames: &[String]) -> String {
    if frames.is_empty() {
        return "?".to_string();
    }
    let mut label = frames
        .iter()
        .take(3)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" <- ");
    if frames.len() > 3 {
        label.push_str(" <- …");
    }
    label
}
