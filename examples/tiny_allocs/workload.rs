//! A package resolver's hot loop in miniature: parse version strings into structs holding
//! small Vecs and Strings, pick the newest that satisfies a requirement, drop the rest.
//! Two variants: heap collections (`Version`) and inline storage (`VersionInline`, SmallVec).

use smallvec::SmallVec;

/// A version with heap-allocated parts: every parse makes several tiny, short-lived blocks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub numbers: Vec<u64>,
    pub pre: Vec<String>,
    pub build: String,
}

/// The same with inline storage: no allocation for the usual short versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VersionInline {
    pub numbers: SmallVec<[u64; 4]>,
    pub pre: SmallVec<[SmallVec<[u8; 16]>; 2]>,
    pub build: SmallVec<[u8; 16]>,
}

/// Parses `1.2.3-alpha.1+build.5` (heap variant).
#[inline(never)]
pub fn parse_version(s: &str) -> Option<Version> {
    let (rest, build) = s.split_once('+').unwrap_or((s, ""));
    let (core, pre) = rest.split_once('-').unwrap_or((rest, ""));
    Some(Version {
        numbers: parse_numbers(core)?,
        pre: parse_pre(pre),
        build: build.to_string(),
    })
}

/// `1.2.3` → `[1, 2, 3]`.
#[inline(never)]
pub fn parse_numbers(s: &str) -> Option<Vec<u64>> {
    s.split('.').map(|p| p.parse().ok()).collect()
}

/// `alpha.1` → `["alpha", "1"]`.
#[inline(never)]
pub fn parse_pre(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split('.').map(str::to_string).collect()
}

/// Parses `1.2.3-alpha.1+build.5` (inline variant).
#[inline(never)]
pub fn parse_version_inline(s: &str) -> Option<VersionInline> {
    let (rest, build) = s.split_once('+').unwrap_or((s, ""));
    let (core, pre) = rest.split_once('-').unwrap_or((rest, ""));
    let mut numbers = SmallVec::new();
    for p in core.split('.') {
        numbers.push(p.parse().ok()?);
    }
    let mut pre_parts = SmallVec::new();
    if !pre.is_empty() {
        for p in pre.split('.') {
            pre_parts.push(SmallVec::from_slice(p.as_bytes()));
        }
    }
    Some(VersionInline {
        numbers,
        pre: pre_parts,
        build: SmallVec::from_slice(build.as_bytes()),
    })
}

/// Deterministic candidate version strings, written into `buf` (reused: the input itself is
/// not what we want to profile).
pub fn candidate(i: u64, buf: &mut String) {
    use std::fmt::Write;
    buf.clear();
    let (a, b, c) = (i % 7, (i / 7) % 13, (i / 91) % 29);
    let _ = write!(buf, "{a}.{b}.{c}");
    match i % 5 {
        0 => {
            let _ = write!(buf, "-alpha.{}", i % 3);
        }
        1 => {
            let _ = write!(buf, "-rc.{}+build.{}", i % 4, i % 100);
        }
        _ => {}
    }
}

/// Resolves `n` candidates with heap versions: returns the newest with major version 3.
#[inline(never)]
pub fn resolve(n: u64) -> Option<Version> {
    let mut buf = String::with_capacity(64);
    let mut best: Option<Version> = None;
    for i in 0..n {
        candidate(i, &mut buf);
        let Some(v) = parse_version(&buf) else {
            continue;
        };
        if v.numbers.first() == Some(&3) && best.as_ref().is_none_or(|b| v > *b) {
            best = Some(v);
        }
    }
    best
}

/// Resolves `n` candidates with inline versions.
#[inline(never)]
pub fn resolve_inline(n: u64) -> Option<VersionInline> {
    let mut buf = String::with_capacity(64);
    let mut best: Option<VersionInline> = None;
    for i in 0..n {
        candidate(i, &mut buf);
        let Some(v) = parse_version_inline(&buf) else {
            continue;
        };
        if v.numbers.first() == Some(&3) && best.as_ref().is_none_or(|b| v > *b) {
            best = Some(v);
        }
    }
    best
}
