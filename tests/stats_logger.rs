//! StatsLogger against a `tracing` subscriber that allocates heavily: events arrive, nothing
//! deadlocks or recurses, and the subscriber's allocations are not counted as the program's.
//!
//! `harness = false`: one process; the main thread stays idle while the logger runs, so the
//! program's counters must not move at all.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use allocscope::{Jemalloc, Profiler, StatsLogger};
use tracing::{Event, Level};

#[global_allocator]
static ALLOC: Profiler<Jemalloc> = Profiler::new(Jemalloc);

#[path = "support/tracing_fields.rs"]
mod tracing_fields;
use tracing_fields::{OnEvent, Received};

static RECEIVED: Mutex<Vec<Received>> = Mutex::new(Vec::new());

fn received() -> usize {
    RECEIVED.lock().unwrap().len()
}

/// A subscriber that allocates a lot for every event, and even asks allocscope for a gap
/// report (snapshot + jemalloc statistics) while handling it.
const HEAVY: OnEvent = OnEvent(heavy);

/// Blocks the subscriber allocates per event.
const JUNK_PER_EVENT: usize = 10_000;

/// Heavy's handling of one event.
fn heavy(event: &Event<'_>) {
    let junk: Vec<String> = (0..JUNK_PER_EVENT).map(|i| format!("junk {i}")).collect();
    std::hint::black_box(&junk);
    let report = allocscope::gap::report().to_string();
    assert!(report.contains("rss"));
    RECEIVED.lock().unwrap().push(Received::of(event));
}

/// Waits (without allocating) until `n` events have arrived; panics after 20 s.
fn wait_for(n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while received() < n {
        assert!(
            Instant::now() < deadline,
            "only {} events after 20 s: deadlock?",
            received()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() {
    tracing::subscriber::set_global_default(HEAVY).unwrap();
    // Take the one-time allocations (stdout buffer, MIB tables) before counting.
    println!("stats_logger: running");
    let _ = allocscope::snapshot();

    let before = allocscope::snapshot().allocs;
    let logger = StatsLogger::builder()
        .interval(Duration::from_millis(20))
        .start()
        .unwrap();
    wait_for(6);
    logger.stop();
    let after = allocscope::snapshot().allocs;
    let events = RECEIVED.lock().unwrap().clone();

    // The program did nothing while the logger ran: besides starting the thread, no
    // allocation counted, although the subscriber made 10,000 per event.
    let started_thread = after - before;
    assert!(
        started_thread < 50,
        "{started_thread} allocations counted while the program was idle"
    );
    let cgroup = allocscope::snapshot().cgroup;
    let first_allocs = events[0].num("allocs").unwrap();
    for e in &events {
        assert_eq!(e.target, "allocscope");
        assert_eq!(e.level, Level::INFO);
        assert_eq!(e.num("allocs"), Some(first_allocs), "{e:?}");
        assert_eq!(e.num("allocs_per_sec"), Some(0.0), "{e:?}");
        assert_eq!(e.num("bytes_allocated_per_sec"), Some(0.0), "{e:?}");
        assert!(e.fields["message"].starts_with("live "), "{e:?}");
        // The gap terms are there (jemalloc) and add up to RSS.
        let terms = [
            "requested",
            "size_class_rounding",
            "allocator_caches",
            "fragmentation",
            "dirty",
            "metadata",
            "muzzy",
            "profiler",
            "non_heap",
        ];
        // `untouched` is subtracted: reserved pages that are not resident.
        let sum: f64 =
            terms.iter().map(|t| e.num(t).expect(t)).sum::<f64>() - e.num("untouched").unwrap();
        assert_eq!(sum, e.num("rss").unwrap(), "{e:?}");
        // The logger's own thread and allocscope's tables are allocscope's memory.
        assert!(e.num("profiler").unwrap() > 0.0, "{e:?}");
        assert_eq!(e.num("requested"), e.num("live_bytes"));
        // Over jemalloc, no mimalloc term.
        assert_eq!(e.num("free_and_cached"), None, "{e:?}");
        // The container's figures when the process has a memory cgroup (v2 or v1).
        assert_eq!(e.num("cgroup_current").is_some(), cgroup.is_some(), "{e:?}");
        if let Some(cg) = &cgroup {
            assert!(e.num("cgroup_current").unwrap() > 0.0, "{e:?}");
            assert_eq!(e.num("cgroup_limit"), cg.limit.map(|l| l as f64), "{e:?}");
        }
    }

    // Stopped: no more events.
    let n = received();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(received(), n, "events after stop");

    // Rates follow what the program does: 1000 allocations between two events.
    // The received events were allocated by the logger's internal thread: free them
    // uncounted too.
    allocscope::untracked(|| RECEIVED.lock().unwrap().clear());
    let logger = StatsLogger::builder()
        .interval(Duration::from_millis(200))
        .target("myapp::memory")
        .level(Level::DEBUG)
        .start()
        .unwrap();
    wait_for(1);
    let boxes: Vec<Box<u64>> = (0..1000).map(Box::new).collect();
    wait_for(2);
    drop(logger);
    let events = RECEIVED.lock().unwrap().clone();
    assert_eq!(events[1].target, "myapp::memory");
    assert_eq!(events[1].level, Level::DEBUG);
    // 1000 boxes + the vector (wait_for does not allocate).
    let delta = events[1].num("allocs").unwrap() - events[0].num("allocs").unwrap();
    assert_eq!(delta, 1001.0, "{events:?}");
    let rate = events[1].num("allocs_per_sec").unwrap();
    // About 1001 / 0.2 s; the interval is a sleep, allow for scheduling.
    assert!(rate > 1001.0 / 0.6 && rate < 1001.0 / 0.1, "{rate}");
    drop(boxes);
    println!("stats_logger: ok ({} + {} events)", n, events.len());
}
