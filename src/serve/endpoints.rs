//! What each path answers. Bad requests get a 4xx status and a one-line body.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::http::{Request, Response};
use crate::analysis::pprof::{gzip, site_values, to_proto_with};
use crate::analysis::trim::{merge_trimmed, trim_frames};
use crate::model::profile::{Frame, Profile};
use crate::observe::symbolize::InProcess;

/// Longest `?seconds=N` delta.
const MAX_DELTA_SECS: u64 = 600;
/// Most deltas waiting at once; more get 503.
pub(super) const MAX_PENDING: usize = 16;

/// What the server keeps between requests: the symbolizer with its cache (made at the
/// first request that needs names), and every raw stack's trimmed frames (call sites stay in
/// the site table, so a later scrape trims only the stacks that are new since the last).
#[derive(Default)]
pub(super) struct State {
    symbolizer: Option<InProcess>,
    trimmed: HashMap<Vec<u64>, Vec<Frame>>,
}

impl State {
    fn symbolizer(&mut self) -> &mut InProcess {
        self.symbolizer.get_or_insert_with(InProcess::new)
    }

    /// The process's profile now, with every frame (the JSON profile).
    fn full_profile(&mut self) -> Profile {
        let mut p = crate::observe::profile_writer::collect_profile();
        self.symbolizer().symbolize(&mut p);
        p
    }

    /// Symbolizes and trims a profile collected in this process as the reports show it
    /// (`analysis::trim`), from the cache where it can.
    fn trim(&mut self, p: &mut Profile) {
        let addresses = std::mem::take(&mut p.addresses);
        let max_depth = p.max_depth;
        let symbolizer = self.symbolizer.get_or_insert_with(InProcess::new);
        let cache = &mut self.trimmed;
        merge_trimmed(p, |site| {
            if !site.frames.is_empty() || site.stack.is_empty() {
                return trim_frames(&site.frames);
            }
            let stack: Vec<u64> = site
                .stack
                .iter()
                .map(|&i| addresses.get(i as usize).copied().unwrap_or(0))
                .collect();
            cache
                .entry(stack)
                .or_insert_with_key(|stack| {
                    let mut frames = trim_frames(&symbolizer.frames_of(stack));
                    if let Some(d) = max_depth {
                        frames.truncate((d as usize).max(1));
                    }
                    frames
                })
                .clone()
        });
        p.addresses = addresses;
    }

    /// The process's profile now, trimmed.
    fn trimmed_profile(&mut self) -> Profile {
        let mut p = crate::observe::profile_writer::collect_profile();
        self.trim(&mut p);
        p
    }
}

/// The answer to a request: now, or when a delta's time is up.
pub(super) enum Answer {
    Now(Response),
    Later(Box<Delta>),
}

/// A `?seconds=N` delta waiting for its end: the profile at its start (raw: it is
/// symbolized and trimmed at the end, with the profile of the end).
pub(super) struct Delta {
    pub(super) due: Instant,
    started: Instant,
    started_unix_ms: u64,
    baseline: Profile,
}

const PPROF: &str = "application/octet-stream";
const JSON: &str = "application/json";

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The value of `key` in a query string (`a=1&b=2`), if present.
fn query_value<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Rejects query parameters the path does not take.
fn only_params(query: &str, allowed: &[&str]) -> Result<(), Response> {
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let k = kv.split_once('=').map_or(kv, |(k, _)| k);
        if !allowed.contains(&k) {
            return Err(Response::error(
                400,
                &format!("unknown query parameter {k:?}"),
            ));
        }
    }
    Ok(())
}

