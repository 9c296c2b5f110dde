//! The profile file: what a profiled run leaves behind for `alloc-report`.
//!
//! One versioned JSON document ([`Profile`]), written atomically (a temporary file in the
//! same directory, then a rename). Its size grows with the number of distinct call stacks and
//! timeline points, never with the number of allocations.
//!
//! Every byte figure is in bytes, every duration in the unit its field name says
//! (`_secs`, `_ns`, `_ms`). Figures of call sites are estimates in sampled mode
//! (`meta.sampling_bytes > 1`) and exact in exact mode (`sampling_bytes == 1`).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::counts::{SizeClassCounts, Snapshot};
use crate::model::gap::GapBreakdown;

/// The value of [`Profile::format`].
pub const PROFILE_FORMAT: &str = "allocscope-profile";
/// The current value of [`Profile::version`]: version 2 adds raw stacks (`sites[].stack`) and
/// the process's `mappings`, symbolized when the profile is read; version 3 adds
/// `meta.kind` (a final profile or a periodic flush), `meta.written_unix_ms` and `cgroup`.
pub const PROFILE_VERSION: u32 = 3;
/// The oldest version readers still accept (version 1: names only, no raw addresses).
pub const PROFILE_MIN_VERSION: u32 = 1;

/// A whole profile file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Always [`PROFILE_FORMAT`].
    pub format: String,
    /// Always [`PROFILE_VERSION`] for files this version writes.
    pub version: u32,
    /// Who ran, for how long, with what.
    pub meta: ProfileMeta,
    /// Exact process-wide counters at the time the profile was written.
    pub totals: Totals,
    /// Exact counters per size class (only classes that saw an allocation).
    pub size_classes: Vec<SizeClassCounts>,
    /// The RSS gap when the profile was written; `null` over an allocator without statistics.
    pub gap: Option<GapBreakdown>,
    /// The RSS gap at the periodic snapshot with the highest requested live bytes, if any.
    #[serde(default)]
    pub gap_at_peak: Option<GapBreakdown>,
    /// Call sites (distinct stacks), sorted by `bytes` descending.
    pub sites: Vec<CallSite>,
    /// Periodic snapshots taken during the run, oldest first (may be empty).
    pub timeline: Vec<TimelinePoint>,
    /// The executable objects of the process (the program first, then shared libraries),
    /// for symbolizing `sites[].stack` away from the profiled process. Empty in version 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<Mapping>,
    /// The distinct return addresses of all raw stacks (`sites[].stack` indexes it), as
    /// captured in the process. Empty in version 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<u64>,
    /// `ALLOCSCOPE_MAX_DEPTH` of the run: reports keep at most this many frames of a
    /// trimmed stack, nearest the allocation. Absent in version 1 (stacks already cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
    /// Memory by tracing span (feature `tracing-spans`, `SpanLayer`): one row per span path
    /// that was charged something, most bytes first. Absent when no span was charged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<crate::model::spans::SpanStats>,
    /// The process's memory cgroup figures (v2 or v1) and limit when the profile was written, when
    /// it had any (containers; absent before version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<crate::model::cgroup::CgroupMemory>,
    /// The gap at exit over mimalloc (with allocscope's feature `mimalloc`), from
    /// mimalloc's statistics: its terms differ from jemalloc's (`gap`, then absent); see
    /// docs/mimalloc.md. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mimalloc_gap: Option<crate::model::gap_mimalloc::MimallocGap>,
    /// Over an allocator without statistics (the system allocator), what can be known of RSS
    /// when the profile was written: requested bytes, anonymous and file-backed memory,
    /// allocscope's own memory, glibc's malloc totals (`gap` and `mimalloc_gap` are then
    /// absent). Absent otherwise, and in files written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_gap: Option<crate::model::gap_partial::PartialGap>,
}

/// What moment of the run a profile is: the end, or a periodic flush of a process that was
/// still running (`ALLOCSCOPE_FLUSH_SECS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    /// Written at the end of the run (normal exit, or an explicit
    /// [`write_profile`](crate::write_profile)); files before version 3 are final.
    #[default]
    Final,
    /// Written by the periodic flush while the process ran: what the process had done by
    /// then; the process may have been killed afterwards, with no final profile.
    Flushed,
}

