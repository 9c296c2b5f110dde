//! The one pprof encoder: a profile as a gzipped heap profile (`profile.proto`), readable by
//! `go tool pprof`, Grafana Pyroscope and Parca. `alloc-report export --format pprof` and the
//! HTTP endpoints (feature `http`, `/debug/pprof/heap` and `/debug/pprof/allocs`) use it.
//!
//! Sample types, in the order Go's own heap profiles use (the last, `inuse_space`, is the
//! default view): `alloc_objects/count`, `alloc_space/bytes`, `inuse_objects/count`,
//! `inuse_space/bytes`. The values are the profile's per-site figures as they are (already
//! scaled up from samples, so pprof must not and does not scale them again); `period_type`
//! is `space/bytes` and `period` the mean sampling interval. Locations are leaf first; a run
//! of inlined frames and the frame they were inlined into share one location with several
//! lines, innermost first, as pprof expects. Each executable object the profile recorded
//! (`mappings`: path, build ID, executable segments) is one pprof mapping with its build ID,
//! and each location points to the mapping its address lies in; a profile without recorded
//! objects (version 1, or written by hand) gets one mapping spanning its addresses.

use std::collections::HashMap;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use prost::Message;

use crate::analysis::names::display_name;
use crate::model::profile::{CallSite, Frame, Mapping, Profile};

/// The messages of `profile.proto` (github.com/google/pprof/proto/profile.proto) that we
/// write, with the same field numbers.
pub mod proto {
    /// The whole profile.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        /// What each value of a sample measures.
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        /// One sample per call site.
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        /// The binaries the addresses belong to.
        #[prost(message, repeated, tag = "3")]
        pub mapping: Vec<Mapping>,
        /// Distinct code locations.
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        /// Distinct functions.
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        /// All strings; index 0 is "".
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        /// Frames to drop (regex, string index).
        #[prost(int64, tag = "7")]
        pub drop_frames: i64,
        /// Frames to keep (regex, string index).
        #[prost(int64, tag = "8")]
        pub keep_frames: i64,
        /// When the profile was collected, ns since the epoch.
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        /// How long collection lasted, ns.
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        /// What the period measures.
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        /// The sampling period.
        #[prost(int64, tag = "12")]
        pub period: i64,
        /// Free-form comments (string indices).
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
        /// The type of the default view (string index; 0: the last sample type).
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }

    /// A type and unit, both string indices.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        /// E.g. "alloc_space".
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        /// E.g. "bytes".
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    /// A stack and its values.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        /// Location ids, leaf first.
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        /// One value per sample type.
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        /// Labels: `span` = the tracing span path the site was sampled in.
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    /// A sample's label (string-valued here).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        /// Key (string index).
        #[prost(int64, tag = "1")]
        pub key: i64,
        /// String value (string index).
        #[prost(int64, tag = "2")]
        pub str: i64,
        /// Numeric value (unused).
        #[prost(int64, tag = "3")]
        pub num: i64,
        /// Unit of `num` (unused).
        #[prost(int64, tag = "4")]
        pub num_unit: i64,
    }

    /// A binary mapped into the process.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Mapping {
        /// Nonzero id.
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// Start address.
        #[prost(uint64, tag = "2")]
        pub memory_start: u64,
        /// End address (exclusive).
        #[prost(uint64, tag = "3")]
        pub memory_limit: u64,
        /// Offset in the file.
        #[prost(uint64, tag = "4")]
        pub file_offset: u64,
        /// File name (string index).
        #[prost(int64, tag = "5")]
        pub filename: i64,
        /// Build id (string index).
        #[prost(int64, tag = "6")]
        pub build_id: i64,
        /// Locations carry function names already: pprof need not symbolize.
        #[prost(bool, tag = "7")]
        pub has_functions: bool,
        /// Locations carry file names.
        #[prost(bool, tag = "8")]
        pub has_filenames: bool,
        /// Locations carry line numbers.
        #[prost(bool, tag = "9")]
        pub has_line_numbers: bool,
        /// Locations carry inlined frames.
        #[prost(bool, tag = "10")]
        pub has_inline_frames: bool,
    }

    /// A code address and the source lines it stands for.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        /// Nonzero id.
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// Its mapping's id.
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        /// The instruction address.
        #[prost(uint64, tag = "3")]
        pub address: u64,
        /// Innermost (inlined) first; the last is the function the others were inlined into.
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
        /// Whether several functions were folded into this location.
        #[prost(bool, tag = "5")]
        pub is_folded: bool,
    }

    /// A source line of a location.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        /// The function's id.
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        /// Line number, 0 when unknown.
        #[prost(int64, tag = "2")]
        pub line: i64,
    }

    /// A function.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        /// Nonzero id.
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// Name as users know it (string index).
        #[prost(int64, tag = "2")]
        pub name: i64,
        /// Name as the linker knows it (string index).
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        /// Source file (string index).
        #[prost(int64, tag = "4")]
        pub filename: i64,
        /// First line of the function, 0 when unknown.
        #[prost(int64, tag = "5")]
        pub start_line: i64,
    }
}

