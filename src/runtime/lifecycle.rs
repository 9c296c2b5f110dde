//! The lifecycle: what runs at start-up (before `main`) and at exit.
//!
//! **Exit.** `ALLOCSCOPE_OUT` / [`crate::Config::out`]: write a profile when the process exits
//! normally.
//!
//! `%p` in the path stands for the process id. A forked child that exits normally writes its
//! own profile only when the path has `%p` (so it never overwrites its parent's file).
//!
//! Registered with `atexit` the first time an output path is configured (before `main` when
//! the environment sets it, see below, or from `Config::apply`), so it runs after `main`
//! returns or on `std::process::exit`, not on a signal or `abort`. glibc's `atexit` keeps its
//! list with its own malloc, never the Rust global allocator.
//!
//! **Periodic flush.** With `ALLOCSCOPE_FLUSH_SECS=N`, registering the handler also starts
//! the flush thread ([`crate::observe::flush`]), which rewrites the profile every N seconds
//! until the exit handler stops it (before the final write).
//!
//! **Start-up.** What `ALLOCSCOPE_OUT` promises without a code change: a profile with a
//! timeline. When the variable is set in a program whose global allocator is a
//! [`crate::Profiler`], a constructor (`.init_array`, as C constructors do) registers the exit
//! handler and starts the timeline recorder before `main`, so the profile written at exit
//! shows live bytes, allocator resident and RSS over the whole run. `ALLOCSCOPE_TIMELINE_MS`
//! ([`crate::runtime::config`]) sets the interval; `0` turns the recorder off.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::AcqRel, Ordering::Relaxed};

/// The process that registered the handler: a forked child that exits normally inherits the
/// handler but must not overwrite its parent's profile.
static OWNER_PID: AtomicU32 = AtomicU32::new(0);

/// Registers the exit handler once.
pub(crate) fn register() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, AcqRel) {
        return;
    }
    OWNER_PID.store(std::process::id(), Relaxed);
    // SAFETY: `at_exit` is an `extern "C" fn()` that never unwinds (it catches panics).
    unsafe {
        libc::atexit(at_exit);
    }
    #[cfg(feature = "serde")]
    if let Some(interval) = crate::hook::guard::untracked(crate::runtime::config::flush_interval) {
        let path =
            || crate::runtime::config::out_path().and_then(|p| path_for_this_process(p, false));
        if let Err(e) = crate::observe::flush::start(interval, path) {
            eprintln!("allocscope: cannot start the periodic flush: {e}");
        }
    }
}

extern "C" fn at_exit() {
    let forked_child = OWNER_PID.load(Relaxed) != std::process::id();
    let _ = std::panic::catch_unwind(|| {
        // The periodic flush ends first: its last write must not land after the final one.
        #[cfg(feature = "serde")]
        crate::observe::flush::stop();
        crate::hook::guard::untracked(|| write_if_configured(forked_child));
    });
}

/// The path a process writes: `%p` replaced by its process id. Without `%p`, a forked child
/// writes nothing (the path is its parent's); with it, every process writes its own file.
pub(crate) fn path_for_this_process(
    path: std::path::PathBuf,
    forked_child: bool,
) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
    let bytes = path.as_os_str().as_bytes();
    if !bytes.windows(2).any(|w| w == b"%p") {
        return (!forked_child).then_some(path);
    }
    let pid = std::process::id().to_string();
    let mut out = Vec::with_capacity(bytes.len() + pid.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' && bytes.get(i + 1) == Some(&b'p') {
            out.extend_from_slice(pid.as_bytes());
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(std::ffi::OsString::from_vec(out).into())
}

#[cfg(feature = "serde")]
fn write_if_configured(forked_child: bool) {
    let Some(path) = crate::runtime::config::out_path() else {
        return;
    };
    if let Some(path) = path_for_this_process(path, forked_child) {
        if let Err(e) = crate::observe::profile_writer::write_profile(&path) {
            eprintln!("allocscope: could not write the profile: {e}");
        }
    }
}

#[cfg(not(feature = "serde"))]
fn write_if_configured(forked_child: bool) {
    let Some(path) = crate::runtime::config::out_path() else {
        return;
    };
    if path_for_this_process(path, forked_child).is_some() {
        eprintln!(
            "allocscope: ALLOCSCOPE_OUT needs allocscope's `serde` feature; no profile written"
        );
    }
}

/// Runs before `main` (Linux: from `.init_array`). Never unwinds: a panic is caught and
/// nothing started.
///
/// Deliberately not `untracked`: spawning the first thread before `main` makes std create the
/// main thread's handle, which std frees later on a tracked path; counting both keeps the
/// totals consistent (the recorder's own buffer is allocated untracked by `timeline::start`).
#[cfg(target_os = "linux")]
extern "C" fn at_start() {
    let _ = std::panic::catch_unwind(|| {
        // Reading the environment and the probe below are allocscope's own allocations, made
        // and freed here, untracked: they were the program's first two, a row of their own
        // (`_start <- __libc_start_main`) in every exact-mode profile.
        let (installed, sets_out) = crate::hook::guard::untracked(|| {
            if std::env::var_os("ALLOCSCOPE_OUT").is_none() {
                return (false, false);
            }
            // One allocation lets an installed `Profiler` note itself and read the
            // environment (the hook notes itself before it looks at the guard); a program
            // that links allocscope without installing it (like `alloc-report`) starts
            // nothing.
            drop(std::hint::black_box(Box::new(0u8)));
            let installed = crate::hook::profiler::is_installed();
            (
                installed,
                installed && crate::hook::settings::env_sets_out(),
            )
        });
        if !installed {
            return;
        }
        if sets_out {
            register();
        }
        #[cfg(feature = "serde")]
        start_timeline();
    });
}

#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static AT_START: extern "C" fn() = at_start;

/// Starts the timeline recorder (unless `ALLOCSCOPE_TIMELINE_MS=0`).
#[cfg(feature = "serde")]
fn start_timeline() {
    let Some(interval) = crate::runtime::config::timeline_interval() else {
        return;
    };
    let options = crate::observe::timeline::TimelineOptions::default().interval(interval);
    if !crate::observe::timeline::is_running() {
        if let Err(e) = crate::observe::timeline::start(options) {
            eprintln!("allocscope: cannot start the timeline recorder: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::path_for_this_process;
    use std::path::PathBuf;

    #[test]
    fn percent_p_is_the_pid_and_lets_children_write() {
        let pid = std::process::id();
        let p = |s: &str, child| path_for_this_process(PathBuf::from(s), child);
        assert_eq!(p("a.json", false), Some(PathBuf::from("a.json")));
        assert_eq!(p("a.json", true), None);
        assert_eq!(
            p("a-%p.json", true),
            Some(PathBuf::from(format!("a-{pid}.json")))
        );
        assert_eq!(
            p("%p/%p%", false),
            Some(PathBuf::from(format!("{pid}/{pid}%")))
        );
    }
}
