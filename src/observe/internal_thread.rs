//! allocscope's own threads (the reporter thread, the HTTP server): POSIX threads that mark
//! themselves internal before running anything, so that none of their work is counted as the
//! program's.
//!
//! Not `std::thread::spawn`: std's thread start runs on the new thread before any code of
//! ours (it copies the thread's name and frees the spawner's boxed closure there), which
//! would count that work as the program's. Here the spawner's allocations (the boxed closure)
//! are made in an untracked scope, the new thread marks itself internal first thing and frees
//! them uncounted, and joining happens untracked too: the program's figures do not move.

use std::io;

/// What the new thread starts from: its kernel name and its work.
struct Start {
    /// NUL-terminated, at most 15 bytes before the NUL (the kernel's limit).
    name: [u8; 16],
    work: Box<dyn FnOnce() + Send>,
}

/// A running internal thread, to be joined or detached.
#[derive(Debug)]
pub(crate) struct InternalThread {
    id: libc::pthread_t,
}

/// Starts `work` on a new internal thread named `name` (the first 15 bytes). A panic in
/// `work` ends the thread (after the panic hook reported it) and nothing else.
pub(crate) fn spawn(
    name: &str,
    work: impl FnOnce() + Send + 'static,
) -> io::Result<InternalThread> {
    crate::hook::guard::untracked(|| {
        let mut start = Start {
            name: [0; 16],
            work: Box::new(work),
        };
        for (d, s) in start.name.iter_mut().zip(name.bytes().take(15)) {
            *d = s;
        }
        let arg = Box::into_raw(Box::new(start));
        let mut id: libc::pthread_t = 0;
        // SAFETY: `run` has the signature `pthread_create` expects; it takes ownership of
        // `arg`, a `Box<Start>` leaked just above, exactly once. Default attributes.
        let rc = unsafe { libc::pthread_create(&mut id, std::ptr::null(), run, arg.cast()) };
        if rc != 0 {
            // SAFETY: no thread was created, so `arg` is still ours, and still a valid box.
            drop(unsafe { Box::from_raw(arg) });
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(InternalThread { id })
    })
}

impl InternalThread {
    /// Waits for the thread to end. Call it from the process that spawned it (a forked child
    /// has no such thread).
    pub(crate) fn join(self) {
        crate::hook::guard::untracked(|| {
            // SAFETY: `id` is a thread this process created, not detached and not joined
            // before (`join` and `detach` take `self`).
            unsafe { libc::pthread_join(self.id, std::ptr::null_mut()) };
        });
    }

    /// Lets the thread run on its own; the system reclaims it when it ends.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // the HTTP server's thread
    pub(crate) fn detach(self) {
        // SAFETY: `id` is a thread this process created, not detached and not joined before.
        unsafe { libc::pthread_detach(self.id) };
    }
}

/// The new thread: internal before anything else, then named, then its work. Never unwinds.
extern "C" fn run(arg: *mut libc::c_void) -> *mut libc::c_void {
    crate::hook::guard::mark_thread_internal();
    // Its stack is allocscope's memory, not the program's (docs/gap.md).
    let _stack = crate::hook::own_memory::OwnThreadStack::register();
    // SAFETY: `arg` is the `Box<Start>` that `spawn` leaked for this thread and handed over
    // to it alone.
    let start = unsafe { Box::from_raw(arg.cast::<Start>()) };
    let Start { name, work } = *start;
    // SAFETY: `name` is NUL-terminated (16 bytes, at most 15 copied into it), within the
    // kernel's limit of 16 bytes with the NUL.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::pthread_setname_np(libc::pthread_self(), name.as_ptr().cast());
    }
    #[cfg(not(target_os = "linux"))]
    let _ = name;
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    std::ptr::null_mut()
}
