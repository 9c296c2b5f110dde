//! The timeline recorder over jemalloc: points at the interval, bounded by halving the
//! resolution, following the program's live bytes and RSS.
//!
//! `harness = false`: one process, the main thread the only one allocating.

use std::time::{Duration, Instant};

use allocscope::timeline::{self, TimelineOptions};
use allocscope::{Jemalloc, Profiler};

#[global_allocator]
static ALLOC: Profiler<Jemalloc> = Profiler::new(Jemalloc);

fn main() {
    println!("timeline: running");
    let started = Instant::now();
    timeline::start(
        TimelineOptions::default()
            .interval(Duration::from_millis(5))
            .max_points(16),
    )
    .unwrap();
    assert!(timeline::is_running());
    // Grow live memory in steps of 8 MiB, holding each step a while.
    let mut held: Vec<Vec<u8>> = Vec::new();
    for _ in 0..8 {
        held.push(vec![1u8; 8 << 20]);
        std::thread::sleep(Duration::from_millis(40));
    }
    timeline::stop();
    let elapsed = started.elapsed().as_secs_f64();
    assert!(!timeline::is_running());
    let points = timeline::points();
    // ≥ 320 ms at 5 ms would be ≥ 64 points: thinned to at most 16, at least 8.
    assert!((8..=16).contains(&points.len()), "{} points", points.len());
    assert_eq!(points[0].t_secs, 0.0);
    for w in points.windows(2) {
        assert!(w[1].t_secs > w[0].t_secs, "{w:?}");
        assert!(
            w[1].allocs >= w[0].allocs && w[1].live_bytes >= w[0].live_bytes,
            "{w:?}"
        );
    }
    let last = points.last().unwrap();
    // The whole run is covered: the last point is within two thinned intervals of the end.
    assert!(last.t_secs > elapsed / 2.0, "{last:?}, ran {elapsed} s");
    assert!(last.live_bytes >= 56 << 20, "{last:?}");
    assert!(last.rss >= 56 << 20, "{last:?}");
    let gap = last.gap.expect("jemalloc: gap in every point");
    assert_eq!(gap.sum_of_terms(), gap.rss);
    assert_eq!(gap.rss as u64, last.rss);
    let resident = last.resident.unwrap();
    assert!(resident >= last.live_bytes, "{last:?}");
    // Points stay readable after stop and do not change.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(timeline::points(), points);
    drop(held);
    println!("timeline: ok ({} points)", points.len());
}
