//! Reentrancy: code that allocates from places where an allocator hook is easily caught
//! re-entering itself. None of these may deadlock or crash. Each case runs in a child process
//! (this binary with the case's name) under a time limit, so a deadlock fails the test by name
//! instead of hanging CI. No libtest harness: the cases install process-wide hooks.
//!
//! - a `tracing` subscriber that allocates in every event, with allocscope's own stats logger
//!   emitting events from its internal thread and user threads logging while they allocate;
//! - a panic hook that allocates (and writes a profile), hit from several threads at once;
//! - thread-local destructors that allocate and free after allocscope's own per-thread state
//!   was torn down (counts stay exact: those go to the shared fallback slot);
//!
//! A signal handler that allocates is `reentrancy_signal.rs`'s, over an async-signal-safe
//! inner allocator: over jemalloc it can deadlock inside jemalloc itself (see
//! `support/signal_storm.rs`), so it is not a case here.
#![allow(clippy::undocumented_unsafe_blocks)]

#[path = "support/child.rs"]
mod child;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

static EVENTS: AtomicU64 = AtomicU64::new(0);

/// A layer that allocates on every event: formats it into a String and keeps the last few.
struct Allocating {
    last: std::sync::Mutex<Vec<String>>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Allocating {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let line = format!(
            "{:?} {:?}",
            event.metadata().name(),
            event.metadata().fields()
        );
        let mut last = self.last.lock().unwrap();
        last.push(line);
        if last.len() > 16 {
            last.remove(0);
        }
        EVENTS.fetch_add(1, Relaxed);
    }
}

fn tracing_case() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::registry().with(Allocating {
        last: Default::default(),
    });
    tracing::subscriber::set_global_default(subscriber).unwrap();
    allocscope::Config::new().sample_bytes(4096).apply();
    let logger = allocscope::StatsLogger::builder()
        .interval(Duration::from_millis(1))
        .start()
        .expect("stats logger");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    let v = black_box(vec![t as u8; (i % 300) as usize + 1]);
                    if i % 4 == 0 {
                        tracing::info!(len = v.len(), "allocated");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(logger);
    let events = EVENTS.load(Relaxed);
    assert!(events >= 20_000, "{events}");
    println!("tracing: {events} events through an allocating subscriber, stats logger running");
}

static HOOK_CALLS: AtomicU64 = AtomicU64::new(0);

fn panic_hook_case() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("from-hook.json");
    let hook_path = path.clone();
    std::panic::set_hook(Box::new(move |info| {
        let text = format!("{info}");
        let words: Vec<String> = text.split(' ').map(str::to_string).collect();
        black_box(words);
        if HOOK_CALLS.fetch_add(1, Relaxed) == 100 {
            // The heaviest thing allocscope does (symbolizing, writing) from inside a hook.
            allocscope::write_profile(&hook_path).unwrap();
        }
    }));
    allocscope::Config::new().sample_bytes(1).apply();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..500u64 {
                    let r = std::panic::catch_unwind(|| {
                        let v = black_box(vec![t; 100 + i as usize]);
                        if v.len() > 1 {
                            panic!("panic {i} on thread {t} with a {}-byte vec", v.len());
                        }
                    });
                    assert!(r.is_err());
                    // A panic inside an untracked scope too.
                    let r = std::panic::catch_unwind(|| {
                        allocscope::untracked(|| panic!("untracked {i}"));
                    });
                    assert!(r.is_err());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let _ = std::panic::take_hook();
    let calls = HOOK_CALLS.load(Relaxed);
    assert_eq!(calls, 4 * 500 * 2);
    let p = allocscope::profile::Profile::read(&path).expect("profile written from the panic hook");
    assert!(!p.sites.is_empty());
    println!("panic hook: {calls} panics through an allocating hook, one of which wrote a profile");
}

struct AllocatesOnDrop(u64);

impl Drop for AllocatesOnDrop {
    fn drop(&mut self) {
        // Allocate, grow and free while the thread is being torn down.
        let mut v: Vec<u64> = Vec::new();
        for i in 0..100 {
            v.push(i + self.0);
        }
        let s = format!("{:?}", &v[..10]);
        black_box((v, s));
    }
}

thread_local! {
    // Registered before allocscope's own per-thread state (touched first thing in the
    // thread, before it allocates): destructors run in reverse order of registration, so
    // this one runs after allocscope's has released the thread's counter slot.
    static FIRST: std::cell::Cell<Option<AllocatesOnDrop>> = const { std::cell::Cell::new(None) };
    // Registered after: runs before allocscope's.
    static LAST: std::cell::RefCell<Option<AllocatesOnDrop>> = const { std::cell::RefCell::new(None) };
}

fn tls_case() {
    allocscope::Config::new().sample_bytes(1).apply();
    // Warm std's thread machinery up outside the measured window.
    std::thread::spawn(|| ()).join().unwrap();
    let before = allocscope::snapshot();
    let (b_allocs, b_reallocs, b_frees, b_live) = (
        before.allocs,
        before.reallocs,
        before.frees,
        before.live_blocks,
    );
    drop(before);
    let threads = 200;
    for t in 0..threads {
        std::thread::spawn(move || {
            FIRST.set(Some(AllocatesOnDrop(t)));
            let v = black_box(vec![0u8; 1000]);
            LAST.with(|l| *l.borrow_mut() = Some(AllocatesOnDrop(t + 1)));
            drop(v);
        })
        .join()
        .unwrap();
    }
    let after = allocscope::snapshot();
    assert_eq!(
        after.allocs - b_allocs,
        after.frees - b_frees,
        "allocations in late TLS destructors are counted and freed"
    );
    assert_eq!(after.live_blocks, b_live);
    // Each thread's two destructors made a Vec (one alloc, five reallocs growing it to 100
    // elements) and a String: counted, wherever they ran.
    assert!(
        after.allocs - b_allocs >= threads * 5,
        "{}",
        after.allocs - b_allocs
    );
    assert!(
        after.reallocs - b_reallocs >= threads * 10,
        "{}",
        after.reallocs - b_reallocs
    );
    println!(
        "TLS destructors: {threads} threads allocating after allocscope's thread state was gone; {} allocations, counts balanced",
        after.allocs - b_allocs
    );
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("tracing") => return tracing_case(),
        Some("panic-hook") => return panic_hook_case(),
        Some("tls") => return tls_case(),
        Some(other) if !other.starts_with('-') => panic!("unknown case {other}"),
        _ => {}
    }
    let limit = Duration::from_secs(120);
    let cases = ["tracing", "panic-hook", "tls"];
    for case in cases {
        let o = child::run_case(case, &[], limit);
        print!("{}", o.stdout);
        println!("reentrancy {case}: ok in {:.1} s", o.secs);
    }
    println!("reentrancy: {} passed, 0 failed", cases.len());
}
