//! `alloc-report check`: gate CI on a profile's totals, against fixed limits and against a
//! baseline profile.
//!
//! ```text
//! alloc-report check PROFILE [--baseline OLD] [--max-peak 200MiB] [--max-allocs N]
//!                            [--max-bytes SIZE] [--max-leaked SIZE]
//!                            [--max-increase allocs=5%,peak=10%] [--budget FILE] [--json]
//! ```
//!
//! Exit status: 0 when every limit holds, 1 when one is exceeded, 2 on bad input (one line
//! on stderr). The figures are the profile's exact totals (`docs/ci.md`):
//!
//! | metric | figure |
//! |---|---|
//! | `allocs` | allocations: calls to alloc plus calls to realloc (as the budget macros count) |
//! | `bytes` | bytes requested by allocs plus the new size of every realloc |
//! | `peak` | highest live requested bytes during the run |
//! | `leaked` | live requested bytes when the profile was written (at exit: leaked) |
//!
//! Limits can also come from a TOML file (`--budget FILE`, or `allocscope-budget.toml` in the
//! current directory when present); a limit given on the command line wins over the file's:
//!
//! ```toml
//! baseline = "baseline.profile.json"   # relative to this file; --baseline wins
//! [max]
//! peak = "200MiB"
//! allocs = 1_000_000
//! [max-increase]
//! allocs = "5%"
//! peak = "10%"
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::model::profile::Profile;
use crate::model::units;
use crate::report::output::Output;

/// The file `check` reads limits from when `--budget` is not given and it exists.
pub const DEFAULT_BUDGET_FILE: &str = "allocscope-budget.toml";

/// Arguments of `alloc-report check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The profile to check (JSON written by allocscope).
    pub profile: PathBuf,
    /// A profile of the same program to compare against (for `--max-increase`).
    #[arg(long, value_name = "OLD")]
    pub baseline: Option<PathBuf>,
    /// Highest allowed peak of live requested bytes (`200MiB`, `1.5GiB`, `4096`).
    #[arg(long, value_name = "SIZE")]
    pub max_peak: Option<String>,
    /// Most allowed allocations (allocs plus reallocs; `1000000`, `1_000_000`, `1M`).
    #[arg(long, value_name = "N")]
    pub max_allocs: Option<String>,
    /// Most allowed bytes requested in all (allocs plus the new size of every realloc).
    #[arg(long, value_name = "SIZE")]
    pub max_bytes: Option<String>,
    /// Most allowed live bytes when the profile was written (leaked at exit).
    #[arg(long, value_name = "SIZE")]
    pub max_leaked: Option<String>,
    /// Most allowed increase over the baseline, per metric: `allocs=5%,peak=10%`, or an
    /// absolute amount (`peak=1MiB`, `allocs=100`). May be repeated.
    #[arg(long, value_name = "METRIC=LIMIT,…")]
    pub max_increase: Vec<String>,
    /// A TOML file of limits (default: ./allocscope-budget.toml if it exists).
    #[arg(long, value_name = "FILE")]
    pub budget: Option<PathBuf>,
    /// Print the verdicts as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A figure of a profile that can be limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckMetric {
    /// Allocations: allocs plus reallocs.
    Allocs,
    /// Bytes requested in all.
    Bytes,
    /// Peak live requested bytes.
    Peak,
    /// Live requested bytes at the end (leaked).
    Leaked,
}

impl CheckMetric {
    const ALL: [CheckMetric; 4] = [
        CheckMetric::Allocs,
        CheckMetric::Bytes,
        CheckMetric::Peak,
        CheckMetric::Leaked,
    ];

    fn name(self) -> &'static str {
        match self {
            CheckMetric::Allocs => "allocs",
            CheckMetric::Bytes => "bytes",
            CheckMetric::Peak => "peak",
            CheckMetric::Leaked => "leaked",
        }
    }

    fn parse(s: &str) -> anyhow::Result<CheckMetric> {
        CheckMetric::ALL
            .into_iter()
            .find(|m| m.name() == s.trim())
            .ok_or_else(|| anyhow!("unknown metric {s:?} (allocs, bytes, peak, leaked)"))
    }

    fn is_bytes(self) -> bool {
        self != CheckMetric::Allocs
    }

    /// The figure in `p`.
    pub fn of(self, p: &Profile) -> u64 {
        let t = &p.totals;
        match self {
            CheckMetric::Allocs => t.allocs.saturating_add(t.reallocs),
            CheckMetric::Bytes => t.bytes_allocated,
            CheckMetric::Peak => t.peak_live_bytes,
            CheckMetric::Leaked => t.live_bytes,
        }
    }

    fn show(self, v: u64) -> String {
        if self.is_bytes() {
            units::format_size(v)
        } else {
            units::format_count(v)
        }
    }

    /// A size (`200MiB`) or a count (`1_000_000`, `1M`) for this metric.
    fn parse_amount(self, s: &str) -> anyhow::Result<u64> {
        if self.is_bytes() {
            parse_size(s)
        } else {
            parse_count(s)
        }
    }
}

