//! `StatsLogger`: one structured `tracing` event per interval with the counters, their rates
//! and the RSS gap.
//!
//! ```no_run
//! # #[global_allocator]
//! # static A: allocscope::Profiler<std::alloc::System> = allocscope::Profiler::new(std::alloc::System);
//! use std::time::Duration;
//!
//! tracing_subscriber::fmt().init();
//! let _logger = allocscope::StatsLogger::builder()
//!     .interval(Duration::from_secs(10))
//!     .level(tracing::Level::INFO)
//!     .start()
//!     .expect("spawn the stats thread");
//! // … the program runs; every 10 s an event like
//! // INFO allocscope: live 12.3 MiB in 4521 blocks, RSS 48.0 MiB, 1520 allocs/s
//! //   allocs=… frees=… live_bytes=… allocs_per_sec=… rss=… fragmentation=… dirty=…
//! // Dropping `_logger` stops the thread.
//! ```
//!
//! The events come from a reporter thread marked internal: what the subscriber allocates
//! while handling them is not counted as the program's, and nothing is ever logged from the
//! allocator hooks. The thread sends its events to the subscriber that was the default on the
//! thread calling [`StatsLoggerBuilder::start`] (a scoped one included), or to the global
//! default when there was none then.
//!
//! Fields of each event (bytes unless named otherwise): `allocs`, `frees`, `reallocs`,
//! `bytes_allocated`, `bytes_freed` (cumulative), `live_bytes`, `live_blocks`,
//! `peak_live_bytes`, the rates since the previous event `allocs_per_sec`, `frees_per_sec`,
//! `bytes_allocated_per_sec`, `rss`, and when the allocator gives statistics the gap terms
//! `requested`, `size_class_rounding`, `allocator_caches`, `fragmentation`, `dirty`,
//! `metadata`, `muzzy`, `profiler` (allocscope's own memory), `untouched` (subtracted:
//! pages the allocator counts that are not resident), `non_heap` (see [`crate::GapBreakdown`]); over mimalloc
//! (feature `mimalloc`) its terms instead: `requested`, `size_class_rounding`,
//! `free_and_cached`, `profiler`, `untouched`, `non_heap` (see [`crate::MimallocGap`]); over
//! an allocator without statistics, what can be known: `requested`, `profiler`, `untouched`
//! (see [`crate::PartialGap`]); in a
//! container, `cgroup_current` (everything the cgroup is charged) and `cgroup_limit` (the
//! limit that applies, when there is one; see [`crate::cgroup`]).

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::field::{FieldSet, Value};
use tracing_core::metadata::Kind;
use tracing_core::subscriber::{Interest, NoSubscriber};
use tracing_core::{dispatcher, Dispatch, Event, Level, Metadata};

use crate::observe::background::ReporterThread;
use crate::observe::snapshot::Snapshot;

/// The fields of a stats event, in the order of [`emit`]'s values.
const FIELDS: &[&str] = &[
    "message",
    "allocs",
    "frees",
    "reallocs",
    "bytes_allocated",
    "bytes_freed",
    "live_bytes",
    "live_blocks",
    "peak_live_bytes",
    "allocs_per_sec",
    "frees_per_sec",
    "bytes_allocated_per_sec",
    "rss",
    "requested",
    "size_class_rounding",
    "allocator_caches",
    "fragmentation",
    "dirty",
    "metadata",
    "muzzy",
    "profiler",
    "untouched",
    "non_heap",
    "free_and_cached",
    "cgroup_current",
    "cgroup_limit",
];

/// A running stats logger. Dropping it (or calling [`StatsLogger::stop`]) stops its thread.
#[derive(Debug)]
#[must_use = "the logger stops when this handle is dropped"]
pub struct StatsLogger {
    thread: ReporterThread,
}

impl StatsLogger {
    /// A builder with the defaults: every 10 s, level `INFO`, target `"allocscope"`.
    pub fn builder() -> StatsLoggerBuilder {
        StatsLoggerBuilder::default()
    }

    /// Stops the reporter thread and waits for it (what dropping the handle does).
    pub fn stop(self) {
        self.thread.stop();
    }
}

/// Settings of a [`StatsLogger`].
#[derive(Debug, Clone)]
pub struct StatsLoggerBuilder {
    interval: Duration,
    level: Level,
    target: &'static str,
}

