//! A shape check run before `kafka-protocol` decodes a request, because its decoders reserve
//! room for an array's declared length before reading a single element (`Vec::with_capacity`
//! on the wire count): a 19-byte frame claiming 2^31 topics asks for about 150 GB, and a
//! failed allocation aborts the process instead of returning an error. Upstream has the fix
//! proposed (kafka-protocol-rs pull requests 152, 161, 200); until a release carries it, this
//! walks each served request's layout (Apache Kafka's message schemas, the same ones the crate
//! is generated from) and refuses a frame whose arrays claim more elements than it holds, so
//! the crate only ever sees counts backed by real bytes. It checks lengths; it decodes nothing.
//!
//! Record batches get the same check for their record and header counts.

use kafka_protocol::messages::ApiKey;

/// How a field is laid out on the wire.
#[derive(Clone, Copy)]
enum Kind {
    /// A fixed number of bytes (ints, booleans, uuids).
    Fixed(usize),
    /// A (nullable) string: i16 length, or a compact (uvarint length + 1).
    Str,
    /// (Nullable) bytes or records: i32 length, or compact.
    Bytes,
    /// An array of structs.
    Structs(&'static [Field]),
    /// An array of i32.
    Ints,
    /// An array of strings.
    Strs,
}

/// A field present in versions `from..=to`.
#[derive(Clone, Copy)]
struct Field {
    from: i16,
    to: i16,
    kind: Kind,
}

const fn f(from: i16, to: i16, kind: Kind) -> Field {
    Field { from, to, kind }
}

const ANY: i16 = i16::MAX;
const I8: Kind = Kind::Fixed(1);
const I16: Kind = Kind::Fixed(2);
const I32: Kind = Kind::Fixed(4);
const I64: Kind = Kind::Fixed(8);
const UUID: Kind = Kind::Fixed(16);

const PRODUCE_PARTITION: &[Field] = &[f(0, ANY, I32), f(0, ANY, Kind::Bytes)];
const PRODUCE_TOPIC: &[Field] = &[f(0, 12, Kind::Str), f(13, ANY, UUID), f(0, ANY, Kind::Structs(PRODUCE_PARTITION))];
const PRODUCE: &[Field] =
    &[f(0, ANY, Kind::Str), f(0, ANY, I16), f(0, ANY, I32), f(0, ANY, Kind::Structs(PRODUCE_TOPIC))];

const FETCH_PARTITION: &[Field] =
    &[f(0, ANY, I32), f(9, ANY, I32), f(0, ANY, I64), f(12, ANY, I32), f(5, ANY, I64), f(0, ANY, I32)];
const FETCH_TOPIC: &[Field] = &[f(0, 12, Kind::Str), f(13, ANY, UUID), f(0, ANY, Kind::Structs(FETCH_PARTITION))];
const FORGOTTEN_TOPIC: &[Field] = &[f(7, 12, Kind::Str), f(13, ANY, UUID), f(7, ANY, Kind::Ints)];
const FETCH: &[Field] = &[
    f(0, 14, I32),
    f(0, ANY, I32),
    f(0, ANY, I32),
    f(0, ANY, I32),
    f(0, ANY, I8),
    f(7, ANY, I32),
    f(7, ANY, I32),
    f(0, ANY, Kind::Structs(FETCH_TOPIC)),
    f(7, ANY, Kind::Structs(FORGOTTEN_TOPIC)),
    f(11, ANY, Kind::Str),
];

const LIST_OFFSETS_PARTITION: &[Field] = &[f(0, ANY, I32), f(4, ANY, I32), f(0, ANY, I64)];
const LIST_OFFSETS_TOPIC: &[Field] = &[f(0, ANY, Kind::Str), f(0, ANY, Kind::Structs(LIST_OFFSETS_PARTITION))];
const LIST_OFFSETS: &[Field] =
    &[f(0, ANY, I32), f(2, ANY, I8), f(0, ANY, Kind::Structs(LIST_OFFSETS_TOPIC)), f(10, ANY, I32)];

const METADATA_TOPIC: &[Field] = &[f(10, ANY, UUID), f(0, ANY, Kind::Str)];
const METADATA: &[Field] = &[f(0, ANY, Kind::Structs(METADATA_TOPIC)), f(4, ANY, I8), f(8, 10, I8), f(8, ANY, I8)];

const COMMIT_PARTITION: &[Field] = &[f(0, ANY, I32), f(0, ANY, I64), f(6, ANY, I32), f(0, ANY, Kind::Str)];
const COMMIT_TOPIC: &[Field] = &[f(0, ANY, Kind::Str), f(0, ANY, Kind::Structs(COMMIT_PARTITION))];
const OFFSET_COMMIT: &[Field] = &[
    f(0, ANY, Kind::Str),
    f(0, ANY, I32),
    f(0, ANY, Kind::Str),
    f(7, ANY, Kind::Str),
    f(0, 4, I64),
    f(0, ANY, Kind::Structs(COMMIT_TOPIC)),
];

const OFFSET_FETCH_TOPIC: &[Field] = &[f(0, 7, Kind::Str), f(0, 7, Kind::Ints)];
const OFFSET_FETCH_GROUP_TOPIC: &[Field] = &[f(8, ANY, Kind::Str), f(8, ANY, Kind::Ints)];
const OFFSET_FETCH_GROUP: &[Field] =
    &[f(8, ANY, Kind::Str), f(9, ANY, Kind::Str), f(9, ANY, I32), f(8, ANY, Kind::Structs(OFFSET_FETCH_GROUP_TOPIC))];
const OFFSET_FETCH: &[Field] = &[
    f(0, 7, Kind::Str),
    f(0, 7, Kind::Structs(OFFSET_FETCH_TOPIC)),
    f(8, ANY, Kind::Structs(OFFSET_FETCH_GROUP)),
    f(7, ANY, I8),
];

const FIND_COORDINATOR: &[Field] = &[f(0, 3, Kind::Str), f(1, ANY, I8), f(4, ANY, Kind::Strs)];

const JOIN_PROTOCOL: &[Field] = &[f(0, ANY, Kind::Str), f(0, ANY, Kind::Bytes)];
const JOIN_GROUP: &[Field] = &[
    f(0, ANY, Kind::Str),
    f(0, ANY, I32),
    f(1, ANY, I32),
    f(0, ANY, Kind::Str),
    f(5, ANY, Kind::Str),
    f(0, ANY, Kind::Str),
    f(0, ANY, Kind::Structs(JOIN_PROTOCOL)),
    f(8, ANY, Kind::Str),
];

const HEARTBEAT: &[Field] = &[f(0, ANY, Kind::Str), f(0, ANY, I32), f(0, ANY, Kind::Str), f(3, ANY, Kind::Str)];

const LEAVE_MEMBER: &[Field] = &[f(3, ANY, Kind::Str), f(3, ANY, Kind::Str), f(5, ANY, Kind::Str)];
const LEAVE_GROUP: &[Field] = &[f(0, ANY, Kind::Str), f(0, 2, Kind::Str), f(3, ANY, Kind::Structs(LEAVE_MEMBER))];

const SYNC_ASSIGNMENT: &[Field] = &[f(0, ANY, Kind::Str), f(0, ANY, Kind::Bytes)];
const SYNC_GROUP: &[Field] = &[
    f(0, ANY, Kind::Str),
    f(0, ANY, I32),
    f(0, ANY, Kind::Str),
    f(3, ANY, Kind::Str),
    f(5, ANY, Kind::Str),
    f(5, ANY, Kind::Str),
    f(0, ANY, Kind::Structs(SYNC_ASSIGNMENT)),
];

const INIT_PRODUCER_ID: &[Field] = &[f(0, ANY, Kind::Str), f(0, ANY, I32), f(3, ANY, I64), f(3, ANY, I16)];

/// Each decoded request: its layout and the first flexible version (compact lengths and
/// tagged fields from there on).
const LAYOUTS: &[(ApiKey, &[Field], i16)] = &[
    (ApiKey::Produce, PRODUCE, 9),
    (ApiKey::Fetch, FETCH, 12),
    (ApiKey::ListOffsets, LIST_OFFSETS, 6),
    (ApiKey::Metadata, METADATA, 9),
    (ApiKey::OffsetCommit, OFFSET_COMMIT, 8),
    (ApiKey::OffsetFetch, OFFSET_FETCH, 6),
    (ApiKey::FindCoordinator, FIND_COORDINATOR, 3),
    (ApiKey::JoinGroup, JOIN_GROUP, 6),
    (ApiKey::Heartbeat, HEARTBEAT, 4),
    (ApiKey::LeaveGroup, LEAVE_GROUP, 4),
    (ApiKey::SyncGroup, SYNC_GROUP, 4),
    (ApiKey::InitProducerId, INIT_PRODUCER_ID, 2),
];

/// Checks a request body (after its header) against its API's layout.
pub(crate) fn check_request(api: ApiKey, version: i16, body: &[u8]) -> Result<(), String> {
    let Some((_, fields, flexible_from)) = LAYOUTS.iter().find(|(key, _, _)| *key == api) else {
        return Err(format!("no layout for {api:?}"));
    };
    let mut walk = Walk { bytes: body, pos: 0, version, flexible: version >= *flexible_from };
    walk.fields(fields).map_err(|e| format!("a malformed {api:?} v{version} request: {e}"))
}

struct Walk<'a> {
    bytes: &'a [u8],
    pos: usize,
    version: i16,
    flexible: bool,
}

