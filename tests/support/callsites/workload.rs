//! A deterministic workload with known figures per site, for the sampling tests.

use std::hint::black_box;

/// Bytes each site allocated, computed by the workload itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Truth {
    pub large: u64,
    pub medium: u64,
    pub small: u64,
    pub minor: u64,
}

impl Truth {
    pub fn total(&self) -> u64 {
        self.large + self.medium + self.small + self.minor
    }
}

/// Blocks of 16 KiB, freed at once.
#[inline(never)]
pub fn large_blocks(bytes: u64) -> u64 {
    let mut done = 0;
    while done < bytes {
        let v: Vec<u8> = Vec::with_capacity(16 * 1024);
        black_box(&v);
        done += 16 * 1024;
    }
    done
}

/// Blocks from 1 KiB to 4 KiB, freed at once.
#[inline(never)]
pub fn medium_blocks(bytes: u64) -> u64 {
    let mut done = 0;
    let mut i = 0u64;
    while done < bytes {
        let size = 1024 + (i * 97 % 3072) as usize;
        let v: Vec<u8> = Vec::with_capacity(size);
        black_box(&v);
        done += size as u64;
        i += 1;
    }
    done
}

/// Blocks of 256 bytes, kept in batches of 64 and then freed.
#[inline(never)]
pub fn small_blocks(bytes: u64) -> u64 {
    let mut done = 0;
    let mut keep: Vec<Vec<u8>> = Vec::with_capacity(64);
    while done < bytes {
        keep.push(Vec::with_capacity(256));
        done += 256;
        if keep.len() == 64 {
            keep.clear();
        }
    }
    done
}

/// A minor site (a few % of the bytes).
#[inline(never)]
pub fn minor_blocks(bytes: u64) -> u64 {
    let mut done = 0;
    while done < bytes {
        let v: Vec<u8> = Vec::with_capacity(512);
        black_box(&v);
        done += 512;
    }
    done
}

/// What [`run`] allocates per site, computed without allocating.
pub fn run_truth(scale_mib: u64) -> Truth {
    let mut t = Truth::default();
    let rounds = 16;
    let mib = 1u64 << 20;
    let up_to = |bytes: u64, step: &mut dyn FnMut() -> u64| {
        let mut done = 0;
        while done < bytes {
            done += step();
        }
        done
    };
    for _ in 0..rounds {
        t.large += up_to(scale_mib * mib / rounds, &mut || 16 * 1024);
        let mut i = 0u64;
        t.medium += up_to(scale_mib * mib * 3 / 4 / rounds, &mut || {
            i += 1;
            1024 + ((i - 1) * 97 % 3072)
        });
        t.small += up_to(scale_mib * mib / 2 / rounds, &mut || 256);
        t.minor += up_to(scale_mib * mib / 10 / rounds, &mut || 512);
    }
    t
}

/// Runs the four sites, interleaved in rounds, on `scale` MiB of large blocks.
pub fn run(scale_mib: u64) -> Truth {
    let mut t = Truth::default();
    let rounds = 16;
    let mib = 1u64 << 20;
    for _ in 0..rounds {
        t.large += large_blocks(scale_mib * mib / rounds);
        t.medium += medium_blocks(scale_mib * mib * 3 / 4 / rounds);
        t.small += small_blocks(scale_mib * mib / 2 / rounds);
        t.minor += minor_blocks(scale_mib * mib / 10 / rounds);
    }
    t
}
