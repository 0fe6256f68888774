//! Kafka steps, with Faultbox's names and result shapes:
//! * `publish(topic=, data=, key=?, headers=?)` produces one message (acks=all) and answers
//!   `{"published": true, "topic": ...}`; `value=` is read as `data=` when `data=` is absent
//!   (Faultbox ignores `value=`, which specs pass by mistake). A message the broker rejects or
//!   cannot be reached is `ok=False` with the reason, never retried (a fault stays visible).
//! * `consume(topic=, group=?, timeout=?)` joins the consumer group, reads one message from
//!   the group's committed offset (else the earliest), commits past it, leaves the group and
//!   answers `{"topic", "partition", "offset", "key", "value"}`; no message within `timeout`
//!   (default 10s, as Faultbox's reader) is `ok=False`.
//!
//! The client is [`crate::mock::kafka::client`] (`kafka-protocol`'s codecs, the same as the
//! mock's). With a single broker in the metadata, every request stays on the connection to the
//! step's address, so a fault proxy in front of the broker sees them all; a multi-broker
//! cluster is reached at the addresses it advertises.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedPartitions;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use serde_json::json;

use super::response::Response;
use super::{as_text, string_map, text_arg, Target};
use crate::mock::kafka::client::{remaining, str_bytes, Client};
use crate::mock::kafka::wire::{describe_error, partition_for_key};
use crate::scenario::runner::parse_duration;
use ospecc_compiler::topology::run::Args;

/// Retriable while a real broker creates a topic or elects a leader.
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const LEADER_NOT_AVAILABLE: i16 = 5;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const MEMBER_ID_REQUIRED: i16 = 79;
const OFFSET_OUT_OF_RANGE: i16 = 1;
/// How long `consume` waits for a message by default (Faultbox's reader waits 10s).
const DEFAULT_CONSUME: Duration = Duration::from_secs(10);
/// The longest one fetch waits on the broker.
const FETCH_WAIT: Duration = Duration::from_millis(500);
/// How long before the step's deadline a held fetch must be answered.
const FETCH_MARGIN: Duration = Duration::from_millis(200);
/// Pause between metadata retries while a topic is being created.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

pub fn call(target: &Target, method: &str, args: &Args) -> Option<Response> {
    let started = Instant::now();
    let deadline = started + target.timeout;
    let result = match method {
        "publish" => publish(target, args, deadline),
        "consume" => consume(target, args, deadline),
        _ => return None,
    };
    let ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    Some(match result {
        Ok(data) => Response::data(data, ms),
        Err(error) => Response::failed(error, ms),
    })
}

fn publish(target: &Target, args: &Args, deadline: Instant) -> Result<serde_json::Value, String> {
    let topic = text_arg(args, "topic").filter(|t| !t.is_empty()).ok_or("`publish` needs `topic=`")?;
    let message = Publish {
        topic,
        data: args.named("data").or_else(|| args.named("value")).map(as_text).unwrap_or_default(),
        key: args.named("key").map(as_text).filter(|k| !k.is_empty()),
        headers: string_map(args, "headers"),
    };
    publish_message(&target.address.to_string(), &message, deadline)
}

/// One message to publish.
#[derive(Debug, Clone, Default)]
pub struct Publish {
    pub topic: String,
    pub data: String,
    /// `None` (or empty in the step) publishes without a key.
    pub key: Option<String>,
    pub headers: BTreeMap<String, String>,
}

