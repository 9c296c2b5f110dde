//! The process's memory as the kernel sees it, from `/proc/self` (Linux).
//!
//! | function | file | cost (`docs/procfs.md`) |
//! |---|---|---|
//! | [`rss`], [`statm`] | `/proc/self/statm` | 3–8 µs |
//! | [`status_memory`], [`peak_rss`] | `/proc/self/status` | 7–10 µs |
//! | [`smaps_rollup`] | `/proc/self/smaps_rollup` | 50 µs at 5 MB, 8 ms at 2 GiB |
//!
//! Use [`rss`] for anything periodic and [`smaps_rollup`] only on demand. None of these
//! allocate (they read into a stack buffer), but they do system calls: never call them from
//! inside the allocator hooks. On systems without `/proc` they return an error.

use std::io::{self, Read};

/// `/proc/self/statm`, converted to bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Statm {
    /// Virtual memory size.
    pub size: u64,
    /// Resident set size.
    pub rss: u64,
    /// Resident pages backed by a file or shared memory.
    pub shared: u64,
}

/// Reads `/proc/self/statm`.
pub fn statm() -> io::Result<Statm> {
    let mut buf = [0u8; 256];
    let text = read_small("/proc/self/statm", &mut buf)?;
    let mut fields = text.split_ascii_whitespace().map(|f| f.parse::<u64>());
    let page = crate::model::size_class::page_size() as u64;
    let mut next = |what: &str| match fields.next() {
        Some(Ok(v)) => Ok(v.saturating_mul(page)),
        _ => Err(invalid("/proc/self/statm", what)),
    };
    Ok(Statm {
        size: next("size")?,
        rss: next("resident")?,
        shared: next("shared")?,
    })
}

/// The process's resident set size in bytes, from `/proc/self/statm` (cheap).
pub fn rss() -> io::Result<u64> {
    statm().map(|s| s.rss)
}

/// Memory figures of `/proc/self/status`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusMemory {
    /// `VmRSS`: resident set size (= `rss_anon + rss_file + rss_shmem`).
    pub vm_rss: u64,
    /// `VmHWM`: the highest resident set size of the process so far.
    pub vm_hwm: u64,
    /// `RssAnon`: resident anonymous memory (heap, stacks, anonymous mappings).
    pub rss_anon: u64,
    /// `RssFile`: resident file-backed memory (code, libraries, mapped files).
    pub rss_file: u64,
    /// `RssShmem`: resident shared memory.
    pub rss_shmem: u64,
}

/// Reads the memory lines of `/proc/self/status`.
pub fn status_memory() -> io::Result<StatusMemory> {
    const PATH: &str = "/proc/self/status";
    let mut buf = [0u8; 4096];
    let text = read_small(PATH, &mut buf)?;
    let mut m = StatusMemory::default();
    let mut seen = 0u8;
    for (key, value) in kib_lines(text) {
        let slot = match key {
            "VmRSS" => &mut m.vm_rss,
            "VmHWM" => &mut m.vm_hwm,
            "RssAnon" => &mut m.rss_anon,
            "RssFile" => &mut m.rss_file,
            "RssShmem" => &mut m.rss_shmem,
            _ => continue,
        };
        *slot = value;
        seen += 1;
    }
    if seen < 5 {
        return Err(invalid(PATH, "VmRSS/VmHWM/RssAnon/RssFile/RssShmem"));
    }
    Ok(m)
}

/// The peak resident set size of the process (`VmHWM`), bytes.
pub fn peak_rss() -> io::Result<u64> {
    status_memory().map(|m| m.vm_hwm)
}

/// Totals of `/proc/self/smaps_rollup`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmapsRollup {
    /// `Rss`: resident set size (walked page by page, so exact at that moment).
    pub rss: u64,
    /// `Pss`: proportional set size (shared pages divided among the processes sharing them).
    pub pss: u64,
    /// `Anonymous`: resident anonymous pages.
    pub anonymous: u64,
    /// `LazyFree`: pages released with `MADV_FREE` that the kernel has not reclaimed yet.
    pub lazy_free: u64,
    /// `AnonHugePages`: anonymous memory backed by transparent huge pages.
    pub anon_huge_pages: u64,
    /// `Swap`: anonymous memory swapped out.
    pub swap: u64,
}

