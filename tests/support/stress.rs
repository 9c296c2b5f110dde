//! Multi-threaded stress of the hook, shared by `tests/stress_*.rs` (one process per inner
//! allocator, each with its own `#[global_allocator]` and `harness = false`).
//!
//! Lanes of threads allocate, reallocate and free blocks of mixed sizes and alignments; a
//! quarter of the operations swap a block through a shared mailbox, so blocks are freed and
//! reallocated by other threads than the one that allocated them. Every lane runs a chain of
//! short-lived threads one after another (threads are created and exit all the time). It runs
//! once in sampled mode and once in exact mode and checks:
//!
//! - each thread's own counts (`measure`) equal what the thread itself did, tallied by hand;
//! - process-wide, allocs − frees and the live blocks and bytes are back where they started;
//! - the call-site table agrees: every sampled block of the workload was charged its free
//!   (live 0), and in exact mode the sites saw every alloc and realloc, one by one;
//! - nothing crashes and nothing hangs: a watchdog aborts the process with a message.
//!
//! Size: CI-sized by default (debug build, 2 cores). `ALLOCSCOPE_STRESS_FULL=1` runs the full
//! size (32 lanes × 1M operations, 10,000 thread lifetimes); the README's "Reliability"
//! section has the command and its figures.
#![allow(dead_code, clippy::undocumented_unsafe_blocks)]

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering::*};
use std::time::{Duration, Instant};

/// Shared mailbox for cross-thread frees.
const MAILBOX: usize = 512;
static MAILBOX_SLOTS: [AtomicPtr<u8>; MAILBOX] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAILBOX];
/// Blocks each thread holds at a time.
const OWN: usize = 32;
/// Bytes before a block's payload: its size and alignment, so any thread can free it.
const HEADER: usize = 16;

/// How big a run is.
#[derive(Debug, Clone, Copy)]
pub struct StressSize {
    /// Threads running at once.
    pub lanes: usize,
    /// Operations per lane (summed over the lane's thread lifetimes).
    pub ops_per_lane: u64,
    /// Thread lifetimes in all.
    pub lifetimes: usize,
    /// The watchdog's limit.
    pub timeout: Duration,
}

impl StressSize {
    /// CI size, or the full size with `ALLOCSCOPE_STRESS_FULL=1`.
    pub fn from_env() -> StressSize {
        let full = std::env::var("ALLOCSCOPE_STRESS_FULL").is_ok_and(|v| !v.is_empty() && v != "0");
        let mut s = if full {
            StressSize {
                lanes: 32,
                ops_per_lane: 1_000_000,
                lifetimes: 10_000,
                timeout: Duration::from_secs(3600),
            }
        } else {
            StressSize {
                lanes: 16,
                ops_per_lane: 25_000,
                lifetimes: 1_000,
                timeout: Duration::from_secs(300),
            }
        };
        if let Some(t) = std::env::var("ALLOCSCOPE_STRESS_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            s.timeout = Duration::from_secs(t);
        }
        s
    }
}

