//! The periodic flush (`ALLOCSCOPE_FLUSH_SECS`, issue 13): a process killed with `SIGKILL`
//! leaves a readable profile, marked flushed, at most N seconds old (plus one write's time);
//! `alloc-report` reads it and says it is a flushed profile. The flush's own work is not the
//! program's: a deterministic program's exact totals are the same with and without it.
//!
//! One process per scenario: this binary runs itself as a child with `FLUSH_CHILD=<scenario>`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use allocscope::profile::{Profile, ProfileKind};

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

/// The flush interval of the kill scenario, seconds.
const N: u64 = 1;

fn main() {
    match std::env::var("FLUSH_CHILD").as_deref() {
        Ok("forever") => child_forever(),
        Ok("fixed") => child_fixed(),
        Ok(other) => panic!("unknown scenario {other}"),
        Err(_) => {
            killed_process_leaves_a_fresh_flushed_profile();
            flush_is_not_the_programs_work();
            println!("flush: ok");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Children

/// Allocates and frees in a loop until killed, from one function.
fn child_forever() {
    let mut keep: Vec<Vec<u8>> = Vec::new();
    let mut i = 0u64;
    loop {
        keep.push(allocating_function(i));
        if keep.len() > 1000 {
            keep.drain(..500);
        }
        i += 1;
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[inline(never)]
fn allocating_function(i: u64) -> Vec<u8> {
    vec![i as u8; 100 + (i % 1000) as usize]
}

/// A fixed number of allocations, then a wait long enough for several flushes.
fn child_fixed() {
    let v: Vec<Box<[u8; 64]>> = (0..10_000).map(|i| Box::new([i as u8; 64])).collect();
    std::hint::black_box(&v);
    drop(v);
    std::thread::sleep(Duration::from_millis(1300));
}

// ---------------------------------------------------------------------------------------
// Checks

fn child(scenario: &str, out: &Path, flush_secs: Option<&str>) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("FLUSH_CHILD", scenario)
        .env("ALLOCSCOPE_OUT", out)
        .env("ALLOCSCOPE_TIMELINE_MS", "0")
        .env_remove("ALLOCSCOPE_SYMBOLIZE")
        .env_remove("ALLOCSCOPE_FLUSH_SECS");
    if let Some(s) = flush_secs {
        cmd.env("ALLOCSCOPE_FLUSH_SECS", s);
    }
    cmd
}

fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn killed_process_leaves_a_fresh_flushed_profile() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed.json");
    let mut c = child("forever", &out, Some(&N.to_string()))
        .spawn()
        .unwrap();
    let started = Instant::now();
    // More than N seconds: two flushes at least (at N and 2N).
    std::thread::sleep(Duration::from_millis(2500 * N));
    // SAFETY: kill(2) on the child's pid, which we have not waited for (it cannot be reused).
    let rc = unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGKILL) };
    let killed_ms = unix_ms_now();
    assert_eq!(rc, 0);
    let status = c.wait().unwrap();
    assert!(!status.success(), "the child was killed: {status:?}");
    let ran = started.elapsed();

    let p = Profile::read(&out).expect("a readable profile after SIGKILL");
    assert_eq!(p.meta.kind, ProfileKind::Flushed);
    assert_eq!(p.meta.pid, c.id());
    let written = p.meta.written_unix_ms.expect("written_unix_ms");
    let age_ms = killed_ms.saturating_sub(written);
    eprintln!(
        "flush: killed after {:.2} s; the profile's figures were {age_ms} ms old (N = {N} s), \
         {} allocations, {} call sites",
        ran.as_secs_f64(),
        p.totals.allocs,
        p.sites.len()
    );
    // At most N seconds old, plus the time of one write (milliseconds; 250 ms of margin for
    // a loaded machine).
    assert!(
        age_ms <= N * 1000 + 250,
        "profile {age_ms} ms old at the kill"
    );
    assert!(written <= killed_ms);
    assert!(p.totals.allocs > 1000, "{:?}", p.totals);
    assert!(!p.sites.is_empty() && !p.addresses.is_empty());
    // No temporary file left behind by a completed write (one in progress at the kill may
    // remain: the rename never happened, the profile is the previous one).
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() <= 2, "{names:?}");

    // alloc-report reads it, symbolizes it, and says it is a flushed profile.
    let report = Command::new(env!("CARGO_BIN_EXE_alloc-report"))
        .args(["summary".as_ref(), out.as_os_str()])
        .output()
        .unwrap();
    assert!(report.status.success(), "{report:?}");
    let text = String::from_utf8(report.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("allocscope summary:"));
    let note = lines.next().unwrap();
    assert!(
        note.starts_with("Flushed profile, not a final one"),
        "{text}"
    );
    assert!(text.contains("allocating_function"), "{text}");
    let json = Command::new(env!("CARGO_BIN_EXE_alloc-report"))
        .args(["summary".as_ref(), "--json".as_ref(), out.as_os_str()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["profile_kind"], "flushed");
    let html = dir.path().join("killed.html");
    let r = Command::new(env!("CARGO_BIN_EXE_alloc-report"))
        .args([
            "html".as_ref(),
            out.as_os_str(),
            "-o".as_ref(),
            html.as_os_str(),
        ])
        .output()
        .unwrap();
    assert!(r.status.success(), "{r:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("\"profile_note\":\"Flushed profile, not a final one"));
}

/// The flush's work (≈13 profile writes) is allocscope's: the program's exact totals are the
/// same as in a run whose flush thread runs but never writes (interval 1000 s). Starting the
/// thread itself costs the program no allocation and at most one free: std frees one block of
/// its own on the new thread before the thread can mark itself internal.
fn flush_is_not_the_programs_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut totals = Vec::new();
    for (i, flush) in [None, Some("1000"), Some("0.1")].into_iter().enumerate() {
        let out = dir.path().join(format!("fixed-{i}.json"));
        let s = child("fixed", &out, flush).status().unwrap();
        assert!(s.success(), "{s:?}");
        let p = Profile::read(&out).unwrap();
        // The exit's write replaced the flushes: a final profile.
        assert_eq!(p.meta.kind, ProfileKind::Final);
        totals.push(p.totals);
    }
    let (off, idle, busy) = (&totals[0], &totals[1], &totals[2]);
    eprintln!(
        "flush: program's totals without flush {} allocs {} frees {} live bytes; with the \
         flush thread {} / {} / {}; with 13 flushes {} / {} / {}",
        off.allocs,
        off.frees,
        off.live_bytes,
        idle.allocs,
        idle.frees,
        idle.live_bytes,
        busy.allocs,
        busy.frees,
        busy.live_bytes
    );
    assert_eq!(idle, busy, "the flushes changed the program's totals");
    assert!(off.allocs >= 10_000);
    // The thread's start and its stop at exit: nothing of the program's.
    assert_eq!(off, idle, "the flush thread changed the program's totals");
    // Every temporary file was renamed: only the profiles are left.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}
