//! Configuration from the environment: `ALLOCSCOPE=off`, invalid values (one line on stderr,
//! the default used, no crash), `ALLOCSCOPE_MAX_DEPTH`.

#[path = "support/callsites/mod.rs"]
mod callsite_support;
use callsite_support as common;

use std::alloc::System;
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocscope::Profiler<System> = allocscope::Profiler::new(System);

#[inline(never)]
fn work() {
    for _ in 0..1000 {
        let v: Vec<u8> = Vec::with_capacity(100);
        black_box(&v);
    }
}

#[inline(never)]
fn deep(n: u32) {
    if n == 0 {
        work();
    } else {
        deep(black_box(n - 1));
    }
}

#[test]
fn env_config() {
    if common::is_child() {
        deep(20);
        return;
    }
    // Off: no stack capture, counting goes on.
    let p = common::run_child("env_config", &[("ALLOCSCOPE", "off")]);
    assert_eq!(p.meta.sampling_bytes, 0);
    assert_eq!(p.meta.unwinder, "off");
    assert!(p.sites.is_empty());
    assert!(p.totals.allocs >= 1000);

    // Invalid values: one warning line each, defaults used.
    let (p, stderr) = common::run_child_with_stderr(
        "env_config",
        &[
            ("ALLOCSCOPE_SAMPLE_BYTES", "lots"),
            ("ALLOCSCOPE_UNWIND", "magic"),
        ],
    );
    assert_eq!(p.meta.sampling_bytes, allocscope::DEFAULT_SAMPLE_BYTES);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("allocscope:"))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings[0].contains("ALLOCSCOPE_SAMPLE_BYTES=lots"),
        "{stderr}"
    );
    assert!(warnings[1].contains("ALLOCSCOPE_UNWIND=magic"), "{stderr}");

    // Depth: exact mode, at most 5 frames, the innermost kept (`work`, then `deep`s).
    let p = common::run_child(
        "env_config",
        &[
            ("ALLOCSCOPE_SAMPLE_BYTES", "1"),
            ("ALLOCSCOPE_MAX_DEPTH", "5"),
        ],
    );
    let s = common::site(&p, "work");
    assert_eq!(s.allocs, 1000);
    assert_eq!(s.frames.len(), 5);
    assert!(s.frames[1..].iter().all(|f| f.function.ends_with("::deep")));
}
