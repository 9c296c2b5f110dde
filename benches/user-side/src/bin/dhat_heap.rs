//! The workloads under dhat-rs's heap profiler (over `System`), its report written to
//! `DHAT_OUT` (default `/dev/null`) after the timed part.
#[path = "../workloads.rs"]
mod workloads;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let out = std::env::var("DHAT_OUT").unwrap_or_else(|_| "/dev/null".into());
    let _profiler = dhat::Profiler::builder().file_name(out).build();
    workloads::main();
}
