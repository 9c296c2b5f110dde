//! Poisson byte sampling: which allocations get their stack recorded.
//!
//! Each thread keeps a countdown of bytes, drawn as `⌈−R·ln U⌉` with `U` uniform in (0, 1]
//! from a thread-local xorshift generator. Every allocation of `s` bytes subtracts `s`; the
//! one that takes the countdown to zero or below is sampled and a new countdown is drawn.
//! (The thread state stores the countdown minus one, so that the hot path's test is the
//! sign of the subtraction's result, which x86-64 folds into the subtraction itself.)
//! Every byte is thus sampled with probability `1/R` independently, and an allocation of `s`
//! bytes with probability `p = 1 − e^(−s/R)`; weighting each sample by `1/p` allocations and
//! `s/p` bytes makes the sums unbiased estimates (see `weights`).
//!
//! The countdown starts undrawn: a thread's first allocation goes to the slow path, which
//! draws it (rather than sampling every thread's first allocation). Exact mode (`R = 1`)
//! keeps the countdown at 0 and samples everything with weight exactly 1. When stack capture
//! is off the countdown is parked at [`PARKED_COUNTDOWN`] bytes, and each time it runs out the
//! slow path only re-reads the settings. The state lives in the hook's one thread-local
//! ([`crate::hook::thread_state`]).

use crate::hook::settings;
use crate::hook::thread_state::{ThreadState, THREAD};

/// Fixed-point scale of weighted allocation counts (16 fractional bits).
pub(crate) const COUNT_ONE: u64 = 1 << 16;

/// The countdown while stack capture is off: no allocation is sampled, but the countdown
/// still runs out every this many bytes, so that the slow path looks at the settings
/// (a change made with [`crate::hook::settings::bump_epoch`] takes effect then).
const PARKED_COUNTDOWN: i64 = 1 << 20;

/// The countdown while a tracing span is entered on the thread: the real one waits in
/// `ThreadState::parked`, and every allocation's countdown test (which subtracts from this)
/// comes out negative, which sends it out of line, where the span is charged and the real
/// countdown counted down ([`span_count_down`]). So the fast path needs no test of its own
/// for a span. Far enough below zero that no span's allocations bring it back to zero.
const SPAN_COUNTDOWN: i64 = i64::MIN / 2;

/// Decides whether an allocation of `size` bytes is sampled (not on the fast path: it
/// counts down the real countdown, parked or not).
#[inline]
pub(crate) fn should_sample(size: usize) -> bool {
    THREAD
        .try_with(|s| count_down(s, size) && with_real_countdown(s, |s| slow(s, size)))
        .unwrap_or(false)
}

/// Counts `size` down the real countdown (parked while a span is entered); true when it ran
/// out.
#[inline]
fn count_down(s: &ThreadState, size: usize) -> bool {
    let cell = if s.span.get() != 0 {
        &s.parked
    } else {
        &s.countdown
    };
    let c = cell.get().wrapping_sub(size as i64);
    cell.set(c);
    c < 0
}

/// After [`countdown_expired`] sent an allocation of `size` bytes out of line while a span is
/// entered: counts it down the parked countdown; true when that ran out ([`decide`] must
/// decide).
#[inline]
pub(crate) fn span_count_down(size: usize) -> bool {
    THREAD.try_with(|s| count_down(s, size)).unwrap_or(false)
}

/// Runs `f` with the real countdown in `countdown` (unparked while a span is entered, and
/// parked again after), so that the sampler's slow path sees and sets the real one.
#[inline]
fn with_real_countdown(s: &ThreadState, f: impl FnOnce(&ThreadState) -> bool) -> bool {
    if s.span.get() == 0 {
        return f(s);
    }
    s.countdown.set(s.parked.get());
    let r = f(s);
    s.parked.set(s.countdown.get());
    s.countdown.set(SPAN_COUNTDOWN);
    r
}

