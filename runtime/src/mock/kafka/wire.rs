//! Kafka framing shared by the mock, the step client and the proxy: 4-byte big-endian length
//! prefixes, request and response headers (their versions come from `kafka-protocol`'s
//! [`ApiKey`] tables), the names of the APIs, and the Java client's default partitioner, so that
//! a keyed message lands on the partition a real producer would choose.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest frame accepted (Kafka's default `socket.request.max.bytes` is 100 MiB).
pub(crate) const MAX_FRAME: usize = 100 << 20;

/// The event name of an API (`produce`, `join_group`, ...), as Faultbox's proxy names them.
pub(crate) fn api_name(key: ApiKey) -> String {
    let debug = format!("{key:?}");
    let mut name = String::with_capacity(debug.len() + 4);
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

/// A frame's length from its 4-byte prefix, refused when negative or over [`MAX_FRAME`].
pub(crate) fn frame_len(prefix: [u8; 4]) -> Result<usize, String> {
    let len = i32::from_be_bytes(prefix);
    match usize::try_from(len) {
        Ok(len) if len <= MAX_FRAME => Ok(len),
        _ => Err(format!("a frame length of {len} bytes (at most {MAX_FRAME})")),
    }
}

/// One frame's body (without its length prefix); `None` at a clean end of stream between
/// frames. `side` names the peer in errors. The body grows as bytes arrive, so a garbage
/// length reserves nothing up front.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R, side: &str) -> Result<Option<Bytes>, String> {
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = reader.read(&mut prefix[got..]).await.map_err(|e| format!("reading {side}: {e}"))?;
        if n == 0 {
            return match got {
                0 => Ok(None),
                _ => Err(format!("{side} closed the connection in the middle of a frame's length")),
            };
        }
        got += n;
    }
    let len = frame_len(prefix).map_err(|e| format!("{side} sent {e}"))?;
    let mut body = Vec::new();
    reader.take(len as u64).read_to_end(&mut body).await.map_err(|e| format!("reading {side}: {e}"))?;
    if body.len() < len {
        return Err(format!("{side} closed the connection in the middle of a frame ({} of {len} bytes)", body.len()));
    }
    Ok(Some(Bytes::from(body)))
}

/// A request frame (length prefix included).
pub(crate) fn request_frame<R: Request>(correlation_id: i32, version: i16, request: &R) -> Result<BytesMut, String> {
    let mut header = RequestHeader::default();
    header.request_api_key = R::KEY;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(StrBytes::from_static_str("ospecc"));
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0; 4]);
    let header_version = R::header_version(version);
    header.encode(&mut buf, header_version).map_err(|e| format!("encoding a request header: {e}"))?;
    request.encode(&mut buf, version).map_err(|e| format!("encoding a request: {e}"))?;
    seal(buf)
}

/// A response frame: length, header (its version depends on the API and version), body.
pub(crate) fn response_frame<M: Encodable>(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &M,
) -> Result<BytesMut, String> {
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0; 4]);
    header
        .encode(&mut buf, key.response_header_version(version))
        .map_err(|e| format!("encoding a response header: {e}"))?;
    body.encode(&mut buf, version).map_err(|e| format!("encoding a response: {e}"))?;
    seal(buf)
}

/// Writes the length prefix of a frame built after a 4-byte placeholder.
fn seal(mut buf: BytesMut) -> Result<BytesMut, String> {
    let len = i32::try_from(buf.len() - 4).map_err(|_| "a frame over 2 GiB".to_owned())?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

/// Splits a response body (frame without its length prefix) into its correlation id and its
/// decoded message.
pub(crate) fn decode_response<R: Request>(mut body: Bytes, version: i16) -> Result<(i32, R::Response), String> {
    let key = ApiKey::try_from(R::KEY).map_err(|_| format!("unknown API key {}", R::KEY))?;
    let header = ResponseHeader::decode(&mut body, key.response_header_version(version))
        .map_err(|e| format!("a malformed response header: {e}"))?;
    let response = R::Response::decode(&mut body, version).map_err(|e| format!("a malformed {key:?} response: {e}"))?;
    Ok((header.correlation_id, response))
}

/// The request header at the front of a request body: the API, its version and the
/// correlation id, read without decoding the rest (the proxy forwards the bytes as they are).
pub(crate) fn peek_header(body: &[u8]) -> Option<(i16, i16, i32)> {
    let mut head = body.get(..8)?;
    Some((head.get_i16(), head.get_i16(), head.get_i32()))
}

/// The Java client's partitioner for keyed messages: murmur2 of the key, made positive,
/// modulo the partition count.
pub(crate) fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    ((murmur2(key) & 0x7fff_ffff) as i32) % partitions
}

/// Kafka's murmur2 (seed 0x9747b28c), as `org.apache.kafka.common.utils.Utils.murmur2`.
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// The number in "... (error code 6) ..." of a fault's message, if it names one.
pub(crate) fn error_code_in(message: &str) -> Option<i16> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find("error code")? + "error code".len();
    let digits: String = lower[at..]
        .trim_start_matches([' ', ':', '='])
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

/// A Kafka error code as `NAME (error code N)`.
pub(crate) fn describe_error(code: i16) -> String {
    match kafka_protocol::ResponseError::try_from_code(code) {
        Some(error) => format!("{error} (error code {code})"),
        None => "no error".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // Values from the Java client's UtilsTest.
        assert_eq!(murmur2(b"21") as i32, -973932308);
        assert_eq!(murmur2(b"foobar") as i32, -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string") as i32, -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32, -58897971);
        assert_eq!(murmur2(b"abc") as i32, 479470107);
        assert!((0..7).contains(&partition_for_key(b"order-1", 7)));
    }

    #[test]
    fn names_error_codes_and_frame_lengths() {
        assert_eq!(api_name(ApiKey::Produce), "produce");
        assert_eq!(api_name(ApiKey::JoinGroup), "join_group");
        assert_eq!(api_name(ApiKey::InitProducerId), "init_producer_id");
        assert_eq!(error_code_in("NotLeaderForPartitionException (error code 6): x"), Some(6));
        assert_eq!(error_code_in("Error Code: 27"), Some(27));
        assert_eq!(error_code_in("broker overloaded"), None);
        assert!(describe_error(6).contains("error code 6"));
        assert!(frame_len([0xff, 0, 0, 0]).is_err());
        assert!(frame_len([0x7f, 0, 0, 0]).is_err());
        assert_eq!(frame_len([0, 0, 1, 0]), Ok(256));
    }
}
