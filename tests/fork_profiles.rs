//! A multi-threaded program forks 100 times while its other threads allocate (and the
//! timeline recorder samples every millisecond); each child allocates, checks its counts and
//! exits normally, writing its own profile through `ALLOCSCOPE_OUT=…-%p.json`. No child may
//! hang, every profile must be readable and name its own process, and the parent's profile
//! must be intact (stack capture off there, to keep the run short; on in the second run). A second run without `%p` checks that children then write nothing and the
//! parent's file is the parent's.
//!
//! No libtest harness: the program runs as a child of this test (`fork_profiles run N`),
//! under a time limit.
#![allow(clippy::undocumented_unsafe_blocks)]

#[path = "support/child.rs"]
mod child;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use allocscope::profile::Profile;

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

/// The profiled program: allocating threads, and `forks` children.
fn run(forks: usize) {
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let threads: Vec<_> = (0..3)
        .map(|t| {
            std::thread::spawn(move || {
                let mut keep: Vec<Vec<u8>> = Vec::new();
                let mut i = 0usize;
                while !stop.load(Relaxed) {
                    keep.push(black_box(vec![t as u8; 16 + i % 5000]));
                    if keep.len() > 64 {
                        keep.drain(..32);
                    }
                    i += 1;
                }
            })
        })
        .collect();
    let start = Instant::now();
    for k in 0..forks {
        std::thread::sleep(Duration::from_millis(2));
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // The child: one thread, inherited counters. Allocate, check, exit normally
            // (the exit hook writes this process's profile).
            let (v, c) =
                allocscope::measure(|| (0..100).map(|i| i.to_string()).collect::<Vec<_>>());
            let ok = c.allocs == 101 && v.len() == 100;
            drop(v);
            std::process::exit(if ok { 0 } else { 7 });
        }
        // Wait with a deadline: a child stuck on a lock held at fork time would hang here.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut status = 0;
        loop {
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if Instant::now() > deadline {
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("fork {k}: child {pid} still running after 60 s: deadlocked");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "fork {k}: child {pid} failed: status {status}"
        );
    }
    stop.store(true, Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    println!(
        "forks={forks} pid={} secs={:.2}",
        std::process::id(),
        start.elapsed().as_secs_f64()
    );
}

fn parent_pid(stdout: &str) -> u32 {
    stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix("pid="))
        .and_then(|p| p.parse().ok())
        .expect("the program printed its pid")
}

/// A directory on tmpfs when there is one: 101 profiles written with `fsync` each would
/// otherwise measure the disk, not allocscope.
fn scratch() -> tempfile::TempDir {
    match std::path::Path::new("/dev/shm") {
        shm if shm.is_dir() => tempfile::tempdir_in(shm).unwrap(),
        _ => tempfile::tempdir().unwrap(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("run") => return run(args.next().unwrap().parse().unwrap()),
        Some(other) if !other.starts_with('-') => panic!("unknown case {other}"),
        _ => {}
    }
    let limit = Duration::from_secs(600);
    let dir = scratch();

    // Per-process profiles.
    let pattern = dir.path().join("p-%p.json");
    // Stack capture off here: each child would otherwise symbolize its inherited call sites
    // (seconds per child in a debug build); the second run below keeps it on.
    let o = child::run_case(
        "run 100",
        &[
            ("ALLOCSCOPE_OUT", pattern.to_str().unwrap()),
            ("ALLOCSCOPE_TIMELINE_MS", "1"),
            ("ALLOCSCOPE", "off"),
        ],
        limit,
    );
    let parent = parent_pid(&o.stdout);
    let mut pids = Vec::new();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let pid: u32 = name
            .strip_prefix("p-")
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("stray file {name}"));
        let p = Profile::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.meta.pid, pid, "{name} is that process's profile");
        pids.push(pid);
        if pid == parent {
            assert!(p.totals.allocs > 10_000, "the parent's profile has its run");
            assert!(!p.timeline.is_empty(), "the parent's timeline");
        }
    }
    assert!(pids.contains(&parent), "the parent's profile is there");
    assert_eq!(pids.len(), 101, "one profile per process: {pids:?}");
    println!(
        "fork_profiles: 100 forks under allocating threads, 101 profiles (one per process), {:.1} s",
        o.secs
    );

    // Without `%p`: the children write nothing; the file is the parent's (stacks on).
    let dir = scratch();
    let out = dir.path().join("app.json");
    let o = child::run_case(
        "run 30",
        &[
            ("ALLOCSCOPE_OUT", out.to_str().unwrap()),
            ("ALLOCSCOPE_TIMELINE_MS", "1"),
        ],
        limit,
    );
    let p = Profile::read(&out).unwrap();
    assert_eq!(
        p.meta.pid,
        parent_pid(&o.stdout),
        "the parent's profile, not a child's"
    );
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 1, "only the parent wrote");
    println!(
        "fork_profiles: without %p only the parent writes ({:.1} s)",
        o.secs
    );
    println!("fork_profiles: 2 passed, 0 failed");
}