/// Publishes one message through the broker at `bootstrap` (acks=all); `Ok` is the step's
/// `.data`, `Err` its `.error`.
pub fn publish_message(bootstrap: &str, message: &Publish, deadline: Instant) -> Result<serde_json::Value, String> {
    let Publish { topic, data, key, headers } = message.clone();
    let mut client = Client::connect(bootstrap, deadline)?;
    let metadata = topic_metadata(&mut client, &topic, deadline)?;
    let partitions = metadata.partitions.len() as i32;
    let partition = match &key {
        Some(key) => partition_for_key(key.as_bytes(), partitions),
        None => (next_round_robin() % partitions.max(1) as usize) as i32,
    };
    let mut leader = leader_client(client, &metadata.brokers, metadata.leader_of(partition), deadline)?;
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: crate::mock::kafka::now_ms(),
        key: key.map(Bytes::from),
        value: Some(Bytes::from(data)),
        headers: headers
            .into_iter()
            .map(|(k, v)| (StrBytes::from_string(k), Some(Bytes::from(v))))
            .collect::<IndexMap<_, _>>(),
    };
    let mut records = BytesMut::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut records, [&record], &options).map_err(|e| format!("encoding the message: {e}"))?;
    let mut partition_data = PartitionProduceData::default();
    partition_data.index = partition;
    partition_data.records = Some(records.freeze());
    let mut topic_data = TopicProduceData::default();
    topic_data.name = TopicName(str_bytes(&topic));
    topic_data.partition_data.push(partition_data);
    let mut request = ProduceRequest::default();
    request.acks = -1;
    request.timeout_ms = millis(remaining(deadline)?);
    request.topic_data.push(topic_data);
    let response = leader.call(&request)?;
    let answer = response
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .find(|p| p.index == partition)
        .ok_or("the broker's produce answer has no entry for the partition")?;
    if answer.error_code != 0 {
        let detail = answer.error_message.as_ref().map(|m| format!(": {}", m.as_str())).unwrap_or_default();
        return Err(format!(
            "the broker rejected the message to {topic}[{partition}]: {}{detail}",
            describe_error(answer.error_code)
        ));
    }
    Ok(json!({"published": true, "topic": topic}))
}

fn consume(target: &Target, args: &Args, deadline: Instant) -> Result<serde_json::Value, String> {
    let topic = text_arg(args, "topic").filter(|t| !t.is_empty()).ok_or("`consume` needs `topic=`")?;
    let group = text_arg(args, "group").filter(|g| !g.is_empty()).unwrap_or_else(default_group);
    let wait = match args.named("timeout") {
        None => DEFAULT_CONSUME,
        Some(value) => wait_arg(value).ok_or_else(|| format!("`timeout={}` is not a duration", value.to_str()))?,
    };
    consume_message(&target.address.to_string(), &topic, &group, deadline.min(Instant::now() + wait))
}

/// Reads one message of `topic` as a member of `group` through the broker at `bootstrap`,
/// committing past it; `Ok` is the step's `.data`, `Err` its `.error`.
pub fn consume_message(
    bootstrap: &str,
    topic: &str,
    group: &str,
    deadline: Instant,
) -> Result<serde_json::Value, String> {
    let mut client = Client::connect(bootstrap, deadline)?;
    let metadata = topic_metadata(&mut client, topic, deadline)?;
    let coordinator = find_coordinator(&mut client, group, deadline)?;
    let mut coordinator = leader_client(client, &metadata.brokers, Some(coordinator), deadline)?;
    let member = join(&mut coordinator, group, topic, deadline)?;
    let outcome = read_one(&mut coordinator, &member, topic, deadline);
    // Best effort: the group forgets the member at once instead of after its session timeout.
    leave(&mut coordinator, group, &member.id);
    let (partition, record) = outcome?;
    Ok(json!({
        "topic": topic,
        "partition": partition,
        "offset": record.offset,
        "key": lossy(record.key.as_ref()),
        "value": lossy(record.value.as_ref()),
    }))
}

fn lossy(bytes: Option<&Bytes>) -> String {
    bytes.map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
}

