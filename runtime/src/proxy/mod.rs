//! Protocol fault proxies: one loopback listener per (consumer, target interface) edge.
//!
//! Consumers are wired to the proxy's address instead of the upstream's, so every byte between
//! a consumer and an interface passes through here. By default a proxy relays unchanged; the
//! live rule table of the target interface ([`ProxyRules`], shared by every edge into it) turns
//! matching messages into faults, and [`Proxy::set_blackhole`] partitions the edge.
//!
//! One plugin per protocol (`edge.protocol`):
//! * `http` and `http2` (HTTP/1.1 or h2c from consumers, HTTP/1.1 upstream): a hyper server per
//!   accepted connection, a hyper client connection per consumer connection ([`http`]);
//! * `postgres`: hand-rolled wire framing, rules on simple and extended queries ([`postgres`]);
//! * `mysql`: packet framing, rules on `COM_QUERY` and `COM_STMT_PREPARE` SQL ([`mysql`]);
//! * `redis`: RESP framing, rules on command and key ([`redis`]);
//! * `grpc`: h2c server and client per connection, rules on the method path ([`grpc`]);
//! * `mongodb`: wire framing, rules on command (`op`) and collection ([`mongodb`]);
//! * `tcp` and every other protocol: an opaque relay; matcher-less rules act on connect ([`tcp`]).
//!
//! Partitions are enforced below the plugins by [`Gated`] sockets: a blackholed direction stops
//! reading and writing its bytes. Connections stay open (silence until the peer times out), new
//! connections are accepted and held, and nothing is dropped: bytes already read when a
//! partition starts are held and delivered when it heals, as TCP would retransmit them after a
//! real network partition.
//!
//! Every fired rule pushes one `proxy` event; a peer speaking garbage or an unreachable upstream
//! pushes one `proxy_error` event and closes that connection only.

pub(crate) mod buffer;
mod grpc;
mod http;
mod kafka;
mod matching;
mod mongodb;
mod mysql;
mod postgres;
pub(crate) mod redis;
mod tcp;

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ospecc_schema::plan::topology::{ProxyAction, ProxyRule};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::events::EventLog;
use crate::faults::rules::{Active, Table};

pub use matching::canonical_sql;

/// The live rules of one target interface (shared by every edge into it; proxies only read it).
pub type ProxyRules = Table<ProxyRule>;

/// One (consumer, target interface) edge.
#[derive(Debug, Clone)]
pub struct Edge {
    /// A service name, or `test` for the test driver.
    pub consumer: String,
    pub service: String,
    pub interface: String,
    pub protocol: String,
    pub upstream: SocketAddr,
}

/// A running proxy for one edge.
pub struct Proxy {
    edge: Edge,
    addr: SocketAddr,
    gate: Arc<Gate>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// How long `stop` waits for the connection tasks before aborting them.
const STOP_GRACE: Duration = Duration::from_millis(900);
/// How long a connect to the upstream may take before the consumer's connection is closed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Proxy {
    /// Binds 127.0.0.1:0 and serves until [`Proxy::stop`]. Must be called inside a tokio
    /// runtime. `rules` is the live table of the target interface.
    pub async fn start(edge: Edge, rules: ProxyRules, events: EventLog) -> io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let gate = Arc::new(Gate::default());
        let (shutdown, stopped) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            edge: edge.clone(),
            rules,
            events,
            gate: gate.clone(),
            globs: matching::GlobCache::new(matches!(edge.protocol.as_str(), "postgres" | "mysql")),
        });
        let task = tokio::spawn(serve(listener, ctx, stopped));
        Ok(Proxy { edge, addr, gate, shutdown, task })
    }

    /// The address consumers connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn edge(&self) -> &Edge {
        &self.edge
    }

    /// Partitions the edge: `upstream` stops relaying consumer→service bytes, `downstream`
    /// service→consumer bytes, on existing and new connections. Connections are not closed and
    /// new ones are accepted and held (the upstream is only dialled once the upstream direction
    /// is open). Healing resumes relaying, including bytes held in flight: nothing is dropped,
    /// as TCP retransmission would deliver them after a real partition.
    pub fn set_blackhole(&self, upstream: bool, downstream: bool) {
        self.gate.set(upstream, downstream);
    }

    /// Closes the listener and every connection, and waits (about 1 s at most) for its tasks.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if tokio::time::timeout(STOP_GRACE + Duration::from_millis(100), &mut self.task).await.is_err() {
            self.task.abort();
            let _ = (&mut self.task).await;
        }
    }
}

