//! Hostile input: a mutation fuzzer over the profile reader and everything `alloc-report`'s
//! subcommands do with what it reads (summary, flamegraph, diff, export, html, compare), plus
//! a smaller run through the real binary. Inputs are the saved real profiles
//! (`tests/data/report_golden/profiles/*.json`), mutated as bytes (truncation, byte flips, splices, invalid
//! UTF-8, extreme numbers, wrong types, deep nesting) and as JSON trees (a field set to an
//! extreme number, a huge or odd string, an emptied or multiplied array, a removed or unknown
//! key, a wrong type), so that many mutants still parse and reach the report code.
//!
//! Checks: no panic, no hang (a watchdog saves the input being processed and aborts), every
//! error a single line. The number of inputs is printed. `ALLOCSCOPE_FUZZ_INPUTS=N` sets it
//! (`ALLOCSCOPE_FUZZ_SEED` the seed); the README's "Reliability" section has the long-run
//! command and its figures. No nightly toolchain is needed: the generator is a seeded
//! `fastrand` on stable (no coverage feedback; the structure-aware mutations stand in for it).

use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use allocscope::profile::Profile;
use allocscope::report::compare::compare;
use allocscope::report::html;
use allocscope::report::{
    export, site_changes, write_change_tables, write_diff_flamegraph, write_flamegraph,
    ExportFormat, FlamegraphOptions, Metric, Summary,
};
use serde_json::Value;

// For `measure` (bounded memory of the reader).
#[global_allocator]
static ALLOC: allocscope::Profiler<std::alloc::System> =
    allocscope::Profiler::new(std::alloc::System);

fn fixtures() -> Vec<Vec<u8>> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report_golden/profiles");
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    v.sort();
    assert!(v.len() >= 3);
    v
}

const EXTREME_NUMBERS: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "-1",
    "0",
    "-0",
    "0.5",
    "1e308",
    "-1e308",
    "1e400",
    "4294967295",
    "4294967296",
    "99999999999999999999999999999999",
    "1E-400",
];

const WRONG_VALUES: &[&str] = &[
    "null",
    "true",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "[null]",
    "{\"a\":1}",
    "\"\\ud800\"",
];

/// A byte-level mutant of `src`.
fn mutate_bytes(rng: &mut fastrand::Rng, src: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = src.to_vec();
    let rounds = 1 + rng.usize(0..3);
    for _ in 0..rounds {
        if b.is_empty() {
            b.push(b'{');
        }
        let at = rng.usize(0..b.len());
        match rng.u32(0..10) {
            0 => b.truncate(at),
            1 => {
                for _ in 0..rng.usize(1..8) {
                    let i = rng.usize(0..b.len());
                    b[i] ^= 1 << rng.u32(0..8);
                }
            }
            2 => {
                let end = (at + rng.usize(0..64)).min(b.len());
                b.drain(at..end);
            }
            3 => {
                // Splice a piece of another profile in.
                let s = rng.usize(0..other.len());
                let e = (s + rng.usize(0..256)).min(other.len());
                b.splice(at..at, other[s..e].iter().copied());
            }
            4 => {
                // Invalid UTF-8 inside the text.
                let bad: &[u8] =
                    [&[0xFFu8][..], &[0xC3, 0x28], &[0xED, 0xA0, 0x80], &[0]][rng.usize(0..4)];
                b.splice(at..at, bad.iter().copied());
            }
            5 | 6 => replace_token(rng, &mut b, at, EXTREME_NUMBERS, |c| {
                c.is_ascii_digit() || c == b'-' || c == b'.' || c == b'e' || c == b'E' || c == b'+'
            }),
            7 => {
                // Replace the value after a `:` by one of another type.
                if let Some(colon) = b[at..].iter().position(|&c| c == b':') {
                    let start = at + colon + 1;
                    let end = value_end(&b, start);
                    let w = WRONG_VALUES[rng.usize(0..WRONG_VALUES.len())];
                    b.splice(start..end, w.bytes());
                }
            }
            8 => {
                // Deep nesting where a value goes.
                if let Some(colon) = b[at..].iter().position(|&c| c == b':') {
                    let start = at + colon + 1;
                    let depth = [10, 127, 129, 1000, 100_000][rng.usize(0..5)];
                    let open = if rng.bool() { b'[' } else { b'{' };
                    let mut nest = vec![open; depth];
                    if open == b'{' {
                        nest = b"{\"a\":".repeat(depth);
                    }
                    b.splice(start..start, nest);
                }
            }
            _ => {
                // Duplicate a region (duplicate keys, repeated elements).
                let end = (at + rng.usize(1..512)).min(b.len());
                let piece = b[at..end].to_vec();
                b.splice(end..end, piece);
            }
        }
    }
    b
}

