//! One handler per API the mock serves: each takes the decoded request and answers with the
//! response message and what the event log should know ([`Note`]). Error codes go where
//! Kafka puts them (per partition, per topic, per member) rather than closing the connection.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::find_coordinator_response::Coordinator as CoordinatorEntry;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{decode_request_header_from_buffer, Decodable, StrBytes};
use kafka_protocol::records::{Compression, RecordBatchDecoder};

use super::group::Join;
use super::log::{now_ms, Message};
use super::{guard, wire, Broker, Note, APIS};

const CORRUPT_MESSAGE: i16 = 2;
const UNSUPPORTED_VERSION: i16 = 35;
const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;
/// The longest a Fetch waits for data, whatever `max_wait_ms` asks.
const MAX_FETCH_WAIT: Duration = Duration::from_secs(30);

type Answer = Result<(Option<BytesMut>, Note), String>;

fn text(s: &StrBytes) -> String {
    s.as_str().to_owned()
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Decodes the request and answers it with the handler of its API.
pub(super) async fn dispatch(
    broker: &Broker,
    api: ApiKey,
    version: i16,
    correlation: i32,
    body: &mut Bytes,
    port: u16,
) -> Answer {
    if api == ApiKey::ApiVersions {
        return Ok((Some(api_versions(version, correlation)?), Note::default()));
    }
    decode_request_header_from_buffer(body).map_err(|e| format!("a malformed {api:?} request header: {e}"))?;
    guard::check_request(api, version, body)?;
    macro_rules! serve {
        ($request:ty, $handler:ident) => {{
            let request = <$request>::decode(body, version)
                .map_err(|e| format!("a malformed {api:?} v{version} request: {e}"))?;
            let (response, note) = $handler(broker, request, version, port).await;
            Ok((Some(wire::response_frame(api, version, correlation, &response)?), note))
        }};
    }
    match api {
        ApiKey::Produce => {
            let request = ProduceRequest::decode(body, version)
                .map_err(|e| format!("a malformed Produce v{version} request: {e}"))?;
            let acks = request.acks;
            let (response, note) = produce(broker, request);
            // acks=0: the producer expects no answer at all.
            let frame =
                if acks == 0 { None } else { Some(wire::response_frame(api, version, correlation, &response)?) };
            Ok((frame, note))
        }
        ApiKey::Fetch => serve!(FetchRequest, fetch),
        ApiKey::ListOffsets => serve!(ListOffsetsRequest, list_offsets),
        ApiKey::Metadata => serve!(MetadataRequest, metadata),
        ApiKey::OffsetCommit => serve!(OffsetCommitRequest, offset_commit),
        ApiKey::OffsetFetch => serve!(OffsetFetchRequest, offset_fetch),
        ApiKey::FindCoordinator => serve!(FindCoordinatorRequest, find_coordinator),
        ApiKey::JoinGroup => serve!(JoinGroupRequest, join_group),
        ApiKey::Heartbeat => serve!(HeartbeatRequest, heartbeat),
        ApiKey::LeaveGroup => serve!(LeaveGroupRequest, leave_group),
        ApiKey::SyncGroup => serve!(SyncGroupRequest, sync_group),
        ApiKey::InitProducerId => serve!(InitProducerIdRequest, init_producer_id),
        other => Err(format!("API {other:?} is not served by this mock")),
    }
}

/// ApiVersions: every served API and its versions. A version this mock does not know is
/// answered in v0 with UNSUPPORTED_VERSION, which tells the client to retry with v0.
fn api_versions(version: i16, correlation: i32) -> Result<BytesMut, String> {
    let mut response = ApiVersionsResponse::default();
    response.api_keys = APIS
        .iter()
        .map(|(key, min, max)| {
            let mut entry = ApiVersion::default();
            entry.api_key = *key as i16;
            entry.min_version = *min;
            entry.max_version = *max;
            entry
        })
        .collect();
    let supported = APIS.iter().any(|(key, min, max)| *key == ApiKey::ApiVersions && (*min..=*max).contains(&version));
    let version = if supported {
        version
    } else {
        response.error_code = UNSUPPORTED_VERSION;
        0
    };
    wire::response_frame(ApiKey::ApiVersions, version, correlation, &response)
}

fn produce(broker: &Broker, request: ProduceRequest) -> (ProduceResponse, Note) {
    let mut note = Note::default();
    let mut response = ProduceResponse::default();
    for topic in request.topic_data {
        let name = text(&topic.name.0);
        note.topic.get_or_insert_with(|| name.clone());
        let created = broker.logs.partitions(&name, true);
        let mut answer = TopicProduceResponse::default();
        answer.name = topic.name.clone();
        for partition in topic.partition_data {
            let result = created.and_then(|_| {
                let messages = decode_records(partition.records)?;
                broker.logs.append(&name, partition.index, messages)
            });
            let mut entry = PartitionProduceResponse::default();
            entry.index = partition.index;
            entry.log_append_time_ms = -1;
            entry.log_start_offset = 0;
            match result {
                Ok(base) => entry.base_offset = base,
                Err(code) => {
                    entry.error_code = code;
                    entry.base_offset = -1;
                }
            }
            answer.partition_responses.push(entry);
        }
        response.responses.push(answer);
    }
    (response, note)
}

/// The messages of a produce's record batches, or the Kafka error code that refuses them.
fn decode_records(records: Option<Bytes>) -> Result<Vec<Message>, i16> {
    let Some(records) = records else { return Ok(Vec::new()) };
    // Record and header counts are checked against the bytes before the decoder reserves
    // room for that many.
    guard::check_records(&records).map_err(|_| CORRUPT_MESSAGE)?;
    let infos = RecordBatchDecoder::decode_batch_info(&mut records.clone()).map_err(|_| CORRUPT_MESSAGE)?;
    if infos.iter().any(|i| i.compression != Compression::None) {
        return Err(UNSUPPORTED_COMPRESSION_TYPE);
    }
    let sets = RecordBatchDecoder::decode_all(&mut records.clone()).map_err(|_| CORRUPT_MESSAGE)?;
    let now = now_ms();
    Ok(sets
        .into_iter()
        .flat_map(|set| set.records)
        .filter(|record| !record.control)
        .map(|record| Message {
            key: record.key,
            value: record.value,
            headers: record.headers.into_iter().map(|(k, v)| (k.as_str().to_owned(), v)).collect(),
            timestamp: if record.timestamp < 0 { now } else { record.timestamp },
            producer_id: record.producer_id,
            producer_epoch: record.producer_epoch,
        })
        .collect())
}

async fn fetch(broker: &Broker, request: FetchRequest, _version: i16, _port: u16) -> (FetchResponse, Note) {
    let note = Note { topic: request.topics.first().map(|t| text(&t.topic.0)), group: None };
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_FETCH_WAIT);
    let deadline = Instant::now() + wait;
    loop {
        let changed = broker.logs.changed.notified();
        let (response, bytes, failed) = fetch_once(broker, &request);
        let now = Instant::now();
        if failed || request.min_bytes <= 0 || bytes >= request.min_bytes as usize || now >= deadline {
            return (response, note);
        }
        let _ = tokio::time::timeout(deadline - now, changed).await;
    }
}

