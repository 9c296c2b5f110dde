//! Configuration of call-site recording: a builder for code, environment variables for
//! everything else.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `ALLOCSCOPE` | `on`, `off` (`off` turns stack capture off; counting goes on) | `on` |
//! | `ALLOCSCOPE_SAMPLE_BYTES` | mean sampling interval in bytes, `1` = exact mode; suffixes `K`, `M`, `G` (powers of 1024) | `524288` (512 KiB) |
//! | `ALLOCSCOPE_MAX_DEPTH` | frames kept per stack, 1–[`MAX_DEPTH_LIMIT`] | `64` |
//! | `ALLOCSCOPE_UNWIND` | `auto`, `fp` (frame pointers), `dwarf` | `auto` |
//! | `ALLOCSCOPE_SEED` | seed of the sampling random generator (reproducible runs) | from the clock |
//! | `ALLOCSCOPE_OUT` | path: write a profile there when the process exits normally (`%p` = the process id; a forked child writes only with `%p`) | none |
//! | `ALLOCSCOPE_TIMELINE_MS` | with `ALLOCSCOPE_OUT`: interval of the timeline recorded from before `main`, in ms; `0` = no timeline | `100` |
//! | `ALLOCSCOPE_SYMBOLIZE` | `exit` (resolve names in the profiled process at exit) or `report` (by `alloc-report`) | `report` |
//! | `ALLOCSCOPE_HTTP` | with the feature `http`: `IP:PORT` to serve pprof, metrics and the profile on from before `main` (`docs/production.md`); no authentication: localhost or the cluster network only | none |
//! | `ALLOCSCOPE_FLUSH_SECS` | with `ALLOCSCOPE_OUT` or [`Config::out`]: rewrite the profile every N seconds (decimals allowed), marked `"flushed"`, so a killed process leaves one; `0` = off | off |
//! | `ALLOCSCOPE_CGROUP_ROOT` | the mount point of the cgroup v2 (or v1 memory) hierarchy to read the process's cgroup under ([`crate::cgroup`]) | from `/proc/self/mountinfo` |
//!
//! This table is every variable allocscope reads. The first six are the hook's settings, read
//! once, lazily, by the first allocation the profiler sees, without allocating
//! ([`crate::hook::settings`]); `ALLOCSCOPE_TIMELINE_MS` is read here
//! ([`timeline_interval`]) at start-up ([`crate::runtime::lifecycle`]);
//! `ALLOCSCOPE_SYMBOLIZE` when the profile is written (`observe::symbolize`);
//! `ALLOCSCOPE_FLUSH_SECS` ([`flush_interval`]) when the exit handler is registered;
//! `ALLOCSCOPE_CGROUP_ROOT` by the first snapshot; `ALLOCSCOPE_HTTP` before `main` by the
//! HTTP server's start-up (`serve`, feature `http`). An invalid value
//! prints one line on stderr and the default is used; nothing panics. **The environment wins over the builder**, so a deployed
//! binary can be re-tuned without a rebuild.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::hook::settings;
use crate::hook::settings::{Unwinder, MAX_DEPTH_LIMIT};

/// Call-site recording settings: a builder. Fields left unset keep their current value
/// (default or environment).
///
/// ```no_run
/// allocscope::Config::new()
///     .sample_bytes(64 * 1024)       // or .exact()
///     .max_depth(32)
///     .out("app.profile.json")       // written at normal exit
///     .apply();
/// ```
/// Call [`Config::apply`] first thing in `main`: allocations made before it were recorded
/// with the previous settings. A variable set in the environment overrides the same setting
/// made here.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Config {
    /// Mean sampling interval in bytes (`Some(1)`: exact mode).
    pub sample_bytes: Option<u64>,
    /// Whether stacks are captured at all.
    pub enabled: Option<bool>,
    /// Frames kept per stack (nearest the allocation).
    pub max_depth: Option<usize>,
    /// Stack capture method.
    pub unwinder: Option<Unwinder>,
    /// Seed of the sampling random generator.
    pub seed: Option<u64>,
    /// Where to write a profile at normal process exit.
    pub out: Option<PathBuf>,
}

impl Config {
    /// An empty builder: applying it changes nothing.
    pub fn new() -> Config {
        Config::default()
    }

    /// Samples allocations with a mean interval of `bytes` bytes (Poisson byte sampling).
    /// `1` records every allocation (exact mode); `0` is treated as `1`.
    pub fn sample_bytes(mut self, bytes: u64) -> Config {
        self.sample_bytes = Some(bytes.max(1));
        self
    }

