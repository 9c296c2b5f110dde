//! Per-class figures of every request size from 1 byte to past 4 KiB, at alignments 1, 8
//! (counted per exact size by the fast paths, folded into classes by the readers) and 16
//! (counted per class by the general path), with reallocs that cross between the two,
//! checked against jemalloc's class table written out by hand. One process, one thread: the
//! figures are process-wide and exact.

use std::alloc::{Layout, System};
use std::collections::BTreeMap;

#[global_allocator]
static ALLOC: allocscope::Profiler<System> = allocscope::Profiler::new(System);

/// jemalloc 5.3's small size classes with 4 KiB pages, from its documentation.
const SMALL: &[u64] = &[
    8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896,
    1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288,
    14336,
];

/// The class of a request of `size` bytes aligned to `align` (≤ 16): the smallest class that
/// holds the size rounded up to the alignment.
fn class_of(size: u64, align: u64) -> u64 {
    let need = size.div_ceil(align) * align;
    *SMALL.iter().find(|&&c| c >= need).expect("small request")
}

/// Per class: (blocks in, requested bytes in, blocks out, requested bytes out).
type Figures = BTreeMap<u64, [u64; 4]>;

fn figures(s: &allocscope::Snapshot) -> Figures {
    s.size_classes
        .iter()
        .map(|c| {
            let out = c.requested_bytes - c.live_requested_bytes;
            (c.size, [c.allocs, c.requested_bytes, c.frees, out])
        })
        .collect()
}

/// `b − a`, class by class (classes absent from one side count as zero).
fn minus(b: &Figures, a: &Figures) -> Figures {
    let mut d = Figures::new();
    for (k, v) in b {
        let z = [0; 4];
        let w = a.get(k).unwrap_or(&z);
        let e = [v[0] - w[0], v[1] - w[1], v[2] - w[2], v[3] - w[3]];
        if e != [0; 4] {
            d.insert(*k, e);
        }
    }
    d
}

const MAX_SIZE: u64 = 4200;

/// Every fourth block of alignment 8 is reallocated to `2 × size + 1` bytes before it is
/// freed.
fn reallocated(size: u64, align: u64) -> bool {
    align == 8 && size % 4 == 1
}
const ALIGNS: [u64; 4] = [1, 4, 8, 16];

fn main() {
    // Everything the check needs is allocated up front; then one block of every class is
    // allocated and freed, so that every snapshot below lists the same classes and allocates
    // the same way (its own list is counted, after its figures are read).
    let mut expected = Figures::new();
    let mut blocks: Vec<(*mut u8, Layout)> = Vec::with_capacity(ALIGNS.len() * 5000);
    for &c in SMALL {
        drop(black_box(vec![0u8; c as usize]));
    }
    let mut enter = |class: u64, size: u64| {
        let e = expected.entry(class).or_default();
        e[0] += 1;
        e[1] += size;
    };
    let mut moves: Vec<(u64, u64, bool)> = Vec::new();
    for &align in &ALIGNS {
        for size in 1..=MAX_SIZE {
            enter(class_of(size, align), size);
            moves.push((size, align, reallocated(size, align)));
        }
    }
    for &(size, align, re) in &moves {
        if re {
            // Out of the old class, into the new one (past 2 KiB, from the per-size counters
            // to the per-class ones); the free is then of the new size.
            enter(class_of(2 * size + 1, align), 2 * size + 1);
        }
    }
    for (size, align, re) in moves {
        let (c, s) = if re {
            let e = expected.get_mut(&class_of(size, align)).expect("class");
            e[2] += 1;
            e[3] += size;
            (class_of(2 * size + 1, align), 2 * size + 1)
        } else {
            (class_of(size, align), size)
        };
        let e = expected.get_mut(&c).expect("class");
        e[2] += 1;
        e[3] += s;
    }
    let s0 = allocscope::snapshot();
    let s1 = allocscope::snapshot();

    for &align in &ALIGNS {
        for size in 1..=MAX_SIZE {
            let layout = Layout::from_size_align(size as usize, align as usize).expect("layout");
            // SAFETY: non-zero size.
            let p = unsafe { std::alloc::alloc(layout) };
            assert!(!p.is_null());
            blocks.push((p, layout));
        }
    }
    for (p, layout) in blocks.iter_mut() {
        if reallocated(layout.size() as u64, layout.align() as u64) {
            let new = 2 * layout.size() + 1;
            // SAFETY: `p` was allocated with `layout`; `new` is non-zero and valid for it.
            *p = unsafe { std::alloc::realloc(*p, *layout, new) };
            assert!(!p.is_null());
            *layout = Layout::from_size_align(new, layout.align()).expect("layout");
        }
    }
    for (p, layout) in blocks.drain(..) {
        // SAFETY: allocated (or reallocated) above with this layout.
        unsafe { std::alloc::dealloc(p, layout) };
    }
    let s2 = allocscope::snapshot();
    // What `s0` allocated after reading its figures, as `s1` did (the same classes are
    // listed in all three); the maps below are made after `s2` read its figures.
    let noise = minus(&figures(&s1), &figures(&s0));
    let workload = minus(&figures(&s2), &figures(&s1));
    let mut got = workload.clone();
    for (k, v) in &noise {
        let g = got.entry(*k).or_default();
        for i in 0..4 {
            g[i] -= v[i];
        }
        if *g == [0; 4] {
            got.remove(k);
        }
    }
    let reallocs = s2.reallocs - s1.reallocs - (s1.reallocs - s0.reallocs);
    let want_reallocs = (1..=MAX_SIZE).filter(|&s| reallocated(s, 8)).count() as u64;
    assert_eq!(reallocs, want_reallocs, "reallocs");
    for (class, want) in &expected {
        assert_eq!(
            got.get(class),
            Some(want),
            "class {class}: [allocs, requested, frees, requested freed]"
        );
    }
    assert_eq!(got.len(), expected.len(), "no other class moved: {got:?}");
    println!(
        "counts_by_size: {} blocks over {} classes, {reallocs} reallocs: every class exact",
        ALIGNS.len() as u64 * MAX_SIZE,
        expected.len()
    );
    drop((s0, s1, s2, noise, workload));
}

fn black_box<T>(x: T) -> T {
    std::hint::black_box(x)
}