impl Drop for Proxy {
    /// A proxy dropped without `stop` still closes its listener and connections.
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// What every connection of one proxy shares.
struct Ctx {
    edge: Edge,
    rules: ProxyRules,
    events: EventLog,
    gate: Arc<Gate>,
    globs: matching::GlobCache,
}

/// One fired rule, as the plugins see it.
type Fired = Arc<Active<ProxyRule>>;

impl Ctx {
    /// The first rule whose matchers all match `message` (field, value pairs) and that decides
    /// to fire. Skips the glob work entirely when the table is empty (the common case).
    fn first_firing(&self, message: &[(&str, &str)]) -> Option<Fired> {
        if self.rules.is_empty() {
            return None;
        }
        self.rules.first_firing(|rule| self.globs.matches_all(&rule.matchers, message))
    }

    /// Pushes the one `proxy` event of a fired rule, with the protocol's `data` fields.
    fn fired(&self, active: &Active<ProxyRule>, data: Vec<(&str, Value)>) {
        let mut fields = self.edge_fields();
        fields.insert("action".into(), action_name(&active.rule.action).into());
        fields.insert("rule".into(), active.id.into());
        fields.insert("scope".into(), active.scope.clone().into());
        fields.extend(data.into_iter().map(|(k, v)| (k.to_owned(), v)));
        self.events.push(&self.edge.service, "proxy", fields);
    }

    /// Pushes the one `proxy_error` event of a connection closed for bad input or a dead
    /// upstream.
    fn error(&self, error: impl std::fmt::Display) {
        let mut fields = self.edge_fields();
        fields.insert("error".into(), error.to_string().into());
        self.events.push(&self.edge.service, "proxy_error", fields);
    }

    fn edge_fields(&self) -> BTreeMap<String, Value> {
        let edge = &self.edge;
        BTreeMap::from([
            ("consumer".to_owned(), edge.consumer.clone().into()),
            ("interface".to_owned(), edge.interface.clone().into()),
            ("protocol".to_owned(), edge.protocol.clone().into()),
        ])
    }

    /// Dials the upstream once the upstream direction is open (a partition holds new
    /// connections), bounded by [`CONNECT_TIMEOUT`]. Failures push `proxy_error`.
    async fn connect_upstream(&self) -> io::Result<Gated> {
        self.gate.wait_open(Dir::Up).await;
        let upstream = self.edge.upstream;
        let result = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(io::Error::new(e.kind(), format!("upstream {upstream} unreachable: {e}"))),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("upstream {upstream} did not accept within {CONNECT_TIMEOUT:?}"),
            )),
        };
        match result {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                Ok(Gated::upstream(stream, self.gate.clone()))
            }
            Err(e) => {
                self.error(&e);
                Err(e)
            }
        }
    }
}

/// The event name of an action.
fn action_name(action: &ProxyAction) -> &'static str {
    match action {
        ProxyAction::Respond { .. } => "respond",
        ProxyAction::Error { .. } => "error",
        ProxyAction::Delay { .. } => "delay",
        ProxyAction::Drop => "drop",
        ProxyAction::Duplicate => "duplicate",
    }
}

/// A protocol plugin: serves one accepted consumer connection to its end.
type Plugin = fn(Arc<Ctx>, Gated) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Plugins by protocol name; anything else is relayed as opaque TCP.
const PLUGINS: &[(&str, Plugin)] = &[
    ("grpc", |ctx, client| Box::pin(grpc::serve(ctx, client))),
    ("http", |ctx, client| Box::pin(http::serve(ctx, client))),
    ("http2", |ctx, client| Box::pin(http::serve(ctx, client))),
    ("kafka", |ctx, client| Box::pin(kafka::serve(ctx, client))),
    ("mysql", |ctx, client| Box::pin(mysql::serve(ctx, client))),
    ("postgres", |ctx, client| Box::pin(postgres::serve(ctx, client))),
    ("redis", |ctx, client| Box::pin(redis::serve(ctx, client))),
    ("mongodb", |ctx, client| Box::pin(mongodb::serve(ctx, client))),
];

