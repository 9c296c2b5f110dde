//! What `ALLOCSCOPE_OUT` promises without a code change: a profile with a timeline. When the
//! variable is set in a program whose global allocator is a [`crate::Profiler`], the
//! timeline recorder starts before `main` (from `.init_array`, as C constructors do), so the
//! profile written at exit shows live bytes, allocator resident and RSS over the whole run.

/// Runs before `main`. Never unwinds: a panic is caught and the timeline simply not started.
extern "C" fn start_timeline_if_profiling() {
    let _ = std::panic::catch_unwind(|| {
        crate::reentrancy::untracked(|| {
            if std::env::var_os("ALLOCSCOPE_OUT").is_none() {
                return;
            }
            // One allocation lets an installed `Profiler` note itself; a program that links
            // allocscope without installing it (like `alloc-report`) starts nothing.
            drop(std::hint::black_box(Box::new(0u8)));
            if crate::is_installed() && !crate::timeline::is_running() {
                if let Err(e) = crate::timeline::start(Default::default()) {
                    eprintln!("allocscope: cannot start the timeline recorder: {e}");
                }
            }
        });
    });
}

#[used]
#[link_section = ".init_array"]
static START_TIMELINE: extern "C" fn() = start_timeline_if_profiling;
