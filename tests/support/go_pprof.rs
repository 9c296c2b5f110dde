//! `go tool pprof`, the independent reader of our pprof output (Debian package `golang-go`,
//! installed by `.ci/setup`), for the tests of the pprof export and the HTTP endpoints.

use std::ffi::OsStr;
use std::process::Command;

/// True when `go` runs; otherwise says on stderr that `what` is skipped and why.
pub fn go_available(what: &str) -> bool {
    let found = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "SKIPPED {what}: `go` not found; install Debian's golang-go \
             (apt-get install -y golang-go; .ci/setup does)"
        );
    }
    found
}

/// `go tool pprof ARGS SOURCE` (a file or a URL): its standard output; panics with pprof's
/// stderr if it fails.
pub fn pprof(args: &[&str], source: impl AsRef<OsStr>) -> String {
    let source = source.as_ref();
    let out = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(source)
        .env("PPROF_TMPDIR", std::env::temp_dir())
        .output()
        .expect("run go tool pprof");
    assert!(
        out.status.success(),
        "go tool pprof {args:?} {source:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
