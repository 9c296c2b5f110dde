//! The process's memory cgroup (cgroup v2), when there is one: what the container is charged
//! and the limit that gets it OOM-killed.
//!
//! | figure | file | meaning |
//! |---|---|---|
//! | [`CgroupMemory::current`] | `memory.current` | everything the cgroup is charged: anonymous memory, page cache, kernel memory, socket buffers |
//! | [`CgroupMemory::limit`] | `memory.max` | the hard limit (`max`: none); the tightest of the cgroup and its ancestors |
//! | [`CgroupMemory::anon`] … [`CgroupMemory::shmem`] | `memory.stat` | the charge split: `anon`, `file` (page cache, `shmem` included), `kernel`, `sock`, `shmem` |
//!
//! The cgroup is the `0::PATH` line of `/proc/self/cgroup` under the cgroup2 mount found in
//! `/proc/self/mountinfo` (usually `/sys/fs/cgroup`); `ALLOCSCOPE_CGROUP_ROOT` replaces the
//! mount point (tests point it at a fake directory). A system without cgroup v2, or whose v2
//! hierarchy has no memory controller for the process (cgroup v1, or the hybrid layout), has
//! no figures: [`read`] returns `None` and the reports say nothing. See
//! `docs/production.md`, "Containers (cgroup v2)".
//!
//! The directory is found once per process; each [`read`] then reads `memory.current`,
//! `memory.stat` and every `memory.max` up the tree into stack buffers (one allocation, the
//! cgroup's path in the result, uncounted; 25–45 µs measured in a release build on a loaded
//! machine, mostly system calls: never from the allocator hooks).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use crate::model::cgroup::CgroupMemory;

/// Where the process's cgroup files are: found once.
#[derive(Debug)]
struct Files {
    path: String,
    current: PathBuf,
    stat: PathBuf,
    /// `memory.max` of the cgroup and each ancestor below the mount point.
    maxes: Vec<PathBuf>,
}

/// The figures of the process's cgroup now, or `None` without cgroup v2 memory accounting.
/// Never panics; allocates only the first time (the directory's path, kept).
pub fn read() -> Option<CgroupMemory> {
    static FILES: OnceLock<Option<Files>> = OnceLock::new();
    let files = FILES
        .get_or_init(|| {
            crate::hook::guard::untracked(|| {
                let root = std::env::var_os("ALLOCSCOPE_CGROUP_ROOT")
                    .filter(|r| !r.is_empty())
                    .map(PathBuf::from)
                    .or_else(cgroup2_mount)?;
                files_under(&root, &std::fs::read_to_string("/proc/self/cgroup").ok()?)
            })
        })
        .as_ref()?;
    read_files(files)
}

/// The figures of the process's cgroup under the cgroup2 mount point `root` (not cached:
/// each call finds the directory again). `None` when `root` holds no memory cgroup of this
/// process.
pub fn read_at(root: &Path) -> Option<CgroupMemory> {
    crate::hook::guard::untracked(|| {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        read_files(&files_under(root, &own)?)
    })
}

/// The cgroup v2 path of `/proc/self/cgroup`'s text: the `0::PATH` line.
fn v2_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::trim_end)
}

/// The mount point of the first cgroup2 file system in `/proc/self/mountinfo`.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_of_cgroup2(&info).map(PathBuf::from)
}

/// `mountinfo` lines: `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [TAGS…] - FSTYPE SOURCE …`.
fn mount_of_cgroup2(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        (after.split_ascii_whitespace().next()? == "cgroup2")
            .then(|| before.split_ascii_whitespace().nth(4).map(unescape_octal))?
    })
}

