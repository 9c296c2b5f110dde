//! tracking-allocator over the system allocator, its AllocationLayer, and a tracker that
//! counts allocations and bytes per group in atomics (the least a user's tracker does).
//! Modes: `churn N` (tracking on, no group entered), `churn-span N`, `polls N`, `enter-exit N`.

#[path = "../workload.rs"]
mod workload;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use tracing_subscriber::prelude::*;
use tracking_allocator::{
    AllocationGroupId, AllocationGroupToken, AllocationLayer, AllocationRegistry,
    AllocationTracker, Allocator,
};

#[global_allocator]
static ALLOC: Allocator<std::alloc::System> = Allocator::system();

const GROUPS: usize = 256;
static ALLOCS: [AtomicU64; GROUPS] = [const { AtomicU64::new(0) }; GROUPS];
static BYTES: [AtomicU64; GROUPS] = [const { AtomicU64::new(0) }; GROUPS];
static LIVE: [AtomicU64; GROUPS] = [const { AtomicU64::new(0) }; GROUPS];

struct Counting;

impl AllocationTracker for Counting {
    fn allocated(&self, _addr: usize, object_size: usize, _wrapped: usize, g: AllocationGroupId) {
        let i = g.as_usize().get() % GROUPS;
        ALLOCS[i].fetch_add(1, Relaxed);
        BYTES[i].fetch_add(object_size as u64, Relaxed);
        LIVE[i].fetch_add(object_size as u64, Relaxed);
    }

    fn deallocated(
        &self,
        _addr: usize,
        object_size: usize,
        _wrapped: usize,
        source: AllocationGroupId,
        _current: AllocationGroupId,
    ) {
        LIVE[source.as_usize().get() % GROUPS].fetch_sub(object_size as u64, Relaxed);
    }
}

fn main() {
    let (mode, n) = workload::args();
    tracing_subscriber::registry()
        .with(AllocationLayer::new())
        .init();
    let _ = AllocationRegistry::set_global_tracker(Counting);
    let spans = [
        tracing::info_span!("component", kind = "small"),
        tracing::info_span!("component", kind = "big"),
    ];
    for s in &spans {
        AllocationGroupToken::register()
            .expect("a group")
            .attach_to_span(s);
    }
    AllocationRegistry::enable_tracking();
    match mode.as_str() {
        "churn" => println!("churn {}", workload::churn(n)),
        "churn-span" => println!("churn {}", spans[0].in_scope(|| workload::churn(n))),
        "polls" => {
            println!("ns_per_poll {:.1}", workload::polls(&spans, n));
            for i in 1..4 {
                eprintln!(
                    "group {i}: {} allocs {} bytes",
                    ALLOCS[i].load(Relaxed),
                    BYTES[i].load(Relaxed)
                );
            }
        }
        "enter-exit" => println!("ns_per_enter_exit {:.2}", workload::enter_exit(&spans[0], n)),
        m => panic!("unknown mode {m}"),
    }
    AllocationRegistry::disable_tracking();
}
