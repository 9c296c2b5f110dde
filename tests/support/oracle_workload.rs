//! A deterministic, single-threaded workload with a realistic mix of allocations: strings
//! built and split, small Vecs grown by push (reallocs), boxed structs, a BTreeMap built and
//! dropped, and buffers shrunk to fit. Shared by the DHAT oracle test (compiled into a plain
//! program without allocscope) and the allocscope side of the same test.

use std::collections::BTreeMap;
use std::hint::black_box;

#[derive(Debug)]
pub struct Version {
    pub parts: Vec<u64>,
    pub pre: Option<String>,
}

fn parse(s: &str) -> Version {
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p.to_string())),
        None => (s, None),
    };
    let parts = core.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    Version { parts, pre }
}

/// Runs the workload `iterations` times. Everything it allocates is freed before it returns.
pub fn run(iterations: u32) {
    for it in 0..iterations {
        let mut versions = Vec::new();
        for i in 0..300u64 {
            let text = format!("{}.{}.{}-rc{}", i % 7, i % 13, i + u64::from(it), i % 3);
            versions.push(Box::new(parse(black_box(&text))));
        }
        let mut map = BTreeMap::new();
        for (i, v) in versions.iter().enumerate() {
            map.insert(format!("pkg-{i:04}"), v.parts.clone());
        }
        let mut joined = String::new();
        for v in &versions {
            joined.push_str(v.pre.as_deref().unwrap_or(""));
        }
        for (k, parts) in &map {
            joined.push_str(k);
            joined.push(':');
            joined.push_str(&parts.len().to_string());
        }
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(joined.as_bytes());
        buf.shrink_to_fit();
        black_box((&versions, &map, &buf));
    }
}
