//! The settings the hook reads: atomics written by [`crate::runtime::config`] (from the
//! builder) and by the first allocation's read of the environment (without allocating:
//! `getenv` and hand parsing; the variables are listed in [`crate::runtime::config`]).
//! An invalid value prints one line on stderr and the default is used; nothing panics.
//! **The environment wins over the builder**, so a deployed binary can be re-tuned without a
//! rebuild.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::*};

/// Default mean sampling interval: 512 KiB, as Go and jemalloc.
pub const DEFAULT_SAMPLE_BYTES: u64 = 512 * 1024;
/// Default number of frames kept per stack.
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Largest accepted `max_depth`.
pub const MAX_DEPTH_LIMIT: usize = 128;

/// How stacks are captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Unwinder {
    /// Frame pointers when the crate was built with `-C force-frame-pointers=yes`, else DWARF.
    #[default]
    Auto,
    /// Walk the frame-pointer chain (~20 ns for 10 frames). Needs
    /// `-C force-frame-pointers=yes`; without it stacks come out truncated (never a crash:
    /// every frame is validated against the thread's stack bounds).
    FramePointers,
    /// DWARF unwinding through `backtrace::trace_unsynchronized` (~1–2 µs per stack).
    Dwarf,
}

impl Unwinder {
    /// `"auto"`, `"frame-pointers"` or `"dwarf"` (the profile's `meta.unwinder` strings).
    pub fn name(self) -> &'static str {
        match self {
            Unwinder::Auto => "auto",
            Unwinder::FramePointers => "frame-pointers",
            Unwinder::Dwarf => "dwarf",
        }
    }

    /// `Auto` resolved to what this build uses.
    pub fn resolved(self) -> Unwinder {
        match self {
            Unwinder::Auto if crate::hook::unwind::BUILT_WITH_FRAME_POINTERS => {
                Unwinder::FramePointers
            }
            Unwinder::Auto => Unwinder::Dwarf,
            u => u,
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Unwinder::Auto => 0,
            Unwinder::FramePointers => 1,
            Unwinder::Dwarf => 2,
        }
    }

    fn from_code(c: u8) -> Unwinder {
        match c {
            1 => Unwinder::FramePointers,
            2 => Unwinder::Dwarf,
            _ => Unwinder::Auto,
        }
    }
}

static STATE: AtomicU8 = AtomicU8::new(0); // 0 uninit, 1 initializing, 2 ready
/// Bumped whenever a setting changes; threads re-read the settings when it moves. 0 until
/// the environment has been read.
static EPOCH: AtomicU32 = AtomicU32::new(0);
static SAMPLE_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_SAMPLE_BYTES);
static ENABLED: AtomicBool = AtomicBool::new(true);
static MAX_DEPTH: AtomicU32 = AtomicU32::new(DEFAULT_MAX_DEPTH as u32);
static UNWINDER: AtomicU8 = AtomicU8::new(0);
static SEED: AtomicU64 = AtomicU64::new(0);
static SEEDED: AtomicBool = AtomicBool::new(false);
static ENV_SET: AtomicU8 = AtomicU8::new(0);
/// Process start as allocscope saw it (first allocation), for the profile's metadata.
static START_UNIX_MS: AtomicU64 = AtomicU64::new(0);
static START_MONO_NS: AtomicU64 = AtomicU64::new(0);

const ENV_SAMPLE: u8 = 1;
const ENV_ENABLED: u8 = 2;
const ENV_DEPTH: u8 = 4;
const ENV_UNWIND: u8 = 8;
const ENV_SEED: u8 = 16;
const ENV_OUT: u8 = 32;

/// Current settings epoch; 0 while the environment has not been read. Read on the sampler's
/// slow path.
#[inline]
pub(crate) fn epoch() -> u32 {
    EPOCH.load(Acquire)
}

/// Effective sampling interval: 0 when stack capture is off.
#[inline]
pub(crate) fn sample_bytes() -> u64 {
    if ENABLED.load(Relaxed) {
        SAMPLE_BYTES.load(Relaxed)
    } else {
        0
    }
}

#[inline]
pub(crate) fn max_depth() -> usize {
    (MAX_DEPTH.load(Relaxed) as usize).clamp(1, MAX_DEPTH_LIMIT)
}

#[inline]
pub(crate) fn unwinder() -> Unwinder {
    Unwinder::from_code(UNWINDER.load(Relaxed)).resolved()
}

/// The configured seed, if any.
pub(crate) fn seed() -> Option<u64> {
    SEEDED.load(Relaxed).then(|| SEED.load(Relaxed))
}