/// How much a figure may grow over the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Increase {
    /// At most this many percent.
    Percent(f64),
    /// At most this much (bytes or allocations).
    Amount(u64),
}

/// The limits of one check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Fixed ceilings.
    pub max: BTreeMap<CheckMetric, u64>,
    /// Growth allowed over the baseline.
    pub max_increase: BTreeMap<CheckMetric, Increase>,
}

/// The verdict of one limit.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The figure.
    pub metric: CheckMetric,
    /// `"max"` (a ceiling) or `"increase"` (against the baseline).
    pub kind: &'static str,
    /// The limit as written in the table (`≤ 200.0 MiB`, `≤ +5%`).
    pub limit: String,
    /// The ceiling it works out to, in bytes or allocations.
    pub allowed: u64,
    /// The profile's figure.
    pub value: u64,
    /// The baseline's figure, for an increase.
    pub baseline: Option<u64>,
    /// The change over the baseline in percent (`null` without a baseline or from 0).
    pub change_percent: Option<f64>,
    /// True when the limit holds.
    pub pass: bool,
}

/// The result of a check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// True when every limit holds.
    pub pass: bool,
    /// The profile checked.
    pub profile: String,
    /// The baseline, if any.
    pub baseline: Option<String>,
    /// One verdict per limit.
    pub checks: Vec<Verdict>,
}

/// Checks `profile` against `limits` (and `baseline` for increases, which need one).
pub fn check(
    profile: &Profile,
    baseline: Option<&Profile>,
    limits: &Limits,
) -> anyhow::Result<Vec<Verdict>> {
    let mut out = Vec::new();
    for (&metric, &allowed) in &limits.max {
        let value = metric.of(profile);
        out.push(Verdict {
            metric,
            kind: "max",
            limit: format!("≤ {}", metric.show(allowed)),
            allowed,
            value,
            baseline: baseline.map(|b| metric.of(b)),
            change_percent: baseline.and_then(|b| change_percent(metric.of(b), value)),
            pass: value <= allowed,
        });
    }
    if !limits.max_increase.is_empty() {
        let Some(base) = baseline else {
            bail!("--max-increase needs a baseline profile (--baseline OLD, or `baseline` in the budget file)");
        };
        for (&metric, &inc) in &limits.max_increase {
            let value = metric.of(profile);
            let b = metric.of(base);
            let (limit, allowed) = match inc {
                Increase::Percent(p) => {
                    let allowed = (b as f64 * (1.0 + p / 100.0)).floor();
                    let allowed = if allowed >= u64::MAX as f64 {
                        u64::MAX
                    } else {
                        allowed as u64
                    };
                    (format!("≤ +{p}%"), allowed)
                }
                Increase::Amount(a) => (format!("≤ +{}", metric.show(a)), b.saturating_add(a)),
            };
            out.push(Verdict {
                metric,
                kind: "increase",
                limit,
                allowed,
                value,
                baseline: Some(b),
                change_percent: change_percent(b, value),
                pass: value <= allowed,
            });
        }
    }
    Ok(out)
}

fn change_percent(base: u64, value: u64) -> Option<f64> {
    (base != 0).then(|| (value as f64 - base as f64) / base as f64 * 100.0)
}

/// `200MiB`, `1.5 GiB`, `64k`, `4096`, `10MB` → bytes. Binary units for `K`, `KiB`, `M`,
/// `MiB`, …; decimal for `kB`, `MB`, `GB`, `TB`.
pub fn parse_size(s: &str) -> anyhow::Result<u64> {
    let t = s.trim().replace('_', "");
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let mult: f64 = match unit {
        "" | "B" | "b" => 1.0,
        "k" | "K" | "KiB" | "kiB" => 1024.0,
        "M" | "MiB" => 1024.0 * 1024.0,
        "G" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => bail!("{s:?} is not a size (e.g. 200MiB, 1.5GiB, 4096)"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow!("{s:?} is not a size (e.g. 200MiB, 1.5GiB, 4096)"))?;
    let v = (n * mult).round();
    if !v.is_finite() || v < 0.0 || v >= u64::MAX as f64 {
        bail!("{s:?} is out of range");
    }
    Ok(v as u64)
}

/// `1000000`, `1_000_000`, `1,000,000`, `250k`, `1.5M` → a count (decimal suffixes).
pub fn parse_count(s: &str) -> anyhow::Result<u64> {
    let t = s.trim().replace(['_', ','], "");
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'M')) => (&t[..i], 1e6),
        Some((i, 'G')) => (&t[..i], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow!("{s:?} is not a count (e.g. 1000000, 1_000_000, 1M)"))?;
    let v = (n * mult).round();
    if !v.is_finite() || v < 0.0 || v >= u64::MAX as f64 || (mult == 1.0 && n.fract() != 0.0) {
        bail!("{s:?} is not a count (e.g. 1000000, 1_000_000, 1M)");
    }
    Ok(v as u64)
}