impl Default for StatsLoggerBuilder {
    fn default() -> Self {
        StatsLoggerBuilder {
            interval: Duration::from_secs(10),
            level: Level::INFO,
            target: "allocscope",
        }
    }
}

impl StatsLoggerBuilder {
    /// Time between two events (default 10 s; at least 1 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Level of the events (default `INFO`).
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Target of the events (default `"allocscope"`), for filtering.
    pub fn target(mut self, target: &'static str) -> Self {
        self.target = target;
        self
    }

    /// Starts the reporter thread. The first event comes one interval from now.
    pub fn start(self) -> std::io::Result<StatsLogger> {
        let callsite = callsite_for(self.target, self.level);
        let captured = dispatcher::get_default(|d| (!d.is::<NoSubscriber>()).then(|| d.clone()));
        let thread = ReporterThread::spawn(
            "allocscope-stats",
            self.interval,
            || (Instant::now(), crate::observe::snapshot::snapshot()),
            move |last: &mut (Instant, Snapshot)| {
                let now = Instant::now();
                let snap = crate::observe::snapshot::snapshot();
                let send = || emit(callsite, &snap, last, now);
                match &captured {
                    Some(d) => dispatcher::with_default(d, send),
                    None => send(),
                }
                *last = (now, snap);
            },
        )?;
        Ok(StatsLogger { thread })
    }
}

/// A callsite made at run time, for a target and level chosen at run time (the `tracing`
/// macros need both as constants).
struct LoggerCallsite {
    metadata: OnceLock<Metadata<'static>>,
}

impl Callsite for LoggerCallsite {
    fn set_interest(&self, _interest: Interest) {
        // Interest is asked of the dispatcher at every event (events are rare).
    }

    fn metadata(&self) -> &Metadata<'_> {
        self.metadata.get().unwrap_or(&PLACEHOLDER)
    }
}

/// Never used: the metadata is set before the callsite is registered or shared.
static PLACEHOLDER: Metadata<'static> = Metadata::new(
    "allocscope stats",
    "allocscope",
    Level::INFO,
    None,
    None,
    None,
    FieldSet::new(&[], Identifier(&PLACEHOLDER_CALLSITE)),
    Kind::EVENT,
);
static PLACEHOLDER_CALLSITE: LoggerCallsite = LoggerCallsite {
    metadata: OnceLock::new(),
};

/// The callsite for (`target`, `level`), made and registered once and kept for the life of
/// the process (one small leak per distinct pair, not counted as the program's).
fn callsite_for(target: &'static str, level: Level) -> &'static LoggerCallsite {
    // The callsite and our registry live until the process ends and only this function
    // touches them: not the program's memory.
    let (callsite, is_new) = crate::hook::guard::untracked(|| make_callsite(target, level));
    if is_new {
        // Outside the untracked scope: the subscriber's own callsite caches grow here and
        // may be reallocated later by the program's threads.
        tracing_core::callsite::register(callsite);
    }
    callsite
}

fn make_callsite(target: &'static str, level: Level) -> (&'static LoggerCallsite, bool) {
    type Registry = Vec<(&'static str, Level, &'static LoggerCallsite)>;
    static CALLSITES: Mutex<Registry> = Mutex::new(Vec::new());
    let mut all = CALLSITES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&(_, _, c)) = all.iter().find(|(t, l, _)| *t == target && *l == level) {
        return (c, false);
    }
    let callsite: &'static LoggerCallsite = Box::leak(Box::new(LoggerCallsite {
        metadata: OnceLock::new(),
    }));
    let _ = callsite.metadata.set(Metadata::new(
        "allocscope stats",
        target,
        level,
        Some(file!()),
        Some(line!()),
        Some(module_path!()),
        FieldSet::new(FIELDS, Identifier(callsite)),
        Kind::EVENT,
    ));
    all.push((target, level, callsite));
    (callsite, true)
}

