//! Exact counts over `mimalloc::MiMalloc`: hand-computed allocation patterns checked through `measure`
//! (per thread, so libtest's parallel threads do not disturb them). One file per inner
//! allocator, each its own process with its own `#[global_allocator]`.

#[macro_use]
#[path = "support/patterns.rs"]
mod common;

exact_count_tests!(mimalloc::MiMalloc, mimalloc::MiMalloc, Mimalloc);