/// Wall-clock start (ms since the epoch) and monotonic start (ns).
#[cfg_attr(not(feature = "serde"), allow(dead_code))] // used by the profile writer
pub(crate) fn start_times() -> (u64, u64) {
    (START_UNIX_MS.load(Relaxed), START_MONO_NS.load(Relaxed))
}

/// Stores the builder's settings, except those the environment set (it wins), and makes
/// the hook re-read them (the epoch moves).
pub(crate) fn apply(
    sample_bytes: Option<u64>,
    enabled: Option<bool>,
    max_depth: Option<usize>,
    unwinder: Option<Unwinder>,
    seed: Option<u64>,
) {
    ensure_init();
    let env = ENV_SET.load(Acquire);
    if let Some(b) = sample_bytes {
        if env & ENV_SAMPLE == 0 {
            SAMPLE_BYTES.store(b, Relaxed);
        }
    }
    if let Some(on) = enabled {
        if env & ENV_ENABLED == 0 {
            ENABLED.store(on, Relaxed);
        }
    }
    if let Some(d) = max_depth {
        if env & ENV_DEPTH == 0 {
            MAX_DEPTH.store(d as u32, Relaxed);
        }
    }
    if let Some(u) = unwinder {
        if env & ENV_UNWIND == 0 {
            UNWINDER.store(u.code(), Relaxed);
        }
    }
    if let Some(s) = seed {
        if env & ENV_SEED == 0 {
            SEED.store(s, Relaxed);
            SEEDED.store(true, Relaxed);
        }
    }
}

/// An operator's change at run time (`POST /debug/allocscope/sampling?bytes=N`, feature
/// `http`): it comes after the environment, so it wins over it. `0` stops stack capture
/// (counting goes on), like jemalloc's `prof.active`; any other value is the new mean
/// sampling interval (`1`: exact). Not on the hot path; never allocates.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn set_sampling_at_run_time(bytes: u64) {
    ensure_init();
    if bytes == 0 {
        ENABLED.store(false, Relaxed);
    } else {
        SAMPLE_BYTES.store(bytes, Relaxed);
        ENABLED.store(true, Relaxed);
    }
    bump_epoch();
}

/// Makes every thread re-read the settings (after [`apply`] and the output path changed):
/// this thread at its next allocation, every other thread the next time its sampling
/// countdown runs out (see `sampler::countdown_expired`; the fast path does not look at the
/// epoch).
pub(crate) fn bump_epoch() {
    EPOCH.fetch_add(1, Release);
    crate::hook::sampler::reset_this_thread();
}

/// True when the environment set `ALLOCSCOPE_OUT` (read by the first allocation): the
/// lifecycle then registers the exit handler.
pub(crate) fn env_sets_out() -> bool {
    ensure_init() && ENV_SET.load(Acquire) & ENV_OUT != 0
}

/// True once the environment has been read ([`ensure_init`] finished); never reads it.
#[inline(always)]
pub(crate) fn ready() -> bool {
    STATE.load(Acquire) == 2
}

/// Reads the environment once. Safe inside the hook: no allocation, no lock, no panic.
/// Returns false while another thread is doing it (the caller just retries later).
#[inline]
pub(crate) fn ensure_init() -> bool {
    if STATE.load(Acquire) == 2 {
        return true;
    }
    init_slow()
}

#[cold]
fn init_slow() -> bool {
    if STATE.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
        return STATE.load(Acquire) == 2;
    }
    crate::hook::clock::calibrate();
    crate::hook::forked::note_origin();
    START_MONO_NS.store(crate::hook::clock::now_ns(), Relaxed);
    START_UNIX_MS.store(crate::hook::clock::unix_ms(), Relaxed);
    read_env();
    crate::hook::live_table::register_fork_handlers();
    STATE.store(2, Release);
    EPOCH.fetch_add(1, Release);
    true
}

/// A variable's value as bytes, without allocating (`None` when unset or empty).
fn getenv(name: &core::ffi::CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated. getenv returns a pointer into the environment or
    // null; the environment is not modified concurrently at the points this runs (start-up
    // or `apply`), and the bytes are only read before returning to the caller's parse.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null result of getenv points to a NUL-terminated string.
    let s = unsafe { core::ffi::CStr::from_ptr(p) }.to_bytes();
    (!s.is_empty()).then_some(s)
}

