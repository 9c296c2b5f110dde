//! Does RSS come back down after the load stops? A verdict from the periodic snapshots.
//!
//! A long-running service allocates under load, then goes quiet. Whether its RSS then
//! returns towards the bytes it still holds, stays up (allocator caches, dirty pages no
//! allocation activity will ever purge, fragmentation), or keeps growing (a leak) is what
//! [`assess`] says from a slice of [`TimelinePoint`]s — a profile's `timeline`, or the
//! snapshots a process keeps of itself ([`of_timeline`] reads the recorder's).
//!
//! ```
//! use allocscope::convergence::{assess, ConvergenceOptions, Verdict};
//! use allocscope::profile::TimelinePoint;
//!
//! const MIB: u64 = 1 << 20;
//! // A burst of allocations up to t = 2 s, then idle; RSS stays flat at 40 MiB.
//! let point = |t_secs: f64, allocs: u64, live: u64, rss: u64| TimelinePoint {
//!     t_secs, allocs, frees: 0, bytes_allocated: 0, live_bytes: live * MIB,
//!     rss: rss * MIB, resident: None, gap: None,
//! };
//! let timeline = [
//!     point(0.0, 0, 0, 5),
//!     point(1.0, 500_000, 80, 100),
//!     point(2.0, 1_000_000, 2, 40),
//!     point(3.0, 1_000_010, 2, 40),
//!     point(4.0, 1_000_020, 2, 40),
//! ];
//! let c = assess(&timeline, &ConvergenceOptions::default());
//! assert_eq!(c.verdict, Verdict::Settled);
//! assert_eq!(c.load_stopped_at_secs, Some(2.0));
//! println!("{c}");
//! ```

use std::fmt;

#[cfg(feature = "serde")]
use serde::Serialize;

use crate::model::gap_term::GapTerm;
use crate::model::profile::TimelinePoint;
use crate::model::units::{format_bytes, format_percent, format_seconds};
use crate::observe::gap::GapBreakdown;

/// How [`assess`] judges a timeline.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConvergenceOptions {
    /// The trailing window examined after the load stopped, seconds. Default 10 s
    /// (jemalloc's default `dirty_decay_ms`).
    pub window_secs: f64,
    /// The process counts as idle while its rate of allocations plus frees, and its rate of
    /// bytes allocated plus freed, both stay at or below this fraction of their highest rate
    /// between two snapshots. Default 0.05.
    pub idle_rate_fraction: f64,
    /// RSS counts as flat when it moves by at most this fraction of the peak RSS over the
    /// window. Default 0.02.
    pub tolerance: f64,
}

impl Default for ConvergenceOptions {
    fn default() -> Self {
        ConvergenceOptions {
            window_secs: 10.0,
            idle_rate_fraction: 0.05,
            tolerance: 0.02,
        }
    }
}

/// What the RSS did after the load stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Verdict {
    /// Fewer than two snapshots, or none after the load stopped.
    NotEnoughData,
    /// The allocation rate has not dropped: nothing to judge yet.
    StillUnderLoad,
    /// RSS is flat over the window: it converged (to whatever level [`Convergence`] gives).
    Settled,
    /// RSS is still going down: memory is being returned, wait longer.
    StillFalling,
    /// RSS goes up while the process is idle.
    Growing,
    /// RSS goes up and down by more than the tolerance without a trend.
    Fluctuating,
}

/// One snapshot of the timeline, as the verdict cites it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Moment {
    /// Seconds since profiling started.
    pub t_secs: f64,
    /// Process RSS, bytes.
    pub rss: u64,
    /// Live requested bytes.
    pub live_bytes: u64,
    /// The gap terms, when recorded.
    pub gap: Option<GapBreakdown>,
}

impl From<&TimelinePoint> for Moment {
    fn from(p: &TimelinePoint) -> Self {
        Moment {
            t_secs: p.t_secs,
            rss: p.rss,
            live_bytes: p.live_bytes,
            gap: p.gap,
        }
    }
}

