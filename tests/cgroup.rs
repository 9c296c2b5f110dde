//! The container's memory figures (cgroup v2, issue 13), from a fake cgroup directory and
//! from this machine's real cgroup, whatever it has.
//!
//! One process, no libtest harness: `ALLOCSCOPE_CGROUP_ROOT` is read once, by the first
//! snapshot, so it is set first thing in `main`.
//!
//! - fake: the files of `tests/data/cgroup/v2/kubepods.slice/pod1/app` (figures in
//!   `tests/data/cgroup/README.md`) copied under a temporary mount point at this process's
//!   own cgroup path: the snapshot, the profile, the summary (text and JSON) and the HTML
//!   page carry them and set RSS against the 2 GiB limit;
//! - real: the cgroup2 mount and the process's cgroup found here independently of the
//!   library (mountinfo, `/proc/self/cgroup`, the files read with `std::fs`): the library
//!   reads the same limit and about the same charge, or, without cgroup v2 memory
//!   accounting (cgroup v1, the hybrid layout), nothing from it; and a profile without cgroup
//!   figures says nothing about a container;
//! - real v1: where the process has a cgroup v1 memory controller (found here from mountinfo
//!   and `/proc/self/cgroup`), the library reads its limit, charge and anonymous memory, and
//!   the summary names it `container (cgroup v1)`.

use std::path::{Path, PathBuf};

use allocscope::profile::Profile;
use allocscope::report::Summary;

#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

const MIB: u64 = 1 << 20;

fn main() {
    let own = own_v2_path();
    let fake_root = tempfile::tempdir().unwrap();
    if let Some(own) = &own {
        std::env::set_var("ALLOCSCOPE_CGROUP_ROOT", fake_root.path());
        place_fake_cgroup(fake_root.path(), own);
    }
    real_cgroup_is_read_as_it_is();
    real_v1_cgroup_is_read_as_it_is();
    match own {
        Some(_) => fake_cgroup_reaches_every_report(),
        None => eprintln!(
            "cgroup: SKIPPED the fake cgroup: /proc/self/cgroup has no cgroup v2 line here"
        ),
    }
    println!("cgroup: ok");
}

/// The `0::PATH` line of `/proc/self/cgroup`.
fn own_v2_path() -> Option<String> {
    std::fs::read_to_string("/proc/self/cgroup")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
}

/// The fake cgroup's files under `root` at this process's cgroup path, with the 2 GiB limit
/// one level up (or at the root, for a process in the root cgroup).
fn place_fake_cgroup(root: &Path, own: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cgroup/v2");
    let dir = root.join(own.trim_start_matches('/'));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["memory.current", "memory.stat", "memory.max"] {
        std::fs::copy(src.join("kubepods.slice/pod1/app").join(f), dir.join(f)).unwrap();
    }
    let parent = if dir == root {
        root
    } else {
        dir.parent().unwrap()
    };
    if parent != dir.as_path() {
        std::fs::copy(
            src.join("kubepods.slice/memory.max"),
            parent.join("memory.max"),
        )
        .unwrap();
    } else {
        std::fs::write(dir.join("memory.max"), "2147483648\n").unwrap();
    }
}

fn fake_cgroup_reaches_every_report() {
    let snap = allocscope::snapshot();
    let cg = snap
        .cgroup
        .clone()
        .expect("the fake cgroup in the snapshot");
    // The figures written in tests/data/cgroup/v2/kubepods.slice/pod1/app.
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
    // The RSS beside it is this process's, read at the same moment.
    let rss = allocscope::procfs::rss().unwrap();
    assert!(
        cg.rss > 0 && cg.rss.abs_diff(rss) < 8 * MIB,
        "{} vs {rss}",
        cg.rss
    );

    // The profile carries it; the summary and the page say it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    allocscope::write_profile(&path).unwrap();
    let p = Profile::read(&path).unwrap();
    let pc = p.cgroup.clone().expect("cgroup in the profile");
    assert_eq!(
        (pc.current, pc.limit, pc.file),
        (cg.current, cg.limit, cg.file)
    );
    let expected = allocscope::gap_term::container_sentence(&pc);
    let share = format!("({:.1}%)", 100.0 * pc.rss as f64 / (2048 * MIB) as f64);
    assert!(
        expected.starts_with("RSS ")
            && expected.contains(&format!(" of a 2.00 GiB limit {share}; page cache 300 MiB also counts toward the limit; the cgroup is charged 1.56 GiB in all (78.1%).")),
        "{expected}"
    );
    let summary = Summary::new(&p, 5);
    let mut text = Vec::new();
    summary.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(&format!("  container (cgroup v2): {expected}\n")),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
    assert_eq!(json["container"], expected.as_str());
    assert_eq!(json["cgroup"]["limit"], 2048 * MIB);
    let page = allocscope::report::html::render(&p);
    assert!(page.contains(&format!(
        "\"container\":{}",
        serde_json::to_string(&expected).unwrap()
    )));
    eprintln!("cgroup: fake: {expected}");
    // What a snapshot pays for it (information, not a check: timings go in benchmarks).
    let t = std::time::Instant::now();
    for _ in 0..1000 {
        std::hint::black_box(allocscope::cgroup::read());
    }
    eprintln!(
        "cgroup: one read of the fake cgroup's files: {:.1} µs ({} build)",
        t.elapsed().as_secs_f64() * 1e3,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}

/// The cgroup2 mount point, read here without the library: the mount point (5th field) of
/// the `mountinfo` line whose file system type (after ` - `) is `cgroup2`.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines().find_map(|l| {
        let (a, b) = l.split_once(" - ")?;
        (b.split(' ').next()? == "cgroup2").then(|| PathBuf::from(a.split(' ').nth(4).unwrap()))
    })
}

