//! The gRPC mock: unary calls over cleartext HTTP/2 (h2c, prior knowledge), answered from the
//! route table keyed by `/pkg.Service/Method` (exact, `/pkg.Service/*` for a whole service,
//! `/**` for everything, as Faultbox matches; exact keys win). No route → the mock's
//! `default`, else UNIMPLEMENTED; `/grpc.health.v1.Health/Check` answers SERVING unless routed.
//!
//! Replies: `grpc_response` (the body as `google.protobuf.Struct`), `grpc_typed_response` (the
//! method's output type from `descriptors=`, encoded when the mock starts), `grpc_raw_response`
//! (the bytes as given), `grpc_error` (the status trailers), and `dynamic(fn)`: the handler gets
//! the request with its message as a dict (typed when the descriptors know the input type,
//! else a Struct when it is one) and answers any of those builtins (see [`reply_of`]).
//!
//! Events: one `mock_request` per call (`interface`, `method`, `code`, `route`, and `error`
//! when the mock itself could not answer as routed); a peer that is not speaking HTTP/2 gets
//! one `mock_error` and its connection is closed.

pub mod codec;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use ospecc_schema::plan::topology::MockResponse;
use prost_reflect::MethodDescriptor;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{stopped, DynamicHandler, MockContext, MockReply, MockRequest, ProtocolMock, Serving};
use crate::events::EventLog;
use codec::Descriptors;
use wire::UnaryBody;

/// What an HTTP/2 connection opens with.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long a connection that started the HTTP/2 preface may take to finish it.
const PREFACE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// The largest request message read; a larger one is answered RESOURCE_EXHAUSTED.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// The health service's method, answered SERVING unless a route says otherwise.
const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
/// `HealthCheckResponse { status: SERVING }`.
const SERVING: &[u8] = &[0x08, 0x01];
/// A dynamic handler's reply of pre-encoded message bytes.
pub const RAW_CONTENT_TYPE: &str = "application/grpc+raw";

/// Loads the descriptors, then checks and encodes every static reply.
pub fn build(cx: MockContext) -> Result<Arc<dyn ProtocolMock>, String> {
    let descriptors = cx.descriptors.as_deref().map(Descriptors::load).transpose()?;
    let mut exact = BTreeMap::new();
    let mut patterns = Vec::new();
    for route in &cx.routes {
        let key = route.key.as_str();
        if !key.starts_with('/') {
            return Err(format!("route `{key}` is not a gRPC method path (`/pkg.Service/Method`)"));
        }
        let pattern = key == "/**" || key.ends_with("/*");
        let method = if pattern { None } else { Some(key) };
        let answer = Answer::prepare(&route.response, method, descriptors.as_ref())
            .map_err(|reason| format!("route `{key}`: {reason}"))?;
        if pattern {
            patterns.push((key.to_owned(), answer));
        } else {
            exact.insert(key.to_owned(), answer);
        }
    }
    let default = cx
        .default
        .as_ref()
        .map(|response| Answer::prepare(response, None, descriptors.as_ref()))
        .transpose()
        .map_err(|reason| format!("the default response: {reason}"))?;
    Ok(Arc::new(Mock {
        service: cx.service,
        interface: cx.interface,
        exact,
        patterns,
        default,
        descriptors,
        handler: cx.handler,
        events: cx.events,
    }))
}

/// One interface's routes and what it reports to.
struct Mock {
    service: String,
    interface: String,
    exact: BTreeMap<String, Answer>,
    /// `/pkg.Service/*` and `/**` keys, in the plan's order.
    patterns: Vec<(String, Answer)>,
    default: Option<Answer>,
    descriptors: Option<Descriptors>,
    handler: Arc<dyn DynamicHandler>,
    events: EventLog,
}

/// A reply ready to send.
#[derive(Debug, Clone)]
enum Answer {
    Message(Vec<u8>),
    /// A typed body for a route whose method is known only per call (pattern keys, default).
    Typed(Value),
    Status {
        code: u32,
        message: String,
    },
    Dynamic {
        callable: String,
    },
}

