//! Reproduces the situation ruff reported: a program builds millions of small objects (think
//! AST nodes and tokens), frees most of them in a scattered order, and keeps a few. Live data
//! is small, RSS stays high — and `allocscope` says why.
//!
//! ```text
//! cargo run --release --features jemalloc --example fragmentation
//! ```
//!
//! Prints the gap after the build, after the scattered frees (fragmentation dominates:
//! purging cannot help), after a purge, and after freeing the rest (dirty pages dominate)
//! and purging again (RSS falls back).

use allocscope::{Jemalloc, Profiler};

#[global_allocator]
static ALLOC: Profiler<Jemalloc> = Profiler::new(Jemalloc);

/// Objects built.
const OBJECTS: usize = 2_000_000;
/// One object in `KEEP_ONE_IN` survives.
const KEEP_ONE_IN: u64 = 10;

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn section(title: &str) {
    let snap = allocscope::snapshot();
    println!(
        "── {title} ── (live: {:.1} MiB in {} blocks)",
        snap.live_bytes as f64 / 1048576.0,
        snap.live_blocks
    );
    println!("{}\n", allocscope::GapReport::from_snapshot(&snap));
}

fn main() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Sizes of typical small nodes: 24 to 160 bytes.
    let sizes = [24usize, 40, 48, 64, 72, 96, 100, 128, 160];
    let mut objects: Vec<Box<[u8]>> = Vec::with_capacity(OBJECTS);
    for _ in 0..OBJECTS {
        let size = sizes[(rng.next() % sizes.len() as u64) as usize];
        objects.push(vec![0xA5u8; size].into_boxed_slice());
    }
    section("after building 2M small objects");

    // Keep one in ten, chosen at random: every slab keeps a few live objects.
    let survivors: Vec<Box<[u8]>> = objects
        .into_iter()
        .filter(|_| rng.next() % KEEP_ONE_IN == 0)
        .collect();
    section(&format!(
        "after freeing 90% in a scattered pattern ({} survive)",
        survivors.len()
    ));

    let report = allocscope::purge();
    println!("{report}\n");
    section("after purge: the holes stay, they are inside live pages");

    drop(survivors);
    section("after freeing the survivors too");
    let report = allocscope::purge();
    println!("{report}\n");
    section("after the second purge");
}
