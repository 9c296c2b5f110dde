//! The workloads every binary of this crate runs, whatever its global allocator.

use std::hint::black_box;
use std::time::Instant;

/// `n` allocations of 16..80 bytes, each freed at once: the allocator's fast path.
#[inline(never)]
pub fn churn(n: usize) -> usize {
    let mut sum = 0;
    for i in 0..n {
        let v: Vec<u8> = Vec::with_capacity(16 + (i & 63));
        sum += black_box(v.capacity());
    }
    sum
}

/// A service's components (two long-lived spans, as Vector's are) polled `polls` times,
/// alternately: each poll enters its component's span, allocates (a `Vec` grown by pushes,
/// small strings, a buffer kept until the next poll of the same component) and exits.
/// Returns nanoseconds per poll.
pub fn polls(spans: &[tracing::Span; 2], polls: usize) -> f64 {
    let mut kept: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let t = Instant::now();
    for i in 0..polls {
        let k = i & 1;
        let _enter = spans[k].enter();
        let mut items: Vec<String> = Vec::new();
        for j in 0..8 {
            items.push(format!("item {j} of poll {i}"));
        }
        let size = if k == 0 { 256 } else { 2560 };
        kept[k] = vec![i as u8; size + (i & 15)];
        black_box(&items);
    }
    black_box(&kept);
    t.elapsed().as_nanos() as f64 / polls as f64
}

/// Entering and exiting `span` `n` times, with nothing in between: ns per enter + exit.
pub fn enter_exit(span: &tracing::Span, n: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        let e = span.enter();
        black_box(&e);
        drop(e);
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// The mode and count from the command line: `BIN MODE N`.
pub fn args() -> (String, usize) {
    let mut a = std::env::args().skip(1);
    let mode = a.next().unwrap_or_else(|| "polls".into());
    let n = a.next().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    (mode, n)
}