/// One pass over the requested partitions: the response, its record bytes, and whether a
/// partition failed (a failure is answered at once).
fn fetch_once(broker: &Broker, request: &FetchRequest) -> (FetchResponse, usize, bool) {
    let mut response = FetchResponse::default();
    let (mut bytes, mut failed) = (0usize, false);
    for topic in &request.topics {
        let name = text(&topic.topic.0);
        let mut answer = FetchableTopicResponse::default();
        answer.topic = topic.topic.clone();
        for partition in &topic.partitions {
            let mut entry = PartitionData::default();
            entry.partition_index = partition.partition;
            let max = partition.partition_max_bytes.max(1) as usize;
            match broker.logs.read(&name, partition.partition, partition.fetch_offset, max) {
                Ok(read) => {
                    bytes += read.records.len();
                    entry.high_watermark = read.high_watermark;
                    entry.last_stable_offset = read.high_watermark;
                    entry.log_start_offset = 0;
                    entry.aborted_transactions = Some(Vec::new());
                    entry.records = Some(read.records);
                }
                Err(code) => {
                    failed = true;
                    entry.error_code = code;
                    entry.high_watermark = -1;
                    entry.last_stable_offset = -1;
                    entry.log_start_offset = -1;
                    entry.records = Some(Bytes::new());
                }
            }
            answer.partitions.push(entry);
        }
        response.responses.push(answer);
    }
    (response, bytes, failed)
}