impl ProfileMeta {
    /// For a flushed profile, the sentence every report shows at its top (the summary, the
    /// HTML page): what moment it holds and that it is not the end of the run. `None` for a
    /// final profile.
    pub fn kind_sentence(&self) -> Option<String> {
        use crate::model::units::{format_seconds, format_unix_ms};
        (self.kind == ProfileKind::Flushed).then(|| {
            let at = match self.written_unix_ms {
                Some(ms) => format!(" at {}", format_unix_ms(ms)),
                None => String::new(),
            };
            format!(
                "Flushed profile, not a final one: written by the periodic flush \
                 (ALLOCSCOPE_FLUSH_SECS){at}, {} into the run, while the process was still \
                 running; it may have run on, or been killed, after it. \"Live at exit\" \
                 means live at that moment.",
                format_seconds(self.duration_secs)
            )
        })
    }
}

impl ProfileKind {
    /// `"final"` or `"flushed"`, as in the file.
    pub fn name(self) -> &'static str {
        match self {
            ProfileKind::Final => "final",
            ProfileKind::Flushed => "flushed",
        }
    }
}

/// One executable object (the program or a shared library) as it was loaded in the profiled
/// process: enough to find its file again and to turn a runtime address into an address in
/// that file (see docs/profile-format.md, "Symbolization").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Absolute path of the file as loaded (`/proc/self/exe` for the program).
    pub path: String,
    /// The ELF build ID (`NT_GNU_BUILD_ID`), lowercase hex; null when the file has none.
    pub build_id: Option<String>,
    /// Load bias: runtime address − ELF virtual address (0 for a non-PIE executable).
    pub bias: u64,
    /// The object's executable segments as mapped.
    pub segments: Vec<Segment>,
    /// Size in bytes of the file, from a `stat` at exit; only for a file without a build ID
    /// (what tells a rebuild at the same path apart then). Absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    /// Modification time of the file (ns since the Unix epoch), from the same `stat`; only
    /// for a file without a build ID. Absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_mtime_ns: Option<i64>,
}

/// One executable `PT_LOAD` segment of a [`Mapping`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// First runtime address.
    pub start: u64,
    /// One past the last runtime address.
    pub end: u64,
    /// Offset of the segment in the file.
    pub file_offset: u64,
}

/// Metadata of a profiled run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileMeta {
    /// The program's name (`argv[0]`'s file name).
    pub program: String,
    /// The full command line.
    pub args: Vec<String>,
    /// Process id.
    pub pid: u32,
    /// When profiling started, milliseconds since the Unix epoch.
    pub start_time_unix_ms: u64,
    /// Wall time from start to the moment the profile was written, seconds.
    pub duration_secs: f64,
    /// User + system CPU time of the process, seconds.
    pub cpu_time_secs: f64,
    /// The inner allocator: `"system"`, `"jemalloc"`, `"mimalloc"` or a type name.
    pub allocator: String,
    /// The allocator's runtime configuration in effect (e.g. `_RJEM_MALLOC_CONF`), if any.
    pub allocator_config: Option<String>,
    /// Mean Poisson sampling interval in bytes; 1 means every allocation was recorded;
    /// 0 means stack capture was off.
    pub sampling_bytes: u64,
    /// How stacks were captured: `"frame-pointers"`, `"dwarf"` or `"off"`.
    pub unwinder: String,
    /// Peak resident set size of the process from the kernel (`VmHWM`), bytes.
    pub peak_rss: u64,
    /// The allocscope version that wrote the file.
    pub allocscope_version: String,
    /// A final profile, or a periodic flush of a running process (`"final"` when absent,
    /// before version 3).
    #[serde(default)]
    pub kind: ProfileKind,
    /// When the figures were taken, milliseconds since the Unix epoch (absent before
    /// version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_unix_ms: Option<u64>,
}

/// Exact process-wide counters (the scalar part of a [`Snapshot`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Calls to `alloc` and `alloc_zeroed`.
    pub allocs: u64,
    /// Calls to `dealloc`.
    pub frees: u64,
    /// Calls to `realloc`.
    pub reallocs: u64,
    /// Bytes requested by allocs plus the new size of every realloc.
    pub bytes_allocated: u64,
    /// Bytes released by frees plus the old size of every realloc.
    pub bytes_freed: u64,
    /// Live bytes requested when the profile was written (= leaked at exit).
    pub live_bytes: u64,
    /// Live blocks when the profile was written.
    pub live_blocks: u64,
    /// Highest live requested bytes seen during the run.
    pub peak_live_bytes: u64,
}

impl From<&Snapshot> for Totals {
    fn from(s: &Snapshot) -> Self {
        Totals {
            allocs: s.allocs,
            frees: s.frees,
            reallocs: s.reallocs,
            bytes_allocated: s.bytes_allocated,
            bytes_freed: s.bytes_freed,
            live_bytes: s.live_bytes,
            live_blocks: s.live_blocks,
            peak_live_bytes: s.peak_live_bytes,
        }
    }
}

