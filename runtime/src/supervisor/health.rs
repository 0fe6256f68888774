//! Healthchecks, polled until they pass or time out, racing the process's exit.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ospecc_schema::plan::topology::{Healthcheck, Launch};
use ospecc_schema::plan::Service;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::env::split_host_port;
use super::process::{ExitInfo, Proc};

/// One attempt's upper bound (the whole wait is bounded by the healthcheck's timeout).
const ATTEMPT_LIMIT: Duration = Duration::from_secs(5);

/// What one attempt does.
#[derive(Debug, Clone)]
pub enum Check {
    /// A TCP connect to `host:port` succeeds.
    Tcp { host: String, port: u16 },
    /// A GET answers 2xx/3xx (or, with `any_status`, anything below 500).
    Http { url: String, any_status: bool },
    /// A connection with these credentials runs `SELECT 1`.
    Postgres { host: String, port: u16, user: String, password: Option<String>, dbname: Option<String> },
    /// `PING` answers `PONG` (after `AUTH` when a password is set).
    Redis { host: String, port: u16, password: Option<String> },
}

/// A healthcheck ready to poll.
#[derive(Debug, Clone)]
pub struct Probe {
    pub check: Check,
    pub timeout: Duration,
    pub interval: Duration,
}

impl Probe {
    /// `tcp localhost:5432`, `http http://localhost:8080/health`, ... for messages.
    pub fn describe(&self) -> String {
        match &self.check {
            Check::Tcp { host, port } => format!("tcp connect to {host}:{port}"),
            Check::Http { url, .. } => format!("http GET {url}"),
            Check::Postgres { host, port, user, .. } => format!("postgres SELECT 1 on {host}:{port} as {user}"),
            Check::Redis { host, port, .. } => format!("redis PING on {host}:{port}"),
        }
    }
}

/// Why a service did not become healthy.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The process ended first.
    Exited(ExitInfo),
    /// The deadline passed; the last attempt's error.
    Timeout { last_error: String },
}

/// The probe for a service's healthcheck; `env` is the service's rendered environment (for
/// database credentials).
pub fn probe(hc: &Healthcheck, service: &Service, env: &BTreeMap<String, String>) -> Result<Probe, String> {
    let make = |check: Check, timeout_ms: u64, interval_ms: u64| Probe {
        check,
        timeout: Duration::from_millis(timeout_ms),
        interval: Duration::from_millis(interval_ms.max(10)),
    };
    Ok(match hc {
        Healthcheck::Tcp { address, timeout_ms, interval_ms }
        | Healthcheck::Kafka { address, timeout_ms, interval_ms } => {
            let (host, port) = host_port(address)?;
            make(Check::Tcp { host, port }, *timeout_ms, *interval_ms)
        }
        Healthcheck::Http { url, timeout_ms, interval_ms } => {
            let url = if url.contains("://") { url.clone() } else { format!("http://{url}") };
            make(Check::Http { url, any_status: false }, *timeout_ms, *interval_ms)
        }
        Healthcheck::Ready { interface, protocol, timeout_ms, interval_ms } => {
            let iface = service.interfaces.iter().find(|i| &i.name == interface);
            let (host, port) = match &service.launch {
                Launch::Remote { address } => {
                    let (host, port) = split_host_port(address).ok_or_else(|| format!("bad address `{address}`"))?;
                    (host, port.or(iface.and_then(|i| i.port)))
                }
                _ => ("localhost".to_owned(), iface.and_then(|i| i.port)),
            };
            let port = port.ok_or_else(|| {
                format!("the ready() healthcheck needs a static port on interface `{interface}`, and it has none")
            })?;
            let tls = iface.is_some_and(|i| i.tls);
            let var = |names: &[&str]| names.iter().find_map(|n| env.get(*n).filter(|v| !v.is_empty()).cloned());
            let check = match protocol.as_str() {
                "http" if !tls => Check::Http { url: format!("http://{}/", join(&host, port)), any_status: true },
                "postgres" => Check::Postgres {
                    user: var(&["POSTGRES_USER", "PGUSER"]).unwrap_or_else(|| "postgres".to_owned()),
                    password: var(&["POSTGRES_PASSWORD", "PGPASSWORD"]),
                    dbname: var(&["POSTGRES_DB", "PGDATABASE"]),
                    host,
                    port,
                },
                "redis" => Check::Redis { password: var(&["REDIS_PASSWORD"]), host, port },
                _ => Check::Tcp { host, port },
            };
            make(check, *timeout_ms, *interval_ms)
        }
    })
}

fn host_port(address: &str) -> Result<(String, u16), String> {
    match split_host_port(address) {
        Some((host, Some(port))) => Ok((host, port)),
        _ => Err(format!("the healthcheck address `{address}` has no port")),
    }
}

