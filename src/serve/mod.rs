//! Always-on in production (feature `http`): one internal thread serves pprof heap profiles,
//! the JSON profile, the gap and Prometheus metrics over HTTP (`docs/production.md`).
//!
//! | method and path | returns |
//! |---|---|
//! | `GET /debug/pprof/heap` | gzipped pprof, Go's four sample types, default `inuse_space` |
//! | `GET /debug/pprof/allocs[?seconds=N]` | the same, default `alloc_space`; with `seconds`, the delta over the next N seconds |
//! | `GET /debug/allocscope/profile` | the JSON profile (what `alloc-report` reads) |
//! | `GET /debug/allocscope/gap` | the gap, as JSON |
//! | `GET /metrics` | Prometheus text exposition, every name prefixed `allocscope_` |
//! | `POST /debug/allocscope/sampling?bytes=N` | sets the sampling interval (`0`: stops stack capture) |
//!
//! Started by [`serve`] or, before `main`, by `ALLOCSCOPE_HTTP=ADDR` in a program whose global
//! allocator is a [`crate::Profiler`]. The thread (`allocscope-http`) is marked internal
//! before it does anything:
//! nothing it allocates (requests, profiles, the symbolizer's cache) counts as the program's;
//! it is billed to the `profiler` term of the gap. Requests are served one at a time, in
//! order (a scrape takes milliseconds); a `?seconds=N` delta is parked until its end without
//! blocking the others. No authentication: bind it to localhost or the cluster network only.
//!
//! Sits above `observe`, `runtime` and `analysis` in the layering (it serves what they
//! compute) and beside `report`, which it does not use (`.ci/check-layout`).

mod endpoints;
mod http;
mod metrics;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

/// Starts the HTTP server on `addr` (e.g. `"127.0.0.1:6060"`; port 0 picks a free port) in
/// one internal background thread and returns the address it is bound to. Binds only to the
/// given address. The server runs until the process exits; it never makes the program
/// panic. It has no authentication: never expose it beyond localhost or the cluster network.
///
/// ```no_run
/// #[global_allocator]
/// static ALLOC: allocscope::Profiler<std::alloc::System> =
///     allocscope::Profiler::new(std::alloc::System);
///
/// fn main() {
///     let addr = allocscope::serve("127.0.0.1:6060").expect("port 6060 is free");
///     eprintln!("go tool pprof -top http://{addr}/debug/pprof/heap");
///     // … the program …
/// }
/// ```
pub fn serve(addr: impl ToSocketAddrs) -> std::io::Result<SocketAddr> {
    // Untracked: the listener is allocscope's, and the internal thread frees it.
    crate::hook::guard::untracked(|| start(addr))
}

/// Binds and starts the server's thread, an internal thread
/// ([`crate::observe::internal_thread`]: none of its work, start-up included, counts as the
/// program's), detached: it serves until the process exits.
fn start(addr: impl ToSocketAddrs) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    crate::observe::internal_thread::spawn("allocscope-http", move || http::run(listener))?
        .detach();
    Ok(local)
}

/// `ALLOCSCOPE_HTTP=ADDR`: starts the server before `main` (Linux: from `.init_array`, like
/// the `ALLOCSCOPE_OUT` start-up of `runtime::lifecycle`) when the global allocator is a
/// [`crate::Profiler`]. A bad address or a port in use prints one line on stderr and the
/// program runs on without the server. Never unwinds.
#[cfg(target_os = "linux")]
extern "C" fn at_start() {
    let _ = std::panic::catch_unwind(|| {
        let Some(addr) = std::env::var_os("ALLOCSCOPE_HTTP") else {
            return;
        };
        // One allocation lets an installed `Profiler` note itself; a program that links
        // allocscope without installing it starts nothing.
        drop(std::hint::black_box(Box::new(0u8)));
        if !crate::hook::profiler::is_installed() {
            return;
        }
        let text = addr.to_string_lossy();
        let parsed = text.trim().parse::<SocketAddr>();
        match parsed {
            Ok(a) => {
                if let Err(e) = crate::hook::guard::untracked(|| start(a)) {
                    eprintln!("allocscope: ALLOCSCOPE_HTTP={text}: cannot serve: {e}");
                }
            }
            Err(_) => eprintln!(
                "allocscope: invalid ALLOCSCOPE_HTTP={text}: expected IP:PORT (e.g. 127.0.0.1:6060); not serving"
            ),
        }
    });
}

#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static AT_START: extern "C" fn() = at_start;
