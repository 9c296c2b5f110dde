//! Millions of tiny, short-lived allocations, and what inline storage does to them.
//!
//! ```text
//! ALLOCSCOPE_SAMPLE_BYTES=1 cargo run --release --features jemalloc --example tiny_allocs -- heap
//! cargo run --release --features jemalloc --example tiny_allocs -- inline
//! ```
//! Writes `tiny_allocs.<variant>.profile.json` (or `$ALLOCSCOPE_OUT`) and prints the top
//! call sites by allocation count: with heap `Vec`/`String` parts, `parse_numbers`,
//! `parse_pre` and `parse_version` lead with blocks of 8–32 bytes freed within
//! microseconds; the inline variant makes almost none.

mod workload;

#[global_allocator]
static ALLOC: allocscope::Profiler<allocscope::Jemalloc> =
    allocscope::Profiler::new(allocscope::Jemalloc);

fn main() {
    let variant = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "heap".to_string());
    let n: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (found, counts) = allocscope::measure(|| match variant.as_str() {
        "heap" => format!("{:?}", workload::resolve(n)),
        "inline" => format!("{:?}", workload::resolve_inline(n)),
        other => {
            eprintln!("tiny_allocs: unknown variant `{other}` (heap or inline)");
            std::process::exit(2);
        }
    });
    println!("{variant}: resolved {found}");
    println!(
        "{} allocations, {} bytes, for {n} versions",
        counts.allocs, counts.bytes_allocated
    );
    // Raw addresses: resolve names from this binary and trim to the user's frames, as
    // `alloc-report` does.
    let mut profile = allocscope::collect_profile();
    if let Err(e) = allocscope::profile::symbolize(&mut profile, &Default::default()) {
        eprintln!("tiny_allocs: no names: {e}");
    }
    allocscope::trim::trim_profile(&mut profile);
    let mut sites = profile.sites.clone();
    sites.sort_by_key(|s| std::cmp::Reverse(s.allocs));
    println!(
        "top sites by allocations (sampling interval {} bytes):",
        profile.meta.sampling_bytes
    );
    for s in sites.iter().take(5) {
        let f = s.frames.first().map_or("?", |f| f.function.as_str());
        let avg = s.bytes.checked_div(s.allocs).unwrap_or(0);
        let lt = &s.lifetimes;
        println!(
            "  {:>10} allocs  avg {:>4} B  median life {:>8} ns  <1µs {:>3}%  {f}",
            s.allocs,
            avg,
            lt.median_ns.map_or("-".to_string(), |m| m.to_string()),
            (lt.under_1us * 100).checked_div(lt.freed).unwrap_or(0),
        );
    }
    if std::env::var_os("ALLOCSCOPE_OUT").is_none() {
        let path = format!("tiny_allocs.{variant}.profile.json");
        match allocscope::write_profile(&path) {
            Ok(()) => println!("profile written to {path}"),
            Err(e) => eprintln!("tiny_allocs: {e}"),
        }
    }
}
