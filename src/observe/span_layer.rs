//! `SpanLayer`: the tracing-subscriber `Layer` that charges allocations to tracing spans
//! (feature `tracing-spans`, issue 14).
//!
//! - On a new span it interns the span's path (parent path, name, target, configured fields)
//!   into a small id ([`crate::observe::spans`]) and keeps it in the span's extensions.
//! - On enter it pushes `(span, path id)` on this thread's stack of entered spans and sets the
//!   hook's current-span slot; on exit it removes the span and restores the slot to the span
//!   below (the parent, for properly nested spans). A future wrapped in `.instrument(span)` is
//!   entered and exited around each poll, on whichever worker polls it, so its allocations are
//!   charged to it on every thread.
//!
//! The stack is a fixed array in a `const` thread-local without `Drop`: entering and exiting
//! never allocate. What the layer does allocate (the interner, the extension holding the id)
//! is allocscope's own and happens in `untracked` scopes. The facts of tracing-subscriber this
//! relies on (order of the registry's and the layer's callbacks) are in `docs/spans.md`.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering::*};

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id};
use tracing_core::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::hook::guard::untracked;
use crate::hook::spans;
use crate::observe::spans::intern;

/// Charges allocations to the tracing spans they happen in (feature `tracing-spans`).
///
/// While a span is entered on a thread, every allocation of that thread is charged to the
/// span's path: its name and target, below its parent's path (`request > parse > decode`),
/// optionally with the values of configured fields ([`SpanLayer::with_fields`]). Read the
/// figures with [`crate::span_stats`]; profiles written by allocscope carry them in their
/// `spans` table.
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
///
/// #[global_allocator]
/// static ALLOC: allocscope::Profiler<std::alloc::System> =
///     allocscope::Profiler::new(std::alloc::System);
///
/// fn main() {
///     tracing_subscriber::registry()
///         .with(allocscope::SpanLayer::new().with_fields(["route"]))
///         .init();
///     let span = tracing::info_span!("request", route = "/users");
///     let v = span.in_scope(|| vec![0u8; 1000]);
///     for s in allocscope::span_stats() {
///         println!("{}: {} allocs, {} bytes", s.path, s.allocs, s.bytes);
///     }
///     drop(v);
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct SpanLayer {
    /// Field names whose values take part in a span's group (`route`).
    fields: Vec<String>,
}

impl SpanLayer {
    /// A layer grouping spans by name and target only.
    pub fn new() -> SpanLayer {
        SpanLayer::default()
    }

    /// Also groups spans by the values of these fields: `request{route=/users}` and
    /// `request{route=/orders}` become two paths. Each distinct value makes a path, so keep
    /// to fields with few values (the table holds 4094 paths; the rest share one).
    pub fn with_fields<I, K>(mut self, keys: I) -> SpanLayer
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.fields = keys.into_iter().map(Into::into).collect();
        self
    }
}

/// The path id of a span, kept in its extensions.
struct SpanPath(u16);

/// Slots of [`ID_CACHE`] (a power of two).
const CACHE_SLOTS: usize = 4096;

/// Live spans' `(tracing id, path id)`, direct-mapped by id, so that entering a span (on every
/// poll of an instrumented future) costs one load instead of a registry lookup, its
/// extensions' lock and a type-map probe. Filled when a span is created if its slot is free,
/// emptied when it closes (before the registry can hand its id to another span); a span whose
/// slot was taken is found through its extensions. The path is written before the id is
/// published, and a slot's id only changes once its span has closed, so a reader that sees its
/// span's id reads that span's path.
static ID_CACHE: [(AtomicU64, AtomicU16); CACHE_SLOTS] =
    [const { (AtomicU64::new(0), AtomicU16::new(0)) }; CACHE_SLOTS];

fn cache_slot(id: u64) -> &'static (AtomicU64, AtomicU16) {
    let h = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - CACHE_SLOTS.trailing_zeros());
    &ID_CACHE[h as usize & (CACHE_SLOTS - 1)]
}

fn cache_insert(id: u64, path: u16) {
    let (slot_id, slot_path) = cache_slot(id);
    if slot_id.load(Relaxed) == 0 {
        // Claim the slot, then publish: readers only trust the path once they see the id.
        if slot_id
            .compare_exchange(0, u64::MAX, Acquire, Relaxed)
            .is_ok()
        {
            slot_path.store(path, Relaxed);
            slot_id.store(id, Release);
        }
    }
}

fn cache_get(id: u64) -> Option<u16> {
    let (slot_id, slot_path) = cache_slot(id);
    (slot_id.load(Acquire) == id).then(|| slot_path.load(Relaxed))
}

fn cache_remove(id: u64) {
    let (slot_id, _) = cache_slot(id);
    let _ = slot_id.compare_exchange(id, 0, Release, Relaxed);
}

