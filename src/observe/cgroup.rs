//! The process's memory cgroup (containers), when there is one: what the container is
//! charged and the limit that gets it OOM-killed. cgroup v2 first; else the legacy v1 memory
//! controller (older Docker and Kubernetes hosts, the hybrid layout).
//!
//! | figure | v2 file | v1 file | meaning |
//! |---|---|---|---|
//! | [`CgroupMemory::current`] | `memory.current` | `memory.usage_in_bytes` | everything the cgroup is charged: anonymous memory, page cache, kernel memory, socket buffers |
//! | [`CgroupMemory::limit`] | `memory.max` | `hierarchical_memory_limit` of `memory.stat`, else `memory.limit_in_bytes` | the hard limit (v2 `max`, v1 `PAGE_COUNTER_MAX` pages: none); the tightest of the cgroup and its ancestors |
//! | [`CgroupMemory::anon`] … [`CgroupMemory::shmem`] | `memory.stat` | `memory.stat` (`total_rss`, `total_cache`, `total_shmem`), `memory.kmem.usage_in_bytes`, `memory.kmem.tcp.usage_in_bytes` | the charge split: anon, page cache (`shmem` included), kernel, sockets, shmem |
//!
//! v2: the cgroup is the `0::PATH` line of `/proc/self/cgroup` under the cgroup2 mount found
//! in `/proc/self/mountinfo` (usually `/sys/fs/cgroup`), used when its directory has
//! `memory.current`. v1: the line whose controller list has `memory` (`4:memory:PATH`), under
//! the mount of the `cgroup` file system with the `memory` option (`/sys/fs/cgroup/memory`),
//! less that mount's root (a container sees its own cgroup as the mount's root).
//! `ALLOCSCOPE_CGROUP_ROOT` replaces the mount point of either (tests point it at a fake
//! directory). Without either, [`read`] returns `None` and the reports say nothing. See
//! `docs/production.md`, "Containers".
//!
//! The directory is found once per process; each [`read`] then reads the charge, the stat
//! file and the limits into stack buffers (one allocation: the cgroup's path in the result,
//! made in the caller's scope, like the rest of a snapshot; 25–45 µs measured in a release build on a loaded machine, mostly system calls:
//! never from the allocator hooks).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use crate::model::cgroup::{CgroupMemory, CgroupVersion};

/// Where the process's cgroup files are: found once.
#[derive(Debug)]
struct Files {
    version: CgroupVersion,
    path: String,
    /// The charge: `memory.current` (v2), `memory.usage_in_bytes` (v1).
    current: PathBuf,
    stat: PathBuf,
    /// The limit file of the cgroup and each ancestor below the mount point: `memory.max`
    /// (v2), `memory.limit_in_bytes` (v1).
    maxes: Vec<PathBuf>,
    /// v1 only: `memory.kmem.usage_in_bytes` and `memory.kmem.tcp.usage_in_bytes`.
    kmem: Option<(PathBuf, PathBuf)>,
}

/// The figures of the process's cgroup now, or `None` without memory cgroup accounting.
/// Never panics; allocates only the first time (the directory's path, kept).
pub fn read() -> Option<CgroupMemory> {
    static FILES: OnceLock<Option<Files>> = OnceLock::new();
    if FILES.get().is_none() && crate::hook::forked::in_forked_child() {
        // Another thread of the parent may have been finding the directory at the moment of
        // the fork: in a child that wait would never end (docs/reliability.md). No figures.
        return None;
    }
    let files = FILES
        .get_or_init(|| {
            crate::hook::guard::untracked(|| {
                let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
                match std::env::var_os("ALLOCSCOPE_CGROUP_ROOT").filter(|r| !r.is_empty()) {
                    Some(root) => files_at(Path::new(&root), &own),
                    None => {
                        let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
                        files_from_mounts(&info, &own)
                    }
                }
            })
        })
        .as_ref()?;
    read_files(files)
}