/// `timeout=` as seconds (a number) or a duration string (`"2s"`).
fn wait_arg(value: starlark::values::Value) -> Option<Duration> {
    if let Some(text) = value.unpack_str() {
        return parse_duration(text);
    }
    let seconds = value.unpack_i32().map(f64::from).or_else(|| value.to_str().parse::<f64>().ok())?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The per-run default group (Faultbox names it per run and test; mocks restart per test, so
/// a per-run name starts every test's mock from an uncommitted group).
fn default_group() -> String {
    static GROUP: OnceLock<String> = OnceLock::new();
    GROUP
        .get_or_init(|| {
            let nanos =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
            format!("faultbox-{:08x}", nanos ^ std::process::id().rotate_left(16))
        })
        .clone()
}

fn next_round_robin() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn millis(duration: Duration) -> i32 {
    duration.as_millis().min(i32::MAX as u128) as i32
}

/// What the steps need from Metadata.
struct TopicMetadata {
    /// node id → "host:port".
    brokers: BTreeMap<i32, String>,
    /// (partition, leader node id), by partition.
    partitions: Vec<(i32, i32)>,
}

impl TopicMetadata {
    fn leader_of(&self, partition: i32) -> Option<i32> {
        self.partitions.iter().find(|(p, _)| *p == partition).map(|(_, leader)| *leader)
    }
}

/// The topic's partitions and brokers, asking the broker to create the topic; retried while a
/// real broker is still creating it.
fn topic_metadata(client: &mut Client, topic: &str, deadline: Instant) -> Result<TopicMetadata, String> {
    loop {
        let mut request = MetadataRequest::default();
        let mut wanted = MetadataRequestTopic::default();
        wanted.name = Some(TopicName(str_bytes(topic)));
        request.topics = Some(vec![wanted]);
        if client.version_of::<MetadataRequest>() >= 4 {
            request.allow_auto_topic_creation = true;
        }
        let response = client.call(&request)?;
        let found = response.topics.iter().find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic));
        let code = found.map_or(UNKNOWN_TOPIC_OR_PARTITION, |t| t.error_code);
        let partitions: Vec<(i32, i32)> = found
            .map(|t| t.partitions.iter().map(|p| (p.partition_index, p.leader_id.0)).collect())
            .unwrap_or_default();
        if code == 0 && !partitions.is_empty() && partitions.iter().all(|(_, leader)| *leader >= 0) {
            let brokers =
                response.brokers.iter().map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port))).collect();
            return Ok(TopicMetadata { brokers, partitions });
        }
        let retriable = matches!(code, 0 | UNKNOWN_TOPIC_OR_PARTITION | LEADER_NOT_AVAILABLE);
        if !retriable || remaining(deadline)? <= RETRY_PAUSE {
            return Err(format!(
                "no usable metadata for topic {topic}: {}",
                describe_error(code.max(LEADER_NOT_AVAILABLE))
            ));
        }
        std::thread::sleep(RETRY_PAUSE);
    }
}

/// The client for a node: the bootstrap connection itself when the cluster has one broker (so
/// a proxy at the step's address sees every request), else a connection to its address.
fn leader_client(
    bootstrap: Client,
    brokers: &BTreeMap<i32, String>,
    node: Option<i32>,
    deadline: Instant,
) -> Result<Client, String> {
    if brokers.len() <= 1 {
        return Ok(bootstrap);
    }
    let address = node.and_then(|n| brokers.get(&n)).ok_or("the partition has no leader in the metadata")?;
    if address == bootstrap.address() {
        return Ok(bootstrap);
    }
    Client::connect(address, deadline)
}

/// The coordinator's node id for a group.
fn find_coordinator(client: &mut Client, group: &str, deadline: Instant) -> Result<i32, String> {
    loop {
        let mut request = FindCoordinatorRequest::default();
        let batched = client.version_of::<FindCoordinatorRequest>() >= 4;
        if batched {
            request.coordinator_keys = vec![str_bytes(group)];
        } else {
            request.key = str_bytes(group);
        }
        let response = client.call(&request)?;
        let (code, node) = match response.coordinators.first() {
            Some(c) if batched => (c.error_code, c.node_id.0),
            _ => (response.error_code, response.node_id.0),
        };
        if code == 0 {
            return Ok(node);
        }
        if !matches!(code, COORDINATOR_NOT_AVAILABLE | COORDINATOR_LOAD_IN_PROGRESS)
            || remaining(deadline)? <= RETRY_PAUSE
        {
            return Err(format!("no coordinator for group {group}: {}", describe_error(code)));
        }
        std::thread::sleep(RETRY_PAUSE);
    }
}

