//! Symbolization away from the profiled process (issue 10): a user's program built the way
//! users build it (tests/data/symbolize/namecheck: release, `debug = "line-tables-only"`, no forced frame
//! pointers, calls a dependency) writes raw addresses; `alloc-report` names them with full
//! paths, finds a moved binary with `--binary`, refuses another build, and reads a stripped
//! binary's separate debug file (binutils' objcopy). The same program built with
//! `debug = "limited"`, full debug info and none is named with full paths too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REPORT: &str = env!("CARGO_BIN_EXE_alloc-report");

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/symbolize/namecheck/Cargo.toml")
}

/// Builds the fixture (release) and copies the binary to `to`.
fn build_fixture(variant: bool, to: &Path) {
    build_fixture_with(variant, None, to)
}

/// Builds the fixture (release) with its manifest's `debug` setting, or with `debug`
/// (`CARGO_PROFILE_RELEASE_DEBUG`, in a target directory of its own), and copies the binary
/// to `to`.
fn build_fixture_with(variant: bool, debug: Option<&str>, to: &Path) {
    let dir = match debug {
        None => "target/namecheck".to_string(),
        Some(level) => format!("target/namecheck-debug-{level}"),
    };
    build_fixture_in(variant, debug, &dir, "", to)
}

/// [`build_fixture_with`] in the target directory `dir`, with `RUSTFLAGS=rustflags`.
fn build_fixture_in(variant: bool, debug: Option<&str>, dir: &str, rustflags: &str, to: &Path) {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut c = Command::new(env!("CARGO"));
    c.args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(manifest())
        .arg("--target-dir")
        .arg(&target)
        // Not this repository's .cargo/config.toml flags (forced frame pointers).
        .env("RUSTFLAGS", rustflags)
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if let Some(level) = debug {
        c.env("CARGO_PROFILE_RELEASE_DEBUG", level);
    }
    if variant {
        c.args(["--features", "variant"]);
    }
    let st = c.status().expect("run cargo");
    assert!(
        st.success(),
        "building tests/data/symbolize/namecheck (debug {debug:?}) failed"
    );
    std::fs::copy(target.join("release/namecheck"), to).expect("copy binary");
}

/// Runs `exe` in exact mode with `ALLOCSCOPE_OUT=profile` (and `env`); it must succeed.
fn run_profiled(exe: &Path, profile: &Path, env: &[(&str, &str)]) {
    let st = Command::new(exe)
        .env("ALLOCSCOPE_OUT", profile)
        .env("ALLOCSCOPE_SAMPLE_BYTES", "1")
        .envs(env.iter().copied())
        .status()
        .unwrap();
    assert!(st.success(), "{} {env:?}", exe.display());
}

/// The profile's stacks, folded, weighted by allocations (names resolved, trimmed).
fn folded_allocs(profile: &Path) -> String {
    ok(&report(&[
        "export",
        s(profile),
        "--format",
        "folded",
        "--metric",
        "allocs",
    ]))
}

fn report(args: &[&str]) -> Output {
    Command::new(REPORT)
        .args(args)
        .output()
        .expect("run alloc-report")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "alloc-report failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn refused(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "alloc-report should have failed");
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
    err
}

