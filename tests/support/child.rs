//! Running this test binary again as a child for one case, with a time limit: a case that
//! deadlocks is killed and reported as such instead of hanging the suite.
#![allow(dead_code)]

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a child case did.
pub struct Outcome {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub secs: f64,
}

/// Runs `current_exe CASE` (its words as arguments) with `env`; panics naming the case if it runs past `limit`
/// (killed: a deadlock or livelock) or fails.
pub fn run_case(case: &str, env: &[(&str, &str)], limit: Duration) -> Outcome {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(case.split_whitespace())
        .env_remove("ALLOCSCOPE_OUT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = t_err.join().unwrap();
            panic!("case {case}: still running after {limit:?}: deadlock or livelock (killed)\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let o = Outcome {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
        secs: start.elapsed().as_secs_f64(),
    };
    assert!(
        o.status.success(),
        "case {case} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        o.stdout,
        o.stderr
    );
    o
}
