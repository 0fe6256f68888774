//! users-api end to end with real servers: PostgreSQL from `scripts/postgres.sh`, Redis from
//! `scripts/redis.sh`, the built binary, each in its own process group on free loopback ports.
//! It checks the routes, the JSON log lines, the fallbacks when Redis or PostgreSQL goes away
//! and the recovery when they come back, and that stopping leaves no process behind.
//!
//! Skips (printing `SKIP: ...`) when the PostgreSQL server or redis-server is not installed
//! (`tests/services.sh` installs both).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A process group started by the test; dropping it kills the group.
struct Server {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `command` in a new process group; `log` is where its output goes (for messages).
    fn spawn(name: &'static str, mut command: Command, log: PathBuf) -> Server {
        command.stdin(Stdio::null()).process_group(0);
        // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Server { name, child, log }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Signals the group and waits (bounded) for the leader to exit; SIGKILL after `grace`.
    fn stop(&mut self, signal: i32, grace: Duration) -> ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status;
        }
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(-self.pid(), signal) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        unsafe { libc::kill(-self.pid(), libc::SIGKILL) };
        let _ = self.child.wait();
        panic!("{} did not stop within {grace:?} of signal {signal}; killed. Log:\n{}", self.name, self.log_tail())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            unsafe { libc::kill(-self.pid(), libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(200)).is_ok()
}

/// Polls `ready` every 50 ms until it holds or `limit` passes.
async fn wait_until(what: &str, limit: Duration, mut ready: impl AsyncFnMut() -> bool, server: &mut Server) {
    let deadline = Instant::now() + limit;
    loop {
        if ready().await {
            return;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("{} exited ({status}) while waiting for {what}. Log:\n{}", server.name, server.log_tail());
        }
        assert!(Instant::now() < deadline, "{what} not within {limit:?}. {} log:\n{}", server.name, server.log_tail());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Why the servers cannot run here, if they cannot.
fn missing_servers() -> Option<String> {
    let postgres = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .any(|version| version.path().join("bin/postgres").exists() && version.path().join("bin/initdb").exists());
    let on_path = |program: &str| {
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
    };
    let postgres = postgres || (on_path("postgres") && on_path("initdb"));
    if !postgres {
        return Some("the PostgreSQL server is not installed (tests/services.sh installs it)".to_owned());
    }
    if !on_path("redis-server") {
        return Some("redis-server is not installed (tests/services.sh installs it)".to_owned());
    }
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let postgres_user =
        std::fs::read_to_string("/etc/passwd").unwrap_or_default().lines().any(|line| line.starts_with("postgres:"));
    if root && !postgres_user {
        return Some("running as root needs a `postgres` OS user (the postgresql package creates it)".to_owned());
    }
    None
}

struct Env {
    dir: tempfile::TempDir,
    pg_port: u16,
    redis_port: u16,
    api_port: u16,
    scripts: PathBuf,
}

/// `command` with its stdout and stderr appended to `log`.
fn logged(mut command: Command, log: &Path) -> Command {
    let out = File::options().create(true).append(true).open(log).expect("log file");
    command.stdout(out.try_clone().unwrap()).stderr(out);
    command
}

impl Env {
    fn postgres(&self) -> Server {
        let mut command = Command::new(self.scripts.join("postgres.sh"));
        command.env("PGPORT", self.pg_port.to_string()).env("OSPECC_PG_DIR", self.dir.path().join("pg"));
        let log = self.dir.path().join("postgres.log");
        Server::spawn("postgres", logged(command, &log), log)
    }

    fn redis(&self) -> Server {
        let mut command = Command::new(self.scripts.join("redis.sh"));
        command.env("REDIS_PORT", self.redis_port.to_string());
        let log = self.dir.path().join("redis.log");
        Server::spawn("redis", logged(command, &log), log)
    }

    fn database_url(&self) -> String {
        format!("postgres://app:app@127.0.0.1:{}/app", self.pg_port)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.api_port)
    }
}

/// Counts rows through a connection of the test's own.
async fn count_users(env: &Env, name: &str) -> i64 {
    let (client, connection) =
        tokio_postgres::connect(&env.database_url(), tokio_postgres::NoTls).await.expect("the test connects");
    let task = tokio::spawn(connection);
    let row = client.query_one("SELECT count(*) FROM users WHERE name = $1", &[&name]).await.unwrap();
    drop(client);
    let _ = task.await;
    row.get(0)
}

async fn call(http: &reqwest::Client, method: &str, url: String, body: Option<&str>) -> (u16, Value) {
    let mut request = http.request(method.parse().unwrap(), url);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_owned());
    }
    let response = request.send().await.expect("the API answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

/// Children of `pid` still alive (PostgreSQL's backends run in their own sessions, so a signal
/// to the postmaster's group does not reach them: they must exit on their own).
fn children_of(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        if fields.next().and_then(|p| p.parse::<i32>().ok()) == Some(pid) && state != "Z" {
            found.push(entry.file_name().to_string_lossy().parse().unwrap_or(0));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_api_with_real_postgres_and_redis() {
    if let Some(reason) = missing_servers() {
        println!("SKIP: users-api end to end: {reason}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The postgres OS user (the server's owner when running as root) must reach the data dir.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let env = Env {
        dir,
        pg_port: free_port(),
        redis_port: free_port(),
        api_port: free_port(),
        scripts: Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts"),
    };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).no_proxy().build().unwrap();

    // Declared in start order, so an early return or a panic drops (kills) the API first.
    let mut postgres = env.postgres();
    let mut redis = env.redis();
    let (pg_port, redis_port) = (env.pg_port, env.redis_port);
    wait_until("postgres to accept connections", Duration::from_secs(90), async || accepts(pg_port), &mut postgres)
        .await;
    wait_until("redis to accept connections", Duration::from_secs(20), async || accepts(redis_port), &mut redis).await;

    let mut api_command = Command::new(env!("CARGO_BIN_EXE_users-api"));
    api_command
        .env("PORT", env.api_port.to_string())
        .env("DATABASE_URL", env.database_url())
        .env("REDIS_URL", format!("redis://127.0.0.1:{}", env.redis_port))
        .stdout(Stdio::piped())
        .stderr(File::create(env.dir.path().join("api.log")).unwrap());
    let mut api = Server::spawn("users-api", api_command, env.dir.path().join("api.log"));
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let stdout = api.child.stdout.take().unwrap();
    let reader = {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        })
    };
    let health_url = env.url("/health");
    let probe = http.clone();
    // Healthy, and both dependencies reachable (PostgreSQL may still be starting up).
    wait_until(
        "/health to report db and cache up",
        Duration::from_secs(60),
        async || match probe.get(&health_url).send().await {
            Ok(response) => response.json::<Value>().await.is_ok_and(|v| v["db"] == "up" && v["cache"] == "up"),
            Err(_) => false,
        },
        &mut api,
    )
    .await;

    // The routes.
    let (status, health) = call(&http, "GET", env.url("/health"), None).await;
    assert_eq!((status, health), (200, json!({ "status": "ok", "db": "up", "cache": "up" })));
    let (status, alice) = call(&http, "POST", env.url("/users"), Some(r#"{"name":"alice"}"#)).await;
    assert_eq!(status, 201, "{alice}");
    assert_eq!(alice["name"], "alice");
    let id = alice["id"].as_i64().expect("an id");
    let user_path = format!("/users/{id}");
    assert_eq!(call(&http, "GET", env.url(&user_path), None).await, (200, alice.clone()));
    assert_eq!(call(&http, "GET", env.url(&user_path), None).await, (200, alice.clone()));
    assert_eq!(call(&http, "GET", env.url("/users/987654"), None).await.0, 404);
    assert_eq!(call(&http, "POST", env.url("/users"), Some(r#"{"name":"#)).await.0, 400);
    assert_eq!(call(&http, "POST", env.url("/users"), Some(r#"{"nom":"x"}"#)).await.0, 400);
    assert_eq!(call(&http, "GET", env.url("/users/abc"), None).await.0, 400);
    assert_eq!(call(&http, "DELETE", env.url(&user_path), None).await.0, 405);
    assert_eq!(call(&http, "GET", env.url("/nowhere"), None).await.0, 404);

    // Redis goes away: reads fall back to the database, writes go on.
    let status = redis.stop(libc::SIGTERM, Duration::from_secs(10));
    assert!(status.success() || status.code().is_none(), "redis: {status}");
    assert_eq!(call(&http, "GET", env.url(&user_path), None).await, (200, alice.clone()));
    let (status, health) = call(&http, "GET", env.url("/health"), None).await;
    assert_eq!((status, &health["cache"], &health["db"]), (200, &json!("down"), &json!("up")));
    let (status, bob) = call(&http, "POST", env.url("/users"), Some(r#"{"name":"bob"}"#)).await;
    assert_eq!(status, 201, "{bob}");

    // Redis comes back: the API reconnects and caches again.
    let mut redis = env.redis();
    wait_until("redis to come back", Duration::from_secs(20), async || accepts(redis_port), &mut redis).await;
    let bob_path = format!("/users/{}", bob["id"]);
    assert_eq!(call(&http, "GET", env.url(&bob_path), None).await, (200, bob.clone()));
    assert_eq!(call(&http, "GET", env.url(&bob_path), None).await, (200, bob.clone()));

    // PostgreSQL goes away (fast shutdown: the API still holds a connection): 503, nothing half
    // written, cached users still served, health still 200.
    let postmaster = postgres.pid();
    postgres.stop(libc::SIGINT, Duration::from_secs(30));
    let (status, error) = call(&http, "POST", env.url("/users"), Some(r#"{"name":"carol"}"#)).await;
    assert_eq!(status, 503, "{error}");
    assert!(error["error"].as_str().is_some_and(|e| e.contains("database")), "{error}");
    assert_eq!(call(&http, "GET", env.url("/users/987654"), None).await.0, 503);
    assert_eq!(call(&http, "GET", env.url(&bob_path), None).await, (200, bob.clone()), "served from the cache");
    let (status, health) = call(&http, "GET", env.url("/health"), None).await;
    assert_eq!((status, &health["db"], &health["cache"]), (200, &json!("down"), &json!("up")));

    // PostgreSQL comes back on the same cluster: the API reconnects; carol was never written.
    let mut postgres = env.postgres();
    wait_until("postgres to come back", Duration::from_secs(60), async || accepts(pg_port), &mut postgres).await;
    let probe = http.clone();
    wait_until(
        "/health to report db up again",
        Duration::from_secs(60),
        async || match probe.get(&health_url).send().await {
            Ok(response) => response.json::<Value>().await.is_ok_and(|v| v["db"] == "up"),
            Err(_) => false,
        },
        &mut api,
    )
    .await;
    let (status, dave) = call(&http, "POST", env.url("/users"), Some(r#"{"name":"dave"}"#)).await;
    assert_eq!(status, 201, "{dave}");
    assert!(dave["id"].as_i64() > alice["id"].as_i64(), "{dave}");
    assert_eq!(count_users(&env, "carol").await, 0, "no partial row for the failed write");
    assert_eq!(count_users(&env, "alice").await, 1);

    // Stop in reverse start order; SIGTERM everywhere (PostgreSQL's smart shutdown completes
    // once the API's connections are gone).
    let api_pid = api.pid();
    assert!(api.stop(libc::SIGTERM, Duration::from_secs(10)).success(), "the API exits 0 on SIGTERM");
    reader.join().unwrap();
    redis.stop(libc::SIGTERM, Duration::from_secs(10));
    let postmaster_again = postgres.pid();
    postgres.stop(libc::SIGTERM, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(10);
    for pid in [postmaster, postmaster_again, api_pid] {
        while !children_of(pid).is_empty() {
            assert!(Instant::now() < deadline, "children of {pid} remain: {:?}", children_of(pid));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for port in [env.pg_port, env.redis_port, env.api_port] {
        assert!(!accepts(port), "port {port} still accepts after everything stopped");
    }

    // One JSON line per request, with the fields monitors read.
    let lines = lines.lock().unwrap().clone();
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let actions = |action: &str| events.iter().filter(|e| e["action"] == action).collect::<Vec<_>>();
    let created = actions("user_created");
    assert_eq!(created.len(), 3, "alice, bob, dave: {lines:#?}");
    assert!(created.iter().all(|e| e["persisted"] == "true" && e["status"] == 201 && e["id"].is_i64()));
    let failed = actions("user_create_failed");
    assert_eq!(failed.len(), 1, "{lines:#?}");
    assert_eq!(
        (&failed[0]["persisted"], &failed[0]["status"], &failed[0]["name"]),
        (&json!("false"), &json!(503), &json!("carol"))
    );
    let sources: Vec<&Value> = actions("user_fetched").iter().map(|e| &e["source"]).collect();
    assert!(sources.contains(&&json!("cache")) && sources.contains(&&json!("db")), "{sources:?}");
    assert!(events.iter().any(|e| e["action"] == "user_fetched" && e.get("cache_error").is_some()), "{lines:#?}");
    assert_eq!(events.last().unwrap()["action"], "shutdown");
    assert!(events.iter().filter(|e| e.get("path").is_some()).all(|e| e["method"].is_string() && e["status"].is_u64()));
}
