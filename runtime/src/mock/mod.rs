//! In-process mock services (`mock_service(...)`, plan `Launch::Mock`). HTTP only in this
//! version: [`serve`] binds `127.0.0.1:<port>` for each `http`/`http2` interface of the mock
//! and answers from its route table ([`routes`] has the matching rules); no route matches →
//! the mock's `default`, else 404 with a JSON error. A `dynamic(fn)` route calls the
//! [`DynamicHandler`] on a blocking thread (the runtime's handler runs Starlark). A response
//! kind the plan records but does not model (`MockResponse::Other`) answers 501.
//!
//! Events: one `mock_request` per request (service = the mock): `method`, `path`, `query`,
//! `status`, `interface`, `route` (the matched key, or null when the default or the 404
//! answered), and `error` when the answer is an error of the mock itself (a dynamic handler
//! that panicked or answered an invalid status, an unsupported response kind, reply headers
//! that had to be left out).
//!
//! `http2` interfaces are served as HTTP/1.1 (the runtime's hyper has only the `http1`
//! feature): HTTP/1.1 clients, and h2c clients that fall back to it, work; prior-knowledge
//! h2c does not.

mod routes;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, LOCATION};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ospecc_schema::plan::topology::{Launch, MockResponse};
use ospecc_schema::plan::Service;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::events::EventLog;
use routes::Table;

/// Computes the response of a `dynamic(fn)` route. Called on a blocking thread.
pub trait DynamicHandler: Send + Sync {
    /// `callable_id` is the plan's `Callable::id` of the function.
    fn respond(&self, callable_id: &str, request: &MockRequest) -> MockReply;
}

/// A request as a dynamic handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockRequest {
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The query string without `?` (empty when there is none).
    pub query: String,
    /// In the order received; names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
}

/// A dynamic handler's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a mock could not be served.
#[derive(Debug)]
pub enum MockError {
    /// The service is not a mock (its launch is a binary, an image, ...).
    NotAMock { service: String },
    /// The mock has no interface at all.
    NoInterfaces { service: String },
    /// An interface whose protocol has no in-process mock here (only HTTP mocks exist).
    Protocol { service: String, interface: String, protocol: String },
    /// An interface whose port the plan does not know.
    NoPort { service: String, interface: String },
    /// A route key that is not `METHOD /path`.
    Route { service: String, key: String, reason: String },
    /// A static response the plan gives that HTTP cannot send (status, header).
    Response { service: String, route: String, reason: String },
    /// The port could not be bound.
    Bind { service: String, interface: String, address: SocketAddr, error: std::io::Error },
}

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MockError::NotAMock { service } => write!(f, "service `{service}` is not a mock service"),
            MockError::NoInterfaces { service } => write!(f, "mock `{service}` has no interface to serve"),
            MockError::Protocol { service, interface, protocol } => write!(
                f,
                "mock `{service}`: interface `{interface}` speaks `{protocol}`, but only http and http2 mocks \
                 can be served in-process"
            ),
            MockError::NoPort { service, interface } => {
                write!(f, "mock `{service}`: the port of interface `{interface}` is not known")
            }
            MockError::Route { service, key, reason } => {
                write!(f, "mock `{service}`: route `{key}` is not an HTTP route: {reason}")
            }
            MockError::Response { service, route, reason } => {
                write!(f, "mock `{service}`: the response of {route} cannot be sent: {reason}")
            }
            MockError::Bind { service, interface, address, error } => {
                write!(f, "mock `{service}`: cannot listen on {address} (interface `{interface}`): {error}")
            }
        }
    }
}

impl std::error::Error for MockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MockError::Bind { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A running mock: its listeners serve until [`MockHandle::stop`] (or until it is dropped).
pub struct MockHandle {
    service: String,
    addresses: Vec<(String, SocketAddr)>,
    shutdown: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
}

impl fmt::Debug for MockHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockHandle").field("service", &self.service).field("addresses", &self.addresses).finish()
    }
}

impl MockHandle {
    /// The address of the first served interface.
    pub fn address(&self) -> SocketAddr {
        self.addresses[0].1
    }

    /// Every served interface's name and bound address, in the plan's order.
    pub fn addresses(&self) -> &[(String, SocketAddr)] {
        &self.addresses
    }

    /// The mock's service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Stops accepting, lets requests in flight finish (up to [`STOP_GRACE`]), closes every
    /// connection and frees the ports.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for listener in std::mem::take(&mut self.listeners) {
            let _ = listener.await;
        }
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        // Not stopped: end at once (aborting a listener task drops its listener and, through
        // its JoinSet, every connection).
        let _ = self.shutdown.send(true);
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

