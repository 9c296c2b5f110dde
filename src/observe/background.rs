//! The reporter thread: runs a closure every interval on a thread marked internal, until its
//! handle is stopped or dropped. Shared by [`crate::StatsLogger`] and [`crate::timeline`].

use std::mem::ManuallyDrop;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::observe::internal_thread::{self, InternalThread};

/// A running reporter thread. Dropping it stops the thread and waits for its current tick
/// to finish.
#[derive(Debug)]
pub(crate) struct ReporterThread {
    /// Allocated and dropped untracked: allocscope's memory, whichever thread drops it last.
    shared: ManuallyDrop<Arc<Shared>>,
    thread: Option<InternalThread>,
    /// The process that spawned the thread: a forked child has no such thread to join.
    pid: u32,
}

#[derive(Debug, Default)]
struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
}

impl ReporterThread {
    /// Spawns a thread named `name` (the kernel's name, at most 15 bytes; std's
    /// `Thread::name` is `None`) that first makes its state with `init`, then runs `tick`
    /// on it every `interval` (at a fixed rate; a tick that overruns delays the next without
    /// piling up). The thread marks itself internal before anything else, so nothing it
    /// allocates counts as the program's; the state lives and dies on that thread (memory
    /// allocated by an internal thread must not be freed by a counted one).
    pub(crate) fn spawn<St, I, T>(
        name: &str,
        interval: Duration,
        init: I,
        mut tick: T,
    ) -> std::io::Result<ReporterThread>
    where
        I: FnOnce() -> St + Send + 'static,
        T: FnMut(&mut St) + Send + 'static,
    {
        let interval = interval.max(Duration::from_millis(1));
        let shared = crate::hook::guard::untracked(|| Arc::new(Shared::default()));
        let theirs = Arc::clone(&shared);
        let thread = internal_thread::spawn(name, move || {
            let mut state = init();
            let mut next = Instant::now() + interval;
            loop {
                {
                    let mut stop = theirs.stop.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if *stop {
                            return;
                        }
                        let now = Instant::now();
                        if now >= next {
                            break;
                        }
                        stop = theirs
                            .wake
                            .wait_timeout(stop, next - now)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                }
                tick(&mut state);
                next += interval;
                let now = Instant::now();
                if next < now {
                    next = now + interval;
                }
            }
        })?;
        Ok(ReporterThread {
            shared: ManuallyDrop::new(shared),
            thread: Some(thread),
            pid: std::process::id(),
        })
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if std::process::id() != self.pid {
            // In a forked child the thread does not exist (nothing to stop or join), and it
            // may have held the stop lock at the moment of the fork: never wait for it.
            self.thread = None;
            return;
        }
        *self.shared.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            // A panic of the reporter thread has already been reported by the panic hook.
            t.join();
        }
    }
}

impl Drop for ReporterThread {
    fn drop(&mut self) {
        self.stop_and_join();
        // SAFETY: `shared` is dropped here only, once, and never used after.
        let shared = unsafe { ManuallyDrop::take(&mut self.shared) };
        crate::hook::guard::untracked(|| drop(shared));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn ticks_until_dropped() {
        let ticks = Arc::new(AtomicU32::new(0));
        let internal = Arc::new(AtomicU32::new(0));
        let (t, i) = (Arc::clone(&ticks), Arc::clone(&internal));
        let r = ReporterThread::spawn(
            "test-reporter",
            Duration::from_millis(5),
            move || {
                i.store(
                    crate::hook::guard::is_thread_internal() as u32,
                    Ordering::SeqCst,
                )
            },
            move |()| {
                t.fetch_add(1, Ordering::SeqCst);
            },
        )
        .unwrap();
        while ticks.load(Ordering::SeqCst) < 3 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let started = Instant::now();
        drop(r);
        // Stopping does not wait for the next interval.
        assert!(started.elapsed() < Duration::from_secs(1));
        let after = ticks.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(ticks.load(Ordering::SeqCst), after, "ticked after drop");
        assert_eq!(internal.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn stop_wakes_a_long_wait() {
        let r = ReporterThread::spawn("test-reporter", Duration::from_secs(3600), || {}, |()| {})
            .unwrap();
        let started = Instant::now();
        r.stop();
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
