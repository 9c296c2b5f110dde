//! The periodic flush (`ALLOCSCOPE_FLUSH_SECS=N`): the profile of `ALLOCSCOPE_OUT` rewritten
//! every N seconds by an internal reporter thread ([`crate::observe::background`]), never by
//! the allocator hooks, so that a process killed without warning (the OOM killer's
//! `SIGKILL`, a container's eviction) leaves a profile at most N seconds old (plus the time
//! one write takes). Each file is written atomically (temporary file, rename: a reader never
//! sees half a profile) and marked `meta.kind = "flushed"`; the write at normal exit replaces
//! it with the `"final"` profile. See `docs/production.md`, "Periodic flush".
//!
//! The flush is allocscope's own work: its thread is internal, so what it allocates is
//! counted in the gap's `profiler` term, never as the program's.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::observe::background::ReporterThread;

static THREAD: Mutex<Option<ReporterThread>> = Mutex::new(None);

/// Starts flushing every `interval` to the path `path` gives at each flush (none: skip this
/// one), replacing a flush already running. The path comes from the runtime's configuration,
/// which this layer does not name (imports flow observe → runtime, never back).
pub(crate) fn start(interval: Duration, path: fn() -> Option<PathBuf>) -> std::io::Result<()> {
    stop();
    // The main thread's handle, if std creates it now, is made on a counted path: std frees
    // it on one too.
    drop(std::thread::current());
    crate::hook::guard::untracked(|| {
        let thread = ReporterThread::spawn(
            "allocscope-flush",
            interval,
            || false,
            move |failing: &mut bool| {
                let Some(path) = path() else {
                    return;
                };
                match crate::observe::profile_writer::write_flushed(&path) {
                    Ok(()) => *failing = false,
                    // One line when flushing starts to fail, not one every interval.
                    Err(e) if !*failing => {
                        *failing = true;
                        eprintln!("allocscope: periodic flush: could not write the profile: {e}");
                    }
                    Err(_) => {}
                }
            },
        )?;
        let old = THREAD
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(thread);
        drop(old);
        Ok(())
    })
}

/// Stops the flush and waits for a write in progress (the final write must not race it).
/// Does nothing when not flushing.
pub(crate) fn stop() {
    // A forked child has no flush thread, and the parent's thread may have held its locks at
    // the moment of the fork: nothing to stop, nothing to lock.
    if crate::hook::forked::in_forked_child() {
        return;
    }
    crate::hook::guard::untracked(|| {
        let thread = THREAD.lock().unwrap_or_else(|e| e.into_inner()).take();
        // Joined outside the lock.
        drop(thread);
    });
}