fn read_env() {
    let mut set = 0u8;
    if let Some(v) = getenv(c"ALLOCSCOPE") {
        match v {
            b"off" | b"0" | b"false" | b"no" => {
                ENABLED.store(false, Relaxed);
                set |= ENV_ENABLED;
            }
            b"on" | b"1" | b"true" | b"yes" => {
                ENABLED.store(true, Relaxed);
                set |= ENV_ENABLED;
            }
            _ => warn(
                b"ALLOCSCOPE",
                v,
                b"expected `on` or `off`; stack capture stays on",
            ),
        }
    }
    if let Some(v) = getenv(c"ALLOCSCOPE_SAMPLE_BYTES") {
        match parse_bytes(v) {
            Some(b) if b >= 1 => {
                SAMPLE_BYTES.store(b, Relaxed);
                set |= ENV_SAMPLE;
            }
            _ => warn(
                b"ALLOCSCOPE_SAMPLE_BYTES",
                v,
                b"expected a byte count >= 1 (1 = exact); using 524288",
            ),
        }
    }
    if let Some(v) = getenv(c"ALLOCSCOPE_MAX_DEPTH") {
        match parse_bytes(v) {
            Some(d) if d >= 1 && d <= MAX_DEPTH_LIMIT as u64 => {
                MAX_DEPTH.store(d as u32, Relaxed);
                set |= ENV_DEPTH;
            }
            _ => warn(b"ALLOCSCOPE_MAX_DEPTH", v, b"expected 1..=128; using 64"),
        }
    }
    if let Some(v) = getenv(c"ALLOCSCOPE_UNWIND") {
        let u = match v {
            b"auto" => Some(Unwinder::Auto),
            b"fp" | b"frame-pointers" => Some(Unwinder::FramePointers),
            b"dwarf" => Some(Unwinder::Dwarf),
            _ => None,
        };
        match u {
            Some(u) => {
                UNWINDER.store(u.code(), Relaxed);
                set |= ENV_UNWIND;
            }
            None => warn(
                b"ALLOCSCOPE_UNWIND",
                v,
                b"expected `auto`, `fp` or `dwarf`; using auto",
            ),
        }
    }
    if let Some(v) = getenv(c"ALLOCSCOPE_SEED") {
        match parse_bytes(v) {
            Some(s) => {
                SEED.store(s, Relaxed);
                SEEDED.store(true, Relaxed);
                set |= ENV_SEED;
            }
            None => warn(
                b"ALLOCSCOPE_SEED",
                v,
                b"expected an integer; seeding from the clock",
            ),
        }
    }
    if getenv(c"ALLOCSCOPE_OUT").is_some() {
        set |= ENV_OUT;
    }
    ENV_SET.store(set, Release);
}

/// Parses `123`, `64K`, `2M`, `1G`, `512KiB`… (powers of 1024). No allocation.
pub(crate) fn parse_bytes(v: &[u8]) -> Option<u64> {
    let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v.get(..digits)? {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    let mult: u64 = match v.get(digits..)? {
        b"" | b"B" | b"b" => 1,
        b"K" | b"k" | b"KiB" | b"KB" | b"kb" => 1 << 10,
        b"M" | b"m" | b"MiB" | b"MB" | b"mb" => 1 << 20,
        b"G" | b"g" | b"GiB" | b"GB" | b"gb" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// One line on stderr, written with `write(2)` from a stack buffer (no allocation).
fn warn(name: &[u8], value: &[u8], what: &[u8]) {
    let mut buf = [0u8; 320];
    let mut len = 0;
    let value = value.get(..value.len().min(64)).unwrap_or(value);
    for part in [
        b"allocscope: invalid ".as_slice(),
        name,
        b"=",
        value,
        b": ",
        what,
        b"\n",
    ] {
        for &b in part {
            if let Some(slot) = buf.get_mut(len) {
                *slot = b;
                len += 1;
            }
        }
    }
    // SAFETY: `buf[..len]` is initialised memory of this stack frame; fd 2 may be closed, in
    // which case write fails harmlessly.
    let _ = unsafe { libc::write(2, buf.as_ptr().cast(), len) };
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn byte_counts_parse_with_suffixes() {
        assert_eq!(parse_bytes(b"1"), Some(1));
        assert_eq!(parse_bytes(b"524288"), Some(524288));
        assert_eq!(parse_bytes(b"512K"), Some(524288));
        assert_eq!(parse_bytes(b"2MiB"), Some(2 << 20));
        assert_eq!(parse_bytes(b"1G"), Some(1 << 30));
        assert_eq!(parse_bytes(b""), None);
        assert_eq!(parse_bytes(b"-3"), None);
        assert_eq!(parse_bytes(b"12x"), None);
        assert_eq!(parse_bytes(b"99999999999999999999999"), None);
    }
}