/// A joined group member and its partitions of the topic.
struct Member {
    group: String,
    id: String,
    generation: i32,
    partitions: Vec<i32>,
}

/// JoinGroup and SyncGroup; as the leader, assigns the partitions with the range strategy.
fn join(client: &mut Client, group: &str, topic: &str, deadline: Instant) -> Result<Member, String> {
    let subscription = ConsumerProtocolSubscription::default().with_topics(vec![str_bytes(topic)]);
    let metadata = versioned(&subscription, 0)?;
    let mut member_id = StrBytes::default();
    let joined = loop {
        let mut request = JoinGroupRequest::default();
        request.group_id = GroupId(str_bytes(group));
        request.session_timeout_ms = 30_000;
        request.rebalance_timeout_ms = millis(remaining(deadline)?.min(Duration::from_secs(30)));
        request.member_id = member_id.clone();
        request.protocol_type = StrBytes::from_static_str("consumer");
        let mut protocol = JoinGroupRequestProtocol::default();
        protocol.name = StrBytes::from_static_str("range");
        protocol.metadata = metadata.clone();
        request.protocols = vec![protocol];
        let response = client.call(&request)?;
        match response.error_code {
            0 => break response,
            // KIP-394: the first join only learns its member id.
            MEMBER_ID_REQUIRED if member_id.is_empty() => member_id = response.member_id,
            code => return Err(format!("joining group {group} failed: {}", describe_error(code))),
        }
    };
    let mut sync = SyncGroupRequest::default();
    sync.group_id = GroupId(str_bytes(group));
    sync.generation_id = joined.generation_id;
    sync.member_id = joined.member_id.clone();
    if client.version_of::<SyncGroupRequest>() >= 5 {
        sync.protocol_type = Some(StrBytes::from_static_str("consumer"));
        sync.protocol_name = joined.protocol_name.clone();
    }
    if joined.leader == joined.member_id {
        sync.assignments = assign(client, &joined.members, deadline)?;
    }
    let synced = client.call(&sync)?;
    if synced.error_code != 0 {
        return Err(format!("syncing group {group} failed: {}", describe_error(synced.error_code)));
    }
    let partitions = if synced.assignment.is_empty() {
        Vec::new()
    } else {
        let assignment: ConsumerProtocolAssignment = unversioned(synced.assignment)?;
        assignment
            .assigned_partitions
            .into_iter()
            .filter(|t| t.topic.0.as_str() == topic)
            .flat_map(|t| t.partitions)
            .collect()
    };
    Ok(Member {
        group: group.to_owned(),
        id: joined.member_id.as_str().to_owned(),
        generation: joined.generation_id,
        partitions,
    })
}

