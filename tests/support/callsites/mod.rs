//! Shared by the call-site tests: each scenario runs its workload in a child process (the
//! test binary re-executed with `ALLOCSCOPE_*` variables set from the start and
//! `ALLOCSCOPE_OUT` pointing at a temporary file), then the parent reads the profile the
//! child wrote at exit. This exercises the environment configuration and the exit hook, and
//! keeps the workload alone in its process.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use allocscope::profile::{CallSite, Profile};

pub mod sampled;
pub mod workload;

const CHILD_VAR: &str = "ALLOCSCOPE_TEST_CHILD";

/// True inside the re-executed child.
pub fn is_child() -> bool {
    std::env::var_os(CHILD_VAR).is_some()
}

/// Runs test `name` of this binary as a child with `env` set and returns its profile.
pub fn run_child(name: &str, env: &[(&str, &str)]) -> Profile {
    run_child_with_stderr(name, env).0
}

/// As [`run_child`], also returning the child's stderr.
pub fn run_child_with_stderr(name: &str, env: &[(&str, &str)]) -> (Profile, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out: PathBuf = dir.path().join("child.profile.json");
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, "1")
        .env("ALLOCSCOPE_OUT", &out);
    for var in [
        "ALLOCSCOPE",
        "ALLOCSCOPE_SAMPLE_BYTES",
        "ALLOCSCOPE_SEED",
        "ALLOCSCOPE_UNWIND",
        "ALLOCSCOPE_MAX_DEPTH",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run child");
    assert!(
        output.status.success(),
        "child failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut profile = Profile::read(&out)
        .unwrap_or_else(|e| panic!("no profile from child: {e}\nstderr: {stderr}"));
    // As every report reads it: names from the binary, stacks trimmed to the user's part.
    allocscope::profile::symbolize(&mut profile, &Default::default())
        .unwrap_or_else(|e| panic!("symbolizing the child's profile: {e}"));
    allocscope::trim::trim_profile(&mut profile);
    (profile, stderr)
}

/// The site whose first frame is the function `name` (matched on the last path segment).
pub fn site<'a>(p: &'a Profile, name: &str) -> &'a CallSite {
    let found: Vec<&CallSite> = sites(p, name);
    assert_eq!(
        found.len(),
        1,
        "expected one site with frames[0] = {name}, found {}; sites: {:#?}",
        found.len(),
        p.sites
            .iter()
            .take(12)
            .map(|s| s.frames.first().map(|f| f.function.clone()))
            .collect::<Vec<_>>()
    );
    found[0]
}

/// All sites whose first frame is the function `name`.
pub fn sites<'a>(p: &'a Profile, name: &str) -> Vec<&'a CallSite> {
    let suffix = format!("::{name}");
    p.sites
        .iter()
        .filter(|s| {
            s.frames
                .first()
                .is_some_and(|f| f.function.ends_with(&suffix) || f.function == name)
        })
        .collect()
}

/// Sum of the estimated bytes of all sites whose first frame is `name`.
pub fn bytes_of(p: &Profile, name: &str) -> u64 {
    sites(p, name).iter().map(|s| s.bytes).sum()
}

/// Figures summed over all sites whose first frame is one function.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sum {
    pub sites: usize,
    pub allocs: u64,
    pub bytes: u64,
    pub live_blocks: u64,
    pub live_bytes: u64,
    pub peak_bytes: u64,
    pub freed: u64,
}

/// Sums the sites whose first frame is `name`.
pub fn sum(p: &Profile, name: &str) -> Sum {
    let mut s = Sum::default();
    for c in sites(p, name) {
        s.sites += 1;
        s.allocs += c.allocs;
        s.bytes += c.bytes;
        s.live_blocks += c.live_blocks;
        s.live_bytes += c.live_bytes;
        s.peak_bytes += c.peak_bytes;
        s.freed += c.lifetimes.freed;
    }
    s
}
