//! The MySQL protocol proxy (for `mysql` interfaces, typically a `mysql`/`mariadb` image)
//! against a real MariaDB server with the `mariadb` command-line client: pass-through, an
//! injected error that keeps the connection usable, delay, drop, and the error's event. Skips
//! with a printed reason when MariaDB is not installed (`tests/deps/podman.sh` installs it).
//! Ports come from the system (`127.0.0.1:0`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ospecc_runtime::events::EventLog;
use ospecc_runtime::faults::rules::{Active, Install};
use ospecc_runtime::proxy::{Edge, Proxy, ProxyRules};
use ospecc_schema::plan::topology::{Matcher, ProxyAction, ProxyRule};
use ospecc_schema::plan::Origin;

struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

fn installed(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// A MariaDB server on a fresh data directory (no grant tables: any user gets in).
fn start_mariadb() -> Option<Server> {
    for program in ["mariadbd", "mariadb-install-db", "mariadb"] {
        if !installed(program) && !Path::new(&format!("/usr/sbin/{program}")).exists() {
            eprintln!("SKIP: {program} is not installed (bash tests/deps/podman.sh installs MariaDB)");
            return None;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let install = Command::new("mariadb-install-db")
        .args(["--no-defaults", "--user=root", "--skip-test-db", "--auth-root-authentication-method=normal"])
        .arg(format!("--datadir={}", data.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(install.status.success(), "mariadb-install-db failed: {}", String::from_utf8_lossy(&install.stderr));
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mariadbd = if installed("mariadbd") { "mariadbd".to_owned() } else { "/usr/sbin/mariadbd".to_owned() };
    let child = Command::new(mariadbd)
        .args(["--no-defaults", "--user=root", "--skip-grant-tables", "--bind-address=127.0.0.1"])
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--port={port}"))
        .arg(format!("--socket={}", dir.path().join("mysqld.sock").display()))
        .arg(format!("--pid-file={}", dir.path().join("mysqld.pid").display()))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = Server { child, addr, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sql(addr, "SELECT 1").0 {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(server._dir.path().join("server.log")).unwrap_or_default();
            panic!("MariaDB did not start on {addr}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(server)
}

/// Runs `statements` with the `mariadb` client; `(success, stdout, stderr)`.
fn sql(addr: SocketAddr, statements: &str) -> (bool, String, String) {
    let out = Command::new("timeout")
        .args(["20", "mariadb", "--no-defaults", "--protocol=tcp", "--batch", "--skip-column-names", "-h"])
        .arg(addr.ip().to_string())
        .arg(format!("--port={}", addr.port()))
        .args(["-u", "root", "--connect-timeout=5", "-e", statements])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn install(rules: &ProxyRules, action: ProxyAction, query: &str) -> Arc<Active<ProxyRule>> {
    let rule = ProxyRule {
        service: "db".into(),
        interface: "main".into(),
        protocol: "mysql".into(),
        action,
        matchers: vec![Matcher { field: "query".into(), glob: query.into() }],
        probability: 1.0,
        assumption: "test".into(),
        origin: Origin { file: "t.star".into(), line: 1, column: 1 },
    };
    rules.install(Install { rule, scope: "scope-1".into(), probability: 1.0, max_fires: None })
}

#[test]
fn mysql_queries_are_faulted_by_sql_and_the_connection_stays_usable() {
    let Some(db) = start_mariadb() else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (rules, events) = (ProxyRules::new(1), EventLog::default());
    let edge = Edge {
        consumer: "api".into(),
        service: "db".into(),
        interface: "main".into(),
        protocol: "mysql".into(),
        upstream: db.addr,
    };
    let proxy = runtime.block_on(Proxy::start(edge, rules.clone(), events.clone())).unwrap();
    let through = proxy.addr();

    // Pass-through: the handshake, authentication and a whole session.
    let (ok, out, err) = sql(
        through,
        "CREATE DATABASE app; CREATE TABLE app.users (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT); \
         INSERT INTO app.users (name) VALUES ('a'); SELECT name FROM app.users",
    );
    assert!(ok, "{err}");
    assert_eq!(out, "a\n");

    // An error by canonical SQL: the INSERT never reaches the server, and the next statements
    // of the same session still work (`--force` goes on after an error).
    let error = install(
        &rules,
        ProxyAction::Error { message: Some("disk full".into()), status: None },
        "INSERT INTO app.users*",
    );
    // (`--force` goes on after an error only for statements read from stdin.)
    let mut client = Command::new("timeout")
        .args(["20", "mariadb", "--no-defaults", "--protocol=tcp", "--batch", "--skip-column-names", "--force", "-h"])
        .arg(through.ip().to_string())
        .arg(format!("--port={}", through.port()))
        .args(["-u", "root"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = client.stdin.take().unwrap();
        stdin.write_all(b"insert   into app.users (name)\n values ('b');\nSELECT count(*) FROM app.users;\n").unwrap();
    }
    let out = client.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stderr.contains("ERROR 1021 (HY000)") && stderr.contains("disk full"), "{stderr}");
    assert_eq!(stdout, "1\n", "the faulted INSERT reached the server, or the session broke: {stderr}");
    assert_eq!(error.matched(), 1);
    let fired: Vec<_> = events.since(0).into_iter().filter(|e| e.kind == "proxy").collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].fields["action"], "error");
    assert!(fired[0].fields["query"].as_str().unwrap().starts_with("insert   into app.users"));
    // Another statement is not matched.
    let (ok, out, err) = sql(through, "SELECT count(*) FROM app.users");
    assert!(ok, "{err}");
    assert_eq!(out, "1\n");
    rules.remove(error.id);

    // Delay: the statement runs, later.
    let delay = install(&rules, ProxyAction::Delay { ms: 700 }, "SELECT SLEEP(0)*");
    let started = Instant::now();
    let (ok, out, err) = sql(through, "SELECT SLEEP(0) + 5");
    assert!(ok, "{err}");
    assert_eq!(out, "5\n");
    assert!(started.elapsed() >= Duration::from_millis(700), "{:?}", started.elapsed());
    rules.remove(delay.id);

    // Drop: the client loses the connection.
    let drop = install(&rules, ProxyAction::Drop, "DELETE*");
    let (ok, _, err) = sql(through, "DELETE FROM app.users");
    assert!(!ok);
    assert!(err.contains("Lost connection") || err.contains("gone away"), "{err}");
    rules.remove(drop.id);
    let (ok, out, _) = sql(db.addr, "SELECT count(*) FROM app.users");
    assert!(ok);
    assert_eq!(out, "1\n", "the dropped DELETE reached the server");

    runtime.block_on(proxy.stop());
}
