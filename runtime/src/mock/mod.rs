//! In-process mock services (`mock_service(...)`, plan `Launch::Mock`). [`serve`] binds
//! `127.0.0.1:<port>` for each interface of the mock and hands every accepted connection to
//! that interface's protocol mock: one module per protocol, each a [`ProtocolMock`] built from
//! a [`MockContext`] (the plan's routes, default and seed `config`). [`PROTOCOLS`] is the table
//! of protocols served here; an interface whose protocol is not in it is refused before
//! anything is bound.
//!
//! Every protocol mock records one `mock_request` event per request it answers (service = the
//! mock) and, for a peer that speaks garbage or stops mid-message, one `mock_error` event before
//! closing that connection only; the others keep being served.

pub(crate) mod grpc;
mod http;
pub(crate) mod kafka;
pub(crate) mod mongodb;
mod openapi;
mod redis;
mod routes;
mod tcp;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ospecc_schema::plan::topology::{Launch, MockOpenApi, MockResponse, MockRoute};
use ospecc_schema::plan::Service;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::events::EventLog;

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
    /// An interface whose protocol has no in-process mock here (not in [`PROTOCOLS`]).
    Protocol { service: String, interface: String, protocol: String },
    /// An interface whose port the plan does not know.
    NoPort { service: String, interface: String },
    /// The protocol mock refused the plan's routes, default or seed state.
    Setup { service: String, interface: String, reason: String },
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
                "mock `{service}`: interface `{interface}` speaks `{protocol}`, which has no in-process mock \
                 here (served: {})",
                served_protocols()
            ),
            MockError::NoPort { service, interface } => {
                write!(f, "mock `{service}`: the port of interface `{interface}` is not known")
            }
            MockError::Setup { service, interface, reason } => {
                write!(f, "mock `{service}` (interface `{interface}`): {reason}")
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

/// What a protocol mock is built from: one interface of one mock service.
pub struct MockContext {
    pub service: String,
    pub interface: String,
    pub protocol: String,
    /// The plan's routes (for this interface: a route dict keyed by interface is already split).
    pub routes: Vec<MockRoute>,
    pub default: Option<MockResponse>,
    /// The seed state (`config=`); `Null` when the spec gives none.
    pub config: serde_json::Value,
    /// `descriptors=` resolved against the spec's directory, when given.
    pub descriptors: Option<PathBuf>,
    /// `openapi=` (an HTTP mock served from an OpenAPI document), its path resolved against
    /// the spec's directory.
    pub openapi: Option<(PathBuf, MockOpenApi)>,
    pub handler: Arc<dyn DynamicHandler>,
    pub events: EventLog,
}

/// A connection's future, as a protocol mock serves it.
pub type Serving = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One interface's mock, ready to serve connections.
pub trait ProtocolMock: Send + Sync + 'static {
    /// Serves one accepted connection until the peer closes it or `stop` fires (then it
    /// finishes the request in hand, if it can, and returns).
    fn serve(self: Arc<Self>, stream: TcpStream, stop: watch::Receiver<bool>) -> Serving;
}

/// Builds one interface's mock, or says why the plan's routes or state cannot be served.
type Build = fn(MockContext) -> Result<Arc<dyn ProtocolMock>, String>;

/// Every protocol with an in-process mock, and its builder.
pub const PROTOCOLS: &[(&str, Build)] = &[
    ("http", http::build),
    ("http2", http::build),
    ("grpc", grpc::build),
    ("mongodb", mongodb::build),
    ("kafka", kafka::build),
    ("redis", redis::build),
    ("tcp", tcp::build),
];