/// The cgroup's charge moves with every process in it: what the library read is within what
/// the test read around it (`before`, `after`), give or take 16 MiB.
fn assert_charged_between(got: &allocscope::CgroupMemory, before: u64, after: u64) {
    let (lo, hi) = (before.min(after), before.max(after));
    assert!(
        got.current + 16 * MIB >= lo && got.current <= hi + 16 * MIB,
        "{} not near {lo}..{hi}",
        got.current
    );
}

fn number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn real_cgroup_is_read_as_it_is() {
    let (Some(mount), Some(own)) = (cgroup2_mount(), own_v2_path()) else {
        eprintln!("cgroup: real: no cgroup2 mount or no v2 line here: nothing to read");
        if let Some(m) = cgroup2_mount() {
            assert_eq!(allocscope::cgroup::read_at(&m), None);
        }
        return;
    };
    let dir = mount.join(own.trim_start_matches('/'));
    let got = allocscope::cgroup::read_at(&mount);
    let Some(before) = number(&dir.join("memory.current")) else {
        eprintln!(
            "cgroup: real: {} has no memory.current (no memory controller in cgroup v2 here): \
             nothing read",
            dir.display()
        );
        assert_eq!(got, None);
        // And nothing is shown.
        let mut p = allocscope::collect_profile();
        p.cgroup = None;
        let mut text = Vec::new();
        Summary::new(&p, 5).write_text(&mut text).unwrap();
        assert!(!String::from_utf8(text).unwrap().contains("container"));
        return;
    };
    let got = got.expect("memory.current is there: the library must read it");
    let after = number(&dir.join("memory.current")).unwrap();
    // The limit: the smallest memory.max from the cgroup up to the mount point.
    let mut limit: Option<u64> = None;
    let mut d = dir.as_path();
    while d.starts_with(&mount) {
        if let Some(v) = number(&d.join("memory.max")) {
            limit = Some(limit.map_or(v, |l: u64| l.min(v)));
        }
        if d == mount {
            break;
        }
        d = d.parent().unwrap();
    }
    assert_eq!(got.limit, limit);
    assert_charged_between(&got, before, after);
    let stat = std::fs::read_to_string(dir.join("memory.stat")).unwrap();
    let anon: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("anon "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(got.anon.unwrap().abs_diff(anon) <= 64 * MIB);
    eprintln!(
        "cgroup: real: {} charged {} B, limit {:?}",
        got.path, got.current, got.limit
    );
}

/// The v1 memory controller's mount point, when mounted at its root (`/`), read here without
/// the library: the `mountinfo` line of file system type `cgroup` with the `memory` option.
fn v1_memory_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines().find_map(|l| {
        let (a, b) = l.split_once(" - ")?;
        let b: Vec<&str> = b.split(' ').collect();
        let a: Vec<&str> = a.split(' ').collect();
        (b.first() == Some(&"cgroup")
            && b.get(2)?.split(',').any(|o| o == "memory")
            && a.get(3) == Some(&"/"))
        .then(|| PathBuf::from(a[4]))
    })
}

fn real_v1_cgroup_is_read_as_it_is() {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let path = own.lines().find_map(|l| {
        let mut p = l.splitn(3, ':');
        let (_, controllers, path) = (p.next()?, p.next()?, p.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then_some(path)
    });
    let (Some(mount), Some(path)) = (v1_memory_mount(), path) else {
        eprintln!("cgroup: real v1: no v1 memory controller mounted at its root here");
        return;
    };
    let dir = mount.join(path.trim_start_matches('/'));
    let Some(before) = number(&dir.join("memory.usage_in_bytes")) else {
        eprintln!(
            "cgroup: real v1: {} has no memory.usage_in_bytes",
            dir.display()
        );
        return;
    };
    let got = allocscope::cgroup::read_at(&mount).expect("a v1 memory cgroup: read it");
    let after = number(&dir.join("memory.usage_in_bytes")).unwrap();
    assert_eq!(got.version, allocscope::cgroup::CgroupVersion::V1);
    assert_eq!(got.path, path);
    let stat = std::fs::read_to_string(dir.join("memory.stat")).unwrap();
    let field = |name: &str| -> u64 {
        stat.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    // The limit that applies: `hierarchical_memory_limit`, none when it is PAGE_COUNTER_MAX
    // pages (any figure ≥ 2^62), or the cgroup's own if lower.
    let hierarchical = field("hierarchical_memory_limit");
    let own_limit = number(&dir.join("memory.limit_in_bytes")).unwrap();
    let limit = [hierarchical, own_limit]
        .into_iter()
        .filter(|&v| v < 1 << 62)
        .min();
    assert_eq!(got.limit, limit);
    assert_charged_between(&got, before, after);
    assert!(got.anon.unwrap().abs_diff(field("total_rss")) <= 64 * MIB);
    assert!(got.file.unwrap().abs_diff(field("total_cache")) <= 256 * MIB);
    // The summary names the hierarchy.
    let mut p = allocscope::collect_profile();
    p.cgroup = Some(got.clone());
    let mut text = Vec::new();
    Summary::new(&p, 5).write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let sentence = allocscope::gap_term::container_sentence(&got);
    assert!(
        text.contains(&format!("  container (cgroup v1): {sentence}\n")),
        "{text}"
    );
    eprintln!(
        "cgroup: real v1: {} charged {} B, limit {:?}: {sentence}",
        got.path, got.current, got.limit
    );
}