fn objcopy(args: &[&str]) {
    let st = Command::new("objcopy")
        .args(args)
        .status()
        .expect("objcopy (binutils)");
    assert!(st.success(), "objcopy {args:?}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn line_tables_only_names_moved_rebuilt_and_stripped_binaries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir1 = tmp.path().join("ran");
    let dir2 = tmp.path().join("moved");
    let dbg = tmp.path().join("debug");
    for d in [&dir1, &dir2, &dbg] {
        std::fs::create_dir_all(d).unwrap();
    }
    let exe = dir1.join("namecheck");
    build_fixture(false, &exe);
    let profile = tmp.path().join("p.json");
    run_profiled(&exe, &profile, &[]);
    // The process wrote raw addresses and its mappings, no names.
    let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    assert_eq!(raw["mappings"][0]["path"], s(&exe));
    assert!(raw["mappings"][0]["build_id"].is_string());
    let sites = raw["sites"].as_array().unwrap();
    assert!(sites
        .iter()
        .any(|x| x["frames"].as_array().unwrap().is_empty()
            && !x["stack"].as_array().unwrap().is_empty()));

    // ALLOCSCOPE_SYMBOLIZE=exit: names resolved in the process (for binaries that vanish).
    let at_exit = tmp.path().join("at-exit.json");
    run_profiled(&exe, &at_exit, &[("ALLOCSCOPE_SYMBOLIZE", "exit")]);
    let named: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&at_exit).unwrap()).unwrap();
    assert!(named["sites"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| !x["frames"].as_array().unwrap().is_empty()));

    // Same machine: names resolved from the recorded path, full paths, trimmed.
    let folded = folded_allocs(&profile);
    println!("{folded}");
    // The dependency's out-of-line function (symbol table) and its inlined helper (DWARF
    // short name, qualified from the file's crate and module).
    assert!(
        folded.contains(
            "namecheck::main;namecheck::build_table;namecheck_dep::version::Version::parse 2000"
        ),
        "{folded}"
    );
    assert!(
        folded.contains(
            "namecheck_dep::version::Version::parse;namecheck_dep::version::make_label 2000"
        ),
        "{folded}"
    );
    // The program's own inlined function, qualified from its caller's crate.
    assert!(
        folded.contains("namecheck::main;namecheck::fill_buffers;namecheck::make_buffer 100"),
        "{folded}"
    );
    // The spawned thread's stacks start at its closure, spelled as the symbol table of a
    // default build spells closures (DWARF says `{closure#0}`), so `diff` matches it
    // across builds (see full_names_at_every_debug_level).
    assert!(
        folded.contains(
            "namecheck::{{closure}};namecheck::build_table;namecheck_dep::version::Version::parse 500"
        ),
        "{folded}"
    );
    assert!(!folded.contains("{closure#"), "{folded}");
    assert!(
        folded.lines().filter(|l| l.contains("build_table")).count() >= 2,
        "{folded}"
    );
    // Trimmed: roots are the program's main and the thread's closure; no plumbing.
    for line in folded.lines().filter(|l| l.contains("build_table")) {
        assert!(
            line.starts_with("namecheck::main;") || line.starts_with("namecheck::{"),
            "{line}"
        );
        let leaf = line.rsplit(';').next().unwrap();
        assert!(leaf.starts_with("namecheck"), "leaf {leaf}");
    }
    for line in folded.lines().filter(|l| l.contains("namecheck")) {
        for bad in [
            "lang_start",
            "call_once",
            "__rust_alloc",
            "allocscope::",
            "raw_vec",
            "__libc_start",
            "backtrace",
        ] {
            assert!(!line.contains(bad), "{bad} in {line}");
        }
    }
    // --all-frames shows everything.
    let all = ok(&report(&[
        "export",
        s(&profile),
        "--format",
        "folded",
        "--all-frames",
    ]));
    assert!(all.contains("std::rt::lang_start"), "{all}");
    assert!(all.contains("allocscope::"), "{all}");

    // `symbolize` bakes the names in; the result reads without the binary.
    let baked = tmp.path().join("baked.json");
    ok(&report(&["symbolize", s(&profile), "-o", s(&baked)]));

    // Moved binary: refused without --binary, resolved with it.
    let moved = dir2.join("namecheck-copy");
    std::fs::rename(&exe, &moved).unwrap();
    let err = refused(&report(&["summary", s(&profile)]));
    assert!(err.contains("--binary"), "{err}");
    let summary = ok(&report(&["summary", s(&profile), "--binary", s(&moved)]));
    assert!(
        summary.contains("namecheck_dep::version::Version::parse"),
        "{summary}"
    );
    let from_baked = ok(&report(&[
        "export",
        s(&baked),
        "--format",
        "folded",
        "--metric",
        "allocs",
    ]));
    assert_eq!(from_baked, folded);
    let from_exit = ok(&report(&[
        "export",
        s(&at_exit),
        "--format",
        "folded",
        "--metric",
        "allocs",
    ]));
    assert!(
        from_exit.contains(
            "namecheck_dep::version::Version::parse;namecheck_dep::version::make_label 2000"
        ),
        "{from_exit}"
    );

    // A rebuilt binary (another build ID) is refused, as --binary or at the recorded path.
    let rebuilt = dir2.join("namecheck-rebuilt");
    build_fixture(true, &rebuilt);
    let err = refused(&report(&["summary", s(&profile), "--binary", s(&rebuilt)]));
    assert!(err.contains("build ID"), "{err}");
    std::fs::copy(&rebuilt, &exe).unwrap();
    let err = refused(&report(&[
        "flamegraph",
        s(&profile),
        "-o",
        s(&tmp.path().join("f.svg")),
    ]));
    assert!(err.contains("build ID"), "{err}");

    // Stripped binary + separate debug file, found by build ID under --debug-dir…
    let debug_file = tmp.path().join("namecheck.debug");
    objcopy(&["--only-keep-debug", s(&moved), s(&debug_file)]);
    let stripped = dir2.join("namecheck-stripped");
    objcopy(&["--strip-all", s(&moved), s(&stripped)]);
    let id = raw["mappings"][0]["build_id"].as_str().unwrap();
    let by_id = dbg.join(".build-id").join(&id[..2]);
    std::fs::create_dir_all(&by_id).unwrap();
    std::fs::copy(&debug_file, by_id.join(format!("{}.debug", &id[2..]))).unwrap();
    let args = [
        "export",
        s(&profile),
        "--format",
        "folded",
        "--metric",
        "allocs",
    ];
    let with_dir = ok(&report(
        &[
            &args[..],
            &["--binary", s(&stripped), "--debug-dir", s(&dbg)],
        ]
        .concat(),
    ));
    assert_eq!(with_dir, folded);
    // …or by its .gnu_debuglink name beside the binary.
    let linked = dir2.join("namecheck-linked");
    objcopy(&[
        &format!("--add-gnu-debuglink={}", s(&debug_file)),
        s(&stripped),
        s(&linked),
    ]);
    std::fs::copy(&debug_file, dir2.join("namecheck.debug")).unwrap();
    let with_link = ok(&report(&[&args[..], &["--binary", s(&linked)]].concat()));
    assert_eq!(with_link, folded);
    // Without the debug file, the stripped binary's names are not made up: no paths at all.
    let bare = ok(&report(
        &[&args[..], &["--binary", s(&stripped), "--all-frames"]].concat(),
    ));
    assert!(!bare.contains("namecheck_dep"), "{bare}");
    // …but its call sites stay apart (its unnamed frames are its own code, not plumbing),
    // and stderr says so once, naming the file and what to pass.
    let o = report(&[&args[..], &["--binary", s(&stripped)]].concat());
    let unnamed = ok(&o);
    let warning = one_warning(&o, &stripped);
    assert!(warning.contains("--debug-dir"), "{warning}");
    let named_rows = folded.lines().filter(|l| l.contains("namecheck")).count();
    let rows: Vec<&str> = unnamed
        .lines()
        .filter(|l| l.contains("[namecheck+0x"))
        .collect();
    assert!(
        named_rows >= 4 && rows.len() >= named_rows - 1,
        "{} rows of unnamed frames, {named_rows} named:\n{unnamed}",
        rows.len()
    );
    // The same allocations in all: only the names are missing.
    let total = |text: &str| -> u64 {
        text.lines()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(total(&unnamed), total(&folded));

    // A debug file from another build (the variant) where the stripped binary's debug link
    // and its build ID point: ignored, with a warning; never used for names.
    let wrong = tmp.path().join("wrong");
    let wrong_dbg = tmp.path().join("wrong-debug");
    std::fs::create_dir_all(&wrong).unwrap();
    let wrong_by_id = wrong_dbg.join(".build-id").join(&id[..2]);
    std::fs::create_dir_all(&wrong_by_id).unwrap();
    let variant_debug = wrong.join("namecheck.debug");
    objcopy(&["--only-keep-debug", s(&rebuilt), s(&variant_debug)]);
    std::fs::copy(
        &variant_debug,
        wrong_by_id.join(format!("{}.debug", &id[2..])),
    )
    .unwrap();
    let wrong_linked = wrong.join("namecheck-linked");
    std::fs::copy(&linked, &wrong_linked).unwrap();
    let o = report(
        &[
            &args[..],
            &["--binary", s(&wrong_linked), "--debug-dir", s(&wrong_dbg)],
        ]
        .concat(),
    );
    let mismatched = ok(&o);
    assert!(!mismatched.contains("namecheck_dep"), "{mismatched}");
    assert_eq!(mismatched, unnamed);
    let warning = one_warning(&o, &wrong_linked);
    assert!(
        warning.contains("ignored") && warning.contains("build ID"),
        "{warning}"
    );
}

