//! Faults: an inner allocator that fails on demand, `handle_alloc_error`, and a full disk when
//! the profile is written at exit. No libtest harness: the checks need a quiet process, and
//! the abort and exit cases run this binary again as a child (`faults CHILD-CASE`).
#![allow(clippy::undocumented_unsafe_blocks)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::os::unix::process::CommandExt as _;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// `System`, except that every alloc and realloc returns null while `FAIL` is set.
struct Failing;

static FAIL: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Failing {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if FAIL.load(Relaxed) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if FAIL.load(Relaxed) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if FAIL.load(Relaxed) {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOC: allocscope::Profiler<Failing> = allocscope::Profiler::new(Failing);

const BLOCKS: usize = 100;
const SIZE: usize = 3000;

/// The figures of the call sites whose stack passes through `hold_blocks`:
/// (allocs, live blocks, live bytes, samples).
fn held_sites() -> (u64, u64, u64, u64) {
    // The profile holds raw addresses: names come from symbolizing it (as reports do).
    let mut p = allocscope::collect_profile();
    allocscope::profile::symbolize(&mut p, &Default::default()).expect("symbolize");
    p.sites
        .iter()
        .filter(|s| s.frames.iter().any(|f| f.function.contains("hold_blocks")))
        .fold((0, 0, 0, 0), |a, s| {
            (
                a.0 + s.allocs,
                a.1 + s.live_blocks,
                a.2 + s.live_bytes,
                a.3 + s.samples,
            )
        })
}

#[inline(never)]
fn hold_blocks(held: &mut Vec<*mut u8>) {
    let l = Layout::from_size_align(SIZE, 8).unwrap();
    for i in 0..BLOCKS {
        let p = unsafe { ALLOC.alloc(l) };
        assert!(!p.is_null());
        unsafe { p.write_bytes(i as u8, SIZE) };
        held.push(p);
    }
}

/// Failed alloc, alloc_zeroed and realloc calls change no count, keep the old block intact,
/// and leave the call-site table agreeing with the counts.
fn failed_calls_change_nothing(mode: &str, sample_bytes: u64) {
    allocscope::Config::new().sample_bytes(sample_bytes).apply();
    let mut held: Vec<*mut u8> = Vec::with_capacity(BLOCKS);
    let before_sites = held_sites();
    hold_blocks(&mut held);
    let l = Layout::from_size_align(SIZE, 8).unwrap();
    let big = Layout::from_size_align(1 << 20, 4096).unwrap();
    FAIL.store(true, Relaxed);
    let mut nulls = 0;
    // `measure` reads this thread's counters without allocating: exact zero expected.
    let ((), counted) = allocscope::measure(|| {
        for &p in &held {
            unsafe {
                nulls += usize::from(ALLOC.alloc(l).is_null());
                nulls += usize::from(ALLOC.alloc_zeroed(big).is_null());
                nulls += usize::from(ALLOC.realloc(p, l, 2 * SIZE).is_null());
                nulls += usize::from(ALLOC.realloc(p, l, SIZE / 2).is_null());
            }
        }
    });
    FAIL.store(false, Relaxed);
    assert_eq!(
        counted,
        allocscope::Counts::default(),
        "{mode}: failed calls counted"
    );
    assert_eq!(nulls, 4 * BLOCKS, "{mode}: every call failed");
    for (i, &p) in held.iter().enumerate() {
        let s = unsafe { std::slice::from_raw_parts(p, SIZE) };
        assert!(
            s.iter().all(|&b| b == i as u8),
            "{mode}: a failed realloc kept the block"
        );
    }
    let mid = held_sites();
    // Every held block is live at its site, once, with its size; in exact mode exactly.
    if sample_bytes == 1 {
        assert_eq!(
            mid.1 - before_sites.1,
            BLOCKS as u64,
            "{mode}: live blocks at the site"
        );
        assert_eq!(
            mid.2 - before_sites.2,
            (BLOCKS * SIZE) as u64,
            "{mode}: live bytes at the site"
        );
        assert_eq!(
            mid.0 - before_sites.0,
            BLOCKS as u64,
            "{mode}: a failed realloc must not count as an allocation at its site"
        );
    }
    for p in held.drain(..) {
        unsafe { ALLOC.dealloc(p, l) };
    }
    let after = held_sites();
    assert_eq!(
        (after.1, after.2),
        (0, 0),
        "{mode}: every free reached its site"
    );
    println!(
        "faults: {mode}: {} failed calls, counts unchanged, site table consistent",
        4 * BLOCKS
    );
}

/// Runs this binary as `faults CASE`, with `env`, returning (status, stderr).
fn child(
    case: &str,
    env: &[(&str, &std::ffi::OsStr)],
    fsize_limit: Option<u64>,
) -> (std::process::ExitStatus, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg(case).env_remove("ALLOCSCOPE_OUT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(limit) = fsize_limit {
        unsafe {
            cmd.pre_exec(move || {
                // A file-size limit makes writes fail as on a full disk (EFBIG instead of
                // ENOSPC); SIGXFSZ ignored so the write returns the error.
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let r = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = cmd.output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn handle_alloc_error_aborts_with_the_std_message() {
    let (status, stderr) = child("oom", &[], None);
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status:?} {stderr}");
    assert!(
        stderr.contains("memory allocation of 1048576 bytes failed"),
        "std's message: {stderr}"
    );
    println!("faults: handle_alloc_error: SIGABRT with std's message");
}

/// The profile cannot be written: one line on stderr, no file (partial or temporary) left,
/// exit status unchanged.
fn full_disk_at_exit() {
    let one_line = |what: &str, stderr: &str, path: &str| {
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: {stderr}");
        assert!(
            lines[0].starts_with("allocscope: could not write the profile: ")
                && lines[0].contains(path),
            "{what}: {stderr}"
        );
    };
    // /dev/full: written in place (never renamed over), ENOSPC.
    let (status, stderr) = child("exit3", &[("ALLOCSCOPE_OUT", "/dev/full".as_ref())], None);
    assert_eq!(status.code(), Some(3), "{stderr}");
    one_line("/dev/full", &stderr, "/dev/full");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    use std::os::unix::fs::FileTypeExt as _;
    assert!(std::fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());
    let strays: Vec<_> = std::fs::read_dir("/dev")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".full.tmp"))
        .collect();
    assert!(
        strays.is_empty(),
        "temporary files left in /dev: {strays:?}"
    );
    println!("faults: ALLOCSCOPE_OUT=/dev/full: one-line error, exit status kept");

    // A regular file that cannot grow past 512 bytes: the same failure halfway through a write.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.json");
    let (status, stderr) = child("exit3", &[("ALLOCSCOPE_OUT", out.as_os_str())], Some(512));
    assert_eq!(status.code(), Some(3), "{stderr}");
    one_line("file size limit", &stderr, &out.display().to_string());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "no partial or temporary file: {left:?}");
    println!("faults: profile larger than the file-size limit: one-line error, no file left, exit status kept");

    // A real full file system, when this process may mount one (root, not in every CI).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(d)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        println!("faults: 1 MB tmpfs: skipped (cannot mount here)");
        return;
    }
    let filler = d.join("filler");
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![7u8; 4096];
        while f.write_all(&chunk).is_ok() {}
    }
    let filled = std::fs::metadata(&filler).unwrap().len();
    let out = d.join("p.json");
    let (status, stderr) = child("exit3", &[("ALLOCSCOPE_OUT", out.as_os_str())], None);
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let _ = Command::new("umount").arg(d).status();
    assert_eq!(status.code(), Some(3), "{stderr}");
    one_line("1 MB tmpfs", &stderr, &out.display().to_string());
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(names, vec!["filler".to_string()], "only the filler is left");
    println!("faults: 1 MB tmpfs filled ({filled} bytes): ENOSPC, one-line error, no file left, exit status kept");
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("oom") => {
            FAIL.store(true, Relaxed);
            let v: Vec<u8> = Vec::with_capacity(1 << 20);
            std::hint::black_box(&v);
            unreachable!("the allocation cannot have succeeded");
        }
        Some("exit3") => {
            let v: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
            std::hint::black_box(&v);
            std::process::exit(3);
        }
        Some(other) if !other.starts_with('-') => panic!("unknown case {other}"),
        _ => {}
    }
    failed_calls_change_nothing("sampled", 1024);
    failed_calls_change_nothing("exact", 1);
    handle_alloc_error_aborts_with_the_std_message();
    full_disk_at_exit();
    println!("faults: 3 passed, 0 failed");
}