    /// Exact mode: every allocation's stack is recorded (`sample_bytes(1)`).
    pub fn exact(self) -> Config {
        self.sample_bytes(1)
    }

    /// Turns stack capture on or off (counting by size class is never off).
    pub fn stacks(mut self, on: bool) -> Config {
        self.enabled = Some(on);
        self
    }

    /// Keeps at most `depth` frames per stack, those nearest the allocation
    /// (clamped to 1..=[`MAX_DEPTH_LIMIT`]).
    pub fn max_depth(mut self, depth: usize) -> Config {
        self.max_depth = Some(depth.clamp(1, MAX_DEPTH_LIMIT));
        self
    }

    /// Chooses the stack capture method.
    pub fn unwinder(mut self, u: Unwinder) -> Config {
        self.unwinder = Some(u);
        self
    }

    /// Seeds the sampling random generator (each thread derives its own stream from it).
    pub fn seed(mut self, seed: u64) -> Config {
        self.seed = Some(seed);
        self
    }

    /// Writes a profile to `path` when the process exits normally (returns from `main` or
    /// calls `std::process::exit`).
    pub fn out(mut self, path: impl Into<PathBuf>) -> Config {
        self.out = Some(path.into());
        self
    }

    /// Makes these settings current (environment variables still win).
    pub fn apply(self) {
        settings::apply(
            self.sample_bytes,
            self.enabled,
            self.max_depth,
            self.unwinder,
            self.seed,
        );
        if let Some(p) = self.out {
            crate::hook::guard::untracked(|| {
                if let Ok(mut g) = OUT_PATH.lock() {
                    *g = Some(p);
                }
            });
            crate::runtime::lifecycle::register();
        }
        settings::bump_epoch();
    }
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// Mean sampling interval in bytes; 1 = exact mode; 0 = stack capture off.
    pub sample_bytes: u64,
    /// Frames kept per stack.
    pub max_depth: usize,
    /// Stack capture method actually used (never `Auto`).
    pub unwinder: Unwinder,
    /// Where the profile goes at exit, if anywhere.
    pub out: Option<PathBuf>,
}

/// The call-site settings in force (reads the environment if nothing has yet).
pub fn settings() -> Settings {
    settings::ensure_init();
    Settings {
        sample_bytes: settings::sample_bytes(),
        max_depth: settings::max_depth(),
        unwinder: settings::unwinder(),
        out: out_path(),
    }
}

/// The builder's output path (the environment's `ALLOCSCOPE_OUT` wins, see [`out_path`]).
static OUT_PATH: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Where to write the profile at exit: the environment, else the builder.
pub(crate) fn out_path() -> Option<PathBuf> {
    crate::hook::guard::untracked(|| {
        if let Some(p) = std::env::var_os("ALLOCSCOPE_OUT").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        OUT_PATH.lock().ok().and_then(|g| g.clone())
    })
}

/// `ALLOCSCOPE_TIMELINE_MS`: the timeline's interval (`None`: `0`, no timeline; unset or
/// invalid: the recorder's default, 100 ms, with one line on stderr when invalid).
#[cfg(feature = "serde")]
pub(crate) fn timeline_interval() -> Option<std::time::Duration> {
    let default = crate::observe::timeline::TimelineOptions::default().interval;
    let Some(v) = std::env::var_os("ALLOCSCOPE_TIMELINE_MS") else {
        return Some(default);
    };
    match v.to_str().and_then(|s| s.trim().parse::<u64>().ok()) {
        Some(0) => None,
        Some(ms) => Some(std::time::Duration::from_millis(ms)),
        None => {
            eprintln!(
                "allocscope: invalid ALLOCSCOPE_TIMELINE_MS={}: expected milliseconds (0 = off); using 100",
                v.to_string_lossy()
            );
            Some(default)
        }
    }
}

/// `ALLOCSCOPE_FLUSH_SECS`: the periodic flush's interval (`None`: unset, `0` or invalid, with
/// one line on stderr when invalid).
#[cfg(feature = "serde")]
pub(crate) fn flush_interval() -> Option<std::time::Duration> {
    let v = std::env::var_os("ALLOCSCOPE_FLUSH_SECS")?;
    match v
        .to_str()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
    {
        Some(0.0) => None,
        // At least 10 ms: a profile write takes milliseconds.
        Some(s) => Some(std::time::Duration::from_secs_f64(s.clamp(0.01, 1e9))),
        None => {
            eprintln!(
                "allocscope: invalid ALLOCSCOPE_FLUSH_SECS={}: expected seconds (0 = off); no periodic flush",
                v.to_string_lossy()
            );
            None
        }
    }
}
