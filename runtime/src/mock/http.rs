//! The HTTP mock: answers from the route table ([`super::routes`] has the matching rules), then
//! (with `openapi=`) from the document's operations ([`super::openapi`]: derived responses,
//! overrides, request validation answered 400); nothing matches → the mock's `default`, else
//! 404 with a JSON error. A `dynamic(fn)` route calls
//! the [`DynamicHandler`] on a blocking thread (the runtime's handler runs Starlark). A response
//! kind HTTP cannot send (gRPC replies, `MockResponse::Other`) answers 501.
//!
//! Events: one `mock_request` per request: `method`, `path`, `query`, `status`, `interface`,
//! `route` (the matched key, or null when the default or the 404 answered; an operation's
//! `"METHOD /template"`), with `openapi=` also `operation` (the operationId, or null) and
//! `validate_error` when the request breaks the document, and `error` when
//! the answer is an error of the mock itself (a dynamic handler that panicked or answered an
//! invalid status, an unsupported response kind, reply headers that had to be left out).
//!
//! Every HTTP interface (`http` and `http2`) serves HTTP/1.1 and cleartext HTTP/2 with prior
//! knowledge (h2c: the connection opens with the HTTP/2 preface), told apart per connection.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, LOCATION};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use ospecc_schema::plan::topology::{MockOpenApi, MockResponse};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::openapi::Api;
use super::routes::Table;
use super::{stopped, DynamicHandler, MockContext, MockRequest, ProtocolMock, Serving};
use crate::events::EventLog;

/// The largest request body read; a larger one is answered 413.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Parses the routes and prepares every static answer.
pub fn build(cx: MockContext) -> Result<Arc<dyn ProtocolMock>, String> {
    let mut prepared = Vec::with_capacity(cx.routes.len());
    for route in &cx.routes {
        let answer = Answer::prepare(&route.response)
            .map_err(|reason| format!("the response of route `{}` cannot be sent: {reason}", route.key))?;
        prepared.push((route.key.clone(), answer));
    }
    let table =
        Table::new(prepared).map_err(|(key, reason)| format!("route `{key}` is not an HTTP route: {reason}"))?;
    let default = match &cx.default {
        None => None,
        Some(response) => {
            Some(Answer::prepare(response).map_err(|reason| format!("the default response cannot be sent: {reason}"))?)
        }
    };
    let openapi = match &cx.openapi {
        None => None,
        Some((path, config)) => Some(Operations::prepare(path, config, &cx.service)?),
    };
    Ok(Arc::new(Mock {
        service: cx.service,
        interface: cx.interface.into(),
        table,
        default,
        openapi,
        handler: cx.handler,
        events: cx.events,
    }))
}

/// The operations of an `openapi=` document with their answers, checked at start.
struct Operations {
    api: Api,
    /// One per operation of `api`, in its order.
    answers: Vec<Answer>,
}

impl Operations {
    fn prepare(path: &std::path::Path, config: &MockOpenApi, service: &str) -> Result<Operations, String> {
        let api = Api::load(path, config, service)?;
        let answers = api
            .operations()
            .iter()
            .map(|op| {
                Answer::prepare(&op.response)
                    .map_err(|reason| format!("the response of operation `{}` cannot be sent: {reason}", op.key))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Operations { api, answers })
    }
}

impl ProtocolMock for Mock {
    fn serve(self: Arc<Self>, stream: TcpStream, mut stop: watch::Receiver<bool>) -> Serving {
        Box::pin(async move {
            let mock = self;
            let reporter = Arc::clone(&mock);
            let service = hyper::service::service_fn(move |request| {
                let mock = Arc::clone(&mock);
                async move { Ok::<_, Infallible>(answer(&mock, request).await) }
            });
            // HTTP/1.1, or HTTP/2 when the connection opens with its preface (h2c, prior knowledge).
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        reporter.broken_connection(error.as_ref());
                    }
                }
                _ = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        })
    }
}

