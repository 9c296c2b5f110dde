//! Periodic stats as `tracing` events, printed by tracing-subscriber's fmt layer.
//!
//! ```text
//! cargo run --features jemalloc --example periodic_logging
//! RUST_LOG=allocscope=debug cargo run --features jemalloc --example periodic_logging
//! ```
//!
//! A workload grows a cache of strings for two seconds, then drops half of it; every 500 ms
//! the logger reports the counters, the allocation rates since its previous event and the RSS
//! gap terms.

use std::time::{Duration, Instant};

use allocscope::{Jemalloc, Profiler, StatsLogger};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOC: Profiler<Jemalloc> = Profiler::new(Jemalloc);

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let logger = StatsLogger::builder()
        .interval(Duration::from_millis(500))
        .level(tracing::Level::INFO)
        .start()
        .expect("could not start the stats thread");

    let mut cache: Vec<String> = Vec::new();
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        for _ in 0..1000 {
            cache.push(format!("entry number {i} with some payload"));
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    tracing::info!(
        entries = cache.len(),
        "workload done, dropping every other entry"
    );
    let mut keep = false;
    cache.retain(|_| {
        keep = !keep;
        keep
    });
    std::thread::sleep(Duration::from_millis(1100));
    tracing::info!(report = %allocscope::purge(), "purged");
    std::thread::sleep(Duration::from_millis(600));
    // Dropping the handle stops the reporter thread.
    drop(logger);
}
