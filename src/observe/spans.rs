//! Memory by tracing span: span paths and their figures (issue 14).
//!
//! `SpanLayer` (feature `tracing-spans`) interns each span's path — its parent's path, its
//! name, target and configured fields — into a small id, which the hook charges allocations
//! to (`crate::hook::spans`). This module keeps the paths and reads the hook's table into
//! [`SpanStats`]. The interner's memory is allocscope's own: every allocation here happens in
//! an [`untracked`] scope and is never freed outside one.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;

use crate::hook::guard::untracked;
use crate::hook::sampler::COUNT_ONE;
use crate::hook::spans::{self, MAX_SPANS, OVERFLOW_SPAN};
use crate::model::spans::SpanStats;

/// The name of [`OVERFLOW_SPAN`], which every path past the table's capacity shares.
const OVERFLOW_NAME: &str = "(other spans)";

/// What one path id stands for.
struct PathInfo {
    path: String,
    name: &'static str,
    target: &'static str,
}

/// (parent path id, name, target, configured fields rendered as `k=v,…`).
type Key = (u16, &'static str, &'static str, String);

#[cfg_attr(not(feature = "tracing-spans"), allow(dead_code))] // used by SpanLayer
#[derive(Default)]
struct Interner {
    ids: HashMap<Key, u16>,
    /// By id; index 0 (no span) unused.
    paths: Vec<PathInfo>,
}

static INTERNER: Mutex<Option<Interner>> = Mutex::new(None);

/// The id of the path `parent > name{fields}` (`parent` 0: a root span). Allocates (in an
/// untracked scope): call it outside the hook.
#[cfg_attr(not(feature = "tracing-spans"), allow(dead_code))] // used by SpanLayer
pub(crate) fn intern(parent: u16, name: &'static str, target: &'static str, fields: String) -> u16 {
    untracked(|| {
        let mut guard = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
        let interner = guard.get_or_insert_with(Interner::default);
        let key: Key = (parent, name, target, fields);
        if let Some(&id) = interner.ids.get(&key) {
            return id;
        }
        if interner.paths.is_empty() {
            interner.paths.push(PathInfo {
                path: String::new(),
                name: "",
                target: "",
            });
        }
        let id = interner.paths.len();
        if id >= usize::from(OVERFLOW_SPAN) {
            spans::note_id(OVERFLOW_SPAN);
            return OVERFLOW_SPAN;
        }
        let (_, name, target, fields) = &key;
        let leaf = if fields.is_empty() {
            (*name).to_string()
        } else {
            format!("{name}{{{fields}}}")
        };
        let path = match interner.paths.get(usize::from(parent)) {
            Some(p) if parent != 0 => format!("{} > {leaf}", p.path),
            _ => leaf,
        };
        interner.paths.push(PathInfo { path, name, target });
        // `id < OVERFLOW_SPAN`, a u16.
        let id = id as u16;
        interner.ids.insert(key, id);
        spans::note_id(id);
        id
    })
}

/// The path of span id `id` (`None` for 0, no span). Not for the hook.
#[cfg_attr(not(feature = "serde"), allow(dead_code))] // used by the profile writer
pub(crate) fn path_of(id: u32) -> Option<String> {
    if id == 0 {
        return None;
    }
    if id == u32::from(OVERFLOW_SPAN) {
        return Some(OVERFLOW_NAME.to_string());
    }
    untracked(|| {
        let guard = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .and_then(|i| i.paths.get(id as usize))
            .map(|p| p.path.clone())
    })
}

/// The figures of every span path that was charged something, most bytes first. Reads the
/// counters with relaxed loads while the program runs: a consistent picture only when no
/// thread is allocating in a span.
///
/// Empty unless a `SpanLayer` (feature `tracing-spans`) is installed and a [`crate::Profiler`]
/// is the global allocator.
pub fn span_stats() -> Vec<SpanStats> {
    untracked(|| {
        let guard = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
        let Some(interner) = guard.as_ref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for id in 1..spans::used().min(MAX_SPANS) {
            let Some(c) = spans::counters(id as u16) else {
                continue;
            };
            let allocs = c.allocs.load(Relaxed);
            let reallocs = c.reallocs.load(Relaxed);
            let samples = c.samples.load(Relaxed);
            if allocs == 0 && reallocs == 0 && samples == 0 {
                continue;
            }
            let (path, name, target) = match interner.paths.get(id) {
                Some(p) => (p.path.clone(), p.name, p.target),
                None if id == usize::from(OVERFLOW_SPAN) => {
                    (OVERFLOW_NAME.to_string(), OVERFLOW_NAME, "")
                }
                None => continue,
            };
            let fixed = |v: u64| v / COUNT_ONE;
            let freed = c.freed.load(Relaxed);
            let a = c.life_under_1us.load(Relaxed);
            let b = c.life_1us_1ms.load(Relaxed);
            let d = c.life_1ms_1s.load(Relaxed);
            out.push(SpanStats {
                path,
                name: name.to_string(),
                target: target.to_string(),
                allocs,
                bytes: c.bytes.load(Relaxed),
                reallocs,
                samples,
                sampled_allocs: fixed(c.w_allocs.load(Relaxed)),
                sampled_bytes: c.w_bytes.load(Relaxed),
                // Relaxed counters of a block freed on another thread may be read before the
                // add of its allocation: never show a wrapped figure.
                live_blocks: fixed(non_negative(c.live_count.load(Relaxed))),
                live_bytes: non_negative(c.live_bytes.load(Relaxed)),
                peak_live_bytes: c.peak_live_bytes.load(Relaxed),
                freed: fixed(freed),
                freed_under_1us: fixed(a),
                freed_under_1ms: fixed(a + b),
                freed_under_1s: fixed(a + b + d),
            });
        }
        out.sort_by(|x, y| y.bytes.cmp(&x.bytes).then_with(|| x.path.cmp(&y.path)));
        out
    })
}

/// A counter that may transiently have wrapped below zero, as 0 then.
fn non_negative(v: u64) -> u64 {
    (v as i64).max(0) as u64
}