/// The range assignment of every member's subscribed topics (the leader's job).
fn assign(
    client: &mut Client,
    members: &[join_group_response::JoinGroupResponseMember],
    deadline: Instant,
) -> Result<Vec<SyncGroupRequestAssignment>, String> {
    let mut subscribers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for member in members {
        let subscription: ConsumerProtocolSubscription = unversioned(member.metadata.clone())?;
        for topic in subscription.topics {
            subscribers.entry(topic.as_str().to_owned()).or_default().push(member.member_id.as_str().to_owned());
        }
    }
    let mut assigned: BTreeMap<String, Vec<AssignedPartitions>> = BTreeMap::new();
    for (topic, mut ids) in subscribers {
        ids.sort();
        let count = topic_metadata(client, &topic, deadline)?.partitions.len();
        let (per, extra) = (count / ids.len(), count % ids.len());
        let mut next = 0;
        for (i, id) in ids.iter().enumerate() {
            let take = per + usize::from(i < extra);
            let partitions = (next..next + take).map(|p| p as i32).collect();
            next += take;
            let entry =
                AssignedPartitions::default().with_topic(TopicName(str_bytes(&topic))).with_partitions(partitions);
            assigned.entry(id.clone()).or_default().push(entry);
        }
    }
    members
        .iter()
        .map(|member| {
            let id = member.member_id.as_str();
            let assignment = ConsumerProtocolAssignment::default()
                .with_assigned_partitions(assigned.get(id).cloned().unwrap_or_default());
            let mut entry = SyncGroupRequestAssignment::default();
            entry.member_id = member.member_id.clone();
            entry.assignment = versioned(&assignment, 0)?;
            Ok(entry)
        })
        .collect()
}

/// A consumer-protocol message with its leading version.
fn versioned<M: Encodable>(message: &M, version: i16) -> Result<Bytes, String> {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&version.to_be_bytes());
    message.encode(&mut buf, version).map_err(|e| format!("encoding the group protocol: {e}"))?;
    Ok(buf.freeze())
}

/// A consumer-protocol message read at the version it starts with.
fn unversioned<M: Decodable>(mut bytes: Bytes) -> Result<M, String> {
    if bytes.len() < 2 {
        return Err("a group protocol message without a version".to_owned());
    }
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    let _ = bytes.split_to(2);
    M::decode(&mut bytes, version).map_err(|e| format!("a malformed group protocol message: {e}"))
}

/// Fetches from the member's partitions, starting at the committed offsets (else the
/// earliest), until one record arrives; commits past it.
fn read_one(client: &mut Client, member: &Member, topic: &str, deadline: Instant) -> Result<(i32, Record), String> {
    if member.partitions.is_empty() {
        return Err(format!("group {} assigned no partition of {topic} to this consumer", member.group));
    }
    let mut positions = committed(client, member, topic)?;
    for (partition, position) in positions.iter_mut() {
        if *position < 0 {
            *position = earliest(client, topic, *partition)?;
        }
    }
    loop {
        let left = remaining(deadline).map_err(|_| format!("no message on {topic} within the timeout"))?;
        let mut request = FetchRequest::default();
        request.replica_id = BrokerId(-1);
        // The broker answers an empty fetch after max_wait: leave room for that answer to
        // arrive before the client's own deadline.
        request.max_wait_ms = millis(left.saturating_sub(FETCH_MARGIN).min(FETCH_WAIT));
        request.min_bytes = 1;
        request.max_bytes = 16 << 20;
        let mut fetch_topic = FetchTopic::default();
        fetch_topic.topic = TopicName(str_bytes(topic));
        for (partition, offset) in &positions {
            let mut entry = FetchPartition::default();
            entry.partition = *partition;
            entry.fetch_offset = *offset;
            entry.partition_max_bytes = 1 << 20;
            fetch_topic.partitions.push(entry);
        }
        request.topics.push(fetch_topic);
        let response = match client.call(&request) {
            Ok(response) => response,
            // The deadline passed while the broker held an empty fetch: nothing came in time.
            Err(_) if remaining(deadline).is_err() => return Err(format!("no message on {topic} within the timeout")),
            Err(e) => return Err(e),
        };
        for data in response.responses.iter().flat_map(|t| t.partitions.iter()) {
            let Some(position) = positions.iter_mut().find(|(p, _)| *p == data.partition_index) else { continue };
            match data.error_code {
                0 => {}
                OFFSET_OUT_OF_RANGE => {
                    position.1 = earliest(client, topic, data.partition_index)?;
                    continue;
                }
                code => {
                    return Err(format!("fetching {topic}[{}] failed: {}", data.partition_index, describe_error(code)))
                }
            }
            let Some(mut records) = data.records.clone() else { continue };
            let sets =
                RecordBatchDecoder::decode_all(&mut records).map_err(|e| format!("a malformed record batch: {e}"))?;
            let from = position.1;
            let first = sets.into_iter().flat_map(|s| s.records).find(|r| !r.control && r.offset >= from);
            if let Some(record) = first {
                commit(client, member, topic, data.partition_index, record.offset + 1)?;
                return Ok((data.partition_index, record));
            }
        }
    }
}

