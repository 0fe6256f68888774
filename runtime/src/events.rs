//! The event log: every observation of a run (a service's output line, a step, an assertion,
//! a fired fault) as one ordered record. Monitors and assertions read it; the per-test trace
//! is a slice of it written as JSONL.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

/// One observation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Position in the run's log (0-based, gapless).
    pub seq: u64,
    /// Milliseconds since the run started.
    pub at_ms: f64,
    /// The service it concerns (empty for the runner's own events).
    pub service: String,
    /// `stdout`, `stderr`, `service_started`, `service_ready`, `service_exited`, `step`,
    /// `assertion`, `test_started`, `test_finished`, `proxy`, `syscall`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// The run's log, shared by every part of the runtime (cheap to clone).
#[derive(Clone, Debug)]
pub struct EventLog {
    inner: Arc<Mutex<Vec<Event>>>,
    start: Instant,
}

impl Default for EventLog {
    fn default() -> EventLog {
        EventLog { inner: Arc::default(), start: Instant::now() }
    }
}

impl EventLog {
    /// Appends an event; returns its sequence number.
    pub fn push(&self, service: &str, kind: &str, fields: BTreeMap<String, serde_json::Value>) -> u64 {
        let at_ms = self.start.elapsed().as_secs_f64() * 1000.0;
        let mut events = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let seq = events.len() as u64;
        events.push(Event { seq, at_ms, service: service.to_owned(), kind: kind.to_owned(), fields });
        seq
    }

    /// The sequence number the next event will get.
    pub fn next_seq(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len() as u64
    }

    /// Events with `from <= seq < to`.
    pub fn range(&self, from: u64, to: u64) -> Vec<Event> {
        let events = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let to = (to as usize).min(events.len());
        let from = (from as usize).min(to);
        events[from..to].to_vec()
    }

    /// Events from `from` on.
    pub fn since(&self, from: u64) -> Vec<Event> {
        self.range(from, u64::MAX)
    }
}

/// Builds an event's fields from pairs.
pub fn fields<const N: usize>(pairs: [(&str, serde_json::Value); N]) -> BTreeMap<String, serde_json::Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_are_gapless_and_ranges_clamp() {
        let log = EventLog::default();
        assert_eq!(log.push("api", "stdout", fields([("line", "a".into())])), 0);
        assert_eq!(log.push("api", "stdout", fields([("line", "b".into())])), 1);
        assert_eq!(log.next_seq(), 2);
        assert_eq!(log.since(1).len(), 1);
        assert_eq!(log.range(5, 1).len(), 0);
        assert_eq!(log.since(0)[1].fields["line"], "b");
    }
}
