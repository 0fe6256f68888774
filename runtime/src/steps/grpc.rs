//! gRPC steps: `call(method="/pkg.Service/Method", body=?, metadata=?)`, one unary call over
//! cleartext HTTP/2 (prior knowledge). `body` is a dict or a JSON object text (sent as a
//! `google.protobuf.Struct`, the JSON-shaped message the mocks speak), empty or `"{}"` (an empty
//! message, valid for every type), or any other text (sent verbatim as message bytes, as
//! Faultbox does). `metadata` is a dict of request headers.
//!
//! The result: `status` is the gRPC code (0 OK), `ok` is code 0, `error` is `NAME: message`
//! otherwise; `data` is the reply decoded as a dict when it is a Struct, else Faultbox's
//! `{"method": ..., "raw": ...}` (the bytes as text); `body` is `data` as JSON text.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, TE};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};

use super::response::Response;
use super::{string_map, Target};
use crate::mock::grpc::{codec, wire};
use ospecc_compiler::topology::run::Args;

/// What a unary call came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u32,
    pub message: String,
    /// The response message, when the server sent one.
    pub body: Option<Vec<u8>>,
}

pub fn call(target: &Target, method: &str, args: &Args) -> Option<Response> {
    if method != "call" {
        return None;
    }
    let started = Instant::now();
    let ms = || started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    let Some(rpc) = super::text_arg(args, "method").filter(|m| !m.is_empty()) else {
        return Some(Response::failed("`call` needs `method=` (`/pkg.Service/Method`)".into(), 0));
    };
    let message = match args.named("body") {
        None => Ok(Vec::new()),
        Some(value) => match value.unpack_str() {
            Some(text) => request_message(text),
            None => value
                .to_json_value()
                .map_err(|e| format!("`body=` has no JSON form: {e}"))
                .and_then(|json| codec::encode_struct(&json)),
        },
    };
    let message = match message {
        Ok(message) => message,
        Err(why) => return Some(Response::failed(why, ms())),
    };
    let metadata: Vec<(String, String)> = string_map(args, "metadata").into_iter().collect();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return Some(Response::failed(format!("no runtime for the call: {e}"), ms())),
    };
    let reply = runtime.block_on(unary(target.address, &rpc, &message, &metadata, target.timeout));
    Some(match reply {
        Ok(reply) => response(&rpc, reply, ms()),
        Err(e) => Response::failed(e, ms()),
    })
}

/// A request message from `body=` text: a JSON object is a Struct, empty text an empty
/// message, anything else its own bytes.
fn request_message(text: &str) -> Result<Vec<u8>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(json) if json.is_object() => codec::encode_struct(&json),
        _ => Ok(text.as_bytes().to_vec()),
    }
}

fn response(method: &str, reply: Reply, duration_ms: i32) -> Response {
    let bytes = reply.body.unwrap_or_default();
    let data = codec::decode_struct(&bytes)
        .unwrap_or_else(|| json!({ "method": method, "raw": String::from_utf8_lossy(&bytes) }));
    let ok = reply.code == wire::OK;
    let error = if ok { String::new() } else { format!("{}: {}", wire::code_name(reply.code), reply.message) };
    Response {
        status: i32::try_from(reply.code).unwrap_or(i32::MAX),
        body: data.to_string(),
        data: Some(data),
        ok,
        error,
        duration_ms,
    }
}

/// One unary call on a new h2c connection, bounded by `timeout`.
pub async fn unary(
    address: SocketAddr,
    method: &str,
    message: &[u8],
    metadata: &[(String, String)],
    timeout: Duration,
) -> Result<Reply, String> {
    match tokio::time::timeout(timeout, exchange(address, method, message, metadata)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer from {address} within {} ms", timeout.as_millis())),
    }
}

async fn exchange(
    address: SocketAddr,
    method: &str,
    message: &[u8],
    metadata: &[(String, String)],
) -> Result<Reply, String> {
    let stream = tokio::net::TcpStream::connect(address).await.map_err(|e| format!("connect {address}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP/2 handshake with {address}: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut request = Request::post(format!("http://{address}{method}"))
        .body(Full::new(wire::frame(message)))
        .map_err(|e| format!("`{method}` is not a method path: {e}"))?;
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(TE, HeaderValue::from_static("trailers"));
    for (name, value) in metadata {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("`{name}` is not a metadata key"))?;
        let value = HeaderValue::from_str(value).map_err(|_| format!("the metadata `{name}` is not a header value"))?;
        headers.append(name, value);
    }
    let result = async {
        let response = sender.send_request(request).await.map_err(|e| format!("`{method}`: {e}"))?;
        let status = response.status();
        let (parts, body) = response.into_parts();
        let collected = body.collect().await.map_err(|e| format!("`{method}`: reading the reply: {e}"))?;
        let trailers = collected.trailers().cloned();
        let bytes: Bytes = collected.to_bytes();
        if status != hyper::StatusCode::OK {
            return Ok(Reply {
                code: wire::code_of_http(status.as_u16()),
                message: format!("HTTP {status}"),
                body: None,
            });
        }
        let (code, message) = trailers
            .as_ref()
            .and_then(wire::status_of)
            .or_else(|| wire::status_of(&parts.headers))
            .ok_or_else(|| format!("`{method}`: the reply has no grpc-status"))?;
        let body = match wire::unframe_all(&bytes) {
            Ok(mut messages) => (!messages.is_empty()).then(|| messages.swap_remove(0)),
            Err(e) => return Err(format!("`{method}`: a malformed reply: {e:?}")),
        };
        Ok(Reply { code, message, body })
    }
    .await;
    driver.abort();
    result
}
