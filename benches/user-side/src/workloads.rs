//! The workloads, shared by every binary (one binary per global allocator). Each prints
//! `elapsed_ns <n>` for the workload alone (set-up and tear-down excluded).
//!
//! Usage: `<binary> churn|threads|parse [scale]` (scale multiplies the default size; 1.0
//! when absent).

use std::hint::black_box;
use std::time::Instant;

/// Tiny churn: `Vec::with_capacity(8..=64)` dropped at once.
#[inline(never)]
pub fn churn(pairs: u64) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut sum = 0u64;
    for _ in 0..pairs {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v: Vec<u8> = Vec::with_capacity(8 + (x % 57) as usize);
        sum = sum.wrapping_add(black_box(&v).capacity() as u64);
        drop(v);
    }
    sum
}

/// Two threads: each allocates batches of small boxed slices and sends them to the other,
/// which frees them (cross-thread frees), in batches large enough that the channel is noise.
pub fn threads(blocks_per_thread: u64) -> u64 {
    use std::sync::mpsc::{channel, Receiver, Sender};
    const BATCH: u64 = 4096;
    type Batch = Vec<Box<[u8]>>;
    fn work(tx: Sender<Batch>, rx: Receiver<Batch>, blocks: u64, mut x: u64) -> u64 {
        let mut freed = 0u64;
        let mut made = 0u64;
        while made < blocks {
            let mut batch = Vec::with_capacity(BATCH as usize);
            for _ in 0..BATCH {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                batch.push(vec![0u8; 8 + (x % 121) as usize].into_boxed_slice());
            }
            made += BATCH;
            if tx.send(batch).is_err() {
                break;
            }
            while let Ok(b) = rx.try_recv() {
                freed += b.len() as u64;
            }
        }
        drop(tx);
        while let Ok(b) = rx.recv() {
            freed += b.len() as u64;
        }
        freed
    }
    let (tx_a, rx_a) = channel::<Batch>();
    let (tx_b, rx_b) = channel::<Batch>();
    let n = blocks_per_thread;
    let a = std::thread::spawn(move || work(tx_a, rx_b, n, 0x1234_5678_9ABC_DEF1));
    let b = std::thread::spawn(move || work(tx_b, rx_a, n, 0x0FED_CBA9_8765_4321));
    a.join().unwrap_or(0) + b.join().unwrap_or(0)
}

/// Version strings as a package index holds them: mostly plain, some with pre-release and
/// build metadata long enough that semver allocates for them.
pub fn version_strings(n: usize) -> (Vec<String>, Vec<String>) {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut versions = Vec::with_capacity(n);
    let mut reqs = Vec::with_capacity(n / 4);
    for i in 0..n {
        let (a, b, c) = (next() % 20, next() % 40, next() % 100);
        let v = match next() % 4 {
            0 => format!("{a}.{b}.{c}-alpha.{}+build.{}", next() % 10, next() % 100000),
            1 => format!("{a}.{b}.{c}-release-candidate.{}", next() % 5),
            _ => format!("{a}.{b}.{c}"),
        };
        versions.push(v);
        if i % 4 == 0 {
            reqs.push(format!(">={a}.{b}.0, <{}.0.0, >{a}.{b}.{c}", a + 1));
        }
    }
    (versions, reqs)
}

/// A realistic parser workload: parse every version string and requirement with the
/// `semver` crate, sort the versions, count matches, drop everything.
#[inline(never)]
pub fn parse(versions: &[String], reqs: &[String]) -> u64 {
    let mut parsed: Vec<semver::Version> = versions
        .iter()
        .filter_map(|s| semver::Version::parse(s).ok())
        .collect();
    parsed.sort_unstable();
    let reqs: Vec<semver::VersionReq> = reqs
        .iter()
        .filter_map(|s| semver::VersionReq::parse(s).ok())
        .collect();
    let mut hits = 0u64;
    for (i, r) in reqs.iter().enumerate() {
        if let Some(v) = parsed.get(i * 3) {
            hits += u64::from(r.matches(v));
        }
    }
    hits + parsed.len() as u64
}

pub fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map(String::as_str).unwrap_or("churn");
    let scale: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let n = |base: f64| (base * scale).max(1.0) as u64;
    let (elapsed, check) = match what {
        "unwinder" => {
            // Which stack walker allocscope resolved (run.sh checks the builds with it).
            print_unwinder();
            return;
        }
        "churn" => {
            let t = Instant::now();
            let r = churn(n(20e6));
            (t.elapsed(), r)
        }
        "threads" => {
            let t = Instant::now();
            let r = threads(n(5e6));
            (t.elapsed(), r)
        }
        "parse" => {
            let (v, r) = version_strings(n(1e6) as usize);
            let t = Instant::now();
            let out = parse(&v, &r);
            (t.elapsed(), out)
        }
        other => {
            eprintln!("unknown workload `{other}`: expected churn, threads, parse or unwinder");
            std::process::exit(2);
        }
    };
    black_box(check);
    println!("elapsed_ns {}", elapsed.as_nanos());
}

fn print_unwinder() {
    println!("unwinder {}", allocscope::settings().unwinder.name());
}
