//! What `ALLOCSCOPE_OUT` promises without a code change: a profile with a timeline. When the
//! variable is set in a program whose global allocator is a [`crate::Profiler`], the
//! timeline recorder starts before `main` (from `.init_array`, as C constructors do), so the
//! profile written at exit shows live bytes, allocator resident and RSS over the whole run.
//! `ALLOCSCOPE_TIMELINE_MS=N` sets the interval (default 100); `0` turns the recorder off.

/// Runs before `main`. Never unwinds: a panic is caught and the timeline simply not started.
///
/// Deliberately not `untracked`: spawning the first thread before `main` makes std create the
/// main thread's handle, which std frees later on a tracked path; counting both keeps the
/// totals consistent (the recorder's own buffer is allocated untracked by `timeline::start`).
extern "C" fn start_timeline_if_profiling() {
    let _ = std::panic::catch_unwind(|| {
        {
            if std::env::var_os("ALLOCSCOPE_OUT").is_none() {
                return;
            }
            let mut options = crate::timeline::TimelineOptions::default();
            if let Some(v) = std::env::var_os("ALLOCSCOPE_TIMELINE_MS") {
                match v.to_str().and_then(|s| s.trim().parse::<u64>().ok()) {
                    Some(0) => return,
                    Some(ms) => options = options.interval(std::time::Duration::from_millis(ms)),
                    None => eprintln!(
                        "allocscope: invalid ALLOCSCOPE_TIMELINE_MS={}: expected milliseconds (0 = off); using 100",
                        v.to_string_lossy()
                    ),
                }
            }
            // One allocation lets an installed `Profiler` note itself; a program that links
            // allocscope without installing it (like `alloc-report`) starts nothing.
            drop(std::hint::black_box(Box::new(0u8)));
            if crate::is_installed() && !crate::timeline::is_running() {
                if let Err(e) = crate::timeline::start(options) {
                    eprintln!("allocscope: cannot start the timeline recorder: {e}");
                }
            }
        }
    });
}

#[used]
#[link_section = ".init_array"]
static START_TIMELINE: extern "C" fn() = start_timeline_if_profiling;