/// The one line `alloc-report` printed on stderr: a warning naming `file`.
fn one_warning(o: &Output, file: &Path) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "one warning line: {err}");
    assert!(err.contains("warning"), "{err}");
    assert!(
        err.contains(s(file)),
        "{err} does not name {}",
        file.display()
    );
    err
}

/// Full paths whatever the build's `debug` setting (issue 10, "Full names"): with `"limited"`
/// and full debug info DWARF gives inlined frames their linkage names; with none, the
/// symbol table names every frame that was not inlined, and the inlined ones are not there
/// to name. The fixture is the one above, built three more times.
#[test]
fn full_names_at_every_debug_level() {
    let tmp = tempfile::tempdir().unwrap();
    for (level, has_dwarf) in [("limited", true), ("full", true), ("none", false)] {
        let exe = tmp.path().join(format!("namecheck-{level}"));
        build_fixture_with(false, Some(level), &exe);
        let profile = tmp.path().join(format!("{level}.json"));
        run_profiled(&exe, &profile, &[]);
        let folded = folded_allocs(&profile);
        println!("debug = {level}:\n{folded}");
        // The dependency's out-of-line function, from the program's out-of-line one.
        assert!(
            folded.contains(
                "namecheck::main;namecheck::build_table;namecheck_dep::version::Version::parse"
            ),
            "debug = {level}: {folded}"
        );
        if has_dwarf {
            // The inlined helpers, with their crates' and modules' paths.
            assert!(
                folded.contains(
                    "namecheck_dep::version::Version::parse;namecheck_dep::version::make_label 2000"
                ),
                "debug = {level}: {folded}"
            );
            assert!(
                folded
                    .contains("namecheck::main;namecheck::fill_buffers;namecheck::make_buffer 100"),
                "debug = {level}: {folded}"
            );
            // The thread's closure, spelled `{{closure}}` as in the line-tables-only build.
            // (Here DWARF has its linkage name, `namecheck::main::{{closure}}`; in
            // line-tables-only builds the enclosing `main` is not known: `namecheck::{{closure}}`.)
            assert!(
                folded.contains("namecheck::main::{{closure}};namecheck::build_table;namecheck_dep::version::Version::parse 500"),
                "debug = {level}: {folded}"
            );
        } else {
            // No DWARF: `make_label`'s allocations are `parse`'s, which allocates 2 blocks
            // per call (its parts and the label): 4000 from the main thread.
            assert!(
                folded.contains("namecheck::main;namecheck::build_table;namecheck_dep::version::Version::parse 4000"),
                "debug = {level}: {folded}"
            );
            // And `make_buffer`'s 100 are `fill_buffers`' own, beside its 6 growths of `all`
            // (the "fill_buffers 6" line of the builds with DWARF).
            assert!(
                folded.contains("namecheck::main;namecheck::fill_buffers 106"),
                "debug = {level}: {folded}"
            );
        }
        // allocscope's start-up (an `.init_array` function before `main`) allocates only
        // untracked: no stack of the program's ends at the C runtime's entry.
        assert!(
            !folded
                .lines()
                .any(|l| l.starts_with("_start;") && !l.contains(";main")),
            "debug = {level}: allocscope's start-up billed to the program: {folded}"
        );
        // Every frame of the program's stacks is a full path: no short names, and no
        // function's generic arguments (the symbol table's names have none).
        for line in folded.lines().filter(|l| l.contains("namecheck")) {
            let (stack, _) = line.rsplit_once(' ').unwrap();
            for f in stack.split(';') {
                assert!(f.contains("::"), "debug = {level}: frame {f} in {line}");
                assert!(!f.ends_with('>'), "debug = {level}: frame {f} in {line}");
                assert!(
                    !f.contains("{closure#"),
                    "debug = {level}: frame {f} in {line}"
                );
            }
        }
    }
}