/// Replaces the token of bytes satisfying `is_tok` at or after `at` by one of `with`.
fn replace_token(
    rng: &mut fastrand::Rng,
    b: &mut Vec<u8>,
    at: usize,
    with: &[&str],
    is_tok: impl Fn(u8) -> bool,
) {
    let Some(off) = b[at..].iter().position(|&c| c.is_ascii_digit()) else {
        return;
    };
    let mut s = at + off;
    while s > 0 && is_tok(b[s - 1]) {
        s -= 1;
    }
    let mut e = at + off;
    while e < b.len() && is_tok(b[e]) {
        e += 1;
    }
    let w = with[rng.usize(0..with.len())];
    b.splice(s..e, w.bytes());
}

/// Where the JSON value starting at `start` (roughly) ends: the next `,`, `}` or `]` at
/// depth 0.
fn value_end(b: &[u8], start: usize) -> usize {
    let mut depth = 0i32;
    let mut in_str = false;
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_str = false;
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth == 0 => return i,
                b']' | b'}' => depth -= 1,
                b',' if depth == 0 => return i,
                _ => {}
            }
        }
        i += 1;
    }
    b.len()
}

/// A tree-level mutant: parse, change one node, serialize. Most of these still parse as a
/// profile, with figures and strings no real run produces.
fn mutate_tree(rng: &mut fastrand::Rng, src: &Value) -> Vec<u8> {
    let mut v = src.clone();
    for _ in 0..1 + rng.usize(0..4) {
        let node = random_node(rng, &mut v);
        mutate_node(rng, node);
    }
    // Mostly keep the header (a wrong one is rejected before anything else is looked at).
    if rng.u32(0..100) < 90 {
        if let (Value::Object(o), Value::Object(orig)) = (&mut v, src) {
            for k in ["format", "version"] {
                if let Some(x) = orig.get(k) {
                    o.insert(k.to_string(), x.clone());
                }
            }
        }
    }
    serde_json::to_vec(&v).unwrap()
}

fn random_node<'a>(rng: &mut fastrand::Rng, mut v: &'a mut Value) -> &'a mut Value {
    loop {
        let stop = rng.u32(0..100) < 15;
        let len = match &*v {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            _ => 0,
        };
        if stop || len == 0 {
            return v;
        }
        let i = rng.usize(0..len);
        v = match v {
            Value::Array(a) => &mut a[i],
            Value::Object(o) => o.values_mut().nth(i).unwrap(),
            _ => unreachable!(),
        };
    }
}