/// Answers `request`; `pending` deltas are already waiting.
pub(super) fn route(state: &mut State, request: &Request, pending: usize) -> Answer {
    let get = request.method == "GET";
    let (path, query) = (request.path.as_str(), request.query.as_str());
    let known = [
        "/debug/pprof/heap",
        "/debug/pprof/allocs",
        "/debug/allocscope/profile",
        "/debug/allocscope/gap",
        "/metrics",
    ];
    if path == "/debug/allocscope/sampling" {
        if request.method != "POST" {
            return Answer::Now(Response::error(
                405,
                "use POST /debug/allocscope/sampling?bytes=N",
            ));
        }
        return Answer::Now(set_sampling(query));
    }
    if !known.contains(&path) {
        return Answer::Now(Response::error(404, &format!("no such path: {path}")));
    }
    if !get {
        return Answer::Now(Response::error(405, &format!("use GET {path}")));
    }
    let checked = match path {
        "/debug/pprof/heap" => only_params(query, &["gc"]),
        "/debug/pprof/allocs" => only_params(query, &["seconds", "gc"]),
        _ => only_params(query, &[]),
    };
    if let Err(e) = checked {
        return Answer::Now(e);
    }
    Answer::Now(match path {
        "/debug/pprof/heap" => pprof(state, "inuse_space"),
        "/debug/pprof/allocs" => match query_value(query, "seconds") {
            None => pprof(state, "alloc_space"),
            Some(s) => match s.parse::<u64>() {
                Ok(n) if (1..=MAX_DELTA_SECS).contains(&n) => {
                    if pending >= MAX_PENDING {
                        return Answer::Now(Response::error(
                            503,
                            &format!("{MAX_PENDING} deltas are already running; try later"),
                        ));
                    }
                    let now = Instant::now();
                    return Answer::Later(Box::new(Delta {
                        due: now + Duration::from_secs(n),
                        started: now,
                        started_unix_ms: unix_ms(),
                        baseline: crate::observe::profile_writer::collect_profile(),
                    }));
                }
                _ => Response::error(
                    400,
                    &format!("seconds={s:?}: expected a whole number from 1 to {MAX_DELTA_SECS}"),
                ),
            },
        },
        "/debug/allocscope/profile" => {
            let p = state.full_profile();
            match serde_json::to_vec(&p) {
                Ok(body) => Response::ok(JSON, body),
                Err(e) => Response::error(500, &format!("cannot encode the profile: {e}")),
            }
        }
        "/debug/allocscope/gap" => match serde_json::to_vec(&GapWithContainer::now()) {
            Ok(body) => Response::ok(JSON, body),
            Err(e) => Response::error(500, &format!("cannot encode the gap: {e}")),
        },
        _ => Response::ok(
            "text/plain; version=0.0.4; charset=utf-8",
            super::metrics::render().into_bytes(),
        ),
    })
}

/// `GET /debug/pprof/heap` and `/debug/pprof/allocs`: the profile now, trimmed.
fn pprof(state: &mut State, default_type: &str) -> Response {
    let p = state.trimmed_profile();
    Response::ok(PPROF, gzip(&to_proto_with(&p, default_type, &site_values)))
}

/// The end of a `?seconds=N` delta: every value is the profile now minus the profile at the
/// start, stack by stack (trimmed stacks: both profiles are trimmed alike, so their merged
/// sites match). Allocation values only grow; in-use values may shrink (negative), as in
/// Go's delta profiles.
pub(super) fn finish_delta(state: &mut State, delta: Delta) -> Response {
    let mut before = delta.baseline;
    state.trim(&mut before);
    let mut after = state.trimmed_profile();
    let base: HashMap<&[Frame], [i64; 4]> = before
        .sites
        .iter()
        .map(|s| (s.frames.as_slice(), site_values(s)))
        .collect();
    let values = |site: &crate::model::profile::CallSite| {
        let now = site_values(site);
        let then = base.get(site.frames.as_slice()).copied().unwrap_or([0; 4]);
        [0, 1, 2, 3].map(|i| now[i].saturating_sub(then[i]))
    };
    after.meta.start_time_unix_ms = delta.started_unix_ms;
    after.meta.duration_secs = delta.started.elapsed().as_secs_f64();
    let message = to_proto_with(&after, "alloc_space", &values);
    drop(base);
    Response::ok(PPROF, gzip(&message))
}

/// `POST /debug/allocscope/sampling?bytes=N`.
fn set_sampling(query: &str) -> Response {
    if let Err(e) = only_params(query, &["bytes"]) {
        return e;
    }
    let Some(v) = query_value(query, "bytes") else {
        return Response::error(400, "missing bytes=N (0 stops stack capture, 1 is exact)");
    };
    let Some(bytes) = crate::hook::settings::parse_bytes(v.as_bytes()) else {
        return Response::error(
            400,
            &format!("bytes={v:?}: expected a number of bytes (suffixes K, M, G)"),
        );
    };
    crate::hook::settings::set_sampling_at_run_time(bytes);
    let now = crate::hook::settings::sample_bytes();
    let mut body = if now == 0 {
        "stack capture stopped (counting goes on)".to_string()
    } else {
        format!("sampling interval now {now} bytes")
    };
    body.push('\n');
    Response::ok("text/plain; charset=utf-8", body.into_bytes())
}

/// The body of `/debug/allocscope/gap`: the gap of this moment (its variant's key, as
/// [`crate::observe::gap::GapReport`] serializes), beside the process's memory cgroup figures and
/// the sentence that sets RSS against the container's limit (`cgroup` and `container` absent
/// without memory cgroup accounting; docs/production.md, "Containers").
#[derive(serde::Serialize)]
struct GapWithContainer {
    #[serde(flatten)]
    gap: crate::observe::gap::GapReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup: Option<crate::model::cgroup::CgroupMemory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<String>,
}

impl GapWithContainer {
    fn now() -> GapWithContainer {
        let snap = crate::observe::snapshot::snapshot();
        let container = snap
            .cgroup
            .as_ref()
            .map(crate::model::gap_term::container_sentence);
        GapWithContainer {
            gap: crate::observe::gap::GapReport::from_snapshot(&snap),
            cgroup: snap.cgroup.clone(),
            container,
        }
    }
}
