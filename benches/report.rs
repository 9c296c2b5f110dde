//! How long `alloc-report` takes on a profile of 100,000 distinct stacks, step by step:
//! parsing the JSON, folding, drawing the flamegraph, the summary, the pprof export.
//! `cargo bench --features cli --bench report`.

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use std::hint::black_box;
use std::time::Duration;

use allocscope::profile::Profile;
use allocscope::report::{
    to_pprof_gz, write_flamegraph, FlamegraphOptions, FoldedStacks, Metric, Summary,
};
use criterion::{criterion_group, criterion_main, Criterion};

const STACKS: usize = 100_000;

fn large_profile(c: &mut Criterion) {
    let profile = fixtures::large(STACKS);
    let json = serde_json::to_vec(&profile).unwrap();
    let mut group = c.benchmark_group("100k stacks");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("parse profile JSON", |b| {
        b.iter(|| Profile::from_slice(black_box(&json), "large.json").unwrap())
    });
    group.bench_function("fold stacks", |b| {
        b.iter(|| FoldedStacks::from_profile(black_box(&profile), Metric::Bytes))
    });
    group.bench_function("flamegraph SVG", |b| {
        b.iter(|| {
            let mut svg = Vec::new();
            write_flamegraph(black_box(&profile), &FlamegraphOptions::default(), &mut svg).unwrap();
            svg
        })
    });
    group.bench_function("summary", |b| {
        b.iter(|| Summary::new(black_box(&profile), 10).to_json())
    });
    group.bench_function("pprof export", |b| {
        b.iter(|| to_pprof_gz(black_box(&profile)))
    });
    group.finish();
}

criterion_group!(benches, large_profile);
criterion_main!(benches);
