//! After `fork` the child keeps counting exactly: the hook holds no lock another thread
//! could have held at fork time, and the child's thread keeps its counter slot.
//! No libtest harness (`harness = false`): fork in a single-threaded process.

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

fn main() {
    // A thread that exits before the fork, so its slot's counts are inherited too.
    std::thread::spawn(|| drop(std::hint::black_box(vec![1u8; 5000])))
        .join()
        .unwrap();
    let parent_before = allocscope::snapshot();
    // SAFETY: the process is single-threaded at this point (the thread above was joined),
    // so the child may allocate freely.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = std::panic::catch_unwind(|| {
            let before = allocscope::snapshot();
            // A snapshot allocates its list of classes, and its cgroup's path when the
            // process has a memory cgroup: the caller's, counted.
            let own = 1 + u64::from(parent_before.cgroup.is_some());
            assert_eq!(
                before.allocs,
                parent_before.allocs + own,
                "inherited counts (+ parent's snapshot)"
            );
            let (v, c) = allocscope::measure(|| vec![7u64; 1000]);
            assert_eq!((c.allocs, c.bytes_allocated), (1, 8000));
            drop(v);
            let after = allocscope::snapshot();
            assert_eq!(
                after.allocs - before.allocs,
                1 + own,
                "the Vec and what `before` allocated"
            );
        })
        .is_ok();
        // SAFETY: _exit ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: {status}"
    );
    println!("fork: 1 passed, 0 failed");
}
