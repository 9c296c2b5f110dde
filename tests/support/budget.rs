//! The budget macros' tests, shared by `budgets_system`, `budgets_jemalloc` and
//! `budgets_mimalloc` (each installs its allocator and includes this module). Every figure is
//! computed by hand from the code under test, or observed independently (capacity changes).

use std::panic::{catch_unwind, AssertUnwindSafe};

/// The line of this file that ends with the comment `// @` + `marker` (searched in the
/// source, so that moving the code keeps the tests right).
fn line_of(marker: &str) -> u32 {
    let tag = format!("// @{marker}");
    let i = include_str!("budget.rs")
        .lines()
        .position(|l| l.trim_end().ends_with(&tag))
        .unwrap_or_else(|| panic!("no line tagged {tag}"));
    i as u32 + 1
}

// One block per value, on purpose: what the budgets count.
#[allow(clippy::vec_box)]
#[inline(never)]
pub fn boxed_values(n: usize) -> Vec<Box<u64>> {
    let mut v = Vec::with_capacity(n); // @vec-site
    for i in 0..n {
        v.push(Box::new(i as u64)); // @box-site
    }
    v
}

#[inline(never)]
pub fn leak_some(n: usize) {
    for i in 0..n {
        let b = Box::new([i as u64; 4]); // @leak-site
        std::mem::forget(std::hint::black_box(b));
    }
}

/// Allocation-free: what a budget of 0 should accept.
#[inline(never)]
pub fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.split('.').map(|p| p.parse().ok());
    Some((it.next()??, it.next()??, it.next()??))
}

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("the budget should have failed");
    if let Some(s) = err.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = err.downcast_ref::<&str>() {
        s.to_string()
    } else {
        panic!("panic payload is not a string")
    }
}

#[test]
fn budgets_that_hold() {
    let v = allocscope::assert_max_allocs!(0, || parse_version(std::hint::black_box("1.2.3")));
    assert_eq!(v, Some((1, 2, 3)));
    // 1 Vec + 5 boxes: exactly 6, and 5 * 8 + 5 * 8 bytes.
    let v = allocscope::assert_max_allocs!(6, || boxed_values(5));
    assert_eq!(v.len(), 5);
    let v = allocscope::assert_max_bytes!(80, || boxed_values(5));
    drop(v);
    // A block allocated before the closure and freed inside it is not the closure's leak.
    let before = Box::new(5u64);
    allocscope::assert_no_leaks!(move || {
        drop(before);
        let v: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        v.len()
    });
}

#[test]
fn a_failing_budget_names_the_function_and_line() {
    let msg = panic_message(|| {
        allocscope::assert_max_allocs!(5, || boxed_values(5));
    });
    assert!(
        msg.contains("6 allocations (6 allocs + 0 reallocs, 80 B)"),
        "{msg}"
    );
    let file = "support/budget.rs";
    // The site of the boxes: 5 allocations, 40 bytes, at boxed_values, its line; the
    // Vec's: 1 allocation, 40 bytes, at its own line.
    let first_frame = |header: &str| {
        let lines: Vec<&str> = msg.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.trim() == header)
            .unwrap_or_else(|| panic!("no site `{header}`:\n{msg}"));
        lines.get(i + 1).copied().unwrap_or_default().to_string()
    };
    let boxes = first_frame("5 allocations, 40 B:");
    assert!(boxes.contains("::boxed_values ("), "{msg}");
    assert!(
        boxes.contains(&format!("{file}:{})", line_of("box-site"))),
        "{msg}"
    );
    let vec = first_frame("1 allocation, 40 B:");
    assert!(vec.contains("::boxed_values ("), "{msg}");
    assert!(
        vec.contains(&format!("{file}:{})", line_of("vec-site"))),
        "{msg}"
    );
    // The caller is named as well: this test's closure.
    assert!(
        msg.contains("a_failing_budget_names_the_function_and_line"),
        "{msg}"
    );

    let msg = panic_message(|| {
        allocscope::assert_max_bytes!(79, || boxed_values(5));
    });
    assert!(msg.contains("80 bytes requested in 6 allocations"), "{msg}");
    assert!(
        msg.contains(&format!("{file}:{})", line_of("box-site"))),
        "{msg}"
    );
}

#[test]
fn a_leak_is_found() {
    let msg = panic_message(|| allocscope::assert_no_leaks!(|| leak_some(3)));
    assert!(msg.contains("leak: 3 blocks (96 B)"), "{msg}");
    assert!(msg.contains("3 allocations, 96 B:"), "{msg}");
    assert!(
        msg.contains("::leak_some (")
            && msg.contains(&format!("support/budget.rs:{})", line_of("leak-site"))),
        "{msg}"
    );
    // Only the leaked ones: what the closure freed is not listed.
    let (_, r) = allocscope::budget::record(true, || {
        let keep = boxed_values(4);
        leak_some(2);
        drop(keep);
    });
    let leaks = r.leaks();
    assert_eq!(leaks.len(), 1, "{leaks:?}");
    assert_eq!((leaks[0].count, leaks[0].bytes), (2, 64));
    assert_eq!(leaks[0].frames[0].line, Some(line_of("leak-site")));
}

#[test]
fn reallocations_count_and_sites_add_up() {
    // Independent truth: each capacity change of a growing Vec is one allocator call.
    let (changes, r) = allocscope::budget::record(false, || {
        let mut v: Vec<u64> = Vec::new();
        let mut cap = v.capacity();
        let mut changes = 0u64;
        for i in 0..1000 {
            v.push(i);
            if v.capacity() != cap {
                cap = v.capacity();
                changes += 1;
            }
        }
        changes
    });
    assert_eq!(r.counts().allocs, 1);
    assert_eq!(r.allocations(), changes);
    let sites = r.sites();
    assert_eq!(sites.iter().map(|s| s.count).sum::<u64>(), changes);
    assert_eq!(
        sites.iter().map(|s| s.bytes).sum::<u64>(),
        r.counts().bytes_allocated
    );
}

#[test]
fn exact_while_other_threads_allocate() {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let churn: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            let running = running.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                loop {
                    n += std::hint::black_box(boxed_values(8)).len() as u64;
                    if n == 8 {
                        running.fetch_add(1, std::sync::atomic::Ordering::Release);
                    }
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                }
                n
            })
        })
        .collect();
    // The budgets below run while both threads are allocating.
    while running.load(std::sync::atomic::Ordering::Acquire) < 2 {
        std::thread::yield_now();
    }
    for _ in 0..20 {
        allocscope::assert_max_allocs!(0, || parse_version(std::hint::black_box("10.20.30")));
        let ((), r) = allocscope::budget::record(true, || drop(boxed_values(7)));
        assert_eq!(r.allocations(), 8);
        assert_eq!(r.counts().bytes_allocated, 7 * 8 + 7 * 8);
        assert_eq!(r.leaked(), (0, 0));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in churn {
        assert!(t.join().unwrap() > 0);
    }
}

#[test]
fn many_blocks_freed_in_any_order() {
    // 100,001 allocations, freed first to last; one block of them leaked on purpose.
    let ((), r) = allocscope::budget::record(true, || {
        let mut v: Vec<Box<u64>> = (0..100_000u64).map(Box::new).collect();
        std::mem::forget(v.swap_remove(500));
        drop(v);
    });
    assert_eq!(r.allocations(), 100_001);
    assert_eq!(r.events_lost(), 0);
    assert_eq!(r.leaked(), (1, 8));
}