/// How long [`MockHandle::stop`] waits for requests in flight.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// The largest request body read; a larger one is answered 413.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Serves `service` (a `Launch::Mock`) on 127.0.0.1 at each of its interfaces' ports (port 0
/// binds a free port; [`MockHandle::addresses`] tells which). Every interface is checked and
/// every route parsed before anything is bound.
pub async fn serve(
    service: &Service,
    handler: Arc<dyn DynamicHandler>,
    events: EventLog,
) -> Result<MockHandle, MockError> {
    let Launch::Mock { routes, default } = &service.launch else {
        return Err(MockError::NotAMock { service: service.name.clone() });
    };
    if service.interfaces.is_empty() {
        return Err(MockError::NoInterfaces { service: service.name.clone() });
    }
    let mut ports = Vec::new();
    for iface in &service.interfaces {
        if !matches!(iface.protocol.as_str(), "http" | "http2") {
            return Err(MockError::Protocol {
                service: service.name.clone(),
                interface: iface.name.clone(),
                protocol: iface.protocol.clone(),
            });
        }
        let Some(port) = iface.port else {
            return Err(MockError::NoPort { service: service.name.clone(), interface: iface.name.clone() });
        };
        ports.push((iface.name.clone(), port));
    }
    let mut prepared = Vec::with_capacity(routes.len());
    for route in routes {
        let answer = Answer::prepare(&route.response).map_err(|reason| MockError::Response {
            service: service.name.clone(),
            route: route.key.clone(),
            reason,
        })?;
        prepared.push((route.key.clone(), answer));
    }
    let table = Table::new(prepared).map_err(|(key, reason)| MockError::Route {
        service: service.name.clone(),
        key,
        reason,
    })?;
    let default = match default {
        None => None,
        Some(response) => Some(Answer::prepare(response).map_err(|reason| MockError::Response {
            service: service.name.clone(),
            route: "the default".to_owned(),
            reason,
        })?),
    };
    let mock = Arc::new(Mock { service: service.name.clone(), table, default, handler, events });

    let mut bound = Vec::with_capacity(ports.len());
    for (interface, port) in ports {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        match TcpListener::bind(address).await {
            Ok(listener) => {
                let local = listener.local_addr().unwrap_or(address);
                bound.push((interface, local, listener));
            }
            // Listeners bound so far close as `bound` drops.
            Err(error) => return Err(MockError::Bind { service: service.name.clone(), interface, address, error }),
        }
    }
    let (shutdown, _) = watch::channel(false);
    let mut addresses = Vec::with_capacity(bound.len());
    let mut listeners = Vec::with_capacity(bound.len());
    for (interface, local, listener) in bound {
        addresses.push((interface.clone(), local));
        listeners.push(tokio::spawn(accept_loop(listener, interface, Arc::clone(&mock), shutdown.subscribe())));
    }
    Ok(MockHandle { service: service.name.clone(), addresses, shutdown, listeners })
}

/// One mock's routes and what it reports to.
struct Mock {
    service: String,
    table: Table<Answer>,
    default: Option<Answer>,
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

async fn accept_loop(listener: TcpListener, interface: String, mock: Arc<Mock>, mut shutdown: watch::Receiver<bool>) {
    let interface: Arc<str> = interface.into();
    let stop_connections = shutdown.clone();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors and the like: back off briefly, keep serving.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let mock = Arc::clone(&mock);
                let interface = Arc::clone(&interface);
                let mut stop = stop_connections.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let mock = Arc::clone(&mock);
                        let interface = Arc::clone(&interface);
                        async move { Ok::<_, Infallible>(answer(&mock, &interface, request).await) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        _ = stopped(&mut stop) => {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                        }
                    }
                });
                // Reap finished connections so the set does not grow with the run.
                while connections.try_join_next().is_some() {}
            }
            _ = stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(STOP_GRACE, drained).await.is_err() {
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

/// Resolves once the mock is told to stop (or its handle is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}

/// Answers one request and records it.
async fn answer(mock: &Mock, interface: &str, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let found = mock.table.find(&method, &path);
    let route = found.map(|(key, _)| key.to_owned());
    let chosen = found.map(|(_, answer)| answer).or(mock.default.as_ref());

    let (response, error) = match chosen {
        None => (json_error(StatusCode::NOT_FOUND, &format!("no route for {method} {path}")), None),
        Some(Answer::Static { status, headers, body }) => {
            let mut response = Response::new(Full::new(body.clone()));
            *response.status_mut() = *status;
            for (name, value) in headers {
                response.headers_mut().append(name.clone(), value.clone());
            }
            (response, None)
        }
        Some(Answer::Unsupported { builtin }) => {
            let message = format!("`{builtin}` responses are not supported by HTTP mocks");
            (json_error(StatusCode::NOT_IMPLEMENTED, &message), Some(message))
        }
        Some(Answer::Dynamic { callable }) => {
            dynamic(mock, callable, method.clone(), path.clone(), query.clone(), request).await
        }
    };

    let mut fields = BTreeMap::new();
    fields.insert("method".to_owned(), json!(method));
    fields.insert("path".to_owned(), json!(path));
    fields.insert("query".to_owned(), json!(query));
    fields.insert("status".to_owned(), json!(response.status().as_u16()));
    fields.insert("interface".to_owned(), json!(interface));
    fields.insert("route".to_owned(), json!(route));
    if let Some(error) = error {
        fields.insert("error".to_owned(), json!(error));
    }
    mock.events.push(&mock.service, "mock_request", fields);
    response
}

/// Reads the request, runs the handler on a blocking thread, and builds its reply.
async fn dynamic(
    mock: &Mock,
    callable: &str,
    method: String,
    path: String,
    query: String,
    request: Request<Incoming>,
) -> (Response<Full<Bytes>>, Option<String>) {
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
            return (json_error(status, &message), Some(message));
        }
    };
    let request = MockRequest { method, path, query, headers, body };
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
