//! Folded stacks (`root;…;leaf COUNT`), the one place stacks are turned into lines: the
//! flamegraph, the differential flamegraph and the `folded` export all read these.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::model::profile::{CallSite, Profile};
use crate::report::metric::Metric;
use crate::report::names::{display_name, sanitize_for_folded};

/// The stacks of a profile under one metric, root first, merged (two call sites whose names
/// agree but whose addresses differ are one stack here), sorted by stack text, without
/// stacks whose figure is zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldedStacks {
    metric: Metric,
    stacks: Vec<(String, u64)>,
}

impl FoldedStacks {
    /// Folds every call site of `profile` under `metric`.
    pub fn from_profile(profile: &Profile, metric: Metric) -> FoldedStacks {
        let mut merged: HashMap<String, u64> = HashMap::with_capacity(profile.sites.len());
        for site in &profile.sites {
            let value = metric.value(site);
            if value == 0 {
                continue;
            }
            let total = merged.entry(stack_key(site)).or_insert(0);
            *total = total.saturating_add(value);
        }
        let mut stacks: Vec<(String, u64)> = merged.into_iter().collect();
        stacks.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        FoldedStacks { metric, stacks }
    }

    /// The metric the counts measure.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// `(stack, count)` pairs, sorted by stack.
    pub fn stacks(&self) -> &[(String, u64)] {
        &self.stacks
    }

    /// Number of distinct stacks.
    pub fn len(&self) -> usize {
        self.stacks.len()
    }

    /// True when no stack has a nonzero count.
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }

    /// Sum of the counts.
    pub fn total(&self) -> u64 {
        self.stacks
            .iter()
            .fold(0u64, |sum, (_, n)| sum.saturating_add(*n))
    }

    /// An error when the counts add up to more than a flamegraph can hold (2^64 − 1): only a
    /// damaged or forged profile has such figures.
    pub fn check_total(&self) -> io::Result<()> {
        let sum: u128 = self.stacks.iter().map(|(_, n)| u128::from(*n)).sum();
        if sum > u128::from(u64::MAX) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the call sites' `{}` figures add up to more than 2^64, which no real run produces",
                    self.metric.name()
                ),
            ));
        }
        Ok(())
    }

    /// The lines `stack COUNT`, without line breaks, in order.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.stacks.iter().map(|(s, n)| format!("{s} {n}"))
    }

    /// Writes one `stack COUNT` line per stack.
    pub fn write_to(&self, mut w: impl Write) -> io::Result<()> {
        for (stack, count) in &self.stacks {
            writeln!(w, "{stack} {count}")?;
        }
        Ok(())
    }

    /// The whole folded text, as [`FoldedStacks::write_to`] writes it.
    pub fn to_text(&self) -> String {
        let mut out = Vec::with_capacity(self.stacks.len() * 64);
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The folded stack of one call site: frame names root first, joined by `;`, each name
/// demangled and sanitized so that it cannot split into two frames. A site without frames
/// is `?`.
pub fn stack_key(site: &CallSite) -> String {
    let mut key = String::with_capacity(site.frames.len() * 32);
    for (i, frame) in site.frames.iter().rev().enumerate() {
        if i > 0 {
            key.push(';');
        }
        key.push_str(&sanitize_for_folded(&display_name(frame)));
    }
    if key.is_empty() {
        key.push('?');
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::{Frame, Lifetimes};

    fn frame(function: &str, addr: u64) -> Frame {
        Frame {
            function: function.to_string(),
            file: None,
            line: None,
            addr,
            inlined: false,
        }
    }

    fn site(frames: Vec<Frame>, allocs: u64, bytes: u64) -> CallSite {
        CallSite {
            stack: Vec::new(),
            frames,
            allocs,
            bytes,
            live_blocks: 0,
            live_bytes: 0,
            peak_bytes: 0,
            slack_bytes: 0,
            samples: 1,
            size_classes: Vec::new(),
            lifetimes: Lifetimes::default(),
            span: None,
        }
    }

    #[test]
    fn folds_root_first_merges_equal_names_and_skips_zeros() {
        let json = include_str!("../../tests/data/report_golden/profiles/kvstore-before.json");
        let mut profile = Profile::from_slice(json.as_bytes(), "fixture").unwrap();
        profile.sites = vec![
            // Same names, different addresses (two builds' worth): one stack.
            site(vec![frame("leaf", 1), frame("main", 2)], 3, 30),
            site(vec![frame("leaf", 5), frame("main", 6)], 4, 40),
            // A `;` inside a name does not add a frame.
            site(vec![frame("<[u8; 8]>::new", 7), frame("main", 8)], 1, 0),
            site(Vec::new(), 2, 20),
        ];
        let bytes = FoldedStacks::from_profile(&profile, Metric::Bytes);
        assert_eq!(bytes.to_text(), "? 20\nmain;leaf 70\n");
        assert_eq!(bytes.total(), 90);
        let allocs = FoldedStacks::from_profile(&profile, Metric::Allocs);
        assert_eq!(
            allocs.to_text(),
            "? 2\nmain;<[u8: 8]>::new 1\nmain;leaf 7\n"
        );
        assert!(FoldedStacks::from_profile(&profile, Metric::Live).is_empty());
    }
}