/// A program linked without a build ID (`-Wl,--build-id=none`), rebuilt at the same path:
/// the profile records the file's size and modification time, and `alloc-report` refuses
/// the rebuilt file rather than naming its addresses from another build. A copy given with
/// `--binary` is taken by its size, with a warning.
#[test]
fn no_build_id_rebuilt_at_same_path_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = "target/namecheck-no-build-id";
    let flags = "-C link-arg=-Wl,--build-id=none";
    let exe = tmp.path().join("namecheck");
    build_fixture_in(false, None, dir, flags, &exe);
    let copy = tmp.path().join("namecheck-copy");
    std::fs::copy(&exe, &copy).unwrap();
    let profile = tmp.path().join("p.json");
    run_profiled(&exe, &profile, &[]);
    let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    let program = &raw["mappings"][0];
    assert!(program["build_id"].is_null(), "{program}");
    let size = std::fs::metadata(&exe).unwrap().len();
    assert_eq!(program["file_size"].as_u64(), Some(size), "{program}");
    assert!(program["file_mtime_ns"].is_i64(), "{program}");
    let args = [
        "export",
        s(&profile),
        "--format",
        "folded",
        "--metric",
        "allocs",
    ];
    // Unchanged: named, silently.
    let o = report(&args);
    let named = ok(&o);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        named.contains(
            "namecheck_dep::version::Version::parse;namecheck_dep::version::make_label 2000"
        ),
        "{named}"
    );

    // The variant built to the same path: refused (its size or its mtime differ).
    build_fixture_in(true, None, dir, flags, &exe);
    let err = refused(&report(&args));
    assert!(err.contains("not the file that ran"), "{err}");
    assert!(err.contains(s(&exe)), "{err}");

    // A copy of the binary that ran, with --binary: taken by its size, with a warning.
    let o = report(&[&args[..], &["--binary", s(&copy)]].concat());
    assert_eq!(ok(&o), named);
    let warning = one_warning(&o, &copy);
    assert!(warning.contains("size only"), "{warning}");
    // The rebuilt one with --binary: refused when its size differs, else taken with the
    // same warning (the size is all a copy without a build ID can be checked by).
    let o = report(&[&args[..], &["--binary", s(&exe)]].concat());
    if std::fs::metadata(&exe).unwrap().len() != size {
        let err = refused(&o);
        assert!(err.contains("size"), "{err}");
    } else {
        assert!(one_warning(&o, &exe).contains("size only"));
    }
}
