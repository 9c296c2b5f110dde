//! Memory by tracing span (issue 14) under tokio's multi-thread runtime.
//!
//! Two kinds of simulated requests, `small` and `big` (10× the bytes), run interleaved on four
//! workers; each request yields between its steps, so its polls hop between workers, and
//! `.instrument(span)` enters its span on whichever worker polls it.
//!
//! 1. Exact: every span path's allocs, bytes and reallocs equal the totals computed by hand
//!    from what each request allocates (its own span, and a nested `parse` span).
//! 2. Sampled: requests that keep ~110 MB live (100 MB big, 10 MB small); each span's sampled
//!    live bytes are within ±10% of the bytes it allocated. Once the main thread frees them
//!    (outside any span, on another thread than the one that allocated), each span's live
//!    bytes fall back near zero.
//!
//! Its own process, no libtest harness: the counters are process-wide.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};

use allocscope::{span_stats, Config, Profiler, SpanLayer, SpanStats};
use tracing::Instrument;
use tracing_subscriber::prelude::*;

#[global_allocator]
static ALLOC: Profiler<std::alloc::System> = Profiler::new(std::alloc::System);

/// Yields once, waking itself: the task goes back to a run queue (from which another worker
/// may steal it). Allocates nothing (tokio's `yield_now` may push on a deferred-wakers list).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

thread_local! {
    static MARK: Cell<u8> = const { Cell::new(0) };
}

/// Identifies the current thread without allocating (the address of a thread-local).
fn thread_mark() -> usize {
    MARK.with(|m| m as *const Cell<u8> as usize)
}

/// Polls of a request that ran on another thread than its previous poll.
static MIGRATIONS: AtomicUsize = AtomicUsize::new(0);

const STEPS: usize = 8;
const SMALL: usize = 1_000;
const BIG: usize = 10 * SMALL;
const REQUESTS_PER_KIND: usize = 200;

/// One request of the exact phase: in its own span, a `Vec` of `STEPS + 1` buffers and
/// `STEPS` buffers of `size` bytes, a yield after each; then, in the nested `parse` span, a
/// buffer of `size / 20` bytes grown (one realloc) to `size / 10`.
async fn request(size: usize, parse: tracing::Span) -> usize {
    let mut bufs: Vec<Vec<u8>> = Vec::with_capacity(STEPS + 1);
    let mut last = thread_mark();
    for i in 0..STEPS {
        bufs.push(vec![i as u8; size]);
        YieldOnce(false).await;
        let now = thread_mark();
        if now != last {
            MIGRATIONS.fetch_add(1, Relaxed);
        }
        last = now;
    }
    let parsed = async {
        let mut v: Vec<u8> = Vec::with_capacity(size / 20);
        YieldOnce(false).await;
        v.resize(size / 10, 1);
        v
    }
    .instrument(parse)
    .await;
    bufs.push(parsed);
    bufs.iter().map(Vec::len).sum()
}

/// Blocks each request of the sampled phase keeps, and their count per kind.
const HOLD_BLOCKS: usize = 100;
const HOLD_REQUESTS: usize = 100;

/// One request of the sampled phase: allocates `HOLD_BLOCKS` blocks of `size` bytes (and the
/// `Vec` holding them) and returns them, still live.
async fn hold(size: usize) -> Vec<Vec<u8>> {
    let mut blocks = Vec::with_capacity(HOLD_BLOCKS);
    for i in 0..HOLD_BLOCKS {
        blocks.push(vec![i as u8; size]);
        if i % 10 == 9 {
            YieldOnce(false).await;
        }
    }
    blocks
}

fn find<'a>(stats: &'a [SpanStats], path: &str) -> &'a SpanStats {
    stats
        .iter()
        .find(|s| s.path == path)
        .unwrap_or_else(|| panic!("no span path {path:?} in {stats:#?}"))
}

