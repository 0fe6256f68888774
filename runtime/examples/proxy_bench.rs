//! The latency a pass-through protocol proxy adds: for HTTP (a local hyper upstream), Redis
//! (redis-server, alternating PING and GET), PostgreSQL (`SELECT 1` as a simple query) and TCP
//! (an echo of 64 bytes), N sequential requests on one connection, directly and through the
//! proxy, and a markdown table of p50/p99 and what the proxy adds.
//!
//! `cargo run --release -p ospecc-runtime --example proxy_bench [N]` (bench/proxy/run.sh). The
//! proxy runs on a 2-worker tokio runtime (as in `ospecc run`), upstreams on a runtime of their
//! own, and the client is blocking I/O on the main thread, so that the client adds as little as
//! possible. Redis and PostgreSQL rows are skipped when the servers are not installed.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use ospecc_runtime::events::EventLog;
use ospecc_runtime::proxy::{Edge, Proxy, ProxyRules};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

const WARMUP: usize = 200;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let proxies = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let upstreams = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    println!("{n} sequential requests on one connection (after {WARMUP} warm-up), latency in µs\n");
    println!("| protocol | direct p50 | direct p99 | proxy p50 | proxy p99 | added p50 | added p99 |");
    println!("|---|---:|---:|---:|---:|---:|---:|");

    let http = upstreams.block_on(http_upstream())?;
    row("http", &proxies, http, n, http_client)?;
    let echo = upstreams.block_on(echo_upstream())?;
    row("tcp", &proxies, echo, n, tcp_client)?;
    match Server::redis() {
        Ok(redis) => row("redis", &proxies, redis.addr, n, redis_client)?,
        Err(why) => println!("| redis | skipped: {why} | | | | | |"),
    }
    match Server::postgres() {
        Ok(pg) => row("postgres", &proxies, pg.addr, n, postgres_client)?,
        Err(why) => println!("| postgres | skipped: {why} | | | | | |"),
    }
    Ok(())
}

/// One client: runs `n` requests against `addr`, returning each latency.
type Client = fn(SocketAddr, usize) -> Result<Vec<Duration>>;

fn row(protocol: &str, runtime: &Runtime, upstream: SocketAddr, n: usize, client: Client) -> Result<()> {
    let direct = percentiles(client(upstream, n)?);
    let edge = Edge {
        consumer: "bench".into(),
        service: "upstream".into(),
        interface: "main".into(),
        protocol: protocol.into(),
        upstream,
    };
    let proxy = runtime.block_on(Proxy::start(edge, ProxyRules::new(1), EventLog::default()))?;
    let proxied = percentiles(client(proxy.addr(), n)?);
    runtime.block_on(proxy.stop());
    let added = |a: f64, b: f64| format!("{:+.0}", a - b);
    println!(
        "| {protocol} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} |",
        direct.0,
        direct.1,
        proxied.0,
        proxied.1,
        added(proxied.0, direct.0),
        added(proxied.1, direct.1)
    );
    Ok(())
}

/// (p50, p99) in µs of the latencies after the warm-up.
fn percentiles(latencies: Vec<Duration>) -> (f64, f64) {
    let mut micros: Vec<f64> = latencies.into_iter().skip(WARMUP).map(|d| d.as_secs_f64() * 1e6).collect();
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros.get(((micros.len() as f64 * q) as usize).min(micros.len().saturating_sub(1))).copied();
    (at(0.50).unwrap_or(f64::NAN), at(0.99).unwrap_or(f64::NAN))
}

/// Times `n + WARMUP` calls of `request`.
fn timed(n: usize, mut request: impl FnMut() -> Result<()>) -> Result<Vec<Duration>> {
    (0..n + WARMUP)
        .map(|_| {
            let started = Instant::now();
            request().map(|()| started.elapsed())
        })
        .collect()
}

fn connect(addr: SocketAddr) -> Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(stream)
}

// ------------------------------------------------------------------ clients

