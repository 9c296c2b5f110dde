//! Memory by tracing span in a tokio service: two routes, one allocating ten times the other,
//! served on a multi-thread runtime; each request is a future in a `request` span (with its
//! `route` field) and a nested `parse` span. Writes `spans.profile.json` for
//! `alloc-report summary --by span spans.profile.json`.
//!
//! `cargo run --release --features tracing-spans,serde --example spans_service`

use tracing::Instrument;
use tracing_subscriber::prelude::*;

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

/// A request: parses its body (in a nested span), then builds a response.
async fn handle(route: &'static str, body_len: usize) -> usize {
    let body = async {
        vec![b'x'; body_len]
            .into_iter()
            .map(|b| b as u32)
            .collect::<Vec<_>>()
    }
    .instrument(tracing::info_span!("parse"))
    .await;
    tokio::task::yield_now().await;
    let response: Vec<String> = body
        .chunks(64)
        .map(|c| format!("{route}:{}", c.len()))
        .collect();
    response.len()
}

fn main() {
    tracing_subscriber::registry()
        .with(allocscope::SpanLayer::new().with_fields(["route"]))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .expect("runtime");
    let served: usize = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..20_000 {
            let (route, len) = if i % 2 == 0 {
                ("/users", 1_000)
            } else {
                ("/search", 10_000)
            };
            let span = tracing::info_span!("request", route);
            tasks.push(tokio::spawn(handle(route, len).instrument(span)));
        }
        let mut n = 0;
        for t in tasks {
            n += t.await.expect("request");
        }
        n
    });
    println!("served {served} response lines");
    allocscope::write_profile("spans.profile.json").expect("profile written");
    for s in allocscope::span_stats() {
        println!(
            "{:<40} {:>9} allocs {:>12} bytes",
            s.path, s.allocs, s.bytes
        );
    }
}
