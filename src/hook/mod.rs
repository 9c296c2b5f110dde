//! Everything that runs inside `GlobalAlloc`: the profiler, the reentrancy guard, the
//! counters' writer side, the sampler, call sites, the live table, the peak, the clock and
//! stack unwinding. No I/O, no allocation, no serde.

pub(crate) mod capture;
pub(crate) mod clock;
pub(crate) mod counters;
pub(crate) mod forked;
pub mod guard;
pub(crate) mod large_blocks;
pub(crate) mod live_table;
pub(crate) mod mallctl;
pub(crate) mod own_memory;
pub(crate) mod peak;
pub mod profiler;
pub(crate) mod sampler;
pub(crate) mod settings;
pub(crate) mod site_table;
pub(crate) mod sites;
pub(crate) mod spans;
pub(crate) mod thread_state;
pub(crate) mod unwind;