async fn list_offsets(
    broker: &Broker,
    request: ListOffsetsRequest,
    version: i16,
    _port: u16,
) -> (ListOffsetsResponse, Note) {
    let note = Note { topic: request.topics.first().map(|t| text(&t.name.0)), group: None };
    let mut response = ListOffsetsResponse::default();
    for topic in request.topics {
        let name = text(&topic.name.0);
        let mut answer = ListOffsetsTopicResponse::default();
        answer.name = topic.name.clone();
        for partition in topic.partitions {
            let mut entry = ListOffsetsPartitionResponse::default();
            entry.partition_index = partition.partition_index;
            let found = match partition.timestamp {
                // -2 earliest, -1 latest, -3 the record with the largest timestamp (the last here).
                -2 => broker.logs.end(&name, partition.partition_index).map(|_| (0, -1)),
                -1 => broker.logs.end(&name, partition.partition_index).map(|end| (end, -1)),
                -3 => broker.logs.end(&name, partition.partition_index).map(|end| ((end - 1).max(0), -1)),
                at => broker.logs.offset_for_time(&name, partition.partition_index, at),
            };
            match found {
                Ok((offset, timestamp)) => {
                    entry.offset = offset;
                    entry.timestamp = timestamp;
                    if version >= 4 {
                        entry.leader_epoch = 0;
                    }
                }
                Err(code) => {
                    entry.error_code = code;
                    entry.offset = -1;
                    entry.timestamp = -1;
                }
            }
            answer.partitions.push(entry);
        }
        response.topics.push(answer);
    }
    (response, note)
}

async fn metadata(broker: &Broker, request: MetadataRequest, version: i16, port: u16) -> (MetadataResponse, Note) {
    let mut response = MetadataResponse::default();
    let mut node = MetadataResponseBroker::default();
    node.node_id = BrokerId(0);
    node.host = StrBytes::from_static_str("127.0.0.1");
    node.port = i32::from(port);
    response.brokers.push(node);
    response.cluster_id = Some(StrBytes::from_static_str("ospecc-mock"));
    response.controller_id = BrokerId(0);
    // v0 asks for every topic with an empty list, later versions with null.
    let requested: Option<Vec<String>> = match request.topics {
        Some(list) if !(version == 0 && list.is_empty()) => {
            Some(list.into_iter().filter_map(|t| t.name.map(|n| text(&n.0))).collect())
        }
        _ => None,
    };
    let create = version < 4 || request.allow_auto_topic_creation;
    let note = Note { topic: requested.as_ref().and_then(|t| t.first().cloned()), group: None };
    let topics: Vec<(String, Result<i32, i16>)> = match requested {
        None => broker.logs.all().into_iter().map(|(name, count)| (name, Ok(count))).collect(),
        Some(names) => names
            .into_iter()
            .map(|name| {
                let count = broker.logs.partitions(&name, create);
                (name, count)
            })
            .collect(),
    };
    for (name, count) in topics {
        let mut topic = MetadataResponseTopic::default();
        topic.name = Some(TopicName(str_bytes(&name)));
        match count {
            Ok(count) => topic.partitions = (0..count).map(partition_metadata).collect(),
            Err(code) => topic.error_code = code,
        }
        response.topics.push(topic);
    }
    (response, note)
}