/// Starts a thread that aborts the process with a message if `done` is not set in time.
/// Call before taking a baseline: the thread's own allocations happen here.
pub fn watchdog(what: &'static str, limit: Duration) -> &'static AtomicBool {
    let done: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let started: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    std::thread::spawn(move || {
        // From here on this thread neither allocates nor frees (until it aborts).
        started.store(true, Release);
        let start = Instant::now();
        while !done.load(Acquire) {
            if start.elapsed() > limit {
                let msg = format!(
                    "\n{what}: WATCHDOG: no progress after {:?}: deadlock or livelock; aborting\n",
                    limit
                );
                // SAFETY: writing a buffer we own to fd 2.
                unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    // Wait until std's start-up of the thread (its handle, its closure) is over: a free it
    // made inside a measured window would not be the workload's.
    while !started.load(Acquire) {
        std::thread::yield_now();
    }
    done
}

/// What one thread did, counted the way allocscope counts (a realloc frees the old size and
/// allocates the new one).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub allocs: u64,
    pub reallocs: u64,
    pub frees: u64,
    pub bytes_allocated: u64,
    pub bytes_freed: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.allocs += o.allocs;
        self.reallocs += o.reallocs;
        self.frees += o.frees;
        self.bytes_allocated += o.bytes_allocated;
        self.bytes_freed += o.bytes_freed;
    }
}

fn layout_of(p: *mut u8) -> Layout {
    let (size, align) = unsafe { (*(p as *const usize), *(p as *const usize).add(1)) };
    Layout::from_size_align(size, align).expect("header intact")
}

fn set_header(p: *mut u8, l: Layout) {
    unsafe {
        *(p as *mut usize) = l.size();
        *(p as *mut usize).add(1) = l.align();
    }
}

fn random_layout(rng: &mut fastrand::Rng) -> Layout {
    let size = match rng.u32(0..100) {
        0..70 => rng.usize(HEADER..=128),
        70..95 => rng.usize(129..=4096),
        _ => rng.usize(4097..=64 * 1024),
    };
    let align = match rng.u32(0..100) {
        0..90 => 16,
        90..98 => 64,
        _ => 4096,
    };
    Layout::from_size_align(size, align).unwrap()
}

fn oom(l: Layout) -> ! {
    std::alloc::handle_alloc_error(l)
}

fn free_block(p: *mut u8, t: &mut Tally) {
    let l = layout_of(p);
    t.frees += 1;
    t.bytes_freed += l.size() as u64;
    unsafe { dealloc(p, l) };
}

/// One thread's life: `ops` operations from `seed`. Returns its tally and its own counts.
#[inline(never)]
pub fn churn(seed: u64, ops: u64) -> (Tally, allocscope::Counts) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut own = [std::ptr::null_mut::<u8>(); OWN];
    let mut t = Tally::default();
    let ((), counts) = allocscope::measure(|| {
        for _ in 0..ops {
            let i = rng.usize(0..OWN);
            let p = own[i];
            match rng.u32(0..100) {
                0..40 => {
                    if !p.is_null() {
                        free_block(p, &mut t);
                    }
                    let l = random_layout(&mut rng);
                    let q = unsafe {
                        if rng.bool() {
                            alloc(l)
                        } else {
                            alloc_zeroed(l)
                        }
                    };
                    if q.is_null() {
                        oom(l);
                    }
                    set_header(q, l);
                    t.allocs += 1;
                    t.bytes_allocated += l.size() as u64;
                    own[i] = q;
                }
                40..60 if !p.is_null() => {
                    let old = layout_of(p);
                    let new_size = random_layout(&mut rng).size();
                    let q = unsafe { realloc(p, old, new_size) };
                    if q.is_null() {
                        oom(old);
                    }
                    let (size, align) =
                        unsafe { (*(q as *const usize), *(q as *const usize).add(1)) };
                    assert_eq!(
                        (size, align),
                        (old.size(), old.align()),
                        "realloc kept the contents"
                    );
                    set_header(q, Layout::from_size_align(new_size, old.align()).unwrap());
                    t.reallocs += 1;
                    t.bytes_freed += old.size() as u64;
                    t.bytes_allocated += new_size as u64;
                    own[i] = q;
                }
                60..80 if !p.is_null() => {
                    free_block(p, &mut t);
                    own[i] = std::ptr::null_mut();
                }
                _ => {
                    // Hand our block (or nothing) to whoever takes this mailbox slot next.
                    let j = rng.usize(0..MAILBOX);
                    own[i] = MAILBOX_SLOTS[j].swap(p, AcqRel);
                }
            }
        }
        for p in own.iter_mut() {
            if !p.is_null() {
                free_block(*p, &mut t);
                *p = std::ptr::null_mut();
            }
        }
    });
    (t, counts)
}

/// Frees whatever the mailbox still holds (on the calling thread).
pub fn drain_mailbox() -> Tally {
    let mut t = Tally::default();
    for slot in &MAILBOX_SLOTS {
        let p = slot.swap(std::ptr::null_mut(), AcqRel);
        if !p.is_null() {
            free_block(p, &mut t);
        }
    }
    t
}

/// Runs all lanes; returns the summed tally of every thread lifetime.
fn run_lanes(size: StressSize, seed: u64) -> Tally {
    let per_lane = (size.lifetimes / size.lanes).max(1);
    let ops = (size.ops_per_lane / per_lane as u64).max(1);
    let lanes: Vec<_> = (0..size.lanes)
        .map(|lane| {
            std::thread::spawn(move || {
                let mut sum = Tally::default();
                for k in 0..per_lane {
                    let s =
                        seed ^ ((lane as u64) << 32 | k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let (t, c) = std::thread::spawn(move || churn(s, ops))
                        .join()
                        .expect("worker");
                    // A thread's own counts are exactly what it did, whatever the others do.
                    assert_eq!(
                        (
                            c.allocs,
                            c.reallocs,
                            c.frees,
                            c.bytes_allocated,
                            c.bytes_freed
                        ),
                        (
                            t.allocs,
                            t.reallocs,
                            t.frees,
                            t.bytes_allocated,
                            t.bytes_freed
                        ),
                        "lane {lane} lifetime {k}: measured counts vs the thread's own tally"
                    );
                    sum.add(&t);
                }
                sum
            })
        })
        .collect();
    let mut total = Tally::default();
    for l in lanes {
        total.add(&l.join().expect("lane"));
    }
    total.add(&drain_mailbox());
    total
}

/// Live figures of the call sites whose stack passes through [`churn`]:
/// (allocs + reallocs recorded, live blocks, live bytes).
fn churn_sites() -> (u64, u64, u64) {
    let mut p = allocscope::collect_profile();
    // The profile holds raw addresses: name and trim them as every report does, so that
    // frames[0] is the function that allocated (full names would also match the
    // bookkeeping of `churn_sites` itself further down the stack).
    allocscope::profile::symbolize(&mut p, &Default::default()).expect("symbolized");
    allocscope::trim::trim_profile(&mut p);
    p.sites
        .iter()
        .filter(|s| {
            s.frames.first().is_some_and(|f| {
                f.function.contains("stress::churn") && !f.function.contains("churn_sites")
            })
        })
        .fold((0, 0, 0), |(a, b, c), s| {
            (a + s.allocs, b + s.live_blocks, c + s.live_bytes)
        })
}

/// The whole stress run over the installed allocator (`name` is for messages).
pub fn run(name: &'static str) {
    let size = StressSize::from_env();
    let done = watchdog(name, size.timeout);
    // Warm up std's lazily initialised thread machinery outside the measured window.
    std::thread::spawn(|| drop(std::hint::black_box(vec![0u8; 10])))
        .join()
        .unwrap();
    let mut sites_before = (0, 0, 0);
    for (mode, sample_bytes) in [("sampled", 4096u64), ("exact", 1)] {
        allocscope::Config::new().sample_bytes(sample_bytes).apply();
        let base = allocscope::snapshot();
        let (b_allocs, b_reallocs, b_frees, b_live, b_live_bytes) = (
            base.allocs,
            base.reallocs,
            base.frees,
            base.live_blocks,
            base.live_bytes,
        );
        drop(base);
        let start = Instant::now();
        let tally = run_lanes(size, 0xA110C ^ sample_bytes);
        let secs = start.elapsed().as_secs_f64();
        let after = allocscope::snapshot();
        let per_lane = (size.lifetimes / size.lanes).max(1) as u64;
        let ops = size.lanes as u64 * per_lane * (size.ops_per_lane / per_lane).max(1);
        assert_eq!(
            after.allocs - b_allocs,
            after.frees - b_frees,
            "{name} {mode}: allocs − frees back to 0 (tally {tally:?})"
        );
        assert_eq!(
            after.live_blocks, b_live,
            "{name} {mode}: live blocks back to the start"
        );
        assert_eq!(
            after.live_bytes, b_live_bytes,
            "{name} {mode}: live bytes back to the start"
        );
        // Thread creation adds a few allocations of its own; the workload's are all there.
        assert!(
            after.allocs - b_allocs >= tally.allocs,
            "{name} {mode}: allocs"
        );
        assert!(
            after.reallocs - b_reallocs >= tally.reallocs,
            "{name} {mode}: reallocs"
        );
        let spawn_allocs = after.allocs - b_allocs - tally.allocs;
        drop(after);
        let sites = churn_sites();
        assert_eq!(
            (sites.1, sites.2),
            (0, 0),
            "{name} {mode}: every sampled block's free reached its site"
        );
        if sample_bytes == 1 {
            assert_eq!(
                sites.0 - sites_before.0,
                tally.allocs + tally.reallocs,
                "{name} exact: one site record per alloc and realloc"
            );
        }
        sites_before = sites;
        println!(
            "stress {name} {mode}: {} lanes x {} ops ({ops} ops: {} allocs, {} reallocs, {} frees), {} thread lifetimes, {:.2} s ({:.0} ns/op); {} other allocations (thread start-up); counts exact",
            size.lanes,
            size.ops_per_lane,
            tally.allocs,
            tally.reallocs,
            tally.frees,
            (size.lifetimes / size.lanes).max(1) * size.lanes,
            secs,
            secs * 1e9 / ops as f64,
            spawn_allocs,
        );
    }
    done.store(true, Release);
    println!("stress_{name}: 1 passed, 0 failed");
}