fn main() {
    Config::new().sample_bytes(8 * 1024).seed(14).apply();
    tracing_subscriber::registry()
        .with(SpanLayer::new().with_fields(["kind"]))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .expect("runtime");

    // 1. Exact per-span counts. Spans are created here, outside any entered span, so what
    // tracing's registry allocates for them is charged to no span.
    let mut handles = Vec::new();
    for i in 0..2 * REQUESTS_PER_KIND {
        let (kind, size) = if i % 2 == 0 {
            ("small", SMALL)
        } else {
            ("big", BIG)
        };
        let span = tracing::info_span!("request", kind);
        let parse = tracing::info_span!(parent: &span, "parse");
        handles.push(rt.spawn(request(size, parse).instrument(span)));
    }
    let mut total = 0;
    for h in handles {
        total += rt.block_on(h).expect("request ran");
    }
    assert_eq!(
        total,
        REQUESTS_PER_KIND * (STEPS * (SMALL + BIG) + (SMALL + BIG) / 10)
    );
    let migrations = MIGRATIONS.load(Relaxed);
    assert!(
        migrations > 0,
        "no request was polled on two workers: the test proves nothing about async"
    );

    let stats = span_stats();
    let n = REQUESTS_PER_KIND as u64;
    let vec_of_bufs = ((STEPS + 1) * std::mem::size_of::<Vec<u8>>()) as u64;
    for (kind, size) in [("small", SMALL as u64), ("big", BIG as u64)] {
        let req = find(&stats, &format!("request{{kind={kind}}}"));
        assert_eq!(req.name, "request");
        assert_eq!(req.target, "spans_tokio");
        assert_eq!(req.allocs, n * (1 + STEPS as u64), "{kind} allocs");
        assert_eq!(
            req.bytes,
            n * (vec_of_bufs + STEPS as u64 * size),
            "{kind} bytes"
        );
        assert_eq!(req.reallocs, 0, "{kind} reallocs");
        let parse = find(&stats, &format!("request{{kind={kind}}} > parse"));
        assert_eq!(parse.allocs, n, "{kind} parse allocs");
        assert_eq!(
            parse.bytes,
            n * (size / 20 + size / 10),
            "{kind} parse bytes"
        );
        assert_eq!(parse.reallocs, n, "{kind} parse reallocs");
    }
    let big = find(&stats, "request{kind=big}");
    let small = find(&stats, "request{kind=small}");
    let ratio = big.bytes as f64 / small.bytes as f64;
    assert!(
        (9.0..10.0).contains(&ratio),
        "big/small bytes {ratio}: one kind allocates ~10× the other"
    );
    println!(
        "exact: {migrations} polls moved to another worker; request{{kind=big}} {} allocs {} B, request{{kind=small}} {} allocs {} B: as computed",
        big.allocs, big.bytes, small.allocs, small.bytes
    );

    // 2. Sampled live bytes per span, on 110 MB kept live.
    let mut handles = Vec::new();
    for i in 0..2 * HOLD_REQUESTS {
        let (kind, size) = if i % 2 == 0 {
            ("small", SMALL)
        } else {
            ("big", BIG)
        };
        let span = tracing::info_span!("hold", kind);
        handles.push(rt.spawn(hold(size).instrument(span)));
    }
    let mut kept = Vec::with_capacity(handles.len());
    for h in handles {
        kept.push(rt.block_on(h).expect("request ran"));
    }
    let stats = span_stats();
    let mut checked_bytes = 0;
    for (kind, size) in [("small", SMALL as u64), ("big", BIG as u64)] {
        let s = find(&stats, &format!("hold{{kind={kind}}}"));
        let truth = HOLD_REQUESTS as u64
            * (HOLD_BLOCKS as u64 * size + (HOLD_BLOCKS * std::mem::size_of::<Vec<u8>>()) as u64);
        assert_eq!(s.bytes, truth, "exact bytes of hold{{kind={kind}}}");
        let err = (s.live_bytes as f64 - truth as f64) / truth as f64;
        println!(
            "sampled: hold{{kind={kind}}} live {} B vs {truth} B allocated and kept ({:+.2}%), {} samples, peak {} B",
            s.live_bytes,
            err * 100.0,
            s.samples,
            s.peak_live_bytes
        );
        assert!(
            err.abs() <= 0.10,
            "hold{{kind={kind}}}: sampled live bytes {} off by {:.1}% from {truth}",
            s.live_bytes,
            err * 100.0
        );
        assert!(s.peak_live_bytes >= s.live_bytes);
        checked_bytes += truth;
    }
    assert!(checked_bytes >= 100_000_000, "the check covers ≥ 100 MB");

    // Freed on the main thread, outside any span: each span that allocated is credited.
    drop(kept);
    let stats = span_stats();
    for kind in ["small", "big"] {
        let s = find(&stats, &format!("hold{{kind={kind}}}"));
        assert!(
            s.live_bytes * 100 < s.peak_live_bytes,
            "hold{{kind={kind}}}: {} B still live after every block was freed (peak {})",
            s.live_bytes,
            s.peak_live_bytes
        );
        assert!(s.freed > 0);
    }
    println!("freed on another thread: every span's live bytes back to ~0");

    // 3. The profile's `spans` table: the same rows, through the file.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("spans.profile.json");
    allocscope::write_profile(&path).expect("profile written");
    let profile = allocscope::profile::Profile::read(&path).expect("profile read");
    let now = span_stats();
    for kind in ["small", "big"] {
        for path in [
            format!("request{{kind={kind}}}"),
            format!("request{{kind={kind}}} > parse"),
            format!("hold{{kind={kind}}}"),
        ] {
            let in_file = find(&profile.spans, &path);
            let live = find(&now, &path);
            assert_eq!(
                (in_file.allocs, in_file.bytes, in_file.reallocs),
                (live.allocs, live.bytes, live.reallocs),
                "{path} in the profile"
            );
        }
    }
    // The call sites sampled in a span carry it (pprof's `span` label, `flamegraph --by span
    // --stacks`): the sites of `hold{kind=big}` add up to its sampled bytes.
    let big = find(&profile.spans, "hold{kind=big}");
    let in_sites: u64 = profile
        .sites
        .iter()
        .filter(|s| s.span.as_deref() == Some("hold{kind=big}"))
        .map(|s| s.bytes)
        .sum();
    assert_eq!(in_sites, big.sampled_bytes, "sites of hold{{kind=big}}");
    println!(
        "profile: {} span paths in its spans table; {} call sites carry a span",
        profile.spans.len(),
        profile.sites.iter().filter(|s| s.span.is_some()).count()
    );
}
