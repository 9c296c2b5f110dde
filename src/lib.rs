//! allocscope: a memory profiler that lives inside the program it measures.
//!
//! Rust teams swap their global allocator (System → jemalloc or mimalloc) for speed and then
//! ask questions no single tool answers: *is the higher RSS a leak, fragmentation, or pages the
//! allocator has not returned yet? Which call sites make millions of tiny short-lived objects?
//! Which allocator is better for our workload?* allocscope wraps the allocator you already use
//! and answers them from inside the process:
//!
//! - **exact counts** of allocs, reallocs, frees and bytes, by size class (jemalloc's table),
//!   with the bytes lost to size-class rounding — [`snapshot()`], and [`measure`] for one closure;
//! - **call sites** from sampled (or all) stacks with bytes, live bytes, bytes at the peak,
//!   size classes and lifetimes, written to a **profile file**;
//! - the **RSS gap** broken down term by term from jemalloc's own statistics and `/proc`
//!   ([`GapBreakdown`]), a purge that proves what is reclaimable, and periodic stats as
//!   `tracing` events;
//! - the **`alloc-report`** command: flamegraphs, summaries, diffs, pprof/folded exports,
//!   allocator comparisons and a self-contained HTML report.
//!
//! # Setup
//!
//! `allocscope = "0.1"` builds the profiler only (counts, call sites, the gap, profile
//! writing); the `alloc-report` CLI is a separate install, `cargo install allocscope
//! --features cli`. Wrap the allocator you already use — typically only in debug builds,
//! keeping the plain allocator in release:
//!
//! ```
//! #[cfg(debug_assertions)]
//! #[global_allocator]
//! static ALLOC: allocscope::Profiler<std::alloc::System> =
//!     allocscope::Profiler::new(std::alloc::System);
//!
//! fn main() {
//!     let v: Vec<String> = (0..100).map(|i| i.to_string()).collect();
//!     let s = allocscope::snapshot();
//!     # #[cfg(debug_assertions)]
//!     assert!(s.allocs >= 101);
//!     drop(v);
//! }
//! ```
//!
//! [`Profiler`] works over any `GlobalAlloc`: `std::alloc::System`, jemalloc, mimalloc's
//! `MiMalloc`, or your own. It forwards every call to the inner allocator unchanged. The
//! RSS gap is complete over jemalloc and mimalloc, which report their statistics:
//!
//! - **your own jemalloc**, any version: keep your `tikv-jemallocator` (0.5, 0.6, 0.7) or
//!   `jemallocator`, enable its `stats` feature, and hand allocscope its `mallctl` —
//!   `Profiler::new(tikv_jemallocator::Jemalloc).with_jemalloc_stats(tikv_jemalloc_sys::mallctl)`
//!   ([`Profiler::with_jemalloc_stats`]); allocscope links no jemalloc of its own;
//! - **a new project**: feature `jemalloc` bundles tikv-jemallocator 0.7 with statistics as
//!   [`Jemalloc`] (`Profiler::new(allocscope::Jemalloc)`, nothing else to call);
//! - **mimalloc**: feature `mimalloc` reads mimalloc's statistics through the
//!   `libmimalloc-sys 0.1` your `mimalloc` crate already links (`Profiler::new(MiMalloc)`).
//!
//! # Exact counts
//!
//! [`snapshot()`] sums the counters of every thread in a few microseconds: calls to alloc
//! (`allocs`), realloc (`reallocs`, split into grew/shrank and in place/moved) and dealloc
//! (`frees`); bytes allocated and freed (a realloc counts as freeing the old block and
//! allocating the new one, as valgrind's DHAT and heaptrack count it); live bytes and blocks;
//! the peak of live bytes; and the same per size class ([`SizeClassCounts`]), each with
//! requested and usable bytes. These figures are exact — the test suite checks them against
//! DHAT block for block.
//!
//! The peak is exact in a single-threaded program. With several threads, each thread
//! publishes its live-byte changes in batches of up to [`PEAK_SLACK_PER_THREAD`] bytes so the
//! hot path never writes a shared cache line; the recorded peak can then differ from the true
//! one by at most that much per thread.
//!
//! # Testing allocations with `measure`
//!
//! [`measure`] counts what a closure allocates **on the current thread**, exactly, even while
//! libtest runs other tests in parallel — so an ordinary `#[test]` can pin an allocation
//! budget:
//!
//! ```
//! #[global_allocator]
//! static ALLOC: allocscope::Profiler<std::alloc::System> =
//!     allocscope::Profiler::new(std::alloc::System);
//!
//! fn main() {
//!     let (n, counts) = allocscope::measure(|| "1.2.3".split('.').count());
//!     assert_eq!(n, 3);
//!     assert_eq!(counts.allocs, 0);
//! }
//! ```
//!
//! When no `Profiler` is the global allocator, [`measure`] and [`snapshot()`] return zeros and
//! [`is_installed`] says so; nothing panics.
//!
//! # Call sites and the profile file
//!
//! Stack capture is on by default: Poisson byte sampling with a mean interval of 512 KiB (as
//! Go, jemalloc and tcmalloc sample), each sample weighted so per-site sums are unbiased; or
//! exact mode, every allocation's stack. Frees of sampled blocks are recognised (sampled blocks
//! are page-aligned, so a free whose pointer is not skips the lookup), so each call site knows
//! its live bytes now, at exit (leaks) and at the process's peak, its size classes, its slack,
//! and how long its objects lived (freed within 1 µs / 1 ms / 1 s, median lifetime).
//!
//! Without code changes, from the environment: `ALLOCSCOPE_OUT=path` writes a profile at
//! normal exit (with a timeline recorded from before `main`), `ALLOCSCOPE_SAMPLE_BYTES=R`
//! (`1` = exact), `ALLOCSCOPE=off`, `ALLOCSCOPE_MAX_DEPTH`, `ALLOCSCOPE_UNWIND=fp|dwarf`,
//! `ALLOCSCOPE_SEED`. In code, first thing in `main` (the environment still wins):
//!
//! ```no_run
//! #[global_allocator]
//! static ALLOC: allocscope::Profiler<std::alloc::System> =
//!     allocscope::Profiler::new(std::alloc::System);
//!
//! fn main() {
//!     allocscope::Config::new().sample_bytes(64 * 1024).out("app.profile.json").apply();
//!     // … the program …
//!     allocscope::write_profile("now.profile.json").expect("profile written");
//! }
//! ```
//!
//! Stacks are walked through frame pointers (~30 ns) when the program is built with
//! `RUSTFLAGS="-C force-frame-pointers=yes"` (std already has them); otherwise allocscope
//! falls back to DWARF unwinding (~2.5 µs per stack: fine when sampling, slow in exact mode).
//! The profile written at exit holds raw addresses and the process's mappings (path, build
//! ID); `alloc-report` resolves names from the binary when it reads the profile (full Rust
//! paths, inlined frames, file:line), so the profiled process parses no debug info
//! (`ALLOCSCOPE_SYMBOLIZE=exit` resolves them at exit instead; `docs/symbolization.md`).
//! The repository's `docs/callsites.md` details modes, precision
//! and overhead; `docs/profile-format.md` documents the file field by field, with units; the
//! format itself is [`profile::Profile`].
//!
//! In production, the feature `http` serves all this while the program runs
//! (`allocscope::serve(addr)` or `ALLOCSCOPE_HTTP=127.0.0.1:6060`): pprof heap profiles for
//! `go tool pprof`, Grafana Pyroscope and Parca, Prometheus metrics, the JSON profile and the
//! gap, from one internal thread, with no authentication (`docs/production.md`).
//!
//! # Viewing: `alloc-report`
//!
//! `cargo install allocscope --features cli` installs `alloc-report` (from a checkout: `cargo
//! install --path . --features cli`); the library alone never builds its dependencies:
//!
//! ```text
//! alloc-report summary app.profile.json [--json] [--top N]     # totals, size classes, top sites, the gap
//! alloc-report flamegraph app.profile.json --metric allocs     # also bytes, live, peak, leaked, short-lived, slack
//! alloc-report diff before.json after.json                     # differential flamegraph + what changed
//! alloc-report export app.profile.json --format pprof -o heap.pb.gz   # or folded
//! alloc-report html app.profile.json -o report.html            # everything on one self-contained page
//! alloc-report compare system.json jemalloc.json mimalloc.json # which allocator, with the why
//! alloc-report symbolize app.profile.json -o named.json         # names baked in, binary no longer needed
//! ```
//!
//! Every subcommand takes `--binary PATH` (a copy of the program that ran), `--debug-dir DIR`
//! (separate debug files of a stripped binary) and `--all-frames` (no trimming).
//!
//! Everything it does is also a library: [`report`].
//!
//! # The RSS gap
//!
//! Over jemalloc, every snapshot carries `gap`, a [`GapBreakdown`] of the process's RSS into
//! `requested + size_class_rounding + allocator_caches + fragmentation + dirty + metadata +
//! muzzy + profiler + non_heap − untouched`, adding up exactly: `profiler` is allocscope's
//! own memory ([`own_memory()`]), never billed to the program; `untouched` is the pages of
//! large blocks that were reserved but never touched, counted as requested but not resident;
//! `non_heap` is the remainder (`docs/gap.md` has each formula).
//! `println!("{}", allocscope::gap::report())` prints the terms in MiB and % of RSS with a
//! diagnosis naming the dominant term and what to do about it; over an allocator without
//! statistics it prints what can be known ([`PartialGap`]) and says what cannot be split.
//! [`purge()`] makes jemalloc return its dirty pages now and reports RSS before and after —
//! the proof of what was reclaimable. `cargo run --release --features jemalloc --example fragmentation` shows
//! 2M small objects, 90% freed in a scattered pattern: 73% of RSS becomes holes inside live
//! pages, which no purge returns; once everything is freed, 96% is dirty pages, which a purge
//! returns (168 MiB → 7 MiB).
//!
//! [`StatsLogger`] emits one structured `tracing` event per interval (counters, rates, gap
//! terms) from a thread marked internal; [`timeline`] records bounded periodic points for the
//! profile file; [`procfs`] and [`jemalloc_stats`] are the typed readers underneath.
//!
//! # What runs inside the allocator
//!
//! The hook never allocates, never takes a lock that could allocate, never logs and never
//! panics. Each thread counts into its own slot of a static table with plain loads and stores;
//! a thread-local flag (a `const` `Cell` read with `try_with`, as tracing-core's dispatcher
//! does) keeps the hook from counting itself, and marks allocscope's own threads
//! ([`mark_thread_internal`]) and scopes ([`untracked`]) whose allocations are not the
//! program's. Exiting threads hand their slot, with its counts, to the next thread; after
//! `fork` the child keeps counting. Symbolizing, aggregating, writing and logging all happen
//! outside the hook.
//!
//! # Overhead
//!
//! Counting alone adds a few nanoseconds per allocation; `cargo bench --features jemalloc --bench overhead`
//! measures tiny alloc/free churn over bare System and jemalloc and over allocscope on each,
//! side by side, and prints the ratios (the README has this machine's figures).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod analysis;
mod hook;
mod model;
mod observe;
#[cfg(feature = "cli")]
pub mod report;
mod runtime;
#[cfg(feature = "http")]
mod serve;

