//! The pprof export read by a real consumer: `go tool pprof` (Debian package `golang-go`).
//! Skipped, with a message saying so, only when `go` is not installed.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/go_pprof.rs"]
mod go_pprof;

use allocscope::profile::Profile;
use allocscope::report::to_pprof_gz;
use go_pprof::pprof;

/// The figures pprof reports equal the profile's, sample by sample and in total.
fn check(profile: &Profile) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("heap.pb.gz");
    std::fs::write(&file, to_pprof_gz(profile)).unwrap();

    // Every sample's four values, as pprof decodes them.
    let raw = pprof(&["-raw"], &file);
    assert!(raw.contains("PeriodType: space bytes"), "{raw}");
    assert!(
        raw.contains(&format!("Period: {}", profile.meta.sampling_bytes)),
        "{raw}"
    );
    assert!(
        raw.contains("alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes"),
        "{raw}"
    );
    let samples_section = raw
        .split("Samples:\n")
        .nth(1)
        .and_then(|s| s.split("Locations").next())
        .unwrap();
    let mut decoded: Vec<[u64; 4]> = samples_section
        .lines()
        .skip(1) // the sample type header
        .filter(|l| l.contains(':'))
        .map(|l| {
            let values: Vec<u64> = l
                .split(':')
                .next()
                .unwrap()
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect();
            values.try_into().unwrap()
        })
        .collect();
    let mut expected: Vec<[u64; 4]> = profile
        .sites
        .iter()
        .map(|s| [s.allocs, s.bytes, s.live_blocks, s.live_bytes])
        .filter(|v| v.iter().any(|&x| x != 0))
        .collect();
    decoded.sort_unstable();
    expected.sort_unstable();
    assert_eq!(decoded, expected);

    // Totals per sample type, as `-top` reports them.
    for (index, total) in [
        (
            "alloc_objects",
            profile.sites.iter().map(|s| s.allocs).sum::<u64>(),
        ),
        ("alloc_space", profile.sites.iter().map(|s| s.bytes).sum()),
        (
            "inuse_objects",
            profile.sites.iter().map(|s| s.live_blocks).sum(),
        ),
        (
            "inuse_space",
            profile.sites.iter().map(|s| s.live_bytes).sum(),
        ),
    ] {
        let top = pprof(
            &["-top", &format!("-sample_index={index}"), "-unit=B"],
            &file,
        );
        let reported = top
            .lines()
            .find_map(|l| l.split("Total samples = ").nth(1))
            .unwrap_or_else(|| panic!("no total in {top}"))
            .trim()
            .trim_end_matches('B');
        assert_eq!(reported, total.to_string(), "{index}: {top}");
    }
}

#[test]
fn go_tool_pprof_reads_the_export_with_the_profiles_figures() {
    if !go_pprof::go_available("the pprof export checks") {
        return;
    }
    for (name, profile) in fixtures::saved_fixtures() {
        eprintln!("checking {name}");
        check(&profile);
    }
    // The allocating function by its demangled name, flat figure = the site's bytes.
    let profile = fixtures::kvstore_before();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("heap.pb.gz");
    std::fs::write(&file, to_pprof_gz(&profile)).unwrap();
    let top = pprof(
        &[
            "-top",
            "-sample_index=alloc_space",
            "-unit=B",
            "-nodefraction=0",
        ],
        &file,
    );
    let wal = top
        .lines()
        .find(|l| l.ends_with("kvstore::wal::WalWriter::append"))
        .unwrap_or_else(|| panic!("demangled leaf missing: {top}"));
    let site = profile
        .sites
        .iter()
        .find(|s| s.frames[0].function.contains("WalWriter"))
        .unwrap();
    assert_eq!(
        wal.split_whitespace().next().unwrap(),
        format!("{}B", site.bytes)
    );
}

#[test]
fn go_tool_pprof_reads_a_large_export() {
    if !go_pprof::go_available("the pprof export checks") {
        return;
    }
    check(&fixtures::large(2_000));
}