/// The verdict of [`assess`] and the figures behind it. Its `Display` prints a small table
/// (peak, load stop, end) and a sentence.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Convergence {
    /// What RSS did after the load stopped.
    pub verdict: Verdict,
    /// The snapshot with the highest RSS.
    pub peak_rss: Option<Moment>,
    /// The highest live requested bytes of the timeline.
    pub peak_live_bytes: u64,
    /// When the allocation rate last dropped to idle (the snapshot closing the last busy
    /// interval); `None` when it never did.
    pub load_stopped_at_secs: Option<f64>,
    /// The snapshot at the load stop.
    pub load_stop: Option<Moment>,
    /// The last snapshot.
    pub end: Option<Moment>,
    /// The window the verdict looked at: from this time to the end.
    pub window_start_secs: Option<f64>,
    /// RSS at the end minus RSS at the window start, bytes.
    pub rss_change_in_window: i64,
    /// Live requested bytes at the end minus at the window start.
    pub live_change_in_window: i64,
    /// The gap term (other than the requested bytes) largest at the end, and its bytes.
    pub largest_term_at_end: Option<(GapTerm, i64)>,
}

/// Judges whether RSS converged after the load stopped. Pure: looks only at `points`
/// (oldest first, as in a profile's timeline).
///
/// The load counts as stopped after the last interval between two snapshots whose rate of
/// allocations plus frees, or of bytes allocated plus freed, exceeds `idle_rate_fraction` of
/// its highest rate. The window is the idle snapshots
/// (those after the load stop) of the last `window_secs` (all of them if the idle period is
/// shorter). Over the window, RSS is
/// [`Verdict::Settled`] if it stays within `tolerance × peak RSS`, otherwise falling, growing
/// or fluctuating by the sign of its change.
pub fn assess(points: &[TimelinePoint], opts: &ConvergenceOptions) -> Convergence {
    // The first snapshot at the highest RSS (max_by_key would give the last).
    let peak_rss = points.iter().rev().max_by_key(|p| p.rss).map(Moment::from);
    let peak_live_bytes = points.iter().map(|p| p.live_bytes).max().unwrap_or(0);
    let end = points.last().map(Moment::from);
    let largest_term_at_end = end.as_ref().and_then(|e| e.gap.as_ref()).and_then(|g| {
        GapTerm::ALL
            .iter()
            .filter(|&&t| t != GapTerm::Requested)
            .map(|&t| (t, t.contribution(g)))
            .rev()
            .max_by_key(|&(_, v)| v)
    });
    let mut c = Convergence {
        verdict: Verdict::NotEnoughData,
        peak_rss,
        peak_live_bytes,
        load_stopped_at_secs: None,
        load_stop: None,
        end,
        window_start_secs: None,
        rss_change_in_window: 0,
        live_change_in_window: 0,
        largest_term_at_end,
    };
    if points.len() < 2 {
        return c;
    }

    // Activity of each interval (points[i-1], points[i]), in events and in bytes a second:
    // allocations plus frees (dropping a large map is all frees, and RSS moves while it
    // happens), bytes allocated plus bytes freed (freeing one huge table is one event).
    let per_sec = |i: usize, amount: u64| -> f64 {
        let dt = points[i].t_secs - points[i - 1].t_secs;
        if dt > 0.0 {
            amount as f64 / dt
        } else if amount > 0 {
            f64::INFINITY
        } else {
            0.0
        }
    };
    let events = |i: usize| {
        let (a, b) = (&points[i - 1], &points[i]);
        per_sec(
            i,
            b.allocs.saturating_sub(a.allocs) + b.frees.saturating_sub(a.frees),
        )
    };
    let bytes = |i: usize| {
        let (a, b) = (&points[i - 1], &points[i]);
        let allocated = b.bytes_allocated.saturating_sub(a.bytes_allocated);
        // bytes_freed = bytes_allocated − live_bytes.
        let freed_before = a.bytes_allocated.saturating_sub(a.live_bytes);
        let freed_after = b.bytes_allocated.saturating_sub(b.live_bytes);
        per_sec(i, allocated + freed_after.saturating_sub(freed_before))
    };
    let max_events = (1..points.len()).map(events).fold(0.0, f64::max);
    let max_bytes = (1..points.len()).map(bytes).fold(0.0, f64::max);
    let f = opts.idle_rate_fraction;
    let busy = |i: usize| events(i) > max_events * f || bytes(i) > max_bytes * f;
    let last_busy = (1..points.len()).rev().find(|&i| busy(i));
    let stop = match last_busy {
        Some(i) if i == points.len() - 1 => {
            c.verdict = Verdict::StillUnderLoad;
            return c;
        }
        Some(i) => i,
        None => 0, // never loaded: idle from the start
    };
    c.load_stopped_at_secs = Some(points[stop].t_secs);
    c.load_stop = Some(Moment::from(&points[stop]));

    let end_t = points[points.len() - 1].t_secs;
    // The window holds idle snapshots only: from the one after the load stop.
    let window_start = (stop + 1..points.len())
        .find(|&i| points[i].t_secs >= end_t - opts.window_secs)
        .unwrap_or(points.len());
    let window = &points[window_start..];
    if window.len() < 2 {
        return c;
    }
    let (first, last) = (&window[0], &window[window.len() - 1]);
    c.window_start_secs = Some(first.t_secs);
    c.rss_change_in_window = last.rss as i64 - first.rss as i64;
    c.live_change_in_window = last.live_bytes as i64 - first.live_bytes as i64;

    let lo = window.iter().map(|p| p.rss).min().unwrap_or(0);
    let hi = window.iter().map(|p| p.rss).max().unwrap_or(0);
    let tol = opts.tolerance * c.peak_rss.as_ref().map_or(0, |p| p.rss) as f64;
    c.verdict = if (hi - lo) as f64 <= tol {
        Verdict::Settled
    } else if (c.rss_change_in_window as f64) < -tol {
        Verdict::StillFalling
    } else if (c.rss_change_in_window as f64) > tol {
        Verdict::Growing
    } else {
        Verdict::Fluctuating
    };
    c
}

