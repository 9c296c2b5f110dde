//! Valid but extreme profiles through every `alloc-report` subcommand (the real binary):
//! many call sites, a 10,000-frame stack, a 1 MB function name, non-UTF-8 file names; and
//! invalid UTF-8 inside a file. Each must succeed (or fail with one line), never crash or
//! overflow the stack. `ALLOCSCOPE_HOSTILE_SITES=N` sets the number of sites (CI: 5,000;
//! the README's "Reliability" section has the figures of 1,000,000 through the release binary).

#[path = "support/fixtures.rs"]
mod fixtures;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStringExt as _;
use std::path::Path;
use std::time::Instant;

use allocscope::profile::{Frame, Profile};

fn frame(function: String) -> Frame {
    Frame {
        function,
        file: Some("src/deep.rs".into()),
        line: Some(1),
        addr: 0x1000,
        inlined: false,
    }
}

/// Every subcommand on `profile` (and `base` for diff/compare); each must exit 0.
fn all_subcommands(what: &str, profile: &Path, base: &Path, out_dir: &Path) {
    let o = |name: &str| out_dir.join(name).into_os_string();
    let p = profile.as_os_str();
    let b = base.as_os_str();
    let runs: Vec<Vec<OsString>> = vec![
        vec!["summary".into(), p.into()],
        vec!["summary".into(), "--json".into(), p.into()],
        vec!["flamegraph".into(), "-o".into(), o("f.svg"), p.into()],
        vec!["diff".into(), "-o".into(), o("d.svg"), b.into(), p.into()],
        vec![
            "export".into(),
            "--format".into(),
            "folded".into(),
            "-o".into(),
            o("f.txt"),
            p.into(),
        ],
        vec![
            "export".into(),
            "--format".into(),
            "pprof".into(),
            "-o".into(),
            o("p.pb.gz"),
            p.into(),
        ],
        vec!["html".into(), "-o".into(), o("r.html"), p.into()],
        vec!["compare".into(), b.into(), p.into()],
    ];
    for args in runs {
        let start = Instant::now();
        let r = assert_cmd::Command::cargo_bin("alloc-report")
            .unwrap()
            .args(&args)
            .output()
            .unwrap();
        assert!(
            r.status.success(),
            "{what}: {args:?}: {:?}\n{}",
            r.status,
            String::from_utf8_lossy(&r.stderr)
        );
        println!(
            "{what}: {:?} ok in {:.2} s",
            args[0],
            start.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn extreme_profiles_go_through_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let base_path = dir.path().join("base.json");
    let base = fixtures::kvstore_before();
    base.write(&base_path).unwrap();

    // A 10,000-frame stack and a 1 MB function name.
    let mut p = base.clone();
    let deep: Vec<Frame> = (0..10_000)
        .map(|i| frame(format!("deep::level_{i}")))
        .collect();
    p.sites[0].frames = deep;
    p.sites[1].frames[0] = frame("n".repeat(1 << 20));
    let path = dir.path().join("deep-and-long.json");
    p.write(&path).unwrap();
    let back = Profile::read(&path).unwrap();
    assert_eq!(back.sites[0].frames.len(), 10_000);
    all_subcommands("10k-deep stack + 1 MB name", &path, &base_path, dir.path());

    // Many call sites.
    let n: usize = std::env::var("ALLOCSCOPE_HOSTILE_SITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let many = fixtures::large(n);
    let path = dir.path().join("many.json");
    many.write(&path).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    all_subcommands(
        &format!("{n} sites ({size} bytes)"),
        &path,
        &base_path,
        dir.path(),
    );
}

#[test]
fn non_utf8_file_names_and_contents() {
    let dir = tempfile::tempdir().unwrap();
    let name = OsString::from_vec(b"prof-\xff\xfe.json".to_vec());
    let path = dir.path().join(&name);
    fixtures::kvstore_before().write(&path).unwrap();
    let out = dir
        .path()
        .join(OsString::from_vec(b"out-\xff.html".to_vec()));
    for args in [
        vec![OsStr::new("summary"), path.as_os_str()],
        vec![
            OsStr::new("html"),
            OsStr::new("-o"),
            out.as_os_str(),
            path.as_os_str(),
        ],
    ] {
        let r = assert_cmd::Command::cargo_bin("alloc-report")
            .unwrap()
            .args(&args)
            .output()
            .unwrap();
        assert!(
            r.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    assert!(out.exists());

    // Invalid UTF-8 inside a string of the file: one line naming the file, status 1.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(6).position(|w| w == b"\"main\"").unwrap() + 2;
    bytes[at] = 0xff;
    let bad = dir
        .path()
        .join(OsString::from_vec(b"bad-\xff.json".to_vec()));
    std::fs::write(&bad, &bytes).unwrap();
    let r = assert_cmd::Command::cargo_bin("alloc-report")
        .unwrap()
        .arg("summary")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("bad-") && stderr.contains("not a valid allocscope profile"),
        "{stderr}"
    );
}
