//! Golden-file tests of the report library: the saved fixture profiles, their folded stacks
//! and their summaries (text and JSON). `BLESS=1 cargo test --test report_golden` rewrites
//! the files; review the diff before committing.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/golden.rs"]
mod golden;

use allocscope::profile::Profile;
use allocscope::report::{FoldedStacks, Metric, Summary};

#[test]
fn saved_fixtures_match_the_generator() {
    for (name, profile) in fixtures::saved_fixtures() {
        let mut json = serde_json::to_string_pretty(&profile).unwrap();
        json.push('\n');
        golden::check(
            &format!("data/report_golden/profiles/{name}"),
            json.as_bytes(),
        );
        // And the file reads back through the same path the CLI uses.
        let read = Profile::read(golden::tests_path(&format!(
            "data/report_golden/profiles/{name}"
        )))
        .unwrap();
        assert_eq!(read, profile, "{name}");
    }
}

#[test]
fn folded_stacks() {
    for (name, profile) in fixtures::saved_fixtures() {
        for metric in [
            Metric::Bytes,
            Metric::Allocs,
            Metric::Live,
            Metric::ShortLived,
        ] {
            let folded = FoldedStacks::from_profile(&profile, metric);
            let stem = name.trim_end_matches(".json");
            golden::check(
                &format!("data/report_golden/{stem}.{metric}.folded"),
                folded.to_text().as_bytes(),
            );
        }
    }
}

/// What every report shows by default: stacks trimmed of the runtime's prologue and closure
/// shims (`report::names::trim_profile`), as `alloc-report` does unless `--all-frames`.
#[test]
fn trimmed_folded_stacks() {
    for (name, mut profile) in fixtures::saved_fixtures() {
        allocscope::report::names::trim_profile(&mut profile);
        let folded = FoldedStacks::from_profile(&profile, Metric::Bytes);
        let text = folded.to_text();
        for bad in ["lang_start", "call_once"] {
            assert!(!text.contains(bad), "{bad} in {text}");
        }
        assert!(
            text.lines().all(|l| l.starts_with("kvstore::main")),
            "{text}"
        );
        let stem = name.trim_end_matches(".json");
        golden::check(
            &format!("data/report_golden/{stem}.trimmed.bytes.folded"),
            text.as_bytes(),
        );
    }
}

#[test]
fn summary_text_and_json() {
    for (name, profile) in fixtures::saved_fixtures() {
        let stem = name.trim_end_matches(".json");
        let summary = Summary::new(&profile, 5);
        let mut text = Vec::new();
        summary.write_text(&mut text).unwrap();
        golden::check(&format!("data/report_golden/{stem}.summary.txt"), &text);
        golden::check(
            &format!("data/report_golden/{stem}.summary.json"),
            summary.to_json().as_bytes(),
        );
    }
}

#[test]
fn summary_figures_match_hand_computed_ones() {
    let s = Summary::new(&fixtures::kvstore_before(), 5);
    // Rounding waste per site, (class − size) × count:
    // 4000→4096: 96×2000, 100→112: 12×30000, 20000→20480: 480×300, 200→224: 24×5000,
    // 24→32: 8×10, 12→16: 4×40000.
    assert_eq!(
        s.rounding_waste_bytes,
        96 * 2000 + 12 * 30_000 + 480 * 300 + 24 * 5000 + 8 * 10 + 4 * 40_000
    );
    assert_eq!(s.allocs, 2000 + 30_000 + 300 + 5000 + 10 + 40_000);
    assert_eq!(
        s.live_bytes_at_exit,
        4000 * 800 + 20_000 + 200 * 1000 + 24 * 10 + 12 * 1000
    );
    assert_eq!(
        s.top_sites_by_allocs[0].frames[0],
        "kvstore::key::Key::from_bytes"
    );
    assert_eq!(s.top_sites_by_allocs[0].allocs, 40_000);
    let gap = s.gap.unwrap();
    assert_eq!(gap.requested, s.live_bytes_at_exit as i64);
}
