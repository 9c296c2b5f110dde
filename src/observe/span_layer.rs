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
//! is allocscope's own and happens in `untracked` scopes.

use std::cell::RefCell;
use std::fmt;

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

/// This thread's entered spans, innermost last.
struct EnteredStack {
    len: usize,
    /// Spans entered past `STACK_DEPTH` (not recorded; their exits are ignored).
    overflow: usize,
    ids: [u64; STACK_DEPTH],
    paths: [u16; STACK_DEPTH],
}

thread_local! {
    static ENTERED: RefCell<EnteredStack> = const {
        RefCell::new(EnteredStack { len: 0, overflow: 0, ids: [0; STACK_DEPTH], paths: [0; STACK_DEPTH] })
    };
}

impl EnteredStack {
    fn push(&mut self, id: u64, path: u16) {
        match (self.ids.get_mut(self.len), self.paths.get_mut(self.len)) {
            (Some(i), Some(p)) => {
                *i = id;
                *p = path;
                self.len += 1;
                spans::set_current(path);
            }
            _ => self.overflow += 1,
        }
    }

    fn pop(&mut self, id: u64) {
        let top = self.len;
        // The innermost entry of this span (spans are exited in reverse order of entry on
        // a thread; a span entered twice is exited innermost first).
        let Some(at) = self
            .ids
            .get(..top)
            .and_then(|s| s.iter().rposition(|&x| x == id))
        else {
            self.overflow = self.overflow.saturating_sub(1);
            return;
        };
        if let (Some(ids), Some(paths)) = (self.ids.get_mut(at..top), self.paths.get_mut(at..top)) {
            ids.rotate_left(1);
            paths.rotate_left(1);
        }
        self.len = top - 1;
        let current = match self.len.checked_sub(1) {
            Some(i) => self.paths.get(i).copied().unwrap_or(0),
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
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(path) = ctx
            .span(id)
            .and_then(|s| s.extensions().get::<SpanPath>().map(|p| p.0))
        else {
            return;
        };
        let _ = ENTERED.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                s.push(id.into_u64(), path);
            }
        });
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let _ = ENTERED.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                s.pop(id.into_u64());
            }
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
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