/// The figures of the process's cgroup under the mount point `root` of its cgroup2 or
/// cgroup v1 memory hierarchy (not cached: each call finds the directory again). `None`
/// when `root` holds no memory cgroup of this process.
pub fn read_at(root: &Path) -> Option<CgroupMemory> {
    crate::hook::guard::untracked(|| {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        read_files(&files_at(root, &own)?)
    })
}

/// The process's cgroup under `root`, taken as the mount point of both hierarchies: v2 if
/// its directory has `memory.current`, else v1.
fn files_at(root: &Path, proc_cgroup: &str) -> Option<Files> {
    files_under(root, proc_cgroup).or_else(|| {
        let path = v1_memory_path(proc_cgroup)?;
        v1_files_under(root, path, path)
    })
}

/// The process's cgroup from the mounts of `mountinfo`: v2 if the cgroup2 mount has a memory
/// controller for it, else the v1 memory mount.
fn files_from_mounts(mountinfo: &str, proc_cgroup: &str) -> Option<Files> {
    if let Some(files) =
        mount_of_cgroup2(mountinfo).and_then(|m| files_under(Path::new(&m), proc_cgroup))
    {
        return Some(files);
    }
    let (mount_root, mount_point) = mount_of_v1_memory(mountinfo)?;
    let path = v1_memory_path(proc_cgroup)?;
    // The mount shows the hierarchy from `mount_root` down (a container's own cgroup).
    let rel = if mount_root == "/" {
        path
    } else {
        path.strip_prefix(mount_root.as_str())
            .filter(|r| r.is_empty() || r.starts_with('/'))?
    };
    v1_files_under(Path::new(&mount_point), rel, path)
}

/// The v1 memory controller's path of `/proc/self/cgroup`'s text: the `ID:CONTROLLERS:PATH`
/// line whose controllers include `memory`.
fn v1_memory_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| path.trim_end())
    })
}

/// The root and mount point of the v1 memory hierarchy in `mountinfo`: the `cgroup` file
/// system whose super options (after the source) include `memory`.
fn mount_of_v1_memory(mountinfo: &str) -> Option<(String, String)> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let mut a = after.split_ascii_whitespace();
        let (fstype, _source, options) = (a.next()?, a.next()?, a.next()?);
        if fstype != "cgroup" || !options.split(',').any(|o| o == "memory") {
            return None;
        }
        let mut b = before.split_ascii_whitespace().skip(3);
        Some((unescape_octal(b.next()?), unescape_octal(b.next()?)))
    })
}

/// The v1 files of the cgroup at `rel` under the mount point `root` (`path`: its path in the
/// hierarchy, as reported); `None` when its `memory.usage_in_bytes` is not there.
fn v1_files_under(root: &Path, rel: &str, path: &str) -> Option<Files> {
    files_of(CgroupVersion::V1, root, rel, path)
}

/// The files of a `version` cgroup at `rel` under the mount point `root`, named `path`;
/// `None` when its charge file is not there (no memory controller in that hierarchy).
fn files_of(version: CgroupVersion, root: &Path, rel: &str, path: &str) -> Option<Files> {
    let (current, limit) = match version {
        CgroupVersion::V2 => ("memory.current", "memory.max"),
        CgroupVersion::V1 => ("memory.usage_in_bytes", "memory.limit_in_bytes"),
    };
    let dir = dir_under(root, rel);
    let current = dir.join(current);
    if !current.is_file() {
        return None;
    }
    Some(Files {
        version,
        path: path.to_string(),
        stat: dir.join("memory.stat"),
        maxes: files_up_to(root, &dir, limit),
        kmem: (version == CgroupVersion::V1).then(|| {
            (
                dir.join("memory.kmem.usage_in_bytes"),
                dir.join("memory.kmem.tcp.usage_in_bytes"),
            )
        }),
        current,
    })
}