fn join(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Polls `probe` every interval until it passes or its timeout ends; when `proc` is given, an
/// exit of the process fails the wait at once.
pub async fn wait(probe: &Probe, proc: Option<&Proc>) -> Result<(), Failure> {
    let exited = async {
        match proc {
            Some(proc) => proc.exited().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(exited);
    let deadline = Instant::now() + probe.timeout;
    let mut last_error;
    let client = match &probe.check {
        Check::Http { .. } => Some(
            reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| Failure::Timeout { last_error: format!("cannot build an HTTP client: {e}") })?,
        ),
        _ => None,
    };
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt = tokio::time::timeout(remaining.min(ATTEMPT_LIMIT), once(&probe.check, client.as_ref()));
        tokio::select! {
            biased;
            info = &mut exited => return Err(Failure::Exited(info)),
            result = attempt => match result {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => last_error = e,
                Err(_) => last_error = "the attempt timed out".to_owned(),
            },
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            // A process that died during the last attempt fails as an exit, not a timeout.
            if let Some(info) = proc.and_then(Proc::exit) {
                return Err(Failure::Exited(info));
            }
            return Err(Failure::Timeout { last_error });
        }
        tokio::select! {
            biased;
            info = &mut exited => return Err(Failure::Exited(info)),
            _ = tokio::time::sleep(probe.interval.min(remaining)) => {}
        }
    }
}

/// One attempt.
pub async fn once(check: &Check, client: Option<&reqwest::Client>) -> Result<(), String> {
    match check {
        Check::Tcp { host, port } => {
            TcpStream::connect((host.as_str(), *port)).await.map(drop).map_err(|e| e.to_string())
        }
        Check::Http { url, any_status } => {
            let owned;
            let client = match client {
                Some(c) => c,
                None => {
                    owned = reqwest::Client::builder()
                        .no_proxy()
                        .redirect(reqwest::redirect::Policy::none())
                        .build()
                        .map_err(|e| e.to_string())?;
                    &owned
                }
            };
            let response = client.get(url).send().await.map_err(|e| error_chain(&e))?;
            let status = response.status();
            let ok = status.is_success() || status.is_redirection() || (*any_status && !status.is_server_error());
            if ok {
                Ok(())
            } else {
                Err(format!("HTTP status {status}"))
            }
        }
        Check::Redis { host, port, password } => redis_ping(host, *port, password.as_deref()).await,
        Check::Postgres { host, port, user, password, dbname } => {
            let mut config = postgres::Config::new();
            config.host(host).port(*port).user(user).connect_timeout(ATTEMPT_LIMIT);
            if let Some(password) = password {
                config.password(password);
            }
            if let Some(dbname) = dbname {
                config.dbname(dbname);
            }
            // The synchronous client runs its own runtime: give it a plain thread.
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("ospecc-pg-health".into())
                .spawn(move || {
                    let result = config
                        .connect(postgres::NoTls)
                        .and_then(|mut client| client.simple_query("SELECT 1").map(drop))
                        .map_err(|e| e.to_string());
                    let _ = tx.send(result);
                })
                .map_err(|e| e.to_string())?;
            rx.await.map_err(|_| "the postgres check thread ended without an answer".to_owned())?
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

async fn redis_ping(host: &str, port: u16, password: Option<&str>) -> Result<(), String> {
    let mut stream = TcpStream::connect((host, port)).await.map_err(|e| e.to_string())?;
    if let Some(password) = password {
        let auth = format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{password}\r\n", password.len());
        stream.write_all(auth.as_bytes()).await.map_err(|e| e.to_string())?;
        let reply = read_reply(&mut stream).await?;
        if !reply.starts_with("+OK") {
            return Err(format!("AUTH answered {}", reply.trim_end()));
        }
    }
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").await.map_err(|e| e.to_string())?;
    let reply = read_reply(&mut stream).await?;
    if reply.starts_with("+PONG") {
        Ok(())
    } else {
        Err(format!("PING answered {}", reply.trim_end()))
    }
}

/// Reads one RESP simple line (`+PONG\r\n`, `-LOADING ...\r\n`).
async fn read_reply(stream: &mut TcpStream) -> Result<String, String> {
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n") && reply.len() < 4096 {
        match stream.read(&mut byte).await {
            Ok(0) => return Err("the connection closed before a reply".to_owned()),
            Ok(_) => reply.push(byte[0]),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn redis_ping_with_auth() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 1024];
            let mut seen = Vec::new();
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_string();
                if text.contains("AUTH") && text.ends_with("sekret\r\n") {
                    s.write_all(b"+OK\r\n").await.unwrap();
                    seen.clear();
                } else if text.contains("PING") {
                    s.write_all(b"+PONG\r\n").await.unwrap();
                    seen.clear();
                }
            }
        });
        let check = Check::Redis { host: "127.0.0.1".into(), port, password: Some("sekret".into()) };
        once(&check, None).await.unwrap();
    }

    #[tokio::test]
    async fn redis_loading_is_not_ready() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 64];
            let _ = s.read(&mut buf).await;
            s.write_all(b"-LOADING Redis is loading the dataset in memory\r\n").await.unwrap();
        });
        let check = Check::Redis { host: "127.0.0.1".into(), port, password: None };
        assert!(once(&check, None).await.unwrap_err().contains("LOADING"));
    }

    #[tokio::test]
    async fn tcp_timeout_without_process() {
        // A port nobody listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let probe = Probe {
            check: Check::Tcp { host: "127.0.0.1".into(), port },
            timeout: Duration::from_millis(150),
            interval: Duration::from_millis(20),
        };
        let started = Instant::now();
        assert!(matches!(wait(&probe, None).await, Err(Failure::Timeout { .. })));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