/// Sends one stats event through the current dispatcher, if it is interested.
fn emit(
    callsite: &'static LoggerCallsite,
    snap: &Snapshot,
    last: &(Instant, Snapshot),
    now: Instant,
) {
    let Some(metadata) = callsite.metadata.get() else {
        return;
    };
    if !dispatcher::get_default(|d: &Dispatch| d.enabled(metadata)) {
        return;
    }
    // Per second since the previous event, rounded to whole units.
    let rate = |get: fn(&Snapshot) -> u64| -> Option<u64> {
        let (then, prev) = last;
        let secs = now.duration_since(*then).as_secs_f64();
        (secs > 0.0).then(|| (get(snap).saturating_sub(get(prev)) as f64 / secs).round() as u64)
    };
    let allocs_per_sec = rate(|s| s.allocs);
    let frees_per_sec = rate(|s| s.frees);
    let bytes_per_sec = rate(|s| s.bytes_allocated);
    // The gap's terms by name, from whichever breakdown the allocator gives.
    let report = crate::observe::gap::GapReport::from_snapshot(snap);
    let term = |name: &str| -> Option<i64> {
        match &report {
            crate::observe::gap::GapReport::Full(g) => crate::model::gap_term::GapTerm::ALL
                .into_iter()
                .find(|t| t.key() == name)
                .map(|t| t.value(g)),
            crate::observe::gap::GapReport::Mimalloc(g) => g
                .terms()
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v),
            // What can be known without the allocator's statistics: allocscope's own memory
            // among it, so that it is never left inside the program's figures.
            crate::observe::gap::GapReport::Partial(p) => {
                let v = match name {
                    "requested" => p.requested,
                    "profiler" => p.profiler,
                    "untouched" => p.untouched,
                    _ => None,
                };
                v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
    };
    let rss = match &report {
        crate::observe::gap::GapReport::Full(g) => Some(g.rss.max(0) as u64),
        crate::observe::gap::GapReport::Mimalloc(g) => Some(g.rss.max(0) as u64),
        crate::observe::gap::GapReport::Partial(_) => crate::observe::procfs::rss().ok(),
    };
    let mib = |v: u64| v as f64 / (1024.0 * 1024.0);
    let mut message = format!(
        "live {:.1} MiB in {} blocks",
        mib(snap.live_bytes),
        snap.live_blocks
    );
    if let Some(r) = rss {
        message.push_str(&format!(", RSS {:.1} MiB", mib(r)));
    }
    if let Some(a) = allocs_per_sec {
        message.push_str(&format!(", {a} allocs/s"));
    }
    let message = tracing_core::field::display(message);
    // Every field that is a gap term, by its name (None for the others).
    let terms: [Option<i64>; FIELDS.len()] = std::array::from_fn(|i| term(FIELDS[i]));
    let cgroup_current = snap.cgroup.as_ref().map(|c| c.current);
    let cgroup_limit = snap.cgroup.as_ref().and_then(|c| c.limit);
    fn opt<T: Value>(v: &Option<T>) -> Option<&dyn Value> {
        v.as_ref().map(|x| x as &dyn Value)
    }
    fn some<T: Value>(v: &T) -> Option<&dyn Value> {
        Some(v)
    }
    let values: [Option<&dyn Value>; FIELDS.len()] = std::array::from_fn(|i| match FIELDS[i] {
        "message" => some(&message),
        "allocs" => some(&snap.allocs),
        "frees" => some(&snap.frees),
        "reallocs" => some(&snap.reallocs),
        "bytes_allocated" => some(&snap.bytes_allocated),
        "bytes_freed" => some(&snap.bytes_freed),
        "live_bytes" => some(&snap.live_bytes),
        "live_blocks" => some(&snap.live_blocks),
        "peak_live_bytes" => some(&snap.peak_live_bytes),
        "allocs_per_sec" => opt(&allocs_per_sec),
        "frees_per_sec" => opt(&frees_per_sec),
        "bytes_allocated_per_sec" => opt(&bytes_per_sec),
        "rss" => opt(&rss),
        "cgroup_current" => opt(&cgroup_current),
        "cgroup_limit" => opt(&cgroup_limit),
        _ => terms.get(i).and_then(opt),
    });
    let fields = metadata.fields();
    let keys: Vec<tracing_core::field::Field> = fields.iter().collect();
    if keys.len() != FIELDS.len() {
        return;
    }
    let pairs: [(&tracing_core::field::Field, Option<&dyn Value>); FIELDS.len()] =
        std::array::from_fn(|i| (&keys[i], values[i]));
    Event::dispatch(metadata, &fields.value_set(&pairs));
}