fn partition_metadata(index: i32) -> MetadataResponsePartition {
    let mut partition = MetadataResponsePartition::default();
    partition.partition_index = index;
    partition.leader_id = BrokerId(0);
    partition.leader_epoch = 0;
    partition.replica_nodes = vec![BrokerId(0)];
    partition.isr_nodes = vec![BrokerId(0)];
    partition
}

async fn find_coordinator(
    _broker: &Broker,
    request: FindCoordinatorRequest,
    version: i16,
    port: u16,
) -> (FindCoordinatorResponse, Note) {
    let mut response = FindCoordinatorResponse::default();
    let note;
    if version >= 4 {
        note = Note { group: request.coordinator_keys.first().map(text), topic: None };
        for key in request.coordinator_keys {
            let mut entry = CoordinatorEntry::default();
            entry.key = key;
            entry.node_id = BrokerId(0);
            entry.host = StrBytes::from_static_str("127.0.0.1");
            entry.port = i32::from(port);
            response.coordinators.push(entry);
        }
    } else {
        note = Note { group: Some(text(&request.key)), topic: None };
        response.node_id = BrokerId(0);
        response.host = StrBytes::from_static_str("127.0.0.1");
        response.port = i32::from(port);
    }
    (response, note)
}

/// A client's timeout in milliseconds, within 1 ms and 5 minutes.
fn millis(ms: i32) -> Duration {
    Duration::from_millis(ms.clamp(1, 300_000) as u64)
}

async fn join_group(broker: &Broker, request: JoinGroupRequest, version: i16, _port: u16) -> (JoinGroupResponse, Note) {
    let group = text(&request.group_id.0);
    let note = Note { group: Some(group.clone()), topic: None };
    let join = Join {
        group,
        member_id: text(&request.member_id),
        client_id: String::new(),
        protocol_type: text(&request.protocol_type),
        protocols: request.protocols.iter().map(|p| (text(&p.name), p.metadata.clone())).collect(),
        session_timeout: millis(request.session_timeout_ms),
        rebalance_timeout: millis(if version >= 1 { request.rebalance_timeout_ms } else { request.session_timeout_ms }),
    };
    let mut response = JoinGroupResponse::default();
    match broker.groups.join(join).await {
        Ok(joined) => {
            response.generation_id = joined.generation;
            response.protocol_type = Some(str_bytes(&joined.protocol_type));
            response.protocol_name = Some(str_bytes(&joined.protocol));
            response.leader = str_bytes(&joined.leader);
            response.member_id = str_bytes(&joined.member_id);
            response.members = joined
                .members
                .into_iter()
                .map(|(id, metadata)| {
                    let mut member = JoinGroupResponseMember::default();
                    member.member_id = str_bytes(&id);
                    member.metadata = metadata;
                    member
                })
                .collect();
        }
        Err(code) => {
            response.error_code = code;
            response.generation_id = -1;
            response.member_id = request.member_id;
            response.protocol_name = Some(StrBytes::default());
        }
    }
    (response, note)
}

async fn sync_group(
    broker: &Broker,
    request: SyncGroupRequest,
    _version: i16,
    _port: u16,
) -> (SyncGroupResponse, Note) {
    let group = text(&request.group_id.0);
    let assignments = request.assignments.iter().map(|a| (text(&a.member_id), a.assignment.clone())).collect();
    let mut response = SyncGroupResponse::default();
    match broker.groups.sync(&group, request.generation_id, request.member_id.as_str(), assignments).await {
        Ok((protocol_type, protocol, assignment)) => {
            response.protocol_type = Some(str_bytes(&protocol_type));
            response.protocol_name = Some(str_bytes(&protocol));
            response.assignment = assignment;
        }
        Err(code) => response.error_code = code,
    }
    (response, Note { group: Some(group), topic: None })
}

async fn heartbeat(broker: &Broker, request: HeartbeatRequest, _version: i16, _port: u16) -> (HeartbeatResponse, Note) {
    let group = text(&request.group_id.0);
    let mut response = HeartbeatResponse::default();
    response.error_code = broker.groups.heartbeat(&group, request.generation_id, request.member_id.as_str());
    (response, Note { group: Some(group), topic: None })
}

