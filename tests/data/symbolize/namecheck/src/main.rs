//! Fixture for tests/symbolize.rs: allocates through a dependency and through its own
//! out-of-line and inlined functions, in the main thread and in a spawned thread.

use std::hint::black_box;

#[global_allocator]
static A: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

#[inline(never)]
fn build_table(n: usize) -> Vec<namecheck_dep::version::Version> {
    let mut table = Vec::new();
    for i in 0..n {
        let text = format!("1.{i}.{}", i * 7);
        table.push(namecheck_dep::version::Version::parse(&text));
    }
    table
}

#[inline(always)]
fn make_buffer(n: usize) -> Vec<u64> {
    vec![if cfg!(feature = "variant") { 2 } else { 1 }; n]
}

#[inline(never)]
fn fill_buffers() -> Vec<Vec<u64>> {
    let mut all = Vec::new();
    for i in 0..100 {
        all.push(make_buffer(100 + i));
    }
    all
}

fn main() {
    let t = black_box(build_table(2000));
    let b = black_box(fill_buffers());
    let h = std::thread::spawn(|| black_box(build_table(500)).len());
    let n = h.join().unwrap_or(0);
    println!("{} {} {n}", t.len(), b.len());
}