/// Collects the configured fields' values as `k=v,k=v` in the configured order.
struct FieldValues<'a> {
    keys: &'a [String],
    values: Vec<Option<String>>,
}

impl Visit for FieldValues<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl FieldValues<'_> {
    fn put(&mut self, field: &Field, value: String) {
        if let Some(i) = self.keys.iter().position(|k| k == field.name()) {
            if let Some(slot) = self.values.get_mut(i) {
                *slot = Some(value);
            }
        }
    }

    fn render(self) -> String {
        let mut out = String::new();
        for (k, v) in self.keys.iter().zip(self.values) {
            if let Some(v) = v {
                if !out.is_empty() {
                    out.push(',');
                }
                out.push_str(k);
                out.push('=');
                out.push_str(&v);
            }
        }
        out
    }
}

/// How many nested entered spans a thread keeps; spans entered deeper than this are charged
/// to the deepest one kept.
const STACK_DEPTH: usize = 64;

/// This thread's entered spans, innermost last. `Cell`s, not a `RefCell`: no borrow flag to
/// check on every enter and exit (nothing here runs re-entrantly: no callback, no allocation).
struct EnteredStack {
    len: Cell<usize>,
    ids: [Cell<u64>; STACK_DEPTH],
    paths: [Cell<u16>; STACK_DEPTH],
}

thread_local! {
    static ENTERED: EnteredStack = const {
        EnteredStack {
            len: Cell::new(0),
            ids: [const { Cell::new(0) }; STACK_DEPTH],
            paths: [const { Cell::new(0) }; STACK_DEPTH],
        }
    };
}

impl EnteredStack {
    /// Entered past the stack's depth: not recorded, the span below stays charged (and the
    /// exit, not finding it, changes nothing).
    #[inline]
    fn push(&self, id: u64, path: u16) {
        let len = self.len.get();
        if let (Some(i), Some(p)) = (self.ids.get(len), self.paths.get(len)) {
            i.set(id);
            p.set(path);
            self.len.set(len + 1);
            spans::set_current(path);
        }
    }

    #[inline]
    fn pop(&self, id: u64) {
        let Some(last) = self.len.get().checked_sub(1) else {
            return;
        };
        if self.ids.get(last).map(Cell::get) != Some(id) {
            // Not the innermost: exited out of order (or entered past the stack's depth).
            return self.pop_inner(id);
        }
        self.len.set(last);
        let current = match last.checked_sub(1) {
            Some(i) => self.paths.get(i).map_or(0, Cell::get),
            None => 0,
        };
        spans::set_current(current);
    }

    #[cold]
    fn pop_inner(&self, id: u64) {
        let top = self.len.get();
        // The innermost entry of this span (a span entered twice is exited innermost first).
        let Some(at) = self
            .ids
            .get(..top)
            .and_then(|s| s.iter().rposition(|x| x.get() == id))
        else {
            return;
        };
        for i in at..top - 1 {
            if let (Some(a), Some(b)) = (self.ids.get(i), self.ids.get(i + 1)) {
                a.set(b.get());
            }
            if let (Some(a), Some(b)) = (self.paths.get(i), self.paths.get(i + 1)) {
                a.set(b.get());
            }
        }
        self.len.set(top - 1);
        let current = match (top - 1).checked_sub(1) {
            Some(i) => self.paths.get(i).map_or(0, Cell::get),
            None => 0,
        };
        spans::set_current(current);
    }
}

impl<S> Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<SpanPath>().map(|p| p.0))
            .unwrap_or(0);
        let meta = attrs.metadata();
        untracked(|| {
            let fields = if self.fields.is_empty() {
                String::new()
            } else {
                let mut v = FieldValues {
                    keys: &self.fields,
                    values: vec![None; self.fields.len()],
                };
                attrs.record(&mut v);
                v.render()
            };
            let path = intern(parent, meta.name(), meta.target(), fields);
            span.extensions_mut().insert(SpanPath(path));
            cache_insert(id.into_u64(), path);
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let path = match cache_get(id.into_u64()) {
            Some(p) => p,
            None => {
                let Some(p) = ctx
                    .span(id)
                    .and_then(|s| s.extensions().get::<SpanPath>().map(|p| p.0))
                else {
                    return;
                };
                p
            }
        };
        let _ = ENTERED.try_with(|s| s.push(id.into_u64(), path));
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let _ = ENTERED.try_with(|s| s.pop(id.into_u64()));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        cache_remove(id.into_u64());
        // The extension was allocated untracked: free it untracked too, before the registry
        // clears the span's extensions on the program's time.
        if let Some(span) = ctx.span(&id) {
            // `remove` frees the box holding the id.
            untracked(|| {
                let _id = span.extensions_mut().remove::<SpanPath>();
            });
        }
    }
}