/// `root/rel`, for a cgroup path `rel` (`/` or empty: `root` itself).
fn dir_under(root: &Path, rel: &str) -> PathBuf {
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// `name` in `dir` and in each of its ancestors up to `root`, where it is a file.
fn files_up_to(root: &Path, dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut d = dir;
    loop {
        let m = d.join(name);
        if m.is_file() {
            found.push(m);
        }
        if d == root {
            break;
        }
        match d.parent() {
            Some(p) if p.starts_with(root) => d = p,
            _ => break,
        }
    }
    found
}

/// The cgroup v2 path of `/proc/self/cgroup`'s text: the `0::PATH` line.
fn v2_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::trim_end)
}

/// The mount point of the first cgroup2 file system in `mountinfo`, whose lines are: `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [TAGS…] - FSTYPE SOURCE …`.
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

/// The v2 files of the cgroup `/proc/self/cgroup` names, under `root`; `None` when its
/// `memory.current` is not there (no memory controller in the v2 hierarchy).
fn files_under(root: &Path, proc_cgroup: &str) -> Option<Files> {
    let path = v2_path(proc_cgroup)?;
    files_of(CgroupVersion::V2, root, path, path)
}

/// v1 writes "no limit" as `PAGE_COUNTER_MAX` pages (9223372036854771712 with 4 KiB pages);
/// any figure this high is none.
const V1_NO_LIMIT: u64 = 1 << 62;