/// One frame of a call stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frame {
    /// Demangled function name without the hash suffix (`"?"` when unknown).
    pub function: String,
    /// Source file, when debug info allows.
    pub file: Option<String>,
    /// Source line, when debug info allows.
    pub line: Option<u32>,
    /// The instruction address (return address − 1 for non-leaf frames).
    pub addr: u64,
    /// True for a frame that was inlined into the next (outer) frame.
    #[serde(default)]
    pub inlined: bool,
}

/// Lifetime figures of the freed allocations of a call site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifetimes {
    /// Allocations of the site that were freed (estimated).
    pub freed: u64,
    /// Of those, freed less than 1 µs after allocation.
    pub under_1us: u64,
    /// Freed less than 1 ms after allocation (includes `under_1us`).
    pub under_1ms: u64,
    /// Freed less than 1 s after allocation (includes `under_1ms`).
    pub under_1s: u64,
    /// Median lifetime of the freed allocations, nanoseconds (`null` when none was freed).
    pub median_ns: Option<u64>,
}

/// Allocations of one call site that fell into one size class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSizeClass {
    /// The size class (usable bytes of a block).
    pub size: u64,
    /// Allocations into that class (estimated).
    pub allocs: u64,
}

/// One call site: a distinct allocating stack and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSite {
    /// Frames, leaf first, inlined frames expanded, nothing trimmed (reports trim the
    /// allocator's plumbing and the runtime's prologue, see `report::names::trim_frames`).
    /// Empty until the profile is symbolized (then `stack` holds the stack).
    pub frames: Vec<Frame>,
    /// The raw stack, innermost first: indices into [`Profile::addresses`] (each distinct
    /// return address is written once). Empty in version 1 profiles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<u32>,
    /// Allocations (allocs and reallocs) made here (estimated in sampled mode).
    pub allocs: u64,
    /// Bytes requested here (estimated in sampled mode).
    pub bytes: u64,
    /// Blocks from this site still live when the profile was written.
    pub live_blocks: u64,
    /// Bytes from this site still live when the profile was written (leaked at exit).
    pub live_bytes: u64,
    /// Bytes from this site live at the moment of the process's peak.
    pub peak_bytes: u64,
    /// Usable − requested bytes over this site's allocations (size-class rounding).
    pub slack_bytes: u64,
    /// Raw number of sampled allocations behind the estimates.
    pub samples: u64,
    /// Size-class histogram, ascending by size.
    pub size_classes: Vec<SiteSizeClass>,
    /// How long this site's allocations lived.
    pub lifetimes: Lifetimes,
    /// The tracing span path its samples were taken in (`request > parse`, see
    /// [`Profile::spans`]); absent outside any span or without `SpanLayer`. One stack
    /// sampled in two spans is two sites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<String>,
}

/// A periodic snapshot of the process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelinePoint {
    /// Seconds since profiling started.
    pub t_secs: f64,
    /// Cumulative allocs at that time.
    pub allocs: u64,
    /// Cumulative frees at that time.
    pub frees: u64,
    /// Cumulative bytes allocated at that time.
    pub bytes_allocated: u64,
    /// Live requested bytes at that time.
    pub live_bytes: u64,
    /// Process RSS at that time (from `/proc/self/statm`).
    pub rss: u64,
    /// jemalloc's `stats.resident`, when available.
    pub resident: Option<u64>,
    /// The gap terms, when the allocator gives statistics.
    pub gap: Option<GapBreakdown>,
}

/// Why a profile could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// An I/O error, with the path it concerned.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path}: empty file, not an allocscope profile")]
    Empty {
        /// The file.
        path: String,
    },
    /// The file is not valid JSON of the expected shape (truncated, wrong type in a field…).
    #[error("{path}: not a valid allocscope profile: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What serde said, with line and column.
        message: String,
    },
    /// The file is a profile of another format or version.
    #[error("{path}: unsupported profile {found} (this allocscope reads {PROFILE_FORMAT} versions {PROFILE_MIN_VERSION} to {PROFILE_VERSION})")]
    Version {
        /// The file.
        path: String,
        /// What the file declares.
        found: String,
    },
}

