//! The oracle workload as a plain program: System allocator, no allocscope.
#[path = "../../support/oracle_workload.rs"]
mod workload;

fn main() {
    let n = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    workload::run(n);
}
