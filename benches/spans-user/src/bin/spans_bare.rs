//! The baseline: the system allocator, tracing's registry with no layer.
//! Modes: `churn N`, `polls N`, `enter-exit N`.

#[path = "../workload.rs"]
mod workload;

use tracing_subscriber::prelude::*;

fn main() {
    let (mode, n) = workload::args();
    tracing_subscriber::registry().init();
    let spans = [
        tracing::info_span!("component", kind = "small"),
        tracing::info_span!("component", kind = "big"),
    ];
    match mode.as_str() {
        "churn" => println!("churn {}", workload::churn(n)),
        "polls" => println!("ns_per_poll {:.1}", workload::polls(&spans, n)),
        "enter-exit" => println!("ns_per_enter_exit {:.2}", workload::enter_exit(&spans[0], n)),
        m => panic!("unknown mode {m}"),
    }
}
