//! Golden files with a bless switch: `BLESS=1 cargo test` rewrites them from the current
//! output; without it a test fails when the output differs, naming the file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `tests/<rel>` in the crate.
pub fn tests_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

/// True when `BLESS` is set to anything but `0` or empty.
pub fn blessing() -> bool {
    std::env::var("BLESS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Compares `actual` with the golden file `tests/<rel>`, or rewrites it when blessing.
pub fn check(rel: &str, actual: &[u8]) {
    let path = tests_path(rel);
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} unreadable ({e}); run `BLESS=1 cargo test` to create it",
            path.display()
        )
    });
    if expected != actual {
        let (exp, act) = (
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(actual),
        );
        let first = exp
            .lines()
            .zip(act.lines())
            .position(|(e, a)| e != a)
            .unwrap_or(exp.lines().count().min(act.lines().count()));
        panic!(
            "output differs from golden file {} at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             If the change is intended, run `BLESS=1 cargo test` and review the diff.",
            path.display(),
            first + 1,
            exp.lines().nth(first),
            act.lines().nth(first),
        );
    }
}