/// Interns strings into a pprof string table.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Strings {
        let mut s = Strings::default();
        s.intern(""); // string_table[0] must be "".
        s
    }

    fn intern(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The four values of a call site, in the order of the sample types.
pub(crate) fn site_values(site: &CallSite) -> [i64; 4] {
    [site.allocs, site.bytes, site.live_blocks, site.live_bytes].map(saturating_i64)
}

/// Builds the pprof message of a profile (default view `inuse_space`).
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub fn to_proto(profile: &Profile) -> proto::Profile {
    to_proto_with(profile, "inuse_space", &site_values)
}

/// The index of the mapping (into `mappings`) whose executable segments hold `addr`.
fn mapping_of(mappings: &[Mapping], addr: u64) -> Option<usize> {
    mappings
        .iter()
        .position(|m| m.segments.iter().any(|s| s.start <= addr && addr < s.end))
}

/// Builds the pprof message of a profile: `default_type` is the sample type a client shows
/// first (`inuse_space`, `alloc_space`, …); `values` gives a site's four values (a delta
/// profile passes differences, which may be negative). Sites whose four values are zero are
/// left out.
pub(crate) fn to_proto_with<'p>(
    profile: &'p Profile,
    default_type: &str,
    values: &dyn Fn(&CallSite) -> [i64; 4],
) -> proto::Profile {
    let mut strings = Strings::new();
    let value_type = |strings: &mut Strings, t: &str, u: &str| proto::ValueType {
        r#type: strings.intern(t),
        unit: strings.intern(u),
    };
    let sample_type = vec![
        value_type(&mut strings, "alloc_objects", "count"),
        value_type(&mut strings, "alloc_space", "bytes"),
        value_type(&mut strings, "inuse_objects", "count"),
        value_type(&mut strings, "inuse_space", "bytes"),
    ];
    let period_type = Some(value_type(&mut strings, "space", "bytes"));
    let default_sample_type = strings.intern(default_type);

    // Mapping ids 1..=n are the recorded objects; n + 1 spans the addresses none holds.
    let recorded = &profile.mappings;
    let unknown_mapping_id = recorded.len() as u64 + 1;
    let mut functions: Vec<proto::Function> = Vec::new();
    // Keyed by the names as stored (borrowed from the profile: no allocation per frame);
    // two stored names that display alike stay two functions, which pprof merges by name.
    let mut function_ids: HashMap<(&str, Option<&str>), u64> = HashMap::new();
    let mut locations: Vec<proto::Location> = Vec::new();
    let mut location_ids: HashMap<(u64, Vec<(u64, i64)>), u64> = HashMap::new();
    let mut single_line_ids: HashMap<(u64, u64, i64), u64> = HashMap::new();
    let mut samples = Vec::with_capacity(profile.sites.len());
    // The span of the addresses no recorded object holds.
    let (mut lowest, mut highest) = (u64::MAX, 0u64);

    let mut function_id = |strings: &mut Strings, frame: &'p Frame| -> u64 {
        let key = (frame.function.as_str(), frame.file.as_deref());
        if let Some(&id) = function_ids.get(&key) {
            return id;
        }
        let id = functions.len() as u64 + 1;
        functions.push(proto::Function {
            id,
            name: strings.intern(&display_name(frame)),
            system_name: strings.intern(&frame.function),
            filename: strings.intern(frame.file.as_deref().unwrap_or("")),
            start_line: 0,
        });
        function_ids.insert(key, id);
        id
    };

    for site in &profile.sites {
        let value = values(site);
        if value.iter().all(|&v| v == 0) {
            continue;
        }
        let mut location_id = Vec::with_capacity(site.frames.len());
        let mut lines: Vec<(u64, i64)> = Vec::new();
        for (i, frame) in site.frames.iter().enumerate() {
            lines.push((
                function_id(&mut strings, frame),
                frame.line.map_or(0, i64::from),
            ));
            // A run of inlined frames ends at the frame they were inlined into (or at the
            // last frame, if the stack was cut).
            if frame.inlined && i + 1 < site.frames.len() {
                continue;
            }
            // Most locations are one frame: key those without allocating.
            let single = match lines.as_slice() {
                &[(function_id, line)] => Some((frame.addr, function_id, line)),
                _ => None,
            };
            let known = match single {
                Some(key) => single_line_ids.get(&key).copied(),
                None => location_ids.get(&(frame.addr, lines.clone())).copied(),
            };
            let id = match known {
                Some(id) => id,
                None => {
                    let id = locations.len() as u64 + 1;
                    let mapping_id = match mapping_of(recorded, frame.addr) {
                        Some(m) => m as u64 + 1,
                        None => {
                            lowest = lowest.min(frame.addr);
                            highest = highest.max(frame.addr);
                            unknown_mapping_id
                        }
                    };
                    locations.push(proto::Location {
                        id,
                        mapping_id,
                        address: frame.addr,
                        line: lines
                            .iter()
                            .map(|&(function_id, line)| proto::Line { function_id, line })
                            .collect(),
                        is_folded: false,
                    });
                    match single {
                        Some(key) => single_line_ids.insert(key, id),
                        None => location_ids.insert((frame.addr, lines.clone()), id),
                    };
                    id
                }
            };
            lines.clear();
            location_id.push(id);
        }
        // The tracing span path the site was sampled in (`go tool pprof -tagfocus span=…`).
        let label = match &site.span {
            Some(path) => vec![proto::Label {
                key: strings.intern("span"),
                str: strings.intern(path),
                num: 0,
                num_unit: 0,
            }],
            None => Vec::new(),
        };
        samples.push(proto::Sample {
            location_id,
            value: value.to_vec(),
            label,
        });
    }

    let mut mapping: Vec<proto::Mapping> = Vec::with_capacity(recorded.len() + 1);
    for (i, m) in recorded.iter().enumerate() {
        let first = m.segments.iter().min_by_key(|s| s.start);
        mapping.push(proto::Mapping {
            id: i as u64 + 1,
            memory_start: first.map_or(0, |s| s.start),
            memory_limit: m.segments.iter().map(|s| s.end).max().unwrap_or(0),
            file_offset: first.map_or(0, |s| s.file_offset),
            filename: strings.intern(&m.path),
            build_id: strings.intern(m.build_id.as_deref().unwrap_or("")),
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: true,
        });
    }
    if lowest != u64::MAX || recorded.is_empty() {
        mapping.push(proto::Mapping {
            id: unknown_mapping_id,
            memory_start: if lowest == u64::MAX { 0 } else { lowest },
            memory_limit: highest.saturating_add(1),
            file_offset: 0,
            filename: strings.intern(if recorded.is_empty() {
                &profile.meta.program
            } else {
                "[unknown]"
            }),
            build_id: 0,
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: true,
        });
    }
    let comment = vec![strings.intern(&format!(
        "allocscope {} profile of {}; sampling_bytes {}",
        profile.meta.allocscope_version, profile.meta.program, profile.meta.sampling_bytes
    ))];
    proto::Profile {
        sample_type,
        sample: samples,
        mapping,
        location: locations,
        function: functions,
        string_table: strings.table,
        drop_frames: 0,
        keep_frames: 0,
        time_nanos: saturating_i64(profile.meta.start_time_unix_ms.saturating_mul(1_000_000)),
        duration_nanos: (profile.meta.duration_secs * 1e9) as i64,
        period_type,
        period: saturating_i64(profile.meta.sampling_bytes),
        comment,
        default_sample_type,
    }
}

/// Gzips an encoded pprof message.
pub(crate) fn gzip(message: &proto::Profile) -> Vec<u8> {
    let raw = message.encode_to_vec();
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(&raw);
    gz.finish().unwrap_or_default()
}

/// The gzipped pprof encoding of a profile (what `go tool pprof` reads).
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub fn to_pprof_gz(profile: &Profile) -> Vec<u8> {
    gzip(&to_proto(profile))
}
