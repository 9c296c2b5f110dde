//! Progress on stderr for steps that may take more than a second (reading a large profile,
//! rendering a flamegraph of 100k stacks).
//!
//! A [`Progress`] prints nothing for the first second, and nothing at all when stderr is not
//! a terminal (tests, pipes, CI logs); after that it shows `label… 2.3 s` on one line and
//! clears the line when dropped.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a step runs before its progress line appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(100);

/// A step in progress; dropping it ends the step.
#[derive(Debug)]
pub struct Progress {
    ticker: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Progress {
    /// Starts a step called `label` (e.g. `"rendering flamegraph"`). Shows nothing unless
    /// stderr is a terminal.
    pub fn start(label: impl Into<String>) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { ticker: None };
        }
        let label = label.into();
        let done = Arc::new(AtomicBool::new(false));
        let done_in_thread = Arc::clone(&done);
        let spawned = std::thread::Builder::new()
            .name("alloc-report-progress".into())
            .spawn(move || tick(&label, &done_in_thread));
        Progress {
            ticker: spawned.ok().map(|handle| (done, handle)),
        }
    }
}

fn tick(label: &str, done: &AtomicBool) {
    let start = Instant::now();
    let mut shown = false;
    while !done.load(Ordering::Acquire) {
        std::thread::sleep(TICK);
        let elapsed = start.elapsed();
        if elapsed >= SHOW_AFTER && !done.load(Ordering::Acquire) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{label}… {:.1} s", elapsed.as_secs_f64());
            let _ = err.flush();
            shown = true;
        }
    }
    if shown {
        // Erase the line so the next message starts clean.
        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some((done, handle)) = self.ticker.take() {
            done.store(true, Ordering::Release);
            let _ = handle.join();
        }
    }
}
