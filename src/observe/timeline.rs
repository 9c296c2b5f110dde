//! The timeline recorder: a [`TimelinePoint`] every interval, for the profile file.
//!
//! ```no_run
//! # #[global_allocator]
//! # static A: allocscope::Profiler<std::alloc::System> = allocscope::Profiler::new(std::alloc::System);
//! use allocscope::timeline::{self, TimelineOptions};
//! use std::time::Duration;
//!
//! timeline::start(TimelineOptions::default().interval(Duration::from_millis(50)))?;
//! // … the program runs …
//! timeline::stop();
//! for p in timeline::points() {
//!     println!("{:6.2}s live {} rss {}", p.t_secs, p.live_bytes, p.rss);
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! A reporter thread marked internal takes each point (a [`crate::snapshot()`], which over
//! jemalloc includes the RSS gap: about 10 µs plus a statm read). Memory stays bounded: when
//! [`TimelineOptions::max_points`] points are held, every other point is dropped and the
//! interval between points doubles, so the timeline always covers the whole run.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::profile::TimelinePoint;
use crate::observe::background::ReporterThread;

/// Settings of the timeline recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimelineOptions {
    /// Time between two points at the start (default 100 ms; at least 1 ms).
    pub interval: Duration,
    /// Points kept at most (default 1000; at least 2). When full, resolution halves.
    pub max_points: usize,
}

impl Default for TimelineOptions {
    fn default() -> Self {
        TimelineOptions {
            interval: Duration::from_millis(100),
            max_points: 1000,
        }
    }
}

impl TimelineOptions {
    /// Sets [`TimelineOptions::interval`].
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets [`TimelineOptions::max_points`].
    pub fn max_points(mut self, max_points: usize) -> Self {
        self.max_points = max_points;
        self
    }
}

/// The recorded points and how to thin them. Its heap memory is only ever allocated or
/// freed by the internal thread or inside `untracked` scopes.
struct Recorder {
    points: Vec<TimelinePoint>,
    max_points: usize,
    /// Record one tick out of `stride`.
    stride: u64,
    ticks: u64,
    started: Instant,
}

impl Recorder {
    fn record(&mut self, now: Instant) {
        let tick = self.ticks;
        self.ticks += 1;
        if tick % self.stride != 0 {
            return;
        }
        if self.points.len() >= self.max_points {
            // Keep the points of even ticks of the new stride: every other one.
            let mut i = 0usize;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride = self.stride.saturating_mul(2);
            if tick % self.stride != 0 {
                return;
            }
        }
        self.points
            .push(point(now.duration_since(self.started).as_secs_f64()));
    }
}

/// A point for the current moment.
fn point(t_secs: f64) -> TimelinePoint {
    let snap = crate::observe::snapshot::snapshot();
    let (rss, resident) = match snap.gap {
        // jemalloc's resident less allocscope's own blocks, by the gap's definition:
        // rss = resident + muzzy + profiler tables + non_heap − untouched.
        Some(g) => (
            g.rss.max(0) as u64,
            Some((g.rss - g.non_heap - g.muzzy - g.profiler + g.untouched).max(0) as u64),
        ),
        None => (crate::observe::procfs::rss().unwrap_or(0), None),
    };
    TimelinePoint {
        t_secs,
        allocs: snap.allocs,
        frees: snap.frees,
        bytes_allocated: snap.bytes_allocated,
        live_bytes: snap.live_bytes,
        rss,
        resident,
        gap: snap.gap,
    }
}

static RECORDER: Mutex<Option<Recorder>> = Mutex::new(None);
static THREAD: Mutex<Option<ReporterThread>> = Mutex::new(None);

fn recorder() -> std::sync::MutexGuard<'static, Option<Recorder>> {
    RECORDER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts recording (stopping and discarding a previous recording). The first point is taken
/// now, at `t_secs = 0`.
pub fn start(options: TimelineOptions) -> std::io::Result<()> {
    stop();
    let started = Instant::now();
    crate::hook::guard::untracked(|| {
        let max_points = options.max_points.max(2);
        let old = recorder().replace(Recorder {
            points: Vec::with_capacity(max_points),
            max_points,
            stride: 1,
            ticks: 0,
            started,
        });
        drop(old);
    });
    let thread = ReporterThread::spawn(
        "allocscope-timeline",
        options.interval,
        move || {
            if let Some(r) = recorder().as_mut() {
                r.record(started);
            }
        },
        |()| {
            let now = Instant::now();
            if let Some(r) = recorder().as_mut() {
                r.record(now);
            }
        },
    )?;
    *THREAD.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread);
    Ok(())
}

/// Stops recording (the points stay readable with [`points`]). Does nothing when not
/// recording.
pub fn stop() {
    let thread = THREAD.lock().unwrap_or_else(|e| e.into_inner()).take();
    // Joined outside the lock.
    drop(thread);
}

/// True while the recorder thread runs.
pub fn is_running() -> bool {
    THREAD.lock().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// The points recorded so far (during or after a recording), oldest first.
///
/// In a forked child the recorder thread does not exist and may have held the lock at the
/// moment of the fork: the points are read only if the lock is free, else the child's
/// timeline is empty (never a deadlock).
pub fn points() -> Vec<TimelinePoint> {
    match crate::hook::forked::lock(&RECORDER).as_deref() {
        Some(Some(r)) => r.points.clone(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_bounds_and_the_whole_span() {
        let t0 = Instant::now();
        let mut r = Recorder {
            points: Vec::new(),
            max_points: 8,
            stride: 1,
            ticks: 0,
            started: t0,
        };
        for _ in 0..100 {
            r.record(t0);
            assert!(r.points.len() <= 8);
        }
        // 100 ticks: the stride grew to 16 (ticks 0, 16, …, 96 are kept: 7 points).
        assert_eq!(r.stride, 16);
        assert_eq!(r.points.len(), 7);
    }
}