impl Walk<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if n > self.remaining() {
            return Err(format!("{n} bytes claimed where {} remain", self.remaining()));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    /// A big-endian signed int of 2 or 4 bytes.
    fn int(&mut self, n: usize) -> Result<i64, String> {
        let bytes = self.take(n)?;
        Ok(match *bytes {
            [a, b] => i64::from(i16::from_be_bytes([a, b])),
            [a, b, c, d] => i64::from(i32::from_be_bytes([a, b, c, d])),
            _ => return Err(format!("an int of {n} bytes")),
        })
    }

    fn uvarint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 5 bytes".to_owned())
    }

    /// A length (string, bytes) or count: `None` for null.
    fn length(&mut self, width: usize) -> Result<Option<usize>, String> {
        let n = if self.flexible { self.uvarint()? as i64 - 1 } else { self.int(width)? };
        match n {
            -1 => Ok(None),
            n if n < -1 => Err(format!("a negative length {n}")),
            n => Ok(Some(n as usize)),
        }
    }

    /// An array's element count, refused when it exceeds the bytes left (every element takes
    /// at least one).
    fn count(&mut self) -> Result<usize, String> {
        let n = self.length(4)?.unwrap_or(0);
        if n > self.remaining() {
            return Err(format!("an array of {n} elements in {} bytes", self.remaining()));
        }
        Ok(n)
    }

    fn fields(&mut self, fields: &[Field]) -> Result<(), String> {
        let version = self.version;
        for field in fields.iter().filter(|f| (f.from..=f.to).contains(&version)) {
            self.field(field.kind)?;
        }
        if self.flexible {
            self.tagged()?;
        }
        Ok(())
    }

    fn field(&mut self, kind: Kind) -> Result<(), String> {
        match kind {
            Kind::Fixed(n) => self.take(n).map(|_| ()),
            Kind::Str => self.skip_sized(2),
            Kind::Bytes => self.skip_sized(4),
            Kind::Structs(fields) => (0..self.count()?).try_for_each(|_| self.fields(fields)),
            Kind::Ints => {
                let n = self.count()?;
                self.take(n.saturating_mul(4)).map(|_| ())
            }
            Kind::Strs => (0..self.count()?).try_for_each(|_| self.skip_sized(2)),
        }
    }

    fn skip_sized(&mut self, width: usize) -> Result<(), String> {
        let n = self.length(width)?.unwrap_or(0);
        self.take(n).map(|_| ())
    }

    fn tagged(&mut self) -> Result<(), String> {
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}