impl Mock {
    /// A peer that spoke no HTTP, or stopped mid-message: one `mock_error` event (the
    /// connection is already closed; others are served on). A peer that merely hung up is no
    /// error.
    fn broken_connection(&self, error: &(dyn std::error::Error + Send + Sync + 'static)) {
        let broken = error.downcast_ref::<hyper::Error>().is_some_and(|e| {
            e.is_parse() || e.is_parse_too_large() || e.is_incomplete_message() || e.is_parse_status()
        });
        if broken {
            let mut fields = BTreeMap::new();
            fields.insert("interface".to_owned(), json!(&*self.interface));
            fields.insert("error".to_owned(), json!(error.to_string()));
            self.events.push(&self.service, "mock_error", fields);
        }
    }
}

/// One interface's routes and what it reports to.
struct Mock {
    service: String,
    interface: Arc<str>,
    table: Table<Answer>,
    default: Option<Answer>,
    openapi: Option<Operations>,
    handler: Arc<dyn DynamicHandler>,
    events: EventLog,
}

/// A response ready to send, checked when the mock starts.
#[derive(Debug, Clone)]
enum Answer {
    Static { status: StatusCode, headers: Vec<(HeaderName, HeaderValue)>, body: Bytes },
    Dynamic { callable: String },
    Unsupported { builtin: String },
}

impl Answer {
    fn prepare(response: &MockResponse) -> Result<Answer, String> {
        let fixed = |status: u16, default_type: Option<&'static str>, headers: &[(String, String)], body: Bytes| {
            let status = status_code(status)?;
            let mut list = header_list(headers)?;
            if let Some(content_type) = default_type {
                if !list.iter().any(|(name, _)| name == CONTENT_TYPE) {
                    list.push((CONTENT_TYPE, HeaderValue::from_static(content_type)));
                }
            }
            Ok(Answer::Static { status, headers: list, body })
        };
        match response {
            MockResponse::Json { status, body, headers } => {
                fixed(*status, Some("application/json"), headers, Bytes::from(body.to_string()))
            }
            MockResponse::Text { status, body, headers } => {
                fixed(*status, Some("text/plain; charset=utf-8"), headers, Bytes::from(body.clone()))
            }
            MockResponse::Status { status } => fixed(*status, None, &[], Bytes::new()),
            MockResponse::Redirect { location, status } => {
                fixed(*status, None, &[(LOCATION.as_str().to_owned(), location.clone())], Bytes::new())
            }
            MockResponse::Dynamic { callable } => Ok(Answer::Dynamic { callable: callable.id.clone() }),
            MockResponse::Bytes { status, data } => fixed(*status, None, &[], Bytes::from(data.clone())),
            MockResponse::Grpc { .. } => Ok(Answer::Unsupported { builtin: "grpc_response".to_owned() }),
            MockResponse::GrpcRaw { .. } => Ok(Answer::Unsupported { builtin: "grpc_raw_response".to_owned() }),
            MockResponse::GrpcError { .. } => Ok(Answer::Unsupported { builtin: "grpc_error".to_owned() }),
            MockResponse::Other { builtin } => Ok(Answer::Unsupported { builtin: builtin.clone() }),
        }
    }
}

fn status_code(status: u16) -> Result<StatusCode, String> {
    StatusCode::from_u16(status).ok().filter(|_| status >= 100).ok_or_else(|| format!("{status} is not an HTTP status"))
}

fn header_list(headers: &[(String, String)]) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("`{name}` is not a header name"))?;
            let value =
                HeaderValue::from_str(value).map_err(|_| format!("the value of header `{name}` is not valid"))?;
            Ok((name, value))
        })
        .collect()
}

/// Answers one request and records it.
async fn answer(mock: &Mock, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    // Routes first, then the document's operations, then the default.
    let operation = mock.openapi.as_ref().and_then(|o| o.api.find(&method, &path).map(|(i, params)| (o, i, params)));
    let found = mock.table.find(&method, &path);
    let (route, chosen) = match (found, &operation) {
        (Some((key, answer)), _) => (Some(key.to_owned()), Some(answer)),
        (None, Some((ops, index, _))) => (Some(ops.api.operations()[*index].key.clone()), ops.answers.get(*index)),
        (None, None) => (None, mock.default.as_ref()),
    };

    let mut fields = BTreeMap::new();
    let (response, error) =
        respond(mock, chosen, operation.as_ref(), &mut fields, request, &method, &path, &query).await;

    fields.insert("method".to_owned(), json!(method));
    fields.insert("path".to_owned(), json!(path));
    fields.insert("query".to_owned(), json!(query));
    fields.insert("status".to_owned(), json!(response.status().as_u16()));
    fields.insert("interface".to_owned(), json!(&*mock.interface));
    fields.insert("route".to_owned(), json!(route));
    if let Some(ops) = &mock.openapi {
        let id = operation.as_ref().and_then(|(_, index, _)| ops.api.operations()[*index].operation_id.clone());
        fields.insert("operation".to_owned(), json!(id));
    }
    if let Some(error) = error {
        fields.insert("error".to_owned(), json!(error));
    }
    mock.events.push(&mock.service, "mock_request", fields);
    response
}

/// An `openapi=` operation a request matched: the operations, its index, its path parameters.
type Matched<'a> = (&'a Operations, usize, BTreeMap<String, String>);