/// The hot half of [`should_sample`]: counts `size` down and returns true when the decision
/// needs [`decide`] (the countdown ran out, or the thread's first allocation) or a tracing
/// span is entered on this thread (its countdown is then [`SPAN_COUNTDOWN`]; see
/// [`decision_due`], [`span_count_down`]). False means: not sampled, no span.
///
/// The settings epoch is not looked at here: changed settings take effect on each thread the
/// next time its countdown runs out ([`decide`] compares epochs), which in sampled mode is
/// within the mean interval, in exact mode at once, and with stack capture off within
/// [`PARKED_COUNTDOWN`] bytes. The thread that changes them resets its own countdown
/// ([`reset_this_thread`]).
#[inline(always)]
pub(crate) fn countdown_expired(size: usize) -> bool {
    THREAD
        .try_with(|s| {
            // Stored minus one: `< 0` here is "the countdown reached zero or below".
            let c = s.countdown.get().wrapping_sub(size as i64);
            s.countdown.set(c);
            // A tracing span entered on this thread parks the countdown below zero, so this
            // test sends its allocations out of line too, at no cost here.
            c < 0
        })
        // Out of line if the thread state were gone (it has no destructor, so it never is):
        // the allocation's fast path must not go on to the static stand-in head.
        .unwrap_or(true)
}

/// Takes back [`countdown_expired`]'s subtraction of `size` (a call the thread may not count:
/// such calls do not move the countdown). A signal handler's allocations on this thread in
/// between leave the countdown as they found it or draw it anew; a fresh one is then `size`
/// bytes longer (the sampling stream only, never the counts).
#[inline]
pub(crate) fn count_up(size: usize) {
    let _ = THREAD.try_with(|s| s.countdown.set(s.countdown.get().wrapping_add(size as i64)));
}

/// After [`countdown_expired`] returned true with no span entered: whether the sampler
/// itself needs [`decide`] (the countdown ran out, or the thread's first allocation). (Always
/// true while a span is entered: ask [`span_count_down`] then.)
#[inline]
pub(crate) fn decision_due() -> bool {
    THREAD.try_with(|s| s.countdown.get() < 0).unwrap_or(false)
}

/// After [`countdown_expired`] returned true: true when the countdown ran out **and** the
/// settings say exact mode (interval 1: every allocation sampled, weight 1), having reset
/// the countdown as [`decide`] does in that mode. The hook then records the allocation
/// without [`decide`]'s call and its reads of the epoch, the generator and the interval.
/// False: ask [`decision_due`] / [`decide`] as usual.
///
/// The thread's epoch is not updated here: it only decides whether [`decide`] draws a fresh
/// countdown, which it does on the first decision after any change of the settings (every
/// change moves the epoch), with or without this shortcut.
#[inline(always)]
pub(crate) fn exact_due() -> bool {
    THREAD
        .try_with(|s| {
            // Settings not read yet: `decide` reads them (no call from here, so the exact
            // path's way through this test saves no register).
            if s.countdown.get() < 0 && settings::ready() && settings::sample_bytes() == 1 {
                s.countdown.set(0);
                true
            } else {
                false
            }
        })
        .unwrap_or(false)
}

/// This thread's current span id (0: none). Hot path: one thread-local load.
#[inline(always)]
pub(crate) fn current_span() -> u16 {
    THREAD.try_with(|s| s.span.get()).unwrap_or(0)
}

/// Sets this thread's current span id, parking the countdown on entering a span from none
/// and unparking it on leaving to none (see [`SPAN_COUNTDOWN`]).
///
/// The span is set before the countdown is parked and cleared after it is unparked: a
/// signal handler that allocates in between sees a span with the real countdown (its
/// allocation takes the fast path, not charged to the span), never no span with the parked
/// one (which would look like a countdown that ran out).
#[inline]
#[cfg_attr(not(feature = "tracing-spans"), allow(dead_code))] // used by SpanLayer
pub(crate) fn set_current_span(id: u16) {
    use std::sync::atomic::{compiler_fence, Ordering::SeqCst};
    let _ = THREAD.try_with(|s| {
        let old = s.span.get();
        if old == 0 && id != 0 {
            s.span.set(id);
            compiler_fence(SeqCst);
            s.parked.set(s.countdown.get());
            s.countdown.set(SPAN_COUNTDOWN);
        } else if old != 0 && id == 0 {
            s.countdown.set(s.parked.get());
            compiler_fence(SeqCst);
            s.span.set(0);
        } else {
            s.span.set(id);
        }
    });
}

/// Makes this thread's next allocation look at the settings (after they changed).
pub(crate) fn reset_this_thread() {
    let _ = THREAD.try_with(|s| {
        if s.span.get() != 0 {
            s.parked.set(0);
        } else {
            s.countdown.set(0);
        }
    });
}

/// The cold half of [`should_sample`], after [`countdown_expired`] returned true for `size`.
#[cold]
#[inline(never)]
pub(crate) fn decide(size: usize) -> bool {
    THREAD
        .try_with(|s| {
            if s.span.get() == 0 {
                slow(s, size)
            } else {
                decide_in_span(s, size)
            }
        })
        .unwrap_or(false)
}