/// The size of a record batch's header after its length field.
const BATCH_HEADER: usize = 49;

/// Checks uncompressed v2 record batches: every record and header count is backed by bytes.
pub(crate) fn check_records(bytes: &[u8]) -> Result<(), String> {
    let mut walk = Walk { bytes, pos: 0, version: 0, flexible: false };
    while walk.remaining() > 0 {
        walk.take(8)?;
        let len = walk.int(4)?;
        let len = usize::try_from(len).ok().filter(|l| *l >= BATCH_HEADER).ok_or(format!("a batch length of {len}"))?;
        let batch = walk.take(len)?;
        // After the length: leader epoch (4), magic (1), crc (4), attributes (2), ...
        if batch[4] != 2 {
            continue;
        }
        let compressed = batch[10] & 0x07 != 0;
        let mut records = Walk { bytes: batch, pos: BATCH_HEADER - 4, version: 0, flexible: false };
        let count = records.int(4)?;
        if compressed {
            // Compressed batches are refused before decoding; nothing to check here.
            continue;
        }
        let count = usize::try_from(count).map_err(|_| format!("a record count of {count}"))?;
        for _ in 0..count {
            let len = records.varint()?;
            let len = usize::try_from(len).map_err(|_| format!("a record length of {len}"))?;
            let mut record = Walk { bytes: records.take(len)?, pos: 0, version: 0, flexible: false };
            record.take(1)?;
            record.varint()?;
            record.varint()?;
            record.varbytes()?;
            record.varbytes()?;
            let headers = record.varint()?;
            let headers = usize::try_from(headers).ok().filter(|h| *h <= record.remaining());
            for _ in 0..headers.ok_or("a header count larger than its record")? {
                record.varbytes()?;
                record.varbytes()?;
            }
        }
    }
    Ok(())
}