fn mutate_node(rng: &mut fastrand::Rng, node: &mut Value) {
    // Mostly keep the node's type (so the profile still parses and reaches the reports);
    // sometimes change it (the reader must reject that with one line).
    if rng.u32(0..100) < 12 {
        *node = match rng.u32(0..6) {
            0 => Value::Null,
            1 => Value::from(-1),
            2 => Value::from(f64::MAX),
            3 => Value::from("x"),
            4 => Value::Array(vec![]),
            _ => Value::Object(Default::default()),
        };
        return;
    }
    match node {
        Value::Number(n) if n.is_f64() => {
            *node = Value::from([0.0, 1e-300, 1e300, f64::MAX, 0.5][rng.usize(0..5)]);
        }
        Value::Number(n) if n.as_u64().is_some_and(|x| x <= u64::from(u32::MAX)) && rng.bool() => {
            // Fields of 32 bits (line numbers, the pid) and signed ones (the gap's terms).
            *node = match rng.u32(0..4) {
                0 => Value::from(u32::MAX),
                1 => Value::from(i64::MAX),
                2 => Value::from(i64::MIN),
                _ => Value::from(rng.u32(..)),
            }
        }
        Value::Number(_) => {
            *node = match rng.u32(0..6) {
                0 => Value::from(u64::MAX),
                1 => Value::from(u64::MAX - rng.u64(0..1000)),
                2 => Value::from(0),
                3 => Value::from(u64::from(u32::MAX)),
                4 => Value::from(1u64 << rng.u32(0..64)),
                _ => Value::from(rng.u64(..)),
            }
        }
        Value::String(s) => {
            *s = match rng.u32(0..7) {
                0 => String::new(),
                1 => "x".repeat(rng.usize(1..100_000)),
                2 => "<script>alert(1)</script>&\"'".into(),
                3 => ";;; \n\r\t\u{0}\u{7f}".into(),
                4 => "ÿ\u{10FFFF}\u{FEFF}名前🙂".repeat(50),
                5 => format!("{s}{s}"),
                _ => "a::b<c as d::E>::f::{{closure}}::h0123456789abcdef".into(),
            }
        }
        Value::Array(a) => match rng.u32(0..3) {
            0 => a.clear(),
            1 if !a.is_empty() => {
                let e = a[rng.usize(0..a.len())].clone();
                let n = rng.usize(1..200);
                a.extend(std::iter::repeat_n(e, n));
            }
            _ => a.reverse(),
        },
        Value::Object(o) => {
            if rng.u32(0..4) == 0 && !o.is_empty() {
                let k = o.keys().nth(rng.usize(0..o.len())).unwrap().clone();
                o.remove(&k);
            } else if rng.u32(0..4) == 0 {
                o.insert("unknown_field".into(), Value::from(1));
            }
        }
        Value::Null => *node = Value::from(rng.u64(..)),
        Value::Bool(b) => *b = !*b,
    }
}

/// Everything the subcommands do with a profile that parsed. Errors are fine; panics are not.
fn exercise(p: &Profile, base: &Profile, rng: &mut fastrand::Rng) {
    let metric = Metric::ALL[rng.usize(0..Metric::ALL.len())];
    let mut opts = FlamegraphOptions::default();
    opts.metric = metric;
    opts.icicle = rng.bool();
    let summary = Summary::new(p, 10);
    summary.write_text(std::io::sink()).unwrap();
    let _ = summary.to_json();
    if let Err(e) = write_flamegraph(p, &opts, std::io::sink()) {
        one_line(&e.to_string());
    }
    if let Err(e) = write_diff_flamegraph(base, p, &opts, std::io::sink()) {
        one_line(&e.to_string());
    }
    write_change_tables(p, base, 10, std::io::sink()).unwrap();
    let _ = site_changes(base, p);
    let _ = export(p, ExportFormat::Folded, metric);
    let _ = export(p, ExportFormat::Pprof, metric);
    let _ = html::render(p);
    let c = compare(&[
        ("base".to_string(), base.clone()),
        ("fuzz".to_string(), p.clone()),
    ]);
    let _ = c.to_string();
    let _ = serde_json::to_string(&c).unwrap();
}

fn one_line(message: &str) {
    assert!(
        !message.contains('\n') && !message.is_empty() && message.len() < 2048,
        "error is not one short line: {:?}…",
        message.chars().take(300).collect::<String>()
    );
}

static CURRENT: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static PANIC_AT: Mutex<String> = Mutex::new(String::new());
static PROGRESS: AtomicU64 = AtomicU64::new(0);

