//! The mock broker's topics: each partition an in-memory log of records with offsets from 0.
//! Appends wake the fetches waiting for data ([`Logs::changed`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use tokio::sync::Notify;

/// Kafka's limit on a topic name's length.
const MAX_TOPIC_NAME: usize = 249;

/// One stored message.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    pub timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// Every topic of one mock, behind one lock.
pub(crate) struct Logs {
    topics: Mutex<BTreeMap<String, Vec<Vec<Message>>>>,
    /// Partitions of an auto-created topic.
    pub default_partitions: i32,
    /// Notified on every append.
    pub changed: Notify,
}

/// Why an append or a read was refused: a Kafka error code.
pub(crate) type Code = i16;
pub(crate) const UNKNOWN_TOPIC_OR_PARTITION: Code = 3;
pub(crate) const OFFSET_OUT_OF_RANGE: Code = 1;
pub(crate) const INVALID_TOPIC: Code = 17;

impl Logs {
    pub(crate) fn new(default_partitions: i32) -> Logs {
        Logs { topics: Mutex::new(BTreeMap::new()), default_partitions, changed: Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<Vec<Message>>>> {
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The partition count of `topic`, creating it (as a dev broker's auto-create does) when
    /// `create` is set; `Err` is a Kafka error code.
    pub(crate) fn partitions(&self, topic: &str, create: bool) -> Result<i32, Code> {
        if !valid_topic(topic) {
            return Err(INVALID_TOPIC);
        }
        let mut topics = self.lock();
        if let Some(partitions) = topics.get(topic) {
            return Ok(partitions.len() as i32);
        }
        if !create {
            return Err(UNKNOWN_TOPIC_OR_PARTITION);
        }
        topics.insert(topic.to_owned(), vec![Vec::new(); self.default_partitions as usize]);
        Ok(self.default_partitions)
    }

    /// Every topic with its partition count.
    pub(crate) fn all(&self) -> Vec<(String, i32)> {
        self.lock().iter().map(|(name, partitions)| (name.clone(), partitions.len() as i32)).collect()
    }

    /// Appends messages to a partition; returns the offset of the first.
    pub(crate) fn append(&self, topic: &str, partition: i32, messages: Vec<Message>) -> Result<i64, Code> {
        let base = {
            let mut topics = self.lock();
            let log = topics
                .get_mut(topic)
                .and_then(|partitions| partitions.get_mut(usize::try_from(partition).ok()?))
                .ok_or(UNKNOWN_TOPIC_OR_PARTITION)?;
            let base = log.len() as i64;
            log.extend(messages);
            base
        };
        self.changed.notify_waiters();
        Ok(base)
    }

    /// The end offset (high watermark) of a partition.
    pub(crate) fn end(&self, topic: &str, partition: i32) -> Result<i64, Code> {
        let topics = self.lock();
        let log = topics
            .get(topic)
            .and_then(|partitions| partitions.get(usize::try_from(partition).ok()?))
            .ok_or(UNKNOWN_TOPIC_OR_PARTITION)?;
        Ok(log.len() as i64)
    }

    /// The first offset whose timestamp is at least `timestamp` (ListOffsets by time).
    pub(crate) fn offset_for_time(&self, topic: &str, partition: i32, timestamp: i64) -> Result<(i64, i64), Code> {
        let topics = self.lock();
        let log = topics
            .get(topic)
            .and_then(|partitions| partitions.get(usize::try_from(partition).ok()?))
            .ok_or(UNKNOWN_TOPIC_OR_PARTITION)?;
        Ok(log
            .iter()
            .enumerate()
            .find(|(_, m)| m.timestamp >= timestamp)
            .map_or((-1, -1), |(offset, m)| (offset as i64, m.timestamp)))
    }

    /// The records of a partition from `offset` as one v2 record batch of at most about
    /// `max_bytes` (at least one record, as a broker does), and the high watermark.
    pub(crate) fn read(&self, topic: &str, partition: i32, offset: i64, max_bytes: usize) -> Result<Read, Code> {
        let topics = self.lock();
        let log = topics
            .get(topic)
            .and_then(|partitions| partitions.get(usize::try_from(partition).ok()?))
            .ok_or(UNKNOWN_TOPIC_OR_PARTITION)?;
        let end = log.len() as i64;
        if offset < 0 || offset > end {
            return Err(OFFSET_OUT_OF_RANGE);
        }
        let mut records = Vec::new();
        let mut size = 0usize;
        for (i, message) in log.iter().enumerate().skip(offset as usize) {
            let bytes = message.key.as_ref().map_or(0, Bytes::len) + message.value.as_ref().map_or(0, Bytes::len) + 32;
            if !records.is_empty() && size + bytes > max_bytes {
                break;
            }
            size += bytes;
            records.push(record(i as i64, message));
        }
        drop(topics);
        let batch = if records.is_empty() {
            Bytes::new()
        } else {
            let mut buf = bytes::BytesMut::new();
            let options = RecordEncodeOptions { version: 2, compression: Compression::None };
            RecordBatchEncoder::encode(&mut buf, &records, &options).map_err(|_| UNKNOWN_SERVER_ERROR)?;
            buf.freeze()
        };
        Ok(Read { records: batch, high_watermark: end })
    }
}

pub(crate) const UNKNOWN_SERVER_ERROR: Code = -1;

/// What a fetch of one partition returns.
pub(crate) struct Read {
    pub records: Bytes,
    pub high_watermark: i64,
}

/// A stored message as a record of the fetch batch. The sequence follows the offset so that
/// consecutive messages of one producer share a batch (the encoder splits a batch where
/// `offset - sequence` changes).
fn record(offset: i64, message: &Message) -> Record {
    let headers: IndexMap<StrBytes, Option<Bytes>> =
        message.headers.iter().map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone())).collect();
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: message.producer_id,
        producer_epoch: message.producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: offset as i32,
        timestamp: message.timestamp,
        key: message.key.clone(),
        value: message.value.clone(),
        headers,
    }
}

/// Kafka's topic name rule: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn valid_topic(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOPIC_NAME
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Milliseconds since the epoch (record timestamps).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().min(i64::MAX as u128) as i64)
}
