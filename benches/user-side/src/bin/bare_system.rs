//! The workloads over plain `System` (glibc malloc).
#[path = "../workloads.rs"]
mod workloads;

fn main() {
    workloads::main();
}
