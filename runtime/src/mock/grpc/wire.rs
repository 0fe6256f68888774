//! gRPC over HTTP/2, the parts every gRPC piece here shares (the mock, the `grpc.call` step, the
//! fault proxy): length-prefixed messages, status codes by name, `grpc-message` percent
//! encoding, and a response body that ends with the status trailers.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Bytes, Frame};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

/// The canonical status codes, in code order (index = code).
pub const CODES: &[&str] = &[
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

pub const OK: u32 = 0;
pub const UNKNOWN: u32 = 2;
pub const UNIMPLEMENTED: u32 = 12;
pub const INTERNAL: u32 = 13;
pub const UNAVAILABLE: u32 = 14;
pub const RESOURCE_EXHAUSTED: u32 = 8;

/// The numeric code of a canonical name (`UNAVAILABLE` → 14).
pub fn code_of_name(name: &str) -> Option<u32> {
    CODES.iter().position(|c| c.eq_ignore_ascii_case(name)).and_then(|i| u32::try_from(i).ok())
}

/// The canonical name of a code, `CODE_<n>` outside the table.
pub fn code_name(code: u32) -> String {
    usize::try_from(code).ok().and_then(|i| CODES.get(i)).map_or_else(|| format!("CODE_{code}"), |c| (*c).to_owned())
}

/// The gRPC code a non-200 HTTP status means (the gRPC spec's HTTP-to-gRPC mapping).
pub fn code_of_http(status: u16) -> u32 {
    const TABLE: &[(u16, u32)] =
        &[(400, 13), (401, 16), (403, 7), (404, 12), (429, 14), (502, 14), (503, 14), (504, 14)];
    TABLE.iter().find(|(s, _)| *s == status).map_or(UNKNOWN, |(_, c)| *c)
}

/// One message with its 5-byte prefix (uncompressed).
pub fn frame(message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(message.len() + 5);
    out.push(0);
    out.extend_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(message);
    Bytes::from(out)
}

/// Why a body is not the single message of a unary call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unframe {
    /// The compressed flag is set (this side never negotiates compression).
    Compressed,
    /// Fewer bytes than the prefix announces, or an unknown flag, or trailing bytes.
    Malformed(String),
}

/// The messages of a body, each without its prefix.
pub fn unframe_all(mut body: &[u8]) -> Result<Vec<Vec<u8>>, Unframe> {
    let mut messages = Vec::new();
    while !body.is_empty() {
        let Some((&flag, rest)) = body.split_first() else { break };
        let Some(length) = rest.get(..4) else {
            return Err(Unframe::Malformed(format!("a message prefix of {} bytes (5 expected)", body.len())));
        };
        let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
        match flag {
            0 => {}
            1 => return Err(Unframe::Compressed),
            other => return Err(Unframe::Malformed(format!("message flag {other} (0 or 1 expected)"))),
        }
        let Some(message) = rest.get(4..4 + length) else {
            return Err(Unframe::Malformed(format!(
                "a message announces {length} bytes, {} follow",
                rest.len().saturating_sub(4)
            )));
        };
        messages.push(message.to_vec());
        body = &rest[4 + length..];
    }
    Ok(messages)
}

/// The one message of a unary request.
pub fn unframe_one(body: &[u8]) -> Result<Vec<u8>, Unframe> {
    let mut messages = unframe_all(body)?;
    match messages.len() {
        1 => Ok(messages.remove(0)),
        n => Err(Unframe::Malformed(format!("{n} messages in a unary call (1 expected)"))),
    }
}

/// `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The text of a `grpc-message` value (bad escapes are kept as written).
pub fn percent_decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let escaped = text
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (text[i], escaped) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status trailers (`grpc-status`, and `grpc-message` when there is one).
pub fn status_trailers(code: u32, message: &str) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert(HeaderName::from_static("grpc-status"), HeaderValue::from(code));
    if !message.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&percent_encode(message)) {
            trailers.insert(HeaderName::from_static("grpc-message"), value);
        }
    }
    trailers
}

/// The code and message of a header map that has `grpc-status` (trailers, or the headers of a
/// trailers-only response).
pub fn status_of(headers: &HeaderMap) -> Option<(u32, String)> {
    let code = headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()?;
    let message = headers.get("grpc-message").map(|m| percent_decode(m.as_bytes())).unwrap_or_default();
    Some((code, message))
}

/// A unary response body: the message (if any) as one data frame, then the status trailers.
pub struct UnaryBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl UnaryBody {
    pub fn new(message: Option<&[u8]>, code: u32, status_message: &str) -> UnaryBody {
        UnaryBody { data: message.map(frame), trailers: Some(status_trailers(code, status_message)) }
    }
}

impl hyper::body::Body for UnaryBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_frames_are_named() {
        let framed = frame(b"abc");
        assert_eq!(&framed[..], &[0, 0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(unframe_one(&framed), Ok(b"abc".to_vec()));
        assert_eq!(unframe_one(&[1, 0, 0, 0, 0]), Err(Unframe::Compressed));
        assert!(matches!(unframe_one(&[0, 0, 0, 0, 9, 1]), Err(Unframe::Malformed(_))));
        assert!(matches!(unframe_one(&[0, 0]), Err(Unframe::Malformed(_))));
        assert!(matches!(unframe_one(&[]), Err(Unframe::Malformed(_))));
        assert_eq!(unframe_all(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7]), Ok(vec![vec![], vec![7]]));
    }

    #[test]
    fn codes_and_messages() {
        assert_eq!(code_of_name("unavailable"), Some(14));
        assert_eq!(code_name(12), "UNIMPLEMENTED");
        assert_eq!(code_name(99), "CODE_99");
        assert_eq!(code_of_http(404), UNIMPLEMENTED);
        let encoded = percent_encode("50% down\nnow é");
        assert_eq!(encoded, "50%25 down%0Anow %C3%A9");
        assert_eq!(percent_decode(encoded.as_bytes()), "50% down\nnow é");
        assert_eq!(percent_decode(b"bad %zz"), "bad %zz");
    }
}