impl Walk<'_> {
    /// A zigzag varint (records), up to 10 bytes.
    fn varint(&mut self) -> Result<i64, String> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift.min(63);
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err("a varint longer than 10 bytes".to_owned())
    }

    /// Varint-length bytes (a record's key, value, header key or value); -1 is null.
    fn varbytes(&mut self) -> Result<(), String> {
        let n = self.varint()?;
        if n < 0 {
            return Ok(());
        }
        self.take(usize::try_from(n).map_err(|_| format!("a length of {n}"))?).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Encodable, StrBytes};
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_owned())
    }

    /// Every served request, with one element in each array, encoded by the crate at every
    /// served version, passes the check; cut short by a byte, it fails.
    #[test]
    fn every_served_request_version_passes_and_truncations_fail() {
        let mut produce = ProduceRequest::default();
        let mut topic = produce_request::TopicProduceData::default();
        topic.name = TopicName(s("orders"));
        let mut partition = produce_request::PartitionProduceData::default();
        partition.records = Some(Bytes::from_static(b"xyz"));
        topic.partition_data.push(partition);
        produce.topic_data.push(topic);
        let mut fetch = FetchRequest::default();
        let mut fetch_topic = fetch_request::FetchTopic::default();
        fetch_topic.topic = TopicName(s("orders"));
        fetch_topic.partitions.push(fetch_request::FetchPartition::default());
        fetch.topics.push(fetch_topic);
        let mut forgotten = fetch_request::ForgottenTopic::default();
        forgotten.topic = TopicName(s("old"));
        forgotten.partitions = vec![1, 2];
        fetch.forgotten_topics_data.push(forgotten);
        let mut list = ListOffsetsRequest::default();
        let mut list_topic = list_offsets_request::ListOffsetsTopic::default();
        list_topic.partitions.push(list_offsets_request::ListOffsetsPartition::default());
        list.topics.push(list_topic);
        let mut metadata = MetadataRequest::default();
        let mut wanted = metadata_request::MetadataRequestTopic::default();
        wanted.name = Some(TopicName(s("orders")));
        metadata.topics = Some(vec![wanted]);
        let mut commit = OffsetCommitRequest::default();
        let mut commit_topic = offset_commit_request::OffsetCommitRequestTopic::default();
        commit_topic.partitions.push(offset_commit_request::OffsetCommitRequestPartition::default());
        commit.topics.push(commit_topic);
        let mut offsets = OffsetFetchRequest::default();
        let mut offsets_topic = offset_fetch_request::OffsetFetchRequestTopic::default();
        offsets_topic.partition_indexes = vec![0, 1];
        offsets.topics = Some(vec![offsets_topic]);
        let mut coordinator = FindCoordinatorRequest::default();
        coordinator.coordinator_keys = vec![s("g")];
        let mut join = JoinGroupRequest::default();
        let mut protocol = join_group_request::JoinGroupRequestProtocol::default();
        protocol.metadata = Bytes::from_static(b"meta");
        join.protocols.push(protocol);
        let mut leave = LeaveGroupRequest::default();
        leave.members.push(leave_group_request::MemberIdentity::default());
        let mut sync = SyncGroupRequest::default();
        sync.assignments.push(sync_group_request::SyncGroupRequestAssignment::default());

        fn each<M: Encodable>(api: ApiKey, message: &M) {
            let (_, min, max) = super::super::APIS.iter().find(|(k, _, _)| *k == api).copied().unwrap();
            for version in min..=max {
                let mut buf = BytesMut::new();
                if message.encode(&mut buf, version).is_err() {
                    // A field this version lacks was set: encode the defaults instead.
                    continue;
                }
                assert_eq!(check_request(api, version, &buf), Ok(()), "{api:?} v{version}");
                assert!(check_request(api, version, &buf[..buf.len() - 1]).is_err(), "{api:?} v{version} cut");
            }
        }
        each(ApiKey::Produce, &produce);
        each(ApiKey::Fetch, &fetch);
        each(ApiKey::ListOffsets, &list);
        each(ApiKey::Metadata, &metadata);
        each(ApiKey::OffsetCommit, &commit);
        each(ApiKey::OffsetFetch, &offsets);
        each(ApiKey::FindCoordinator, &coordinator);
        each(ApiKey::FindCoordinator, &FindCoordinatorRequest::default());
        each(ApiKey::JoinGroup, &join);
        each(ApiKey::Heartbeat, &HeartbeatRequest::default());
        each(ApiKey::LeaveGroup, &leave);
        each(ApiKey::LeaveGroup, &LeaveGroupRequest::default());
        each(ApiKey::SyncGroup, &sync);
        each(ApiKey::InitProducerId, &InitProducerIdRequest::default());
    }

    #[test]
    fn record_batches_pass_and_lying_header_counts_fail() {
        let mut headers = kafka_protocol::indexmap::IndexMap::new();
        headers.insert(s("h"), Some(Bytes::from_static(b"v")));
        let record = Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: 1,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"value")),
            headers,
        };
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions { version: 2, compression: Compression::None };
        RecordBatchEncoder::encode(&mut buf, [&record, &record], &options).unwrap();
        assert_eq!(check_records(&buf), Ok(()));
        assert!(check_records(&buf[..buf.len() - 1]).is_err());
        // The last record's header count (1) becomes 64 (zigzag 0x80 0x01 would be longer; 0x7e is 63).
        let mut lying = buf.to_vec();
        let at = lying.len() - 1 - 2 - 1 - 1;
        assert_eq!(lying[at], 2, "the zigzag header count of 1");
        lying[at] = 0x7e;
        assert!(check_records(&lying).is_err());
    }

    #[test]
    fn huge_counts_are_refused_and_real_ones_pass() {
        // Metadata v1: topics array claiming 2^31-1 entries.
        assert!(check_request(ApiKey::Metadata, 1, &[0x7f, 0xff, 0xff, 0xff]).is_err());
        // Metadata v1: one topic "ab"; v9 (flexible): one topic, no tags.
        assert!(check_request(ApiKey::Metadata, 1, &[0, 0, 0, 1, 0, 2, b'a', b'b']).is_ok());
        assert!(check_request(ApiKey::Metadata, 9, &[2, 3, b'a', b'b', 0, 1, 0, 0, 0]).is_ok());
        assert!(check_request(ApiKey::Metadata, 9, &[0xff, 0xff, 0xff, 0xff, 0x07]).is_err());
        // Heartbeat v0 with a string running past the end.
        assert!(check_request(ApiKey::Heartbeat, 0, &[0, 9, b'g']).is_err());
    }
}