fn read_files(f: &Files) -> Option<CgroupMemory> {
    let mut buf = [0u8; 64];
    let current = read_small(&f.current, &mut buf)?.trim().parse().ok()?;
    let mut limit: Option<u64> = None;
    let mut tighten = |v: u64| {
        if f.version == CgroupVersion::V2 || v < V1_NO_LIMIT {
            limit = Some(limit.map_or(v, |l: u64| l.min(v)));
        }
    };
    for m in &f.maxes {
        let mut buf = [0u8; 64];
        // v2: "max", or bytes; an unreadable file sets no limit.
        if let Some(v) = read_small(m, &mut buf).and_then(|t| t.trim().parse::<u64>().ok()) {
            tighten(v);
        }
    }
    let mut out = CgroupMemory {
        version: f.version,
        // Allocated in the caller's scope: the caller owns it, and frees it there (a path
        // allocated untracked and dropped by the program would count a free it never made).
        path: f.path.clone(),
        rss: crate::observe::procfs::rss().unwrap_or(0),
        current,
        ..CgroupMemory::default()
    };
    let mut buf = [0u8; 16 * 1024];
    if let Some(stat) = read_small(&f.stat, &mut buf) {
        for line in stat.lines() {
            let Some((key, value)) = line.split_once(' ') else {
                continue;
            };
            let value = value.trim().parse().ok();
            let slot = match (f.version, key) {
                (CgroupVersion::V2, "anon") | (CgroupVersion::V1, "total_rss") => &mut out.anon,
                (CgroupVersion::V2, "file") | (CgroupVersion::V1, "total_cache") => &mut out.file,
                (CgroupVersion::V2, "kernel") => &mut out.kernel,
                (CgroupVersion::V2, "sock") => &mut out.sock,
                (CgroupVersion::V2, "shmem") | (CgroupVersion::V1, "total_shmem") => &mut out.shmem,
                (CgroupVersion::V1, "hierarchical_memory_limit") => {
                    // The limit that applies, ancestors included.
                    if let Some(v) = value {
                        tighten(v);
                    }
                    continue;
                }
                _ => continue,
            };
            *slot = value;
        }
    }
    out.limit = limit;
    if let Some((kmem, tcp)) = &f.kmem {
        let mut buf = [0u8; 64];
        out.kernel = read_small(kmem, &mut buf).and_then(|t| t.trim().parse().ok());
        let mut buf = [0u8; 64];
        out.sock = read_small(tcp, &mut buf).and_then(|t| t.trim().parse().ok());
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

    /// The figures both fake app cgroups (v2 and v1) hold, in their own files.
    fn assert_the_app_figures(cg: &CgroupMemory) {
        assert_eq!(cg.current, 1600 * MIB);
        assert_eq!(cg.limit, Some(2048 * MIB));
        assert_eq!(
            (cg.anon, cg.file, cg.kernel, cg.sock, cg.shmem),
            (
                Some(1250 * MIB),
                Some(300 * MIB),
                Some(40 * MIB),
                Some(MIB),
                Some(2 * MIB)
            )
        );
        assert!(cg.rss > 0);
    }

    #[test]
    fn reads_a_fake_cgroup_and_the_tightest_ancestor_limit() {
        // tests/data/cgroup/README.md gives the figures written in the files.
        let f = files_under(&fake("v2"), "0::/kubepods.slice/pod1/app\n").unwrap();
        assert_eq!(f.maxes.len(), 3);
        let cg = read_files(&f).unwrap();
        assert_eq!(cg.path, "/kubepods.slice/pod1/app");
        // The limit is set on an ancestor.
        assert_the_app_figures(&cg);
        // "max" all the way up: no limit.
        let cg = read_files(&files_under(&fake("v2"), "0::/unlimited\n").unwrap()).unwrap();
        assert_eq!((cg.current, cg.limit, cg.file), (50 * MIB, None, Some(0)));
        assert_eq!(cg.kernel, None);
        // No memory controller, no v2 line, no such cgroup: nothing.
        assert!(files_under(&fake("v1-hybrid"), "0::/\n").is_none());
        assert!(files_under(&fake("v2"), "4:memory:/unlimited\n").is_none());
        assert!(files_under(&fake("v2"), "0::/gone\n").is_none());
    }

    #[test]
    fn reads_a_fake_v1_cgroup_and_its_hierarchical_limit() {
        // tests/data/cgroup/README.md gives the figures written in the files.
        let own = "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n";
        assert_eq!(v1_memory_path(own), Some("/docker/abc"));
        // No memory.current under the v2 reading: v1.
        let f = files_at(&fake("v1"), own).unwrap();
        assert_eq!(f.version, CgroupVersion::V1);
        let cg = read_files(&f).unwrap();
        assert_eq!(cg.version, CgroupVersion::V1);
        assert_eq!(cg.path, "/docker/abc");
        // The cgroup's own limit is "unlimited"; its parent's 2 GiB applies.
        assert_the_app_figures(&cg);
        let cg = read_files(&files_at(&fake("v1"), "4:memory:/unlimited\n").unwrap()).unwrap();
        assert_eq!(
            (cg.current, cg.limit, cg.anon),
            (50 * MIB, None, Some(40 * MIB))
        );
        assert_eq!((cg.kernel, cg.sock), (None, None));
        assert!(files_at(&fake("v1"), "4:memory:/gone\n").is_none());
        assert!(files_at(&fake("v1"), "4:cpu:/docker/abc\n").is_none());
    }

    #[test]
    fn finds_the_v1_memory_mount_less_its_root() {
        let info = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                    32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
                    35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n";
        assert_eq!(
            mount_of_v1_memory(info),
            Some((
                "/docker/abc".to_string(),
                "/sys/fs/cgroup/memory".to_string()
            ))
        );
        // A container whose mount shows its own cgroup as the root: the fake tree's
        // `docker/abc` plays the mount point.
        let mount = fake("v1").join("docker/abc");
        let info = format!(
            "35 31 0:32 /docker/abc {} rw - cgroup cgroup rw,memory\n",
            mount.display()
        );
        let f = files_from_mounts(&info, "4:memory:/docker/abc\n").unwrap();
        assert_eq!(f.path, "/docker/abc");
        assert_eq!(f.current, mount.join("memory.usage_in_bytes"));
        // A path outside the mount's root is not this mount's.
        assert!(files_from_mounts(&info, "4:memory:/docker/abcdef\n").is_none());
        assert_eq!(
            mount_of_v1_memory("32 31 0:29 / /c rw - cgroup cgroup rw,cpu\n"),
            None
        );
    }
}
