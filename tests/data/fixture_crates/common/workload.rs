// Shared by the fixture crates (each includes it with `#[path]`): a workload whose live bytes
// are known by hand, then one line per figure on stdout and a profile written to argv[1].
//
// 200 000 boxes of 100 bytes; every other one freed, so half the slots of their pages become
// holes (fragmentation over jemalloc, free_in_pages over mimalloc).

pub const N: usize = 200_000;
pub const SIZE: usize = 100;

/// Runs the workload; returns the boxes still live and the live bytes they account for
/// (the boxes plus the Vec holding them), computed by hand.
pub fn run() -> (Vec<Box<[u8; SIZE]>>, u64) {
    let all: Vec<Box<[u8; SIZE]>> = (0..N).map(|i| Box::new([i as u8; SIZE])).collect();
    let mut kept = Vec::with_capacity(N / 2);
    for (i, b) in all.into_iter().enumerate() {
        if i % 2 == 0 {
            kept.push(b);
        }
    }
    let bytes = (N / 2 * SIZE + kept.capacity() * std::mem::size_of::<Box<[u8; SIZE]>>()) as u64;
    (kept, bytes)
}

/// Prints `name=value` lines: the hand-computed workload bytes, the live bytes before and
/// after (from allocscope's counters) and the installed allocator.
pub fn print_counts(baseline_live: u64, workload_bytes: u64) {
    let s = allocscope::snapshot();
    println!(
        "allocator={}",
        allocscope::installed_allocator().map_or("none", |k| k.name())
    );
    println!("baseline_live={baseline_live}");
    println!("workload_bytes={workload_bytes}");
    println!("live_bytes={}", s.live_bytes);
}

/// The body of every jemalloc fixture: the workload, its counts, the gap's terms as
/// `name=value` lines, and a profile written to the path given as the first argument.
#[allow(dead_code)] // not every fixture runs over jemalloc
pub fn jemalloc_main() {
    let out = std::env::args().nth(1).expect("usage: fixture PROFILE_OUT");
    let baseline = allocscope::snapshot().live_bytes;
    let (kept, bytes) = run();
    print_counts(baseline, bytes);
    let gap = allocscope::snapshot().gap.expect("the gap over jemalloc");
    println!("rss={}", gap.rss);
    for (name, value) in gap.terms() {
        println!("{name}={value}");
    }
    allocscope::write_profile(&out).expect("profile written");
    drop(kept);
}