impl SmapsRollup {
    /// Resident pages that are not anonymous: file-backed mappings (code, libraries, mapped
    /// files) and shared memory.
    pub fn file_backed(&self) -> u64 {
        self.rss.saturating_sub(self.anonymous)
    }
}

/// Reads `/proc/self/smaps_rollup` (walks every page table of the process: tens of µs for a
/// small process, milliseconds for gigabytes; call it on demand, not periodically).
pub fn smaps_rollup() -> io::Result<SmapsRollup> {
    const PATH: &str = "/proc/self/smaps_rollup";
    let mut buf = [0u8; 4096];
    let text = read_small(PATH, &mut buf)?;
    let mut s = SmapsRollup::default();
    let mut seen_rss = false;
    for (key, value) in kib_lines(text) {
        match key {
            "Rss" => {
                s.rss = value;
                seen_rss = true;
            }
            "Pss" => s.pss = value,
            "Anonymous" => s.anonymous = value,
            "LazyFree" => s.lazy_free = value,
            "AnonHugePages" => s.anon_huge_pages = value,
            "Swap" => s.swap = value,
            _ => {}
        }
    }
    if !seen_rss {
        return Err(invalid(PATH, "Rss"));
    }
    Ok(s)
}

/// Lines of the form `Key:   123 kB`, as (key, bytes). Other lines are skipped.
fn kib_lines(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|line| {
        let (key, rest) = line.split_once(':')?;
        let mut words = rest.split_ascii_whitespace();
        let value: u64 = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") => Some((key, value.saturating_mul(1024))),
            _ => None,
        }
    })
}

/// Reads a whole small file into `buf` without allocating.
fn read_small<'a>(path: &str, buf: &'a mut [u8]) -> io::Result<&'a str> {
    let mut file = std::fs::File::open(path)?;
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..) {
        if rest.is_empty() {
            return Err(invalid(path, "file larger than expected"));
        }
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let bytes = buf.get(..len).unwrap_or_default();
    std::str::from_utf8(bytes).map_err(|_| invalid(path, "UTF-8 text"))
}

fn invalid(path: &str, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{path}: could not read {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kib_lines() {
        let text =
            "Rss:                5476 kB\nPss:  10 kB\nName:\tfoo\nLazyFree: 0 kB\nbad: x kB\n";
        let v: Vec<_> = kib_lines(text).collect();
        assert_eq!(
            v,
            [("Rss", 5476 * 1024), ("Pss", 10 * 1024), ("LazyFree", 0)]
        );
    }

    #[test]
    fn rss_follows_touched_memory() {
        // 64 MiB touched page by page must show up in RSS (other threads may add or release
        // a little meanwhile, so allow some slack).
        let before = rss().unwrap();
        let size = 64 << 20;
        let mut v: Vec<u8> = Vec::with_capacity(size);
        v.resize(size, 1);
        let during = rss().unwrap();
        assert!(
            during >= before + size as u64 * 9 / 10,
            "{before} → {during}"
        );
        let status = status_memory().unwrap();
        assert!(status.vm_hwm >= during - (1 << 20));
        assert!(peak_rss().unwrap() >= status.vm_rss);
        let smaps = smaps_rollup().unwrap();
        assert!(smaps.anonymous >= size as u64, "{smaps:?}");
        assert!(
            smaps.file_backed() > 0,
            "code pages are file-backed: {smaps:?}"
        );
        // Three sources, one truth (give or take the kernel's per-CPU counter batching).
        let tol = 8 << 20;
        assert!(
            smaps.rss.abs_diff(status.vm_rss) < tol,
            "{smaps:?} {status:?}"
        );
        assert_eq!(
            status.vm_rss,
            status.rss_anon + status.rss_file + status.rss_shmem
        );
        drop(v);
    }
}
