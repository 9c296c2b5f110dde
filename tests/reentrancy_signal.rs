//! A signal handler that allocates, delivered thousands of times while the hook runs, over an
//! inner allocator that is itself async-signal-safe (one `mmap` per block, `munmap` to free):
//! any deadlock or crash here is allocscope's own. Sampled and exact modes. See
//! `support/signal_storm.rs`. Its own process (`harness = false`); a child process under a
//! time limit, so a deadlock fails by name.
#![allow(clippy::undocumented_unsafe_blocks)]

#[path = "support/child.rs"]
mod child;
#[path = "support/signal_storm.rs"]
mod signal_storm;

use std::alloc::{GlobalAlloc, Layout};
use std::time::Duration;

/// One anonymous mapping per block: only system calls, so safe to call from a signal handler.
struct MmapAlloc;

const PAGE: usize = 4096;

fn mapped_len(l: Layout) -> usize {
    l.size().div_ceil(PAGE).max(1) * PAGE
}

unsafe impl GlobalAlloc for MmapAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.align() > PAGE {
            return std::ptr::null_mut();
        }
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped_len(l),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            p.cast()
        }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { libc::munmap(p.cast(), mapped_len(l)) };
    }
}

#[global_allocator]
static ALLOC: allocscope::Profiler<MmapAlloc> = allocscope::Profiler::new(MmapAlloc);

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("storm") => {
            println!("signal (mmap): {}", signal_storm::storm(4096, 1_000));
            println!("signal (mmap): {}", signal_storm::storm(1, 1_000));
            return;
        }
        Some(other) if !other.starts_with('-') => panic!("unknown case {other}"),
        _ => {}
    }
    let o = child::run_case("storm", &[], Duration::from_secs(120));
    print!("{}", o.stdout);
    println!("reentrancy_signal: 1 passed, 0 failed ({:.1} s)", o.secs);
}
