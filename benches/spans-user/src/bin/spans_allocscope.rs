//! allocscope's Profiler over the system allocator. Modes:
//! `churn N` (no subscriber layer), `churn-layer N` (SpanLayer installed, no span entered),
//! `churn-span N` (inside an entered span), `polls N` (SpanLayer), `enter-exit N` (SpanLayer),
//! `enter-exit-nolayer N`, `polls-nolayer N` (registry only).

#[path = "../workload.rs"]
mod workload;

use tracing_subscriber::prelude::*;

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

fn main() {
    let (mode, n) = workload::args();
    if mode == "churn" || mode == "enter-exit-nolayer" || mode == "polls-nolayer" {
        tracing_subscriber::registry().init();
    } else {
        tracing_subscriber::registry()
            .with(allocscope::SpanLayer::new().with_fields(["kind"]))
            .init();
    }
    let spans = [
        tracing::info_span!("component", kind = "small"),
        tracing::info_span!("component", kind = "big"),
    ];
    match mode.as_str() {
        "churn" | "churn-layer" => println!("churn {}", workload::churn(n)),
        "churn-span" => println!("churn {}", spans[0].in_scope(|| workload::churn(n))),
        "polls-nolayer" => println!("ns_per_poll {:.1}", workload::polls(&spans, n)),
        "polls" => {
            println!("ns_per_poll {:.1}", workload::polls(&spans, n));
            for s in allocscope::span_stats() {
                eprintln!("{}: {} allocs {} bytes", s.path, s.allocs, s.bytes);
            }
        }
        "enter-exit" | "enter-exit-nolayer" => {
            println!("ns_per_enter_exit {:.2}", workload::enter_exit(&spans[0], n))
        }
        m => panic!("unknown mode {m}"),
    }
}