fn save_input(tag: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{tag}.json"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Aborts with the input in hand when no input finished for `limit`.
fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        let mut last = (PROGRESS.load(Relaxed), Instant::now());
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = PROGRESS.load(Relaxed);
            if now == u64::MAX {
                return;
            }
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > limit {
                let input = CURRENT.lock().map(|g| g.clone()).unwrap_or_default();
                let path = save_input("hang", &input);
                eprintln!(
                    "fuzz: WATCHDOG: one input took over {limit:?} (saved to {}); aborting",
                    path.display()
                );
                std::process::abort();
            }
        }
    });
}

#[test]
fn mutated_profiles_never_panic_or_hang() {
    let inputs: u64 = std::env::var("ALLOCSCOPE_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            2_000
        } else {
            50_000
        });
    let seed: u64 = std::env::var("ALLOCSCOPE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let raw = fixtures();
    let trees: Vec<Value> = raw
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    let base = Profile::from_slice(&raw[0], "base").unwrap();
    watchdog(Duration::from_secs(60));
    let mut rng = fastrand::Rng::with_seed(seed);
    let (mut parsed, mut rejected) = (0u64, 0u64);
    let start = Instant::now();
    // Panics are caught and reported with the input; keep the default hook quiet meanwhile.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if let Some(l) = info.location() {
            *PANIC_AT.lock().unwrap_or_else(|e| e.into_inner()) = l.to_string();
        }
    }));
    // Distinct panic sites, each with the first input that reached it.
    let mut failures: std::collections::BTreeMap<String, (u64, String, std::path::PathBuf)> =
        Default::default();
    for n in 0..inputs {
        let k = rng.usize(0..raw.len());
        let input = if rng.u32(0..100) < 50 {
            mutate_tree(&mut rng, &trees[k])
        } else {
            mutate_bytes(&mut rng, &raw[k], &raw[(k + 1) % raw.len()])
        };
        CURRENT.lock().unwrap().clone_from(&input);
        let mut case_rng = fastrand::Rng::with_seed(n);
        let r = catch_unwind(AssertUnwindSafe(|| {
            match Profile::from_slice(&input, "fuzz.json") {
                Ok(p) => {
                    exercise(&p, &base, &mut case_rng);
                    true
                }
                Err(e) => {
                    one_line(&e.to_string());
                    if std::env::var_os("FUZZ_DEBUG").is_some() {
                        eprintln!("{}", e.to_string().chars().take(150).collect::<String>());
                    }
                    false
                }
            }
        }));
        match r {
            Ok(true) => parsed += 1,
            Ok(false) => rejected += 1,
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let at = PANIC_AT.lock().unwrap().clone();
                let tag = format!("panic-{}", failures.len());
                failures
                    .entry(at)
                    .or_insert_with(|| (n, msg, save_input(&tag, &input)));
            }
        }
        PROGRESS.fetch_add(1, Relaxed);
    }
    PROGRESS.store(u64::MAX, Relaxed);
    std::panic::set_hook(hook);
    if !failures.is_empty() {
        let list: Vec<String> = failures
            .iter()
            .map(|(at, (n, msg, path))| {
                format!("{at}: {msg} (input #{n}, saved to {})", path.display())
            })
            .collect();
        panic!(
            "{} panic sites (seed {seed}):\n{}",
            list.len(),
            list.join("\n")
        );
    }
    println!(
        "fuzz: {} inputs in {:.1} s (seed {seed}): {parsed} parsed and went through every report, {rejected} rejected with a one-line error",
        parsed + rejected,
        start.elapsed().as_secs_f64()
    );
    assert!(
        parsed > inputs / 8,
        "most tree mutations should parse and reach the reports"
    );
}