pub use analysis::budget;
#[cfg(feature = "serde")]
pub use analysis::{convergence, trim};
pub use hook::{guard as reentrancy, profiler};
/// The profile file: what a profiled run leaves behind for `alloc-report`.
///
/// One versioned JSON document ([`Profile`](profile::Profile)), written atomically (a
/// temporary file in the same directory, then a rename); its size grows with the number of
/// distinct call stacks and timeline points, never with the number of allocations. Every
/// byte figure is in bytes, every duration in the unit its field name says. The format is
/// data (`model::profile`); [`symbolize`](profile::symbolize) resolves its raw addresses
/// (`observe::symbolize`). `docs/profile-format.md` documents it field by field.
#[cfg(feature = "serde")]
pub mod profile {
    pub use crate::model::profile::*;
    pub use crate::observe::symbolize::{symbolize, SymbolizeError, SymbolizeOptions};
}
pub use model::{gap_term, size_class};
#[cfg(feature = "serde")]
pub use observe::timeline;
pub use observe::{
    cgroup, gap, gap_mimalloc, jemalloc_stats, mimalloc_stats, procfs, purge, snapshot,
    stats_logger,
};

pub use hook::counters::PEAK_SLACK_PER_THREAD;
pub use hook::guard::{mark_thread_internal, untracked};
pub use hook::own_memory::{own_memory, OwnMemory};
pub use hook::profiler::{installed_allocator, is_installed, AllocatorKind, Profiler};
pub use hook::settings::{Unwinder, DEFAULT_MAX_DEPTH, DEFAULT_SAMPLE_BYTES, MAX_DEPTH_LIMIT};
#[doc(hidden)]
pub use hook::sites::debug_probe_counts;
pub use model::cgroup::CgroupMemory;
pub use model::gap_term::GapTerm;
pub use model::size_class::SizeClass;
pub use model::spans::SpanStats;
pub use observe::allocator_config::allocator_config;
pub use observe::gap::{GapBreakdown, GapReport, PartialGap};
pub use observe::gap_mimalloc::MimallocGap;
pub use observe::measure::measure;
#[cfg(feature = "serde")]
pub use observe::profile_writer::{collect_profile, write_profile};
pub use observe::purge::{purge, PurgeReport};
pub use observe::snapshot::{snapshot, Counts, SizeClassCounts, Snapshot};
#[cfg(feature = "tracing-spans")]
pub use observe::span_layer::SpanLayer;
pub use observe::spans::span_stats;
pub use observe::stats_logger::{StatsLogger, StatsLoggerBuilder};
pub use runtime::config::{settings, Config, Settings};
#[cfg(feature = "http")]
pub use serve::serve;

/// jemalloc (tikv-jemallocator 0.7, with statistics), as a `GlobalAlloc` to wrap:
/// `Profiler::new(allocscope::Jemalloc)` (feature `jemalloc`).
#[cfg(feature = "jemalloc")]
pub use tikv_jemallocator::Jemalloc;