/// `5%`, `1MiB`, `100` for `metric`.
fn parse_increase(metric: CheckMetric, s: &str) -> anyhow::Result<Increase> {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        let p: f64 = p
            .trim()
            .parse()
            .map_err(|_| anyhow!("{s:?} is not a percentage (e.g. 5%)"))?;
        if !p.is_finite() || p < 0.0 {
            bail!("{s:?}: the increase must be a percentage of 0 or more");
        }
        Ok(Increase::Percent(p))
    } else {
        Ok(Increase::Amount(metric.parse_amount(t)?))
    }
}

/// `allocs=5%,peak=10%` into `into`.
fn parse_increases(spec: &str, into: &mut BTreeMap<CheckMetric, Increase>) -> anyhow::Result<()> {
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (m, v) = part.split_once('=').ok_or_else(|| {
            anyhow!("--max-increase {part:?}: expected METRIC=LIMIT, e.g. allocs=5%")
        })?;
        let metric = CheckMetric::parse(m)?;
        into.insert(metric, parse_increase(metric, v)?);
    }
    Ok(())
}

/// A number or a string in the budget file.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Amount {
    Int(u64),
    Float(f64),
    Text(String),
}

impl Amount {
    fn text(&self) -> String {
        match self {
            Amount::Int(n) => n.to_string(),
            Amount::Float(f) => f.to_string(),
            Amount::Text(s) => s.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    baseline: Option<PathBuf>,
    #[serde(default)]
    max: BTreeMap<String, Amount>,
    #[serde(default, rename = "max-increase")]
    max_increase: BTreeMap<String, Amount>,
}

/// Limits and baseline read from a budget file (the baseline relative to the file).
pub fn read_budget_file(path: &Path) -> anyhow::Result<(Limits, Option<PathBuf>)> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let file: BudgetFile = toml::from_str(&text).map_err(|e| {
        anyhow!(
            "{}: not a budget file: {}",
            path.display(),
            e.message().replace('\n', " ")
        )
    })?;
    let mut limits = Limits::default();
    for (k, v) in &file.max {
        let metric = CheckMetric::parse(k).with_context(|| format!("{}: [max]", path.display()))?;
        let amount = metric
            .parse_amount(&v.text())
            .with_context(|| format!("{}: [max] {k}", path.display()))?;
        limits.max.insert(metric, amount);
    }
    for (k, v) in &file.max_increase {
        let metric =
            CheckMetric::parse(k).with_context(|| format!("{}: [max-increase]", path.display()))?;
        let inc = parse_increase(metric, &v.text())
            .with_context(|| format!("{}: [max-increase] {k}", path.display()))?;
        limits.max_increase.insert(metric, inc);
    }
    let baseline = file.baseline.map(|b| match path.parent() {
        Some(dir) if b.is_relative() => dir.join(b),
        _ => b,
    });
    Ok((limits, baseline))
}

impl CheckArgs {
    /// The limits (file, then command line over it) and the baseline path.
    pub fn limits(&self) -> anyhow::Result<(Limits, Option<PathBuf>)> {
        let default = Path::new(DEFAULT_BUDGET_FILE);
        let file = match &self.budget {
            Some(p) => Some(p.as_path()),
            None if default.is_file() => Some(default),
            None => None,
        };
        let (mut limits, file_baseline) = match file {
            Some(p) => read_budget_file(p)?,
            None => (Limits::default(), None),
        };
        for (metric, arg, flag) in [
            (CheckMetric::Peak, &self.max_peak, "--max-peak"),
            (CheckMetric::Allocs, &self.max_allocs, "--max-allocs"),
            (CheckMetric::Bytes, &self.max_bytes, "--max-bytes"),
            (CheckMetric::Leaked, &self.max_leaked, "--max-leaked"),
        ] {
            if let Some(v) = arg {
                limits
                    .max
                    .insert(metric, metric.parse_amount(v).context(flag)?);
            }
        }
        for spec in &self.max_increase {
            parse_increases(spec, &mut limits.max_increase)?;
        }
        if limits.max.is_empty() && limits.max_increase.is_empty() {
            bail!(
                "no limits given: pass --max-peak, --max-allocs, --max-bytes, --max-leaked or --max-increase, or a budget file (--budget FILE, ./{DEFAULT_BUDGET_FILE})"
            );
        }
        Ok((limits, self.baseline.clone().or(file_baseline)))
    }

