//! What serving costs a program in production (docs/production.md): the time and CPU of each
//! scrape of the HTTP endpoints (feature `http`) at the default sampling interval, the first
//! pprof scrape (which loads the symbolizer) apart from the later ones (answered from its
//! cache), and allocscope's own memory before and after. Run with
//! `cargo bench --features http --bench http_scrape`; prints one table. Not a timed test:
//! nothing here fails on a figure.
//!
//! The program: 1024 distinct call stacks (a binary tree of calls ten deep), each allocating
//! and freeing 4 KiB blocks (4 MiB per stack), plus 64 MiB kept live by one of them, sampled
//! at the default 512 KiB. The scraper is in this process but does its work in `untracked`
//! scopes, so the program's figures stay the program's.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

macro_rules! level {
    ($name:ident, $next_a:ident, $next_b:ident) => {
        #[inline(never)]
        fn $name(path: u32, depth: u32, keep: &mut Vec<Vec<u8>>) {
            if depth == 0 {
                leaf(path, keep);
            } else if path & (1 << depth) == 0 {
                $next_a(path, depth - 1, keep);
            } else {
                $next_b(path, depth - 1, keep);
            }
            // Not a tail call: each level keeps its frame, so each path is its own stack.
            std::hint::black_box(depth);
        }
    };
}
level!(l0, l1, l2);
level!(l1, l2, l3);
level!(l2, l3, l0);
level!(l3, l0, l1);

#[inline(never)]
fn leaf(path: u32, keep: &mut Vec<Vec<u8>>) {
    for _ in 0..1024 {
        drop(std::hint::black_box(Vec::<u8>::with_capacity(4096)));
    }
    if path == 0 {
        for _ in 0..64 {
            keep.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
}

fn get(addr: &str, path: &str) -> usize {
    allocscope::untracked(|| {
        let mut s = TcpStream::connect(addr).expect("connect");
        write!(s, "GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut body = Vec::new();
        s.read_to_end(&mut body).unwrap();
        assert!(body.starts_with(b"HTTP/1.1 200"), "{path}");
        body.len()
    })
}

/// CPU time of the server thread so far, in seconds, from its `schedstat` (nanoseconds on
/// the CPU).
fn server_cpu() -> f64 {
    allocscope::untracked(|| {
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim() == "allocscope-http" {
                let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap();
                let ns: f64 = stat.split_whitespace().next().unwrap().parse().unwrap();
                return ns / 1e9;
            }
        }
        0.0
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut keep = Vec::new();
    let built = Instant::now();
    for path in 0..1024u32 {
        l0(path << 1, 10, &mut keep);
    }
    let work = built.elapsed();
    let own_before = allocscope::own_memory().heap;
    let addr = allocscope::serve("127.0.0.1:0").unwrap().to_string();
    std::thread::sleep(Duration::from_millis(100));

    let rounds = 50;
    let mut rows: Vec<(String, Duration, Duration, f64, usize)> = Vec::new();
    let cpu0 = server_cpu();
    let t = Instant::now();
    let size = get(&addr, "/debug/pprof/heap");
    let first = t.elapsed();
    let first_cpu = server_cpu() - cpu0;
    rows.push((
        "/debug/pprof/heap (first: loads the symbolizer)".into(),
        first,
        first,
        first_cpu,
        size,
    ));
    let own_after_first = allocscope::own_memory().heap;
    for path in [
        "/debug/pprof/heap",
        "/debug/pprof/allocs",
        "/metrics",
        "/debug/allocscope/gap",
        "/debug/allocscope/profile",
    ] {
        let cpu0 = server_cpu();
        let mut times = Vec::with_capacity(rounds);
        let mut size = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            size = get(&addr, path);
            times.push(t.elapsed());
        }
        let cpu = (server_cpu() - cpu0) / rounds as f64;
        let max = times.iter().copied().max().unwrap();
        rows.push((path.to_string(), median(times), max, cpu, size));
    }
    let own_after = allocscope::own_memory().heap;
    let profile = allocscope::collect_profile();
    let sites = profile.sites.len();
    drop(profile);
    let settings = allocscope::settings();
    println!(
        "http_scrape: {sites} sampled call sites, sampling interval {} bytes, workload built in {:.0} ms",
        settings.sample_bytes,
        work.as_secs_f64() * 1e3
    );
    println!();
    println!("| request | median wall | max wall | server CPU per request | response bytes |");
    println!("|---|---|---|---|---|");
    for (path, med, max, cpu, size) in &rows {
        println!(
            "| `{path}` | {:.1} ms | {:.1} ms | {:.1} ms | {size} |",
            med.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            cpu * 1e3
        );
    }
    println!();
    println!(
        "allocscope's own heap: {:.1} MiB before serving, {:.1} MiB after the first pprof scrape, {:.1} MiB after {} more scrapes",
        own_before as f64 / (1 << 20) as f64,
        own_after_first as f64 / (1 << 20) as f64,
        own_after as f64 / (1 << 20) as f64,
        rounds * 5
    );
    drop(keep);
}