impl Profile {
    /// Reads and validates a profile file.
    pub fn read(path: impl AsRef<Path>) -> Result<Profile, ProfileError> {
        let path = path.as_ref();
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ProfileError::Io {
            path: p.clone(),
            source,
        })?;
        Self::from_slice(&bytes, &p)
    }

    /// Parses and validates a profile from bytes; `name` is used in error messages.
    pub fn from_slice(bytes: &[u8], name: &str) -> Result<Profile, ProfileError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ProfileError::Empty { path: name.into() });
        }
        let header_error = |bytes: &[u8]| -> Option<ProfileError> {
            #[derive(Deserialize)]
            struct Header {
                format: Option<serde_json::Value>,
                version: Option<serde_json::Value>,
            }
            let h = serde_json::from_slice::<Header>(bytes).ok()?;
            let fmt_ok = h.format.as_ref().and_then(|v| v.as_str()) == Some(PROFILE_FORMAT);
            let ver_ok = h
                .version
                .as_ref()
                .and_then(|v| v.as_u64())
                .is_some_and(version_supported);
            (!fmt_ok || !ver_ok).then(|| {
                // Quoted short: the value may be anything, of any length.
                let show = |v: &Option<serde_json::Value>| match v {
                    Some(v) => {
                        let s = v.to_string();
                        match s.char_indices().nth(64) {
                            Some((cut, _)) => format!("{}…", &s[..cut]),
                            None => s,
                        }
                    }
                    None => "missing".to_string(),
                };
                ProfileError::Version {
                    path: name.into(),
                    found: format!("format {} version {}", show(&h.format), show(&h.version)),
                }
            })
        };
        // Parse once in full (profiles can be hundreds of MB); only when that fails, or the
        // result is of another format or version, look at the header for a precise message.
        match serde_json::from_slice::<Profile>(bytes) {
            Ok(p) if p.format == PROFILE_FORMAT && version_supported(u64::from(p.version)) => Ok(p),
            Ok(_) => Err(
                header_error(bytes).unwrap_or_else(|| ProfileError::Invalid {
                    path: name.into(),
                    message: "unexpected format or version".into(),
                }),
            ),
            Err(e) => Err(
                header_error(bytes).unwrap_or_else(|| ProfileError::Invalid {
                    path: name.into(),
                    message: shorten(&e.to_string()),
                }),
            ),
        }
    }

    /// Writes the profile atomically: to a temporary file beside `path`, then renamed over it.
    /// On error nothing is left behind and an existing file at `path` is untouched. The JSON
    /// is streamed to the file (never held whole in memory: this runs at the profiled
    /// program's exit).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), ProfileError> {
        write_json(path.as_ref(), self, true)
    }

    /// True when some call site still has only raw addresses (no names yet).
    pub fn needs_symbolization(&self) -> bool {
        self.sites
            .iter()
            .any(|s| s.frames.is_empty() && !s.stack.is_empty())
    }
}

fn version_supported(v: u64) -> bool {
    (u64::from(PROFILE_MIN_VERSION)..=u64::from(PROFILE_VERSION)).contains(&v)
}

/// `message` if short, else its start and end (serde quotes the offending value, which can be
/// megabytes long; the end says where it is).
fn shorten(message: &str) -> String {
    const HEAD: usize = 160;
    const TAIL: usize = 60;
    // serde quotes an unknown enum variant (`meta.kind`) as it is: control characters are
    // escaped so that the message stays one line.
    let mut escaped = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    let message = escaped.as_str();
    let n = message.chars().count();
    if n <= HEAD + TAIL + 1 {
        return message.to_string();
    }
    let head: String = message.chars().take(HEAD).collect();
    let tail: String = message.chars().skip(n - TAIL).collect();
    format!("{head}…{tail}")
}

/// Streams `value` as JSON to `path`, atomically (see [`Profile::write`]); `sync`: flush the
/// file to the disk (`fsync`) before the rename.
pub(crate) fn write_json(
    path: &Path,
    value: &impl Serialize,
    sync: bool,
) -> Result<(), ProfileError> {
    write_atomically_with(path, sync, |f| {
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
        serde_json::to_writer(&mut w, value).map_err(std::io::Error::other)?;
        w.flush()
    })
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a partial file and a failed write leaves no file behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ProfileError> {
    write_atomically_with(path, true, |f| f.write_all(bytes))
}

/// [`write_atomically`] with the content written by `write` into the temporary file; `sync`:
/// `fsync` it before the rename (durable across a power loss, not only atomic).
pub(crate) fn write_atomically_with(
    path: &Path,
    sync: bool,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), ProfileError> {
    let io = |source| ProfileError::Io {
        path: path.display().to_string(),
        source,
    };
    // A device, pipe or socket (`/dev/stdout`, `/dev/full`, a FIFO) is written in place:
    // renaming a temporary file over it would replace the node itself (as root, in `/dev`).
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| write(&mut f).and_then(|()| f.flush()))
            .map_err(io);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io(std::io::Error::other("not a file path")))?;
    // Unique per write, not only per process: the periodic flush's thread and a program's
    // own `write_profile` may write the same path at once.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.tmp{}.{}",
        file_name.to_string_lossy(),
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        write(&mut f)?;
        if sync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}