impl Answer {
    /// `method` is the route's exact method (typed bodies are encoded now when it is known).
    fn prepare(
        response: &MockResponse,
        method: Option<&str>,
        descriptors: Option<&Descriptors>,
    ) -> Result<Answer, String> {
        Ok(match response {
            MockResponse::Grpc { body, typed: false } => Answer::Message(codec::encode_struct(body)?),
            MockResponse::Grpc { body, typed: true } => {
                let descriptors = descriptors.ok_or("`grpc_typed_response` needs the mock's `descriptors=`")?;
                match method {
                    Some(method) => Answer::Message(codec::encode(&output_type(descriptors, method)?, body)?),
                    None => Answer::Typed(body.clone()),
                }
            }
            MockResponse::GrpcRaw { body } => Answer::Message(body.as_bytes().to_vec()),
            MockResponse::GrpcError { code, message } => {
                if usize::try_from(*code).map_or(true, |c| c >= wire::CODES.len()) {
                    return Err(format!("{code} is not a gRPC status code (0-16)"));
                }
                Answer::Status { code: *code, message: message.clone() }
            }
            MockResponse::Dynamic { callable } => Answer::Dynamic { callable: callable.id.clone() },
            other => {
                return Err(format!(
                    "a gRPC mock answers grpc_response, grpc_typed_response, grpc_raw_response, grpc_error or \
                     dynamic, not {}",
                    kind(other)
                ))
            }
        })
    }
}

fn kind(response: &MockResponse) -> String {
    match response {
        MockResponse::Json { .. } => "json_response".into(),
        MockResponse::Text { .. } => "text_response".into(),
        MockResponse::Status { .. } => "status_only".into(),
        MockResponse::Redirect { .. } => "redirect".into(),
        MockResponse::Bytes { .. } => "bytes_response".into(),
        MockResponse::Other { builtin } => format!("`{builtin}`"),
        _ => "this response".into(),
    }
}

/// The declared output type of `method`, or why the descriptors do not have it.
fn output_type(descriptors: &Descriptors, method: &str) -> Result<prost_reflect::MessageDescriptor, String> {
    descriptors
        .method(method)
        .map(|m| m.output())
        .ok_or_else(|| format!("the method `{method}` is not in the mock's descriptors"))
}

impl ProtocolMock for Mock {
    fn serve(self: Arc<Self>, stream: TcpStream, mut stop: watch::Receiver<bool>) -> Serving {
        Box::pin(async move {
            let mock = self;
            match check_preface(&stream).await {
                Preface::Closed => return,
                Preface::Garbage(why) => {
                    mock.error(why);
                    return;
                }
                Preface::Http2 => {}
            }
            let service = {
                let mock = Arc::clone(&mock);
                hyper::service::service_fn(move |request| {
                    let mock = Arc::clone(&mock);
                    async move { Ok::<_, std::convert::Infallible>(mock.answer(request).await) }
                })
            };
            let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                _ = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = served {
                if !is_hang_up(&error) {
                    mock.error(format!("bad HTTP/2: {error}"));
                }
            }
        })
    }
}

/// How a connection opens.
enum Preface {
    Http2,
    /// Closed before sending a byte (a TCP health check).
    Closed,
    Garbage(String),
}

/// Waits for the first bytes (without consuming them) and compares them with the HTTP/2
/// preface, so that garbage is refused before an HTTP/2 server sees it.
async fn check_preface(stream: &TcpStream) -> Preface {
    let mut head = [0u8; PREFACE.len()];
    let deadline = tokio::time::Instant::now() + PREFACE_TIMEOUT;
    loop {
        let n = match stream.peek(&mut head).await {
            Ok(0) | Err(_) => return Preface::Closed,
            Ok(n) => n,
        };
        if head[..n] != PREFACE[..n] {
            let shown = String::from_utf8_lossy(&head[..n]).escape_debug().to_string();
            return Preface::Garbage(format!(
                "not HTTP/2 with prior knowledge (the connection opened with \"{shown}\")"
            ));
        }
        if n == PREFACE.len() {
            return Preface::Http2;
        }
        if tokio::time::Instant::now() >= deadline {
            return Preface::Garbage(format!("half an HTTP/2 preface ({n} bytes), then silence"));
        }
        // Part of the preface: wait for the rest (peek returns at once while bytes are queued).
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// A peer that went away (or never said anything): not a protocol error. The gRPC proxy asks
/// the same of its consumers.
pub(crate) fn is_hang_up(error: &hyper::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return matches!(io.kind(), ConnectionReset | BrokenPipe | UnexpectedEof | ConnectionAborted);
        }
        source = e.source();
    }
    error.is_canceled() || error.is_closed()
}

/// What one call came to.
struct Outcome {
    code: u32,
    message: String,
    reply: Option<Vec<u8>>,
    route: Option<String>,
    /// The mock's own failure to answer as routed.
    error: Option<String>,
}

impl Outcome {
    fn status(code: u32, message: impl Into<String>) -> Outcome {
        Outcome { code, message: message.into(), reply: None, route: None, error: None }
    }