/// The group's committed offset per assigned partition (-1 where none).
fn committed(client: &mut Client, member: &Member, topic: &str) -> Result<Vec<(i32, i64)>, String> {
    let mut request = OffsetFetchRequest::default();
    request.group_id = GroupId(str_bytes(&member.group));
    let mut wanted = OffsetFetchRequestTopic::default();
    wanted.name = TopicName(str_bytes(topic));
    wanted.partition_indexes = member.partitions.clone();
    request.topics = Some(vec![wanted]);
    let response = client.call(&request)?;
    if response.error_code != 0 {
        return Err(format!(
            "reading the offsets of group {} failed: {}",
            member.group,
            describe_error(response.error_code)
        ));
    }
    Ok(member
        .partitions
        .iter()
        .map(|p| {
            let offset = response
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .find(|e| e.partition_index == *p && e.error_code == 0)
                .map_or(-1, |e| e.committed_offset);
            (*p, offset)
        })
        .collect())
}

/// The earliest offset of a partition.
fn earliest(client: &mut Client, topic: &str, partition: i32) -> Result<i64, String> {
    let mut request = ListOffsetsRequest::default();
    request.replica_id = BrokerId(-1);
    let mut wanted = ListOffsetsTopic::default();
    wanted.name = TopicName(str_bytes(topic));
    let mut entry = ListOffsetsPartition::default();
    entry.partition_index = partition;
    entry.timestamp = -2;
    wanted.partitions.push(entry);
    request.topics.push(wanted);
    let response = client.call(&request)?;
    let answer = response.topics.iter().flat_map(|t| t.partitions.iter()).find(|p| p.partition_index == partition);
    match answer {
        Some(p) if p.error_code == 0 => Ok(p.offset.max(0)),
        Some(p) => Err(format!("listing the offsets of {topic}[{partition}] failed: {}", describe_error(p.error_code))),
        None => Err(format!("the broker did not list the offsets of {topic}[{partition}]")),
    }
}

fn commit(client: &mut Client, member: &Member, topic: &str, partition: i32, offset: i64) -> Result<(), String> {
    let mut request = OffsetCommitRequest::default();
    request.group_id = GroupId(str_bytes(&member.group));
    request.generation_id_or_member_epoch = member.generation;
    request.member_id = str_bytes(&member.id);
    let mut entry = OffsetCommitRequestPartition::default();
    entry.partition_index = partition;
    entry.committed_offset = offset;
    let mut wanted = OffsetCommitRequestTopic::default();
    wanted.name = TopicName(str_bytes(topic));
    wanted.partitions.push(entry);
    request.topics.push(wanted);
    let response = client.call(&request)?;
    let code = response.topics.iter().flat_map(|t| t.partitions.iter()).map(|p| p.error_code).find(|c| *c != 0);
    match code {
        None => Ok(()),
        Some(code) => Err(format!("committing the offset of group {} failed: {}", member.group, describe_error(code))),
    }
}

fn leave(client: &mut Client, group: &str, member_id: &str) {
    let mut request = LeaveGroupRequest::default();
    request.group_id = GroupId(str_bytes(group));
    if client.version_of::<LeaveGroupRequest>() >= 3 {
        let mut identity = MemberIdentity::default();
        identity.member_id = str_bytes(member_id);
        request.members.push(identity);
    } else {
        request.member_id = str_bytes(member_id);
    }
    let _ = client.call(&request);
}