/// [`assess`] over the points the timeline recorder ([`crate::timeline`]) holds so far: a
/// long-running service can log this after a burst to see whether its RSS came back down.
///
/// ```no_run
/// # #[global_allocator]
/// # static A: allocscope::Profiler<std::alloc::System> = allocscope::Profiler::new(std::alloc::System);
/// use allocscope::convergence::{self, ConvergenceOptions};
/// use allocscope::timeline::{self, TimelineOptions};
///
/// timeline::start(TimelineOptions::default())?;
/// // … serve a burst of requests, then some idle time …
/// println!("{}", convergence::of_timeline(&ConvergenceOptions::default()));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn of_timeline(opts: &ConvergenceOptions) -> Convergence {
    assess(&crate::observe::timeline::points(), opts)
}

impl Convergence {
    /// The verdict in words, with the figures behind it.
    pub fn sentence(&self) -> String {
        let (Some(end), Some(peak)) = (&self.end, &self.peak_rss) else {
            return "no snapshots: nothing to judge".into();
        };
        let window = self
            .window_start_secs
            .map(|s| format_seconds(end.t_secs - s))
            .unwrap_or_default();
        let mut s = match self.load_stopped_at_secs {
            Some(t) => format!("after the load stopped at {}, ", format_seconds(t)),
            None => String::new(),
        };
        s.push_str(&match self.verdict {
            Verdict::NotEnoughData => {
                return "too few snapshots after the load stopped to judge whether RSS converged"
                    .into()
            }
            Verdict::StillUnderLoad => {
                return format!(
                    "still under load at {}: RSS {}, live requested {}; nothing to judge yet",
                    format_seconds(end.t_secs),
                    format_bytes(end.rss as i64),
                    format_bytes(end.live_bytes as i64)
                )
            }
            Verdict::Settled => format!("RSS settled at {}", format_bytes(end.rss as i64)),
            Verdict::StillFalling => format!(
                "RSS still falling ({} over the last {window}), now {}: not converged yet",
                format_bytes(self.rss_change_in_window),
                format_bytes(end.rss as i64)
            ),
            Verdict::Growing => format!(
                "RSS grew by {} over the last {window} while idle, now {}",
                format_bytes(self.rss_change_in_window),
                format_bytes(end.rss as i64)
            ),
            Verdict::Fluctuating => format!(
                "RSS fluctuates while idle (last {window}), now {}",
                format_bytes(end.rss as i64)
            ),
        });
        // Capitalize the first letter.
        if let Some(first) = s.get(..1) {
            s = first.to_uppercase() + &s[1..];
        }
        let rss_ratio = ratio(end.rss, peak.rss);
        let live_ratio = ratio(end.live_bytes, self.peak_live_bytes);
        s.push_str(&format!(
            "; that is {:.0}% of the peak RSS ({}), while live requested bytes are {} ({:.0}% of their peak {})",
            rss_ratio * 100.0,
            format_bytes(peak.rss as i64),
            format_bytes(end.live_bytes as i64),
            live_ratio * 100.0,
            format_bytes(self.peak_live_bytes as i64),
        ));
        if self.verdict == Verdict::Growing && self.live_change_in_window > 0 {
            s.push_str(&format!(
                "; live requested bytes grew by {} too: the program keeps data while idle (a leak or a cache)",
                format_bytes(self.live_change_in_window)
            ));
        }
        if let Some(gap) = &end.gap {
            let excess = gap.rss - gap.requested;
            if excess > 0 {
                s.push_str(&format!(
                    ". Of the {} above them, {} ({}) is dirty pages not yet returned",
                    format_bytes(excess),
                    format_bytes(gap.dirty),
                    share(gap.dirty, excess)
                ));
                match self.largest_term_at_end {
                    Some((GapTerm::Dirty, _)) => {
                        s.push_str(&format!(" — {}", GapTerm::Dirty.verdict()))
                    }
                    Some((t, v)) => s.push_str(&format!(
                        "; the largest part is {} ({}, {}) — {}",
                        t.description(),
                        format_bytes(v),
                        share(v, excess),
                        t.verdict()
                    )),
                    None => {}
                }
            }
        }
        s
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn share(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.0}%", part as f64 / whole as f64 * 100.0)
}

impl fmt::Display for Convergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows: Vec<[String; 5]> = vec![[
            String::new(),
            "t".into(),
            "RSS".into(),
            "requested".into(),
            "dirty".into(),
        ]];
        let moments = [
            ("peak RSS", self.peak_rss.as_ref()),
            ("load stop", self.load_stop.as_ref()),
            ("end", self.end.as_ref()),
        ];
        for (label, m) in moments {
            let Some(m) = m else { continue };
            rows.push([
                label.into(),
                format_seconds(m.t_secs),
                format_bytes(m.rss as i64),
                format_bytes(m.live_bytes as i64),
                m.gap.map_or("-".into(), |g| format_bytes(g.dirty)),
            ]);
        }
        let widths: Vec<usize> = (0..5)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let mut line = format!("{:<w$}", r[0], w = widths[0]);
            for c in 1..5 {
                line.push_str(&format!("  {:>w$}", r[c], w = widths[c]));
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        if let (Some(e), Some(p)) = (&self.end, &self.peak_rss) {
            writeln!(
                f,
                "RSS at end vs peak: {}",
                format_percent(ratio(e.rss, p.rss) - 1.0)
            )?;
        }
        writeln!(f, "{}", self.sentence())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// A point whose allocations average 128 bytes.
    fn point(t: f64, allocs: u64, live_mib: u64, rss_mib: u64) -> TimelinePoint {
        TimelinePoint {
            t_secs: t,
            allocs,
            frees: 0,
            bytes_allocated: allocs * 128,
            live_bytes: live_mib * MIB,
            rss: rss_mib * MIB,
            resident: None,
            gap: None,
        }
    }

    /// A burst of 1M allocations over t = 0..3, then `rss_after` (MiB) at t = 4..=8 with a
    /// trickle of 10 allocations a second.
    fn burst_then(rss_after: &[u64]) -> Vec<TimelinePoint> {
        let mut v = vec![
            point(0.0, 0, 0, 5),
            point(1.0, 400_000, 60, 80),
            point(2.0, 800_000, 100, 128),
            point(3.0, 1_000_000, 2, 120),
        ];
        for (i, &rss) in rss_after.iter().enumerate() {
            v.push(point(
                4.0 + i as f64,
                1_000_000 + 10 * (i as u64 + 1),
                2,
                rss,
            ));
        }
        v
    }

    #[test]
    fn flat_rss_after_the_burst_is_settled() {
        let c = assess(
            &burst_then(&[60, 60, 61, 60, 60]),
            &ConvergenceOptions::default(),
        );
        assert_eq!(c.verdict, Verdict::Settled);
        assert_eq!(c.load_stopped_at_secs, Some(3.0));
        assert_eq!(c.peak_rss.as_ref().map(|m| m.rss), Some(128 * MIB));
        assert_eq!(c.peak_live_bytes, 100 * MIB);
        assert_eq!(c.end.as_ref().map(|m| m.rss), Some(60 * MIB));
        // Window: the idle snapshots of the last 10 s = all of t = 4..=8 (1 MiB of wobble
        // is within 2% of the 128 MiB peak).
        assert_eq!(c.window_start_secs, Some(4.0));
        assert_eq!(c.rss_change_in_window, 0);
    }

    #[test]
    fn short_window_sees_only_the_tail() {
        let opts = ConvergenceOptions {
            window_secs: 3.0,
            ..ConvergenceOptions::default()
        };
        let c = assess(&burst_then(&[90, 60, 60, 61, 60]), &opts);
        assert_eq!(c.window_start_secs, Some(5.0));
        assert_eq!(c.verdict, Verdict::Settled);
        assert!(c
            .sentence()
            .starts_with("After the load stopped at 3.00 s, RSS settled at 60.0 MiB; that is 47% of the peak RSS (128 MiB)"));
    }

    #[test]
    fn falling_rss_is_not_converged() {
        let c = assess(
            &burst_then(&[110, 90, 70, 50, 30]),
            &ConvergenceOptions::default(),
        );
        assert_eq!(c.verdict, Verdict::StillFalling);
        assert_eq!(c.rss_change_in_window, -80 * MIB as i64);
        assert!(
            c.sentence().contains("not converged yet"),
            "{}",
            c.sentence()
        );
    }

    #[test]
    fn growing_rss_with_growing_live_bytes_is_called_a_leak_or_cache() {
        // Idle by the rates (1 MiB a second kept, against a burst of 1M allocations), but
        // RSS grows 10 MiB a second.
        let mut pts = burst_then(&[60, 70, 80, 90, 100]);
        for (i, p) in pts.iter_mut().skip(4).enumerate() {
            p.live_bytes = (2 + i as u64) * MIB;
            p.bytes_allocated += (1 + i as u64) * MIB;
        }
        let c = assess(&pts, &ConvergenceOptions::default());
        assert_eq!(c.load_stopped_at_secs, Some(3.0));
        assert_eq!(c.verdict, Verdict::Growing);
        assert_eq!(c.live_change_in_window, 4 * MIB as i64);
        assert!(
            c.sentence().contains("a leak or a cache"),
            "{}",
            c.sentence()
        );
    }

    #[test]
    fn busy_last_interval_is_still_under_load() {
        let mut pts = burst_then(&[60, 60]);
        pts.push(point(6.0, 1_500_000, 50, 100));
        let c = assess(&pts, &ConvergenceOptions::default());
        assert_eq!(c.verdict, Verdict::StillUnderLoad);
        assert_eq!(c.load_stopped_at_secs, None);
    }

    #[test]
    fn dropping_a_map_is_load_too() {
        // t = 3..4: a million frees and no allocation (a map dropped), RSS 120 → 60 MiB.
        let mut pts = burst_then(&[60, 60, 60]);
        pts[4].frees = 1_000_000;
        for p in pts.iter_mut().skip(5) {
            p.frees = 1_000_000;
        }
        let c = assess(&pts, &ConvergenceOptions::default());
        assert_eq!(c.load_stopped_at_secs, Some(4.0));
        assert_eq!(c.window_start_secs, Some(5.0));
        assert_eq!(c.verdict, Verdict::Settled);
    }

    #[test]
    fn freeing_one_huge_block_is_load_too() {
        // t = 3..4: a single free of 100 MiB (a hash table), RSS 120 → 60 MiB.
        let mut pts = burst_then(&[60, 60, 60]);
        for p in pts.iter_mut().skip(3) {
            p.live_bytes += 100 * MIB;
        }
        pts[4].live_bytes -= 100 * MIB;
        pts[4].frees = 1;
        for p in pts.iter_mut().skip(5) {
            p.live_bytes -= 100 * MIB;
            p.frees = 1;
        }
        let c = assess(&pts, &ConvergenceOptions::default());
        assert_eq!(c.load_stopped_at_secs, Some(4.0));
        assert_eq!(c.verdict, Verdict::Settled);
    }

    #[test]
    fn too_few_points() {
        assert_eq!(
            assess(&[], &ConvergenceOptions::default()).verdict,
            Verdict::NotEnoughData
        );
        assert_eq!(
            assess(&[point(0.0, 0, 0, 5)], &ConvergenceOptions::default()).verdict,
            Verdict::NotEnoughData
        );
    }

    #[test]
    fn settled_with_dirty_pages_says_decay() {
        let mut pts = burst_then(&[60, 60, 60]);
        let gap = GapBreakdown {
            rss: 60 * MIB as i64,
            requested: 2 * MIB as i64,
            size_class_rounding: 0,
            allocator_caches: MIB as i64,
            fragmentation: 5 * MIB as i64,
            dirty: 46 * MIB as i64,
            metadata: 3 * MIB as i64,
            muzzy: 0,
            profiler: 0,
            untouched: 0,
            non_heap: 3 * MIB as i64,
        };
        for p in pts.iter_mut().skip(4) {
            p.gap = Some(gap);
        }
        let opts = ConvergenceOptions {
            window_secs: 2.0,
            ..ConvergenceOptions::default()
        };
        let c = assess(&pts, &opts);
        assert_eq!(c.verdict, Verdict::Settled);
        assert_eq!(
            c.largest_term_at_end,
            Some((GapTerm::Dirty, 46 * MIB as i64))
        );
        let s = c.sentence();
        // 46 of the 58 MiB above the requested bytes: 79%.
        assert!(
            s.contains("Of the 58.0 MiB above them, 46.0 MiB (79%) is dirty pages not yet returned — decay, not a leak"),
            "{s}"
        );
        let table = c.to_string();
        assert!(table.contains("peak RSS"), "{table}");
        assert!(table.contains("46.0 MiB"), "{table}");
    }

    #[test]
    fn fragmentation_dominating_is_named() {
        let mut pts = burst_then(&[60, 60, 60]);
        let gap = GapBreakdown {
            rss: 60 * MIB as i64,
            requested: 10 * MIB as i64,
            fragmentation: 40 * MIB as i64,
            dirty: 10 * MIB as i64,
            ..GapBreakdown::default()
        };
        if let Some(p) = pts.last_mut() {
            p.gap = Some(gap);
        }
        let c = assess(&pts, &ConvergenceOptions::default());
        assert_eq!(
            c.largest_term_at_end,
            Some((GapTerm::Fragmentation, 40 * MIB as i64))
        );
        let s = c.sentence();
        assert!(s.contains("10.0 MiB (20%) is dirty pages"), "{s}");
        assert!(s.contains("the largest part is free holes in pages that still hold live objects (40.0 MiB, 80%)"), "{s}");
    }
}
