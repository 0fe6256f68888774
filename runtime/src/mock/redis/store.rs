//! The Redis mock's keyspace: 16 databases of typed values with optional expiry. Expired keys
//! are removed lazily, when a command touches them or a command lists keys (as Redis does on
//! access; no background sweeper is needed for a test's lifetime).
//!
//! Every key gets an id when it is created; `KEYS` and `SCAN` walk keys in id order, so a
//! `SCAN` cursor (the next id to visit) returns every key present for the whole iteration,
//! whatever is added or removed meanwhile — the guarantee Redis's cursors give.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use serde_json::Value as Json;

/// `SELECT` accepts 0..DATABASES.
pub(super) const DATABASES: usize = 16;

pub(super) type Bytes = Vec<u8>;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Str(Bytes),
    List(VecDeque<Bytes>),
    Hash(BTreeMap<Bytes, Bytes>),
    Set(BTreeSet<Bytes>),
}

impl Value {
    /// The name `TYPE` answers.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
        }
    }

    /// An empty container is no value: Redis deletes the key.
    fn is_empty(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(list) => list.is_empty(),
            Value::Hash(hash) => hash.is_empty(),
            Value::Set(set) => set.is_empty(),
        }
    }
}

#[derive(Debug)]
pub(super) struct Entry {
    pub value: Value,
    pub expires: Option<Instant>,
    id: u64,
}

#[derive(Debug, Default)]
pub(super) struct Db {
    entries: HashMap<Bytes, Entry>,
    /// Key ids to keys, the order of `KEYS` and `SCAN`.
    order: BTreeMap<u64, Bytes>,
    next_id: u64,
}

impl Db {
    /// The live entry of `key` (an expired one is removed first).
    pub(super) fn entry(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let now = Instant::now();
        if self.entries.get(key).is_some_and(|entry| entry.expires.is_some_and(|at| at <= now)) {
            self.remove(key);
        }
        self.entries.get_mut(key)
    }

    pub(super) fn get(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.entry(key).map(|entry| &mut entry.value)
    }

    /// Stores `value` under `key` with `expires`, replacing any value (the key keeps its place
    /// in the scan order when it existed).
    pub(super) fn insert(&mut self, key: &[u8], value: Value, expires: Option<Instant>) {
        if let Some(entry) = self.entry(key) {
            entry.value = value;
            entry.expires = expires;
            return;
        }
        self.next_id += 1;
        let id = self.next_id;
        self.order.insert(id, key.to_vec());
        self.entries.insert(key.to_vec(), Entry { value, expires, id });
    }

    pub(super) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.order.remove(&entry.id);
        Some(entry)
    }

    /// Removes `key` when a command emptied its container.
    pub(super) fn drop_if_empty(&mut self, key: &[u8]) {
        if self.entries.get(key).is_some_and(|entry| entry.value.is_empty()) {
            self.remove(key);
        }
    }

    /// Every live key, in scan order.
    pub(super) fn keys(&mut self) -> Vec<Bytes> {
        self.purge();
        self.order.values().cloned().collect()
    }

    pub(super) fn len(&mut self) -> usize {
        self.purge();
        self.entries.len()
    }

    /// Keys with a time to live (after [`Db::len`] purged the expired ones).
    pub(super) fn expiring(&self) -> usize {
        self.entries.values().filter(|entry| entry.expires.is_some()).count()
    }

    /// Up to `count` live keys from `cursor` on, and the cursor to continue from (0: done).
    pub(super) fn scan(&mut self, cursor: u64, count: usize) -> (u64, Vec<(Bytes, &'static str)>) {
        self.purge();
        let mut found = Vec::new();
        let mut visited = self.order.range(cursor..);
        for (_, key) in visited.by_ref().take(count.max(1)) {
            if let Some(entry) = self.entries.get(key) {
                found.push((key.clone(), entry.value.type_name()));
            }
        }
        let next = visited.next().map_or(0, |(id, _)| *id);
        (next, found)
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }

    fn purge(&mut self) {
        let now = Instant::now();
        let expired: Vec<Bytes> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.expires.is_some_and(|at| at <= now))
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
    }
}

/// Database 0 seeded from `config.state`: strings (numbers and booleans as their text), lists
/// as lists, objects as hashes. Anything else is refused, naming the key.
pub(super) fn seed(state: &Json) -> Result<Db, String> {
    let mut db = Db::default();
    let entries = match state {
        Json::Null => return Ok(db),
        Json::Object(entries) => entries,
        other => return Err(format!("the redis state must be a dict of keys, not {}", json_type(other))),
    };
    for (key, value) in entries {
        let value = match value {
            Json::Array(items) => Value::List(items.iter().map(|item| scalar(item, key)).collect::<Result<_, _>>()?),
            Json::Object(fields) => Value::Hash(
                fields
                    .iter()
                    .map(|(field, item)| Ok((field.as_bytes().to_vec(), scalar(item, key)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => Value::Str(scalar(other, key)?),
        };
        db.insert(key.as_bytes(), value, None);
    }
    Ok(db)
}

/// A string, number or boolean as the text Redis would store.
fn scalar(value: &Json, key: &str) -> Result<Bytes, String> {
    match value {
        Json::String(text) => Ok(text.as_bytes().to_vec()),
        Json::Number(number) => Ok(number.to_string().into_bytes()),
        Json::Bool(flag) => Ok(flag.to_string().into_bytes()),
        other => Err(format!(
            "the redis state of key `{key}` holds {}, which Redis cannot store (use a string, a number, a \
             boolean, a list of them for a list, or a dict of them for a hash)",
            json_type(other)
        )),
    }
}

fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "None",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn seeds_every_kind_and_refuses_the_rest() {
        let mut db = seed(&json!({"s": "a", "n": 3, "f": 1.5, "b": true, "l": ["x", 1], "h": {"f": "v"}})).unwrap();
        assert_eq!(db.get(b"n"), Some(&mut Value::Str(b"3".to_vec())));
        assert_eq!(db.get(b"f"), Some(&mut Value::Str(b"1.5".to_vec())));
        assert_eq!(db.get(b"b"), Some(&mut Value::Str(b"true".to_vec())));
        assert_eq!(db.get(b"l").map(|v| v.type_name()), Some("list"));
        assert_eq!(db.get(b"h").map(|v| v.type_name()), Some("hash"));
        let error = seed(&json!({"k": null})).unwrap_err();
        assert!(error.contains("`k`") && error.contains("None"), "{error}");
        assert!(seed(&json!({"k": [[1]]})).unwrap_err().contains("a list"));
        assert!(seed(&json!(["k"])).is_err());
    }

    #[test]
    fn expired_keys_vanish_and_scan_keeps_stable_keys() {
        let mut db = Db::default();
        db.insert(b"gone", Value::Str(Vec::new()), Some(Instant::now() - Duration::from_millis(1)));
        for key in ["a", "b", "c"] {
            db.insert(key.as_bytes(), Value::Str(Vec::new()), None);
        }
        assert!(db.get(b"gone").is_none());
        let (cursor, first) = db.scan(0, 1);
        assert_eq!(first.len(), 1);
        db.remove(b"a");
        db.insert(b"d", Value::Str(Vec::new()), None);
        let (cursor, rest) = db.scan(cursor, 10);
        assert_eq!(cursor, 0);
        let names: Vec<_> = first.iter().chain(&rest).map(|(k, _)| k.clone()).collect();
        for key in [b"b", b"c"] {
            assert!(names.contains(&key.to_vec()));
        }
    }
}