/// [`decide`] while a span is entered: on the real countdown.
#[cold]
#[inline(never)]
fn decide_in_span(s: &ThreadState, size: usize) -> bool {
    with_real_countdown(s, |s| slow(s, size))
}

#[inline(always)]
fn slow(s: &ThreadState, size: usize) -> bool {
    if !settings::ensure_init() {
        return false;
    }
    let epoch = settings::epoch();
    if s.countdown.get() >= 0 {
        // Not due: only a tracing span sent this allocation out of line (see
        // `countdown_expired`); callers route that case past the sampler, this is a guard.
        return false;
    }
    let r = settings::sample_bytes();
    if r == 0 {
        s.countdown.set(PARKED_COUNTDOWN);
        s.epoch.set(epoch);
        return false;
    }
    if r == 1 {
        s.countdown.set(0);
        s.epoch.set(epoch);
        return true;
    }
    if s.epoch.get() != epoch {
        // First allocation of this thread, or the settings changed: draw afresh and count
        // this allocation against the new countdown (the process is memoryless).
        s.epoch.set(epoch);
        if s.rng.get() == 0 || settings::seed().is_some() {
            // Unseeded thread, or a configured seed (re-applied settings restart the
            // stream, so runs are reproducible).
            s.rng.set(seed_for_thread());
        }
        let c = draw(s, r).saturating_sub(size as i64);
        if c > 0 {
            s.countdown.set(c - 1);
            return false;
        }
    }
    // Sampled: draw the next countdown. (A huge allocation may span several intervals; it is
    // still one sample, which the weight accounts for.)
    let c = draw(s, r);
    s.countdown.set(c - 1);
    true
}

fn draw(s: &ThreadState, r: u64) -> i64 {
    let x = xorshift(s);
    // U uniform in (0, 1]: 53 random bits, plus one so it is never 0.
    let u = ((x >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
    let c = (-(r as f64) * u.ln()).ceil();
    if c >= i64::MAX as f64 {
        i64::MAX
    } else {
        (c as i64).max(1)
    }
}

fn xorshift(s: &ThreadState) -> u64 {
    // xorshift64* (Vigna): tiny state, good enough for sampling decisions.
    let mut x = s.rng.get();
    if x == 0 {
        x = 0x9E37_79B9_7F4A_7C15;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s.rng.set(x);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// A per-thread seed: from the configured seed and a thread ordinal (reproducible for a
/// given thread creation order), else from the clock and the thread's TLS address.
fn seed_for_thread() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static ORDINAL: AtomicU64 = AtomicU64::new(0);
    let n = ORDINAL.fetch_add(1, Relaxed);
    let base = match settings::seed() {
        Some(seed) => seed,
        None => {
            let addr = THREAD
                .try_with(|s| s as *const ThreadState as u64)
                .unwrap_or(0);
            crate::hook::clock::now_ns() ^ addr.rotate_left(32)
        }
    };
    let z = splitmix(base ^ splitmix(n.wrapping_add(1)));
    if z == 0 {
        1
    } else {
        z
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What one sampled allocation of `size` bytes stands for under interval `r`:
/// `(allocations in COUNT_ONE fixed point, bytes)`.
#[inline]
pub(crate) fn weights(size: usize, r: u64) -> (u64, u64) {
    if r <= 1 {
        return (COUNT_ONE, size as u64);
    }
    let s = size.max(1) as f64;
    // p = 1 − e^(−s/R), computed as −expm1(−s/R) to keep precision for s ≪ R.
    let p = -(-s / r as f64).exp_m1();
    if p <= 0.0 {
        return (COUNT_ONE, size as u64);
    }
    let count = (COUNT_ONE as f64 / p).round();
    let bytes = (size as f64 / p).round();
    (count as u64, bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_one_in_exact_mode() {
        assert_eq!(weights(100, 1), (COUNT_ONE, 100));
    }

    #[test]
    fn weights_match_the_formula() {
        let r = 512 * 1024;
        let (c, b) = weights(8, r);
        let p = 1.0 - (-8.0f64 / r as f64).exp();
        assert!(((c as f64 / COUNT_ONE as f64) - 1.0 / p).abs() < 1e-3);
        assert!((b as f64 - 8.0 / p).abs() < 1.0);
        // A block much larger than R is sampled almost surely and weighs about itself.
        let (c, b) = weights(64 << 20, r);
        assert_eq!(c, COUNT_ONE);
        assert_eq!(b, 64 << 20);
    }
}