    fn failed(code: u32, message: String) -> Outcome {
        Outcome { error: Some(message.clone()), ..Outcome::status(code, message) }
    }
}

impl Mock {
    fn error(&self, error: String) {
        let fields =
            BTreeMap::from([("interface".to_owned(), json!(self.interface)), ("error".to_owned(), json!(error))]);
        self.events.push(&self.service, "mock_error", fields);
    }

    /// The route for a method: exact keys first, then patterns in order.
    fn find(&self, method: &str) -> Option<(&str, &Answer)> {
        if let Some((key, answer)) = self.exact.get_key_value(method) {
            return Some((key, answer));
        }
        self.patterns.iter().find(|(key, _)| matches(key, method)).map(|(key, answer)| (key.as_str(), answer))
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<UnaryBody> {
        let method = request.uri().path().to_owned();
        let content_type =
            request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let outcome = if request.method() != hyper::Method::POST || !content_type.starts_with("application/grpc") {
            let why = format!("not a gRPC call: {} with content-type `{content_type}`", request.method());
            Outcome::failed(wire::INTERNAL, why)
        } else {
            self.call(&method, request).await
        };
        let mut fields = BTreeMap::from([
            ("interface".to_owned(), json!(self.interface)),
            ("method".to_owned(), json!(method)),
            ("code".to_owned(), json!(outcome.code)),
            ("route".to_owned(), json!(outcome.route)),
        ]);
        if let Some(error) = &outcome.error {
            fields.insert("error".to_owned(), json!(error));
        }
        self.events.push(&self.service, "mock_request", fields);
        let mut response = Response::new(UnaryBody::new(outcome.reply.as_deref(), outcome.code, &outcome.message));
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        response
    }

    async fn call(&self, method: &str, request: Request<Incoming>) -> Outcome {
        let metadata: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let body = match Limited::new(request.into_body(), MAX_MESSAGE_BYTES + 5).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                return Outcome::failed(
                    wire::RESOURCE_EXHAUSTED,
                    format!("the request exceeds {MAX_MESSAGE_BYTES} bytes"),
                )
            }
            Err(e) => return Outcome::failed(wire::INTERNAL, format!("the request could not be read: {e}")),
        };
        let message = match wire::unframe_one(&body) {
            Ok(message) => message,
            Err(wire::Unframe::Compressed) => {
                return Outcome::failed(
                    wire::UNIMPLEMENTED,
                    "compressed messages are not supported by this mock".into(),
                )
            }
            Err(wire::Unframe::Malformed(why)) => {
                return Outcome::failed(wire::INTERNAL, format!("a malformed request: {why}"))
            }
        };
        let found = self.find(method);
        let route = found.map(|(key, _)| key.to_owned());
        let chosen =
            found.map(|(_, answer)| answer).or(if method == HEALTH_CHECK { None } else { self.default.as_ref() });
        let mut outcome = match chosen {
            None if method == HEALTH_CHECK => {
                Outcome { reply: Some(SERVING.to_vec()), ..Outcome::status(wire::OK, "") }
            }
            None => Outcome::status(wire::UNIMPLEMENTED, format!("mock: no route for {method}")),
            Some(Answer::Message(bytes)) => Outcome { reply: Some(bytes.clone()), ..Outcome::status(wire::OK, "") },
            Some(Answer::Typed(body)) => self.typed(method, body),
            Some(Answer::Status { code, message }) => Outcome::status(*code, message.clone()),
            Some(Answer::Dynamic { callable }) => self.dynamic(callable, method, metadata, message).await,
        };
        outcome.route = route;
        outcome
    }

    /// A typed body for a method known only now.
    fn typed(&self, method: &str, body: &Value) -> Outcome {
        let encoded = self.descriptors.as_ref().ok_or_else(|| "no descriptors".to_owned()).and_then(|d| {
            let output = output_type(d, method)?;
            codec::encode(&output, body)
        });
        match encoded {
            Ok(bytes) => Outcome { reply: Some(bytes), ..Outcome::status(wire::OK, "") },
            Err(why) => Outcome::failed(wire::INTERNAL, format!("mock: {why}")),
        }
    }

    fn method(&self, method: &str) -> Option<MethodDescriptor> {
        self.descriptors.as_ref().and_then(|d| d.method(method))
    }

    /// Calls the handler on a blocking thread with the request as a dict.
    async fn dynamic(
        &self,
        callable: &str,
        method: &str,
        metadata: Vec<(String, String)>,
        message: Vec<u8>,
    ) -> Outcome {
        let descriptor = self.method(method);
        let decoded = match &descriptor {
            Some(m) => codec::decode(&m.input(), &message).ok(),
            None => codec::decode_struct(&message),
        };
        let body = decoded.map_or_else(|| String::from_utf8_lossy(&message).into_owned(), |d| d.to_string());
        let request = MockRequest {
            method: "POST".into(),
            path: method.to_owned(),
            query: String::new(),
            headers: metadata,
            body,
        };
        let handler = Arc::clone(&self.handler);
        let id = callable.to_owned();
        let reply = match tokio::task::spawn_blocking(move || handler.respond(&id, &request)).await {
            Ok(reply) => reply,
            Err(_) => {
                return Outcome::failed(wire::INTERNAL, format!("the dynamic handler `{callable}` failed (panicked)"))
            }
        };
        reply_of(&reply, descriptor.as_ref())
    }
}