fn served_protocols() -> String {
    PROTOCOLS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

/// Serves `service` (a `Launch::Mock`) on 127.0.0.1 at each of its interfaces' ports (port 0
/// binds a free port; [`MockHandle::addresses`] tells which). Every interface's mock is built
/// (routes parsed, state checked) before anything is bound. `spec_dir` resolves `descriptors=` and `openapi=`.
pub async fn serve(
    service: &Service,
    handler: Arc<dyn DynamicHandler>,
    events: EventLog,
    spec_dir: Option<&std::path::Path>,
) -> Result<MockHandle, MockError> {
    let Launch::Mock { routes, default, config, descriptors, openapi } = &service.launch else {
        return Err(MockError::NotAMock { service: service.name.clone() });
    };
    if service.interfaces.is_empty() {
        return Err(MockError::NoInterfaces { service: service.name.clone() });
    }
    let mut built = Vec::new();
    for iface in &service.interfaces {
        let Some((_, build)) = PROTOCOLS.iter().find(|(name, _)| *name == iface.protocol) else {
            return Err(MockError::Protocol {
                service: service.name.clone(),
                interface: iface.name.clone(),
                protocol: iface.protocol.clone(),
            });
        };
        let Some(port) = iface.port else {
            return Err(MockError::NoPort { service: service.name.clone(), interface: iface.name.clone() });
        };
        let context = MockContext {
            service: service.name.clone(),
            interface: iface.name.clone(),
            protocol: iface.protocol.clone(),
            routes: routes.clone(),
            default: default.clone(),
            config: config.clone(),
            descriptors: descriptors.as_ref().map(|d| resolve(spec_dir, d)),
            openapi: openapi.as_ref().map(|o| (resolve(spec_dir, &o.path), o.clone())),
            handler: Arc::clone(&handler),
            events: events.clone(),
        };
        let mock = build(context).map_err(|reason| MockError::Setup {
            service: service.name.clone(),
            interface: iface.name.clone(),
            reason,
        })?;
        built.push((iface.name.clone(), port, mock));
    }

    let mut bound = Vec::with_capacity(built.len());
    for (interface, port, mock) in built {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        match bind(address).await {
            Ok(listener) => {
                let local = listener.local_addr().unwrap_or(address);
                bound.push((interface, local, listener, mock));
            }
            // Listeners bound so far close as `bound` drops.
            Err(error) => return Err(MockError::Bind { service: service.name.clone(), interface, address, error }),
        }
    }
    let (shutdown, _) = watch::channel(false);
    let mut addresses = Vec::with_capacity(bound.len());
    let mut listeners = Vec::with_capacity(bound.len());
    for (interface, local, listener, mock) in bound {
        addresses.push((interface, local));
        listeners.push(tokio::spawn(accept_loop(listener, mock, shutdown.subscribe())));
    }
    Ok(MockHandle { service: service.name.clone(), addresses, shutdown, listeners })
}

/// Binds a mock's port. A port in use is tried again for a short while: what held it may be
/// going away (the listener of a mock that was just stopped, a client's socket being closed);
/// only a holder that stays is an error.
async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let deadline = tokio::time::Instant::now() + BIND_PATIENCE;
    loop {
        match TcpListener::bind(address).await {
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(BIND_RETRY).await;
            }
            outcome => return outcome,
        }
    }
}

/// How long a mock waits for its port to be released, and how often it tries.
const BIND_PATIENCE: Duration = Duration::from_secs(3);
const BIND_RETRY: Duration = Duration::from_millis(25);

/// A data file the spec names, relative to the spec's directory.
fn resolve(spec_dir: Option<&std::path::Path>, path: &str) -> PathBuf {
    spec_dir.map_or_else(|| PathBuf::from(path), |dir| dir.join(path))
}

async fn accept_loop(listener: TcpListener, mock: Arc<dyn ProtocolMock>, mut shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors and the like: back off briefly, keep serving.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                connections.spawn(Arc::clone(&mock).serve(stream, shutdown.clone()));
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
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port released while the mock waits is taken; one held throughout is the bind error,
    /// after the patience and no later than a moment past it.
    #[test]
    fn a_mock_waits_a_little_for_its_port() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = held.local_addr().unwrap();
            let release = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                drop(held);
            });
            assert!(bind(address).await.is_ok(), "the port, once released");
            release.await.unwrap();

            let kept = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let started = std::time::Instant::now();
            let error = bind(kept.local_addr().unwrap()).await.unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
            assert!(started.elapsed() >= BIND_PATIENCE && started.elapsed() < BIND_PATIENCE * 2);
        });
    }
}