    /// Reads the profiles and checks them (no symbolization: only totals are needed, so
    /// this works on CI artifacts whose binary is gone).
    pub fn report(&self) -> anyhow::Result<CheckReport> {
        let (limits, baseline_path) = self.limits()?;
        let profile = Profile::read(&self.profile)?;
        let baseline = match &baseline_path {
            Some(p) => Some(Profile::read(p)?),
            None => None,
        };
        let checks = check(&profile, baseline.as_ref(), &limits)?;
        Ok(CheckReport {
            pass: checks.iter().all(|c| c.pass),
            profile: self.profile.display().to_string(),
            baseline: baseline_path.map(|p| p.display().to_string()),
            checks,
        })
    }

    /// Runs the check and prints the table (or JSON); `Ok(false)` when a limit is exceeded.
    pub fn run(&self) -> anyhow::Result<bool> {
        let report = self.report()?;
        let text = if self.json {
            let mut json = serde_json::to_string_pretty(&report)?;
            json.push('\n');
            json
        } else {
            report.to_string()
        };
        Output::Stdout.write(text.as_bytes())?;
        Ok(report.pass)
    }

    /// `alloc-report check` as a process: 0 when every limit holds, 1 when one is exceeded,
    /// 2 (with one line on stderr) when the input is bad.
    pub fn main(&self) -> ExitCode {
        match self.run() {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("alloc-report: error: {}", crate::report::cli::one_line(&e));
                ExitCode::from(2)
            }
        }
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rows = vec![[
            "check".to_string(),
            "limit".to_string(),
            "value".to_string(),
            "baseline".to_string(),
            "verdict".to_string(),
        ]];
        for c in &self.checks {
            let name = match c.kind {
                "increase" => format!("{} increase", c.metric.name()),
                _ => c.metric.name().to_string(),
            };
            let value = match c.change_percent {
                Some(p) if c.baseline.is_some() => {
                    format!("{} ({p:+.1}%)", c.metric.show(c.value))
                }
                _ => c.metric.show(c.value),
            };
            let baseline = c.baseline.map_or("-".to_string(), |b| c.metric.show(b));
            let verdict = if c.pass { "ok" } else { "EXCEEDED" }.to_string();
            rows.push([name, c.limit.clone(), value, baseline, verdict]);
        }
        let mut widths = [0usize; 5];
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "profile: {}", self.profile);
        if let Some(b) = &self.baseline {
            let _ = writeln!(out, "baseline: {b}");
        }
        for r in &rows {
            let mut line = String::new();
            for (i, (cell, w)) in r.iter().zip(widths).enumerate() {
                let pad = w.saturating_sub(cell.chars().count());
                if i == 0 {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                } else {
                    line.push_str("  ");
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let failed: Vec<String> = self
            .checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| match c.kind {
                "increase" => format!("{} increase", c.metric.name()),
                _ => c.metric.name().to_string(),
            })
            .collect();
        if failed.is_empty() {
            let _ = writeln!(out, "PASS: {} limits hold", self.checks.len());
        } else {
            let _ = writeln!(
                out,
                "FAIL: {} of {} limits exceeded ({})",
                failed.len(),
                self.checks.len(),
                failed.join(", ")
            );
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts() {
        assert_eq!(parse_size("200MiB").unwrap(), 200 << 20);
        assert_eq!(parse_size("1.5 GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("10MB").unwrap(), 10_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("-1").is_err());
        assert_eq!(parse_count("1_000_000").unwrap(), 1_000_000);
        assert_eq!(parse_count("1.5M").unwrap(), 1_500_000);
        assert!(parse_count("1.5").is_err());
        assert!(parse_count("many").is_err());
    }

    #[test]
    fn increases() {
        let mut m = BTreeMap::new();
        parse_increases("allocs=5%,peak=1MiB", &mut m).unwrap();
        assert_eq!(m[&CheckMetric::Allocs], Increase::Percent(5.0));
        assert_eq!(m[&CheckMetric::Peak], Increase::Amount(1 << 20));
        assert!(parse_increases("rss=5%", &mut m).is_err());
        assert!(parse_increases("allocs", &mut m).is_err());
    }
}