fn plugin(protocol: &str) -> Plugin {
    PLUGINS.iter().find(|(name, _)| *name == protocol).map_or(tcp_plugin as Plugin, |(_, plugin)| *plugin)
}

fn tcp_plugin(ctx: Arc<Ctx>, client: Gated) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(tcp::serve(ctx, client))
}

/// The accept loop: one task per connection, all ended by the shutdown signal.
async fn serve(listener: TcpListener, ctx: Arc<Ctx>, mut stopped: watch::Receiver<bool>) {
    let plugin = plugin(&ctx.edge.protocol);
    let mut connections = JoinSet::new();
    let watch = stopped.clone();
    loop {
        tokio::select! {
            _ = stop_signal(&mut stopped) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let client = Gated::consumer(stream, ctx.gate.clone());
                    let mut stopped = watch.clone();
                    let connection = plugin(ctx.clone(), client);
                    connections.spawn(async move {
                        tokio::select! {
                            _ = connection => {}
                            _ = stop_signal(&mut stopped) => {}
                        }
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(STOP_GRACE, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

/// Resolves once `stop` is signalled (or the proxy is gone).
async fn stop_signal(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// A traffic direction of an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Consumer → service.
    Up,
    /// Service → consumer.
    Down,
}

/// The partition switch of one proxy, consulted on every socket poll.
#[derive(Default)]
struct Gate {
    up_blocked: AtomicBool,
    down_blocked: AtomicBool,
    /// Tasks parked on a blocked direction, woken when the partition changes.
    parked: Mutex<Vec<Waker>>,
}

impl Gate {
    fn set(&self, up: bool, down: bool) {
        self.up_blocked.store(up, Ordering::SeqCst);
        self.down_blocked.store(down, Ordering::SeqCst);
        let parked = std::mem::take(&mut *self.parked.lock().unwrap_or_else(|p| p.into_inner()));
        parked.into_iter().for_each(Waker::wake);
    }

    fn is_open(&self, dir: Dir) -> bool {
        let blocked = match dir {
            Dir::Up => &self.up_blocked,
            Dir::Down => &self.down_blocked,
        };
        !blocked.load(Ordering::SeqCst)
    }

    fn poll_open(&self, dir: Dir, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_open(dir) {
            return Poll::Ready(());
        }
        let mut parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
        if !parked.iter().any(|w| w.will_wake(cx.waker())) {
            parked.push(cx.waker().clone());
        }
        // Re-check under the lock: `set` may have run between the first check and the push.
        if self.is_open(dir) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    async fn wait_open(&self, dir: Dir) {
        std::future::poll_fn(|cx| self.poll_open(dir, cx)).await
    }
}

/// A socket whose reads and writes stop while their direction is partitioned. On the
/// consumer's socket reads carry upstream bytes and writes downstream bytes; on the upstream's
/// socket it is the other way round.
struct Gated<S = TcpStream> {
    stream: S,
    gate: Arc<Gate>,
    read: Dir,
    write: Dir,
}

impl Gated {
    fn consumer(stream: TcpStream, gate: Arc<Gate>) -> Gated {
        Gated { stream, gate, read: Dir::Up, write: Dir::Down }
    }

    fn upstream(stream: TcpStream, gate: Arc<Gate>) -> Gated {
        Gated { stream, gate, read: Dir::Down, write: Dir::Up }
    }

    /// Read and write halves that can move to different tasks, gated like the whole.
    fn into_split(self) -> (Gated<OwnedReadHalf>, Gated<OwnedWriteHalf>) {
        let (read_half, write_half) = self.stream.into_split();
        let (gate, read, write) = (self.gate, self.read, self.write);
        (Gated { stream: read_half, gate: gate.clone(), read, write }, Gated { stream: write_half, gate, read, write })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Gated<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.gate.poll_open(this.read, cx));
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Gated<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.gate.poll_open(this.write, cx));
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
