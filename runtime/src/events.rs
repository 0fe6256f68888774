//! The event log: every observation of a run (a service's output line, a step, an assertion,
//! a fired fault) as one ordered record. Monitors and assertions read it; the per-test trace
//! is a slice of it written as JSONL.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A producer whose observations become events some time after they happened: a service's
/// output pipe holds lines the service wrote that its reader has not turned into events yet.
pub trait Pending: Send + Sync {
    /// A mark that [`Pending::reached`] passes once everything pending now is in the log;
    /// `None` when nothing is pending.
    fn mark(&self) -> Option<u64>;
    /// Whether everything that was pending at `mark` is in the log.
    fn reached(&self, mark: u64) -> bool;
}

/// The run's log, shared by every part of the runtime (cheap to clone).
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Mutex<Vec<Event>>>,
    /// Live producers [`EventLog::settle`] waits for (dead ones are pruned as it goes).
    pending: Arc<Mutex<Vec<Weak<dyn Pending>>>>,
    start: Instant,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog").field("events", &self.next_seq()).finish_non_exhaustive()
    }
}

impl Default for EventLog {
    fn default() -> EventLog {
        EventLog { inner: Arc::default(), pending: Arc::default(), start: Instant::now() }
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

    /// An empty log on this log's clock: one parallel job's events, [`EventLog::append`]ed to
    /// the run's log afterwards with the same `at_ms` a serial run would have given them.
    pub fn sibling(&self) -> EventLog {
        EventLog { start: self.start, ..EventLog::default() }
    }

    /// Appends another log's events, renumbered to follow this log's; returns the offset added
    /// to their sequence numbers.
    pub fn append(&self, more: Vec<Event>) -> u64 {
        let mut events = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let offset = events.len() as u64;
        events.extend(more.into_iter().enumerate().map(|(i, event)| Event { seq: offset + i as u64, ..event }));
        offset
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

    /// Registers a producer for [`EventLog::settle`]; it is forgotten once dropped.
    pub fn watch(&self, producer: Weak<dyn Pending>) {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(producer);
    }

    /// Waits, at most `within`, until everything the producers held when it was called is in
    /// the log. A post-hoc scan (`assert_eventually`, `events()`, a monitor) calls it first: a
    /// service that logs a line and then answers must have that line seen by the assertion
    /// after the answer, however the reader threads were scheduled.
    pub fn settle(&self, within: Duration) {
        let producers: Vec<Arc<dyn Pending>> = {
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            pending.retain(|weak| weak.strong_count() > 0);
            pending.iter().filter_map(Weak::upgrade).collect()
        };
        let marks: Vec<(Arc<dyn Pending>, u64)> =
            producers.into_iter().filter_map(|p| p.mark().map(|mark| (p, mark))).collect();
        let deadline = Instant::now() + within;
        for (producer, mark) in marks {
            while !producer.reached(mark) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
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

    #[test]
    fn a_sibling_log_appends_renumbered() {
        let log = EventLog::default();
        log.push("runner", "reaped", fields([]));
        let job = log.sibling();
        job.push("api", "stdout", fields([("line", "a".into())]));
        job.push("api", "stdout", fields([("line", "b".into())]));
        assert_eq!(log.append(job.since(0)), 1);
        let all = log.since(0);
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(all[2].fields["line"], "b");
        assert_eq!(log.next_seq(), 3);
    }
}