/// The response to one request (and the mock's own error, if any), after the document's
/// request checks when `validate=` asks for them (their failures go in `fields`).
#[allow(clippy::too_many_arguments)]
async fn respond(
    mock: &Mock,
    chosen: Option<&Answer>,
    operation: Option<&Matched<'_>>,
    fields: &mut BTreeMap<String, serde_json::Value>,
    request: Request<Incoming>,
    method: &str,
    path: &str,
    query: &str,
) -> (Response<Full<Bytes>>, Option<String>) {
    let checked = operation.filter(|(ops, _, _)| ops.api.checks_requests().0);
    let dynamic = match chosen {
        Some(Answer::Dynamic { callable }) => Some(callable),
        _ => None,
    };
    let read = if checked.is_some() || dynamic.is_some() {
        match read_request(request, method, path, query).await {
            Ok(read) => Some(read),
            Err(failed) => return failed,
        }
    } else {
        None
    };
    if let (Some((ops, index, params)), Some(read)) = (checked, &read) {
        let failures = ops.api.check(*index, params, read);
        if !failures.is_empty() {
            fields.insert("validate_error".to_owned(), json!(failures.join("; ")));
            if ops.api.checks_requests().1 {
                return (problem(&ops.api.operations()[*index].key, &failures), None);
            }
        }
    }
    match (chosen, read) {
        (None, _) => (json_error(StatusCode::NOT_FOUND, &format!("no route for {method} {path}")), None),
        (Some(Answer::Static { status, headers, body }), _) => {
            let mut response = Response::new(Full::new(body.clone()));
            *response.status_mut() = *status;
            for (name, value) in headers {
                response.headers_mut().append(name.clone(), value.clone());
            }
            (response, None)
        }
        (Some(Answer::Unsupported { builtin }), _) => {
            let message = format!("`{builtin}` responses are not supported by HTTP mocks");
            (json_error(StatusCode::NOT_IMPLEMENTED, &message), Some(message))
        }
        (Some(Answer::Dynamic { callable }), Some(read)) => self::dynamic(mock, callable, read).await,
        (Some(Answer::Dynamic { callable }), None) => {
            let message = format!("the request for the dynamic handler `{callable}` was not read");
            (json_error(StatusCode::INTERNAL_SERVER_ERROR, &message), Some(message))
        }
    }
}

/// A 400 naming why the request breaks the operation's contract.
fn problem(operation: &str, failures: &[String]) -> Response<Full<Bytes>> {
    let body = json!({
        "error": format!("request validation failed: {}", failures.join("; ")),
        "title": "request validation failed",
        "status": 400,
        "operation": operation,
        "errors": failures,
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

/// Reads the request's headers and body (`Err` is the answer when the body cannot be read).
async fn read_request(
    request: Request<Incoming>,
    method: &str,
    path: &str,
    query: &str,
) -> Result<MockRequest, (Response<Full<Bytes>>, Option<String>)> {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(e) => {
            let too_large = e.downcast_ref::<http_body_util::LengthLimitError>().is_some();
            let (status, message) = if too_large {
                (StatusCode::PAYLOAD_TOO_LARGE, format!("the request body exceeds {MAX_BODY_BYTES} bytes"))
            } else {
                (StatusCode::BAD_REQUEST, format!("the request body could not be read: {e}"))
            };
            return Err((json_error(status, &message), Some(message)));
        }
    };
    Ok(MockRequest { method: method.to_owned(), path: path.to_owned(), query: query.to_owned(), headers, body })
}

/// Runs the handler on a blocking thread, and builds its reply.
async fn dynamic(mock: &Mock, callable: &str, request: MockRequest) -> (Response<Full<Bytes>>, Option<String>) {
    let handler = Arc::clone(&mock.handler);
    let id = callable.to_owned();
    let reply = match tokio::task::spawn_blocking(move || handler.respond(&id, &request)).await {
        Ok(reply) => reply,
        Err(_) => {
            let message = format!("the dynamic handler `{callable}` failed (panicked)");
            return (json_error(StatusCode::INTERNAL_SERVER_ERROR, &message), Some(message));
        }
    };
    let status = match status_code(reply.status) {
        Ok(status) => status,
        Err(reason) => {
            let message = format!("the dynamic handler `{callable}` answered an invalid status: {reason}");
            return (json_error(StatusCode::INTERNAL_SERVER_ERROR, &message), Some(message));
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = status;
    let mut skipped = Vec::new();
    for (name, value) in &reply.headers {
        match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => skipped.push(name.clone()),
        }
    }
    let error = (!skipped.is_empty()).then(|| format!("invalid headers left out: {}", skipped.join(", ")));
    (response, error)
}

fn json_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(json!({ "error": message }).to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
