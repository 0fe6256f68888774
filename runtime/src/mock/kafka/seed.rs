//! The mock's `config`: `{"topics": {name: [message, ...]}, "partitions": N}`. A message is a
//! string (its value) or a dict with `key`, `value`, `headers` (a dict) and optionally
//! `partition`; any other value (a number, a list, a dict with other keys) is stored as its
//! JSON text. Keyed seed messages go to the partition the Java client's partitioner picks,
//! unkeyed ones round-robin. Faultbox's `kafka.broker` only creates the topics (its kfake
//! broker cannot be pre-filled); storing the messages is a superset of that.

use bytes::Bytes;
use serde_json::Value;

use super::log::{now_ms, valid_topic, Logs, Message};
use super::wire::partition_for_key;

/// The most partitions a topic may have here.
const MAX_PARTITIONS: i64 = 1000;
/// Keys of a structured seed message.
const MESSAGE_KEYS: &[&str] = &["key", "value", "headers", "partition"];

/// The logs a config describes, or a sentence saying what in it cannot be served.
pub(crate) fn logs(config: &Value) -> Result<Logs, String> {
    let partitions = match config.get("partitions") {
        None | Some(Value::Null) => 1,
        Some(value) => match value.as_i64() {
            Some(n) if (1..=MAX_PARTITIONS).contains(&n) => n,
            _ => return Err(format!("`partitions` must be a whole number from 1 to {MAX_PARTITIONS}, not {value}")),
        },
    };
    let logs = Logs::new(partitions as i32);
    let topics: Vec<(String, &[Value])> = match config.get("topics") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(topics)) => topics
            .iter()
            .map(|(name, messages)| match messages {
                Value::Array(list) => Ok((name.clone(), list.as_slice())),
                Value::Null => Ok((name.clone(), &[][..])),
                other => Err(format!("the seed messages of topic `{name}` must be a list, not {other}")),
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Array(names)) => names
            .iter()
            .map(|name| match name.as_str() {
                Some(name) => Ok((name.to_owned(), &[][..])),
                None => Err(format!("a topic name must be a string, not {name}")),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("`topics` must be a dict of topic → seed messages, not {other}")),
    };
    for (name, messages) in topics {
        if !valid_topic(&name) {
            return Err(format!("`{name}` is not a Kafka topic name (1 to 249 of letters, digits, `.`, `_`, `-`)"));
        }
        let count = logs.partitions(&name, true).map_err(|_| format!("topic `{name}` cannot be created"))?;
        for (i, seed) in messages.iter().enumerate() {
            let (partition, message) =
                message(seed, i, count).map_err(|reason| format!("seed message {i} of topic `{name}`: {reason}"))?;
            logs.append(&name, partition, vec![message])
                .map_err(|_| format!("seed message {i} of topic `{name}`: no partition {partition}"))?;
        }
    }
    Ok(logs)
}

fn message(seed: &Value, index: usize, partitions: i32) -> Result<(i32, Message), String> {
    let structured = seed.as_object().filter(|map| {
        (map.contains_key("value") || map.contains_key("key")) && map.keys().all(|k| MESSAGE_KEYS.contains(&k.as_str()))
    });
    let (key, value, headers, partition) = match structured {
        None => (None, Some(text(seed)), Vec::new(), None),
        Some(map) => {
            let headers = match map.get("headers") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Object(h)) => h.iter().map(|(k, v)| (k.clone(), Some(Bytes::from(text(v))))).collect(),
                Some(other) => return Err(format!("`headers` must be a dict, not {other}")),
            };
            let partition = match map.get("partition") {
                None | Some(Value::Null) => None,
                Some(p) => match p.as_i64() {
                    Some(p) if (0..i64::from(partitions)).contains(&p) => Some(p as i32),
                    _ => return Err(format!("`partition` must be from 0 to {}, not {p}", partitions - 1)),
                },
            };
            let optional = |field: &str| map.get(field).filter(|v| !v.is_null()).map(text);
            (optional("key"), optional("value"), headers, partition)
        }
    };
    let key = key.map(Bytes::from);
    let partition = partition.unwrap_or_else(|| match &key {
        Some(key) => partition_for_key(key, partitions),
        None => (index % partitions as usize) as i32,
    });
    let message = Message {
        key,
        value: value.map(Bytes::from),
        headers,
        timestamp: now_ms(),
        producer_id: -1,
        producer_epoch: -1,
    };
    Ok((partition, message))
}

/// A string as itself, anything else as its JSON text.
fn text(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seeds_strings_dicts_and_json_values() {
        let logs = logs(&json!({
            "topics": {"orders": ["a", {"key": "k", "value": "v", "headers": {"h": "1"}}, {"id": 7}], "empty": []},
            "partitions": 1
        }))
        .unwrap();
        assert_eq!(logs.end("orders", 0), Ok(3));
        assert_eq!(logs.end("empty", 0), Ok(0));
        assert_eq!(logs.all().len(), 2);
    }

    #[test]
    fn refuses_bad_configs_with_a_reason() {
        for (config, needle) in [
            (json!({"partitions": 0}), "partitions"),
            (json!({"partitions": "x"}), "partitions"),
            (json!({"topics": 3}), "topics"),
            (json!({"topics": {"a b": []}}), "topic name"),
            (json!({"topics": {"t": "x"}}), "must be a list"),
            (json!({"topics": {"t": [{"value": "v", "headers": 1}]}}), "headers"),
            (json!({"topics": {"t": [{"value": "v", "partition": 4}]}, "partitions": 2}), "partition"),
        ] {
            let error = logs(&config).err().unwrap_or_default();
            assert!(error.contains(needle), "{config}: {error}");
        }
    }

    #[test]
    fn keyed_seeds_use_the_java_partitioner_and_unkeyed_round_robin() {
        let logs =
            logs(&json!({"topics": {"t": ["a", "b", "c", {"key": "k", "value": "v"}]}, "partitions": 3})).unwrap();
        let keyed = partition_for_key(b"k", 3);
        let counts: Vec<i64> = (0..3).map(|p| logs.end("t", p).unwrap()).collect();
        let mut expected = vec![1, 1, 1];
        expected[keyed as usize] += 1;
        assert_eq!(counts, expected);
    }
}