async fn leave_group(
    broker: &Broker,
    request: LeaveGroupRequest,
    version: i16,
    _port: u16,
) -> (LeaveGroupResponse, Note) {
    let group = text(&request.group_id.0);
    let mut response = LeaveGroupResponse::default();
    if version >= 3 {
        let ids: Vec<String> = request.members.iter().map(|m| text(&m.member_id)).collect();
        let codes = broker.groups.leave(&group, &ids);
        for (member, code) in request.members.into_iter().zip(codes) {
            let mut entry = MemberResponse::default();
            entry.member_id = member.member_id;
            entry.group_instance_id = member.group_instance_id;
            entry.error_code = code;
            response.members.push(entry);
        }
    } else {
        let codes = broker.groups.leave(&group, &[text(&request.member_id)]);
        response.error_code = codes.first().copied().unwrap_or_default();
    }
    (response, Note { group: Some(group), topic: None })
}

async fn offset_commit(
    broker: &Broker,
    request: OffsetCommitRequest,
    _version: i16,
    _port: u16,
) -> (OffsetCommitResponse, Note) {
    let group = text(&request.group_id.0);
    let note = Note { group: Some(group.clone()), topic: request.topics.first().map(|t| text(&t.name.0)) };
    let offsets = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (text(&t.name.0), p.partition_index, p.committed_offset, p.committed_metadata.as_ref().map(text))
            })
        })
        .collect();
    let code = broker.groups.commit(&group, request.generation_id_or_member_epoch, request.member_id.as_str(), offsets);
    let mut response = OffsetCommitResponse::default();
    for topic in request.topics {
        let mut answer = OffsetCommitResponseTopic::default();
        answer.name = topic.name;
        for partition in topic.partitions {
            let mut entry = OffsetCommitResponsePartition::default();
            entry.partition_index = partition.partition_index;
            entry.error_code = code;
            answer.partitions.push(entry);
        }
        response.topics.push(answer);
    }
    (response, note)
}

async fn offset_fetch(
    broker: &Broker,
    request: OffsetFetchRequest,
    _version: i16,
    _port: u16,
) -> (OffsetFetchResponse, Note) {
    let group = text(&request.group_id.0);
    let wanted: Vec<(String, i32)> = match &request.topics {
        Some(topics) => topics.iter().flat_map(|t| t.partition_indexes.iter().map(|p| (text(&t.name.0), *p))).collect(),
        None => broker.groups.committed_all(&group).into_iter().map(|(t, p, _, _)| (t, p)).collect(),
    };
    let note = Note { group: Some(group.clone()), topic: wanted.first().map(|(t, _)| t.clone()) };
    let mut response = OffsetFetchResponse::default();
    for (topic, partition) in wanted {
        let (offset, metadata) = broker.groups.committed(&group, &topic, partition);
        let mut entry = OffsetFetchResponsePartition::default();
        entry.partition_index = partition;
        entry.committed_offset = offset;
        entry.committed_leader_epoch = -1;
        entry.metadata = Some(str_bytes(metadata.as_deref().unwrap_or("")));
        let name = TopicName(str_bytes(&topic));
        match response.topics.iter_mut().find(|t| t.name == name) {
            Some(answer) => answer.partitions.push(entry),
            None => {
                let mut answer = OffsetFetchResponseTopic::default();
                answer.name = name;
                answer.partitions.push(entry);
                response.topics.push(answer);
            }
        }
    }
    (response, note)
}

async fn init_producer_id(
    broker: &Broker,
    request: InitProducerIdRequest,
    _version: i16,
    _port: u16,
) -> (InitProducerIdResponse, Note) {
    let mut response = InitProducerIdResponse::default();
    if request.producer_id.0 >= 0 {
        // A producer bumping its epoch (KIP-360) keeps its id.
        response.producer_id = request.producer_id;
        response.producer_epoch = request.producer_epoch.saturating_add(1);
    } else {
        response.producer_id = ProducerId(broker.next_producer.fetch_add(1, Ordering::Relaxed));
        response.producer_epoch = 0;
    }
    (response, Note::default())
}
