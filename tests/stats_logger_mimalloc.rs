//! StatsLogger over mimalloc (feature `mimalloc`): each event carries mimalloc's gap terms,
//! allocscope's own memory as `profiler` among them, and they add up to the event's RSS.
//!
//! `harness = false`: one process, mimalloc as its global allocator.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use allocscope::{Profiler, StatsLogger};

#[global_allocator]
static ALLOC: Profiler<mimalloc::MiMalloc> = Profiler::new(mimalloc::MiMalloc);

#[path = "support/tracing_fields.rs"]
mod tracing_fields;
use tracing_fields::{OnEvent, Received};

static RECEIVED: Mutex<Vec<Received>> = Mutex::new(Vec::new());

fn main() {
    tracing::subscriber::set_global_default(OnEvent(|e| {
        RECEIVED.lock().unwrap().push(Received::of(e))
    }))
    .unwrap();
    // 8 MiB live while the logger runs, so `requested` is the program's own figure.
    let kept: Vec<Box<[u8; 4096]>> = (0..2048).map(|_| Box::new([7u8; 4096])).collect();
    let logger = StatsLogger::builder()
        .interval(Duration::from_millis(20))
        .start()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while RECEIVED.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "no events after 20 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    logger.stop();
    let events = RECEIVED.lock().unwrap().clone();
    for e in &events {
        assert_eq!(
            (e.target.as_str(), e.level),
            ("allocscope", tracing::Level::INFO)
        );
        let live = e.num("live_bytes").unwrap();
        assert!(live >= (2048 * 4096) as f64, "{e:?}");
        assert_eq!(e.num("requested"), Some(live), "{e:?}");
        // mimalloc's terms, not jemalloc's.
        assert_eq!(e.num("allocator_caches"), None, "{e:?}");
        assert_eq!(e.num("dirty"), None, "{e:?}");
        let added: f64 = [
            "requested",
            "size_class_rounding",
            "free_and_cached",
            "profiler",
            "non_heap",
        ]
        .iter()
        .map(|t| e.num(t).expect(t))
        .sum::<f64>()
            - e.num("untouched").unwrap();
        assert_eq!(
            added,
            e.num("rss").unwrap(),
            "the terms add up to RSS: {e:?}"
        );
        // The logger's thread and allocscope's tables are allocscope's own memory.
        assert!(e.num("profiler").unwrap() > 0.0, "{e:?}");
    }
    drop(kept);
    println!("stats_logger_mimalloc: ok ({} events)", events.len());
}