/// A dynamic handler's reply as a call's outcome: a `grpc-status` header is a status
/// (`grpc_error`); a 200 JSON body is the message (typed by the method's output type when the
/// descriptors know it, else a Struct); a 200 body of any other type is the message's bytes; any
/// other HTTP status is its gRPC code (the gRPC spec's mapping) with the body as the message.
fn reply_of(reply: &MockReply, method: Option<&MethodDescriptor>) -> Outcome {
    let header = |name: &str| reply.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    if let Some(code) = header("grpc-status") {
        return match code.trim().parse::<u32>().ok().or_else(|| wire::code_of_name(code.trim())) {
            Some(code) => Outcome::status(code, header("grpc-message").unwrap_or_default()),
            None => Outcome::failed(wire::INTERNAL, format!("the dynamic handler answered grpc-status `{code}`")),
        };
    }
    if reply.status != 200 {
        return Outcome::status(wire::code_of_http(reply.status), String::from_utf8_lossy(&reply.body).into_owned());
    }
    if !header("content-type").is_some_and(|t| t.starts_with("application/json")) {
        return Outcome { reply: Some(reply.body.clone()), ..Outcome::status(wire::OK, "") };
    }
    let encoded = serde_json::from_slice::<Value>(&reply.body)
        .map_err(|e| format!("the handler's body is not JSON: {e}"))
        .and_then(|json| match method {
            Some(m) => codec::encode(&m.output(), &json),
            None => codec::encode_struct(&json),
        });
    match encoded {
        Ok(bytes) => Outcome { reply: Some(bytes), ..Outcome::status(wire::OK, "") },
        Err(why) => Outcome::failed(wire::INTERNAL, format!("mock: {why}")),
    }
}

/// Faultbox's route patterns: `/**` matches every method, `/pkg.Service/*` every method of
/// the service.
fn matches(pattern: &str, method: &str) -> bool {
    if pattern == "/**" {
        return true;
    }
    pattern.strip_suffix('*').is_some_and(|prefix| method.len() > prefix.len() && method.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_faultbox() {
        assert!(matches("/**", "/a.B/C"));
        assert!(matches("/a.B/*", "/a.B/C"));
        assert!(!matches("/a.B/*", "/a.B/"));
        assert!(!matches("/a.B/*", "/a.Bc/C"));
    }

    #[test]
    fn handler_replies_become_outcomes() {
        let reply = |status: u16, headers: &[(&str, &str)], body: &[u8]| MockReply {
            status,
            headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
            body: body.to_vec(),
        };
        let error = reply_of(&reply(200, &[("grpc-status", "NOT_FOUND"), ("grpc-message", "gone")], b""), None);
        assert_eq!((error.code, error.message.as_str()), (5, "gone"));
        let json = reply_of(&reply(200, &[("content-type", "application/json")], br#"{"a":1}"#), None);
        assert_eq!(json.code, 0);
        assert_eq!(codec::decode_struct(&json.reply.unwrap()), Some(serde_json::json!({"a": 1.0})));
        let raw = reply_of(&reply(200, &[("content-type", RAW_CONTENT_TYPE)], b"\x08\x2a"), None);
        assert_eq!(raw.reply.as_deref(), Some(&b"\x08\x2a"[..]));
        let http = reply_of(&reply(503, &[], b"down"), None);
        assert_eq!((http.code, http.message.as_str()), (14, "down"));
        let bad = reply_of(&reply(200, &[("content-type", "application/json")], b"[1]"), None);
        assert_eq!(bad.code, 13);
        assert!(bad.error.is_some());
    }
}