/// A small file that claims to hold a huge array or string does not make the reader allocate
/// for the claim: JSON has no length prefixes, and serde caps what it preallocates from size
/// hints. Measured with allocscope itself (this test binary's global allocator).
#[test]
fn small_files_do_not_make_the_reader_allocate_much() {
    let base = String::from_utf8(fixtures()[0].clone()).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // A "sites" array opened with a billion-element look: many commas, no elements.
        ("commas", base.replacen("\"sites\":[", &format!("\"sites\":[{}", ",".repeat(900)), 1).into_bytes()),
        // Numbers that claim sizes.
        ("huge numbers", br#"{"format":"allocscope-profile","version":1,"meta":{"program":"p","args":[],"pid":1,"start_time_unix_ms":1,"duration_secs":1e308,"cpu_time_secs":1,"allocator":"system","allocator_config":null,"sampling_bytes":18446744073709551615,"unwinder":"off","peak_rss":18446744073709551615,"allocscope_version":"0"},"totals":{"allocs":1073741824,"frees":0,"reallocs":0,"bytes_allocated":1073741824,"bytes_freed":0,"live_bytes":1073741824,"live_blocks":1073741824,"peak_live_bytes":1073741824},"size_classes":[],"gap":null,"sites":[],"timeline":[]}"#.to_vec()),
        // An unterminated 1 GB-looking string and array.
        ("unterminated", format!("{{\"format\":\"{}", "a".repeat(1000)).into_bytes()),
        ("deep", "[".repeat(1000).into_bytes()),
    ];
    for (what, bytes) in cases {
        assert!(bytes.len() < 17_000, "{what}: {}", bytes.len());
        let (r, c) = allocscope::measure(|| Profile::from_slice(&bytes, what));
        if let Err(e) = &r {
            one_line(&e.to_string());
        }
        // The parse of a real 15 KB profile allocates ~60 KB; none of these may reach 1 MB.
        assert!(
            c.bytes_allocated < 1 << 20,
            "{what}: reading {} bytes allocated {} bytes",
            bytes.len(),
            c.bytes_allocated
        );
    }
}

/// The real binary, on mutants: exit status 0 or 1 (never a panic's 101 or a signal), and on
/// failure exactly one line on stderr.
#[test]
fn the_binary_answers_mutants_with_one_line() {
    let raw = fixtures();
    let trees: Vec<Value> = raw
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, &raw[0]).unwrap();
    let mut rng = fastrand::Rng::with_seed(17);
    let n = 12;
    let mut runs = 0;
    for i in 0..n {
        let input = if i % 2 == 0 {
            mutate_tree(&mut rng, &trees[i % trees.len()])
        } else {
            mutate_bytes(&mut rng, &raw[i % raw.len()], &raw[0])
        };
        let path = dir.path().join(format!("m{i}.json"));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&input).unwrap();
        drop(f);
        let out = dir.path().join("out");
        let p = path.as_os_str();
        let g = good.as_os_str();
        let o = out.as_os_str();
        let commands: Vec<Vec<&std::ffi::OsStr>> = vec![
            vec!["summary".as_ref(), p],
            vec!["summary".as_ref(), "--json".as_ref(), p],
            vec!["flamegraph".as_ref(), "-o".as_ref(), o, p],
            vec!["diff".as_ref(), "-o".as_ref(), o, g, p],
            vec![
                "export".as_ref(),
                "--format".as_ref(),
                "folded".as_ref(),
                "-o".as_ref(),
                o,
                p,
            ],
            vec![
                "export".as_ref(),
                "--format".as_ref(),
                "pprof".as_ref(),
                "-o".as_ref(),
                o,
                p,
            ],
            vec!["html".as_ref(), "-o".as_ref(), o, p],
            vec!["compare".as_ref(), g, p],
        ];
        for args in commands {
            let r = assert_cmd::Command::cargo_bin("alloc-report")
                .unwrap()
                .args(&args)
                .output()
                .unwrap();
            runs += 1;
            let stderr = String::from_utf8_lossy(&r.stderr);
            let code = r.status.code();
            assert!(
                code == Some(0) || code == Some(1),
                "{args:?} on mutant {i}: status {:?}, stderr {stderr}",
                r.status
            );
            if code == Some(1) {
                let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
                assert_eq!(lines.len(), 1, "{args:?} on mutant {i}: {stderr}");
                assert!(lines[0].starts_with("alloc-report: error: "), "{stderr}");
            }
        }
    }
    println!("fuzz (binary): {runs} runs of alloc-report on {n} mutants");
}
