//! What a test subscriber keeps of a `tracing` event: target, level and every field as text
//! (`tests/stats_logger*.rs`), and a subscriber that passes each event to a function.

use std::collections::BTreeMap;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// A subscriber interested in everything that hands each event to its function (spans are
/// ignored).
pub struct OnEvent(pub fn(&Event<'_>));

impl Subscriber for OnEvent {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        (self.0)(event)
    }
}

/// One received event: target, level and every field as text.
#[derive(Debug, Clone)]
pub struct Received {
    pub target: String,
    pub level: Level,
    pub fields: BTreeMap<String, String>,
}

impl Received {
    /// Target, level and fields of `event`.
    pub fn of(event: &Event<'_>) -> Received {
        let mut c = Collect(BTreeMap::new());
        event.record(&mut c);
        Received {
            target: event.metadata().target().to_string(),
            level: *event.metadata().level(),
            fields: c.0,
        }
    }

    /// The field `key` as a number, if the event has it.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.fields.get(key).map(|v| v.parse().unwrap())
    }
}

struct Collect(BTreeMap<String, String>);

impl Visit for Collect {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}
