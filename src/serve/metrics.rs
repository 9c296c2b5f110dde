//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4), every name prefixed
//! `allocscope_`. Counters end in `_total`; byte figures in `_bytes`.

use std::fmt::Write as _;

use crate::observe::gap::GapReport;

/// One metric family: `# HELP`, `# TYPE`, then its samples (`labels` is `""` or
/// `{name="value"}`).
struct Family<'o> {
    out: &'o mut String,
}

impl Family<'_> {
    fn head<'a>(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP allocscope_{name} {help}");
        let _ = writeln!(out, "# TYPE allocscope_{name} {kind}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) -> &mut Self {
        let _ = writeln!(self.out, "allocscope_{name}{labels} {value}");
        self
    }
}

fn one(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    Family::head(out, name, kind, help).sample(name, "", value);
}

/// One figure of a size class.
type SizeClassFigure = fn(&crate::observe::snapshot::SizeClassCounts) -> u64;

/// The exposition now.
pub(super) fn render() -> String {
    let s = crate::observe::snapshot::snapshot();
    let own = crate::hook::own_memory::own_memory();
    let mut out = String::with_capacity(8 * 1024);
    let o = &mut out;
    one(
        o,
        "allocs_total",
        "counter",
        "Calls to alloc (and alloc_zeroed) counted since start.",
        s.allocs,
    );
    one(
        o,
        "reallocs_total",
        "counter",
        "Calls to realloc counted since start.",
        s.reallocs,
    );
    one(
        o,
        "frees_total",
        "counter",
        "Calls to dealloc counted since start.",
        s.frees,
    );
    one(
        o,
        "allocated_bytes_total",
        "counter",
        "Bytes allocated since start (a realloc frees the old block and allocates the new).",
        s.bytes_allocated,
    );
    one(
        o,
        "freed_bytes_total",
        "counter",
        "Bytes freed since start.",
        s.bytes_freed,
    );
    one(
        o,
        "live_bytes",
        "gauge",
        "Bytes the program has allocated and not freed.",
        s.live_bytes,
    );
    one(
        o,
        "live_blocks",
        "gauge",
        "Blocks the program has allocated and not freed.",
        s.live_blocks,
    );
    one(
        o,
        "peak_live_bytes",
        "gauge",
        "Highest live bytes since start.",
        s.peak_live_bytes,
    );
    one(
        o,
        "sampling_interval_bytes",
        "gauge",
        "Mean sampling interval of call sites in bytes (1: every allocation; 0: stack capture off).",
        crate::hook::settings::sample_bytes(),
    );
    let mut f = Family::head(
        o,
        "own_memory_bytes",
        "gauge",
        "allocscope's own memory (the profiler term of the gap), by part.",
    );
    f.sample("own_memory_bytes", "{part=\"heap\"}", own.heap)
        .sample("own_memory_bytes", "{part=\"live_table\"}", own.live_table)
        .sample("own_memory_bytes", "{part=\"site_table\"}", own.site_table)
        .sample(
            "own_memory_bytes",
            "{part=\"other_tables\"}",
            own.other_tables,
        );

    let gap = GapReport::from_snapshot(&s);
    let (rss, terms): (i64, Vec<(&str, i64)>) = match &gap {
        GapReport::Full(g) => (g.rss, g.terms().to_vec()),
        GapReport::Mimalloc(g) => (g.rss, g.terms().to_vec()),
        GapReport::Partial(p) => {
            let mut t = Vec::new();
            let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            if let Some(v) = p.requested {
                t.push(("requested", i(v)));
            }
            if let Some(v) = p.size_class_rounding_estimate {
                t.push(("size_class_rounding", i(v)));
            }
            if let Some(v) = p.profiler {
                t.push(("profiler", i(v)));
            }
            if let Some(v) = p.untouched {
                t.push(("untouched", i(v)));
            }
            if let Some(v) = p.anonymous {
                t.push(("anonymous", i(v)));
            }
            if let Some(v) = p.file_backed {
                t.push(("file_backed", i(v)));
            }
            (i(p.rss), t)
        }
    };
    one(
        o,
        "rss_bytes",
        "gauge",
        "Resident set size of the process.",
        rss,
    );
    let mut f = Family::head(
        o,
        "gap_bytes",
        "gauge",
        "The RSS gap term by term (docs/gap.md); untouched is subtracted from the sum.",
    );
    for (term, v) in terms {
        f.sample("gap_bytes", &format!("{{term=\"{term}\"}}"), v);
    }

    let classes: Vec<_> = s.size_classes.iter().filter(|c| c.allocs != 0).collect();
    let families: [(&str, &str, &str, SizeClassFigure); 4] = [
        ("size_class_allocs_total", "counter", "Allocations by size class (jemalloc's classes; size is the class's usable size in bytes).", |c| c.allocs),
        ("size_class_frees_total", "counter", "Frees by size class.", |c| c.frees),
        ("size_class_live_blocks", "gauge", "Live blocks by size class.", |c| c.live_blocks),
        ("size_class_live_bytes", "gauge", "Live requested bytes by size class.", |c| c.live_requested_bytes),
    ];
    for (name, kind, help, value) in families {
        let mut f = Family::head(o, name, kind, help);
        for c in &classes {
            f.sample(name, &format!("{{size=\"{}\"}}", c.size), value(c));
        }
    }
    out
}