fn http_client(addr: SocketAddr, n: usize) -> Result<Vec<Duration>> {
    let mut stream = connect(addr)?;
    let mut buf = vec![0u8; 4096];
    timed(n, || {
        stream.write_all(b"GET /bench HTTP/1.1\r\nHost: bench\r\n\r\n")?;
        // The upstream answers a 2-byte body with a Content-Length: read to the end of it.
        let mut got = 0;
        loop {
            let read = stream.read(&mut buf[got..])?;
            if read == 0 {
                return Err("the HTTP connection closed".into());
            }
            got += read;
            if let Some(head) = buf[..got].windows(4).position(|w| w == b"\r\n\r\n") {
                if got >= head + 4 + 2 {
                    return Ok(());
                }
            }
        }
    })
}

fn tcp_client(addr: SocketAddr, n: usize) -> Result<Vec<Duration>> {
    let mut stream = connect(addr)?;
    let (message, mut reply) = ([7u8; 64], [0u8; 64]);
    timed(n, || {
        stream.write_all(&message)?;
        stream.read_exact(&mut reply)?;
        Ok(())
    })
}

fn redis_client(addr: SocketAddr, n: usize) -> Result<Vec<Duration>> {
    let mut stream = connect(addr)?;
    let mut reply = [0u8; 7];
    stream.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")?;
    stream.read_exact(&mut reply[..5])?;
    let mut i = 0;
    timed(n, || {
        i += 1;
        // `+PONG\r\n` and `$1\r\nv\r\n` are both 7 bytes.
        let command: &[u8] = if i % 2 == 0 { b"*1\r\n$4\r\nPING\r\n" } else { b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" };
        stream.write_all(command)?;
        stream.read_exact(&mut reply)?;
        Ok(())
    })
}

fn postgres_client(addr: SocketAddr, n: usize) -> Result<Vec<Duration>> {
    let mut client = postgres::Client::connect(&pg_url(addr), postgres::NoTls)?;
    timed(n, || {
        client.simple_query("SELECT 1")?;
        Ok(())
    })
}

fn pg_url(addr: SocketAddr) -> String {
    format!("host={} port={} user=app password=app dbname=app connect_timeout=5", addr.ip(), addr.port())
}

// ------------------------------------------------------------------ upstreams

async fn http_upstream() -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_: Request<Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(addr)
}

async fn echo_upstream() -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(read) = stream.read(&mut buf).await {
                    if read == 0 || stream.write_all(&buf[..read]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// A server process for the run, stopped on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown (its backends exit with it); redis exits too.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn redis() -> Result<Server> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server: {e} (bash tests/services.sh installs it)"))?;
        let server = Server { child, addr: SocketAddr::from(([127, 0, 0, 1], port)), _dir: None };
        server.wait_until(|addr| TcpStream::connect(addr).is_ok())?;
        Ok(server)
    }

    /// Through the users-api example's script (initdb on first use, SCRAM, user/db `app`).
    fn postgres() -> Result<Server> {
        let installed = std::fs::read_dir("/usr/lib/postgresql")
            .map(|dirs| dirs.flatten().any(|d| d.path().join("bin/postgres").exists()))
            .unwrap_or(false);
        if !installed {
            return Err("no server under /usr/lib/postgresql (bash tests/services.sh installs it)".into());
        }
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/users-api/scripts/postgres.sh");
        let child = Command::new("bash")
            .arg(script)
            .env("OSPECC_PG_DIR", dir.path().join("pg"))
            .env("PGPORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = Server { child, addr: SocketAddr::from(([127, 0, 0, 1], port)), _dir: Some(dir) };
        server.wait_until(|addr| postgres::Client::connect(&pg_url(addr), postgres::NoTls).is_ok())?;
        Ok(server)
    }

    fn wait_until(&self, ready: impl Fn(SocketAddr) -> bool) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready(self.addr) {
            if Instant::now() > deadline {
                return Err(format!("the server on {} did not become ready in 60 s", self.addr).into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