/// `mountinfo` writes spaces and a few other bytes of paths as `\040`-style octal escapes.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let code = b
            .get(i + 1..i + 4)
            .filter(|d| c == b'\\' && d.iter().all(|x| (b'0'..=b'7').contains(x)))
            .map(|d| d.iter().fold(0u32, |a, x| a * 8 + u32::from(x - b'0')));
        match code.and_then(|v| u8::try_from(v).ok()) {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The files of the cgroup `/proc/self/cgroup` names, under `root`; `None` when its
/// `memory.current` is not there (no memory controller in the v2 hierarchy).
fn files_under(root: &Path, proc_cgroup: &str) -> Option<Files> {
    let path = v2_path(proc_cgroup)?;
    let rel = path.trim_start_matches('/');
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let current = dir.join("memory.current");
    if !current.is_file() {
        return None;
    }
    let mut maxes = Vec::new();
    let mut d = dir.as_path();
    loop {
        let m = d.join("memory.max");
        if m.is_file() {
            maxes.push(m);
        }
        if d == root {
            break;
        }
        match d.parent() {
            Some(p) if p.starts_with(root) => d = p,
            _ => break,
        }
    }
    Some(Files {
        path: path.to_string(),
        stat: dir.join("memory.stat"),
        current,
        maxes,
    })
}

fn read_files(f: &Files) -> Option<CgroupMemory> {
    let mut buf = [0u8; 64];
    let current = read_small(&f.current, &mut buf)?.trim().parse().ok()?;
    let mut limit: Option<u64> = None;
    for m in &f.maxes {
        let mut buf = [0u8; 64];
        // "max", or bytes; an unreadable file sets no limit.
        if let Some(v) = read_small(m, &mut buf).and_then(|t| t.trim().parse::<u64>().ok()) {
            limit = Some(limit.map_or(v, |l| l.min(v)));
        }
    }
    let mut out = CgroupMemory {
        path: crate::hook::guard::untracked(|| f.path.clone()),
        rss: crate::observe::procfs::rss().unwrap_or(0),
        current,
        limit,
        ..CgroupMemory::default()
    };
    let mut buf = [0u8; 16 * 1024];
    if let Some(stat) = read_small(&f.stat, &mut buf) {
        for line in stat.lines() {
            let Some((key, value)) = line.split_once(' ') else {
                continue;
            };
            let slot = match key {
                "anon" => &mut out.anon,
                "file" => &mut out.file,
                "kernel" => &mut out.kernel,
                "sock" => &mut out.sock,
                "shmem" => &mut out.shmem,
                _ => continue,
            };
            *slot = value.trim().parse().ok();
        }
    }
    Some(out)
}

/// Reads a whole small file into `buf` without allocating; `None` if it cannot, or if it
/// does not fit.
fn read_small<'a>(path: &Path, buf: &'a mut [u8]) -> Option<&'a str> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut len = 0;
    loop {
        let rest = buf.get_mut(len..).filter(|r| !r.is_empty())?;
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    std::str::from_utf8(buf.get(..len)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_v2_line_and_the_cgroup2_mount() {
        let text = "4:memory:/a/b\n0::/system.slice/app.service\n";
        assert_eq!(v2_path(text), Some("/system.slice/app.service"));
        assert_eq!(v2_path("4:memory:/a\n"), None);
        let info = "22 1 0:20 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                    30 22 0:26 / /sys/fs/cgroup/unified rw,relatime shared:5 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            mount_of_cgroup2(info).as_deref(),
            Some("/sys/fs/cgroup/unified")
        );
        assert_eq!(mount_of_cgroup2("1 0 0:1 / / rw - ext4 /dev/x rw\n"), None);
        assert_eq!(unescape_octal(r"/a\040b\\"), r"/a b\\");
    }

    fn fake(tree: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/cgroup")
            .join(tree)
    }

    const MIB: u64 = 1 << 20;

    #[test]
    fn reads_a_fake_cgroup_and_the_tightest_ancestor_limit() {
        // tests/data/cgroup/README.md gives the figures written in the files.
        let f = files_under(&fake("v2"), "0::/kubepods.slice/pod1/app\n").unwrap();
        assert_eq!(f.maxes.len(), 3);
        let cg = read_files(&f).unwrap();
        assert_eq!(cg.path, "/kubepods.slice/pod1/app");
        assert_eq!(cg.current, 1600 * MIB);
        assert_eq!(cg.limit, Some(2048 * MIB));
        assert_eq!(cg.anon, Some(1250 * MIB));
        assert_eq!(cg.file, Some(300 * MIB));
        assert_eq!(cg.kernel, Some(40 * MIB));
        assert_eq!(cg.sock, Some(MIB));
        assert_eq!(cg.shmem, Some(2 * MIB));
        assert!(cg.rss > 0);
        // "max" all the way up: no limit.
        let cg = read_files(&files_under(&fake("v2"), "0::/unlimited\n").unwrap()).unwrap();
        assert_eq!((cg.current, cg.limit, cg.file), (50 * MIB, None, Some(0)));
        assert_eq!(cg.kernel, None);
        // No memory controller, no v2 line, no such cgroup: nothing.
        assert!(files_under(&fake("v1-hybrid"), "0::/\n").is_none());
        assert!(files_under(&fake("v2"), "4:memory:/unlimited\n").is_none());
        assert!(files_under(&fake("v2"), "0::/gone\n").is_none());
    }
}
