//! `image=` and `build=` services end to end, on the engine this machine has (Podman or
//! Docker), with images built from its own packages (`tests/images/build.sh`): containers and
//! processes in one spec (env references, volumes, args, output events, healthchecks), syscall
//! faults inside a container through the shim, `build=` cached by content, and no container
//! left behind after success, failure, SIGINT, SIGTERM or `kill -9` (the next run removes it).
//! Each test skips with a printed reason when no engine can run a container here. Ports are in
//! 42000-42999.

mod common;
mod containers_common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ospecc_with, Run};
use containers_common::{ready, write, Engine};

const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// An nginx configuration serving `/srv/www` on `port`, logging to stdout/stderr.
fn nginx_conf(port: u16) -> String {
    format!(
        "user nginx;\nworker_processes 1;\nerror_log /dev/stderr notice;\npid /tmp/nginx.pid;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log /dev/stdout;\n  client_body_temp_path /tmp/cb;\n  proxy_temp_path /tmp/p;\n\
           fastcgi_temp_path /tmp/f;\n  uwsgi_temp_path /tmp/u;\n  scgi_temp_path /tmp/s;\n\
           server {{ listen {port}; location / {{ root /srv/www; }} }}\n}}\n"
    )
}

/// A project with the nginx configuration and its pages.
fn site(dir: &Path, port: u16) {
    write(dir, "conf/nginx.conf", &nginx_conf(port));
    write(dir, "www/hello.txt", "hello from a volume\n");
}

/// One test at a time: every run starts by removing what a killed run left, which would race
/// the test that kills a run on purpose, and the tests share the engine's images.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn run(dir: &Path, spec: &str, engine: &Engine, extra: &[&str]) -> Run {
    let mut args = vec!["run", spec, "--engine", engine.program.as_str(), "--grace", "2"];
    args.extend_from_slice(extra);
    ospecc_with(dir, &args, None, &[], RUN_TIMEOUT)
}

fn assert_passed(run: &Run, passed: usize) {
    assert_eq!(run.code, Some(0), "{}", run.text());
    run.no_panic();
    assert!(run.stdout.contains(&format!("{passed} passed, 0 failed, 0 errored")), "{}", run.text());
}

#[test]
fn containers_and_processes_mix_in_one_spec() {
    let _serial = serial();
    let Some(engine) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    site(dir.path(), 42081);
    // The web container prints what its env references rendered to (logfmt on stdout, decoded
    // into fields), then runs nginx with the mounted configuration; the process does the same
    // for the database's address.
    let spec = r#"
pg = service("mix_pg",
    interface("main", "postgres", 42543),
    image = "postgres:16-alpine",
    args = ["postgres", "-c", "port=42543"],
    env = {"POSTGRES_PASSWORD": "s3cret", "POSTGRES_USER": "app", "POSTGRES_DB": "appdb"},
    healthcheck = ready(timeout = "60s"),
)
web = service("mix_web",
    interface("http", "http", 42081),
    image = "nginx:1.27-alpine",
    args = ["/bin/sh", "-c", "echo db=$DB internal=$INTERNAL; exec /usr/sbin/nginx -c /etc/custom/nginx.conf -g 'daemon off;'"],
    env = {"DB": "postgres://app@" + pg.main.addr + "/appdb", "INTERNAL": pg.main.internal_addr},
    volumes = {"conf": "/etc/custom", "www": "/srv/www:ro"},
    observe = [observe.stdout(decoder = decoder("logfmt"))],
    depends_on = [pg],
    healthcheck = http("localhost:42081/hello.txt", timeout = "30s"),
)
api = service("mix_api", "/bin/sh",
    args = ["-c", "echo db=$DB web=$WEB; exec sleep 600"],
    env = {"DB": pg.main.addr, "WEB": web.http.addr},
    observe = [observe.stdout(decoder = decoder("logfmt"))],
    depends_on = [pg, web],
)

def test_everything_talks():
    rows = pg.main.query(sql = "SELECT current_database() AS db, current_user AS who")
    assert_true(rows.ok, "the query failed: " + rows.error)
    assert_eq(rows.data[0]["db"], "appdb")
    assert_eq(rows.data[0]["who"], "app")
    resp = web.http.get(path = "/hello.txt")
    assert_eq(resp.status, 200)
    assert_eq(resp.body.strip(), "hello from a volume")
    # The web container only reaches the database container: both are on the run's network,
    # where service names are host names.
    assert_eq(len(events(service = "mix_web", db = "postgres://app@mix_pg:42543/appdb")), 1)
    assert_eq(len(events(service = "mix_web", internal = "mix_pg:42543")), 1)
    assert_eq(len(events(service = "mix_api", db = "localhost:42543", web = "localhost:42081")), 1)
"#;
    write(dir.path(), "spec.star", spec);
    let run = run(dir.path(), "spec.star", &engine, &["--out", "trace"]);
    assert_passed(&run, 1);
    let trace = std::fs::read_to_string(dir.path().join("trace/test_everything_talks.jsonl")).unwrap();
    assert!(trace.contains("\"container_started\""), "{trace}");
    // nginx's access log line for the step came through the container's stdout.
    assert!(trace.contains("GET /hello.txt HTTP/1.1"), "{trace}");
    for service in ["mix_pg", "mix_web"] {
        assert!(engine.containers("ospecc.service", service).is_empty(), "{service} was left behind");
    }
}

#[test]
fn syscall_faults_reach_inside_a_container() {
    let _serial = serial();
    let Some(engine) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    site(dir.path(), 42082);
    let spec = r#"
web = service("sys_web",
    interface("http", "http", 42082),
    image = "nginx:1.27-alpine",
    args = ["/usr/sbin/nginx", "-c", "/etc/custom/nginx.conf", "-g", "daemon off;"],
    volumes = {"conf": "/etc/custom", "www": "/srv/www"},
    ops = {"read_page": op(syscalls = ["openat"], path = "/srv/www/*")},
    healthcheck = http("localhost:42082/hello.txt", timeout = "30s"),
)

def test_a_denied_open_is_a_403():
    def scenario():
        resp = web.http.get(path = "/hello.txt")
        assert_eq(resp.status, 403)
    fault(web, read_page = deny("EACCES"), run = scenario)
    assert_eventually(service = "sys_web", syscall = "openat", decision = "deny*")

def test_unfaulted_it_serves():
    assert_eq(web.http.get(path = "/hello.txt").status, 200)
"#;
    write(dir.path(), "spec.star", spec);
    let run = run(dir.path(), "spec.star", &engine, &["--normalize", "trace.norm"]);
    assert_passed(&run, 2);
    let norm = std::fs::read_to_string(dir.path().join("trace.norm")).unwrap();
    assert!(norm.contains("openat deny(permission denied) /srv/www/hello.txt"), "{norm}");
    assert!(engine.containers("ospecc.service", "sys_web").is_empty());
}

#[test]
fn build_contexts_are_built_once_per_content() {
    let _serial = serial();
    let Some(engine) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "web/Containerfile",
        "FROM nginx:1.27-alpine\nCOPY nginx.conf /etc/nginx/nginx.conf\nCOPY www /srv/www\n",
    );
    write(dir.path(), "web/nginx.conf", &nginx_conf(42083));
    write(dir.path(), "web/www/hello.txt", "built\n");
    let spec = r#"
web = service("built_web",
    interface("http", "http", 42083),
    build = "web",
    healthcheck = http("localhost:42083/hello.txt", timeout = "30s"),
)

def test_it_serves_what_was_built():
    resp = web.http.get(path = "/hello.txt")
    assert_eq(resp.body.strip(), "built")
"#;
    write(dir.path(), "spec.star", spec);
    let tags = || {
        let (ok, out, err) =
            engine.run(&["images", "--filter", "reference=*/ospecc-build-built_web", "--format", "{{.Tag}}"]);
        assert!(ok, "{err}");
        out.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let first = run(dir.path(), "spec.star", &engine, &[]);
    assert_passed(&first, 1);
    let after_first = tags();
    assert_eq!(run(dir.path(), "spec.star", &engine, &[]).code, Some(0));
    assert_eq!(tags(), after_first, "the unchanged context was built again");
    write(dir.path(), "web/www/hello.txt", "rebuilt\n");
    let changed = run(dir.path(), "spec.star", &engine, &[]);
    assert_eq!(changed.code, Some(1), "the old page is still served:\n{}", changed.text());
    assert!(tags().len() > after_first.len(), "a changed context makes a new image");
    for tag in tags() {
        let _ = engine.run(&["rmi", "--force", &format!("localhost/ospecc-build-built_web:{tag}")]);
    }
}

/// A spec whose container never becomes healthy: nginx serves on `port` (its own, so that
/// stuck runs in parallel tests do not collide), the healthcheck waits for 42099, where nothing
/// listens; the run sits in the healthcheck for a minute, time for a signal.
fn stuck_spec(service: &str, port: u16) -> String {
    format!(
        r#"
web = service("{service}",
    interface("http", "http", {port}),
    image = "nginx:1.27-alpine",
    args = ["/usr/sbin/nginx", "-c", "/etc/custom/nginx.conf", "-g", "daemon off;"],
    volumes = {{"conf": "/etc/custom", "www": "/srv/www"}},
    healthcheck = tcp("localhost:42099", timeout = "60s"),
)

def test_never_ready():
    pass
"#
    )
}

/// Starts `ospecc run` on the stuck spec and waits until its container exists.
fn start_stuck(dir: &Path, engine: &Engine, service: &str, port: u16) -> std::process::Child {
    site(dir, port);
    write(dir, &format!("{service}.star"), &stuck_spec(service, port));
    let child = Command::new(env!("CARGO_BIN_EXE_ospecc"))
        .args(["run", &format!("{service}.star"), "--engine", &engine.program])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while engine.containers("ospecc.service", service).is_empty() {
        assert!(Instant::now() < deadline, "the container of {service} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "ospecc did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn no_container_outlives_success_failure_or_a_signal() {
    let _serial = serial();
    let Some(engine) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    site(dir.path(), 42084);
    let spec = r#"
web = service("life_web",
    interface("http", "http", 42084),
    image = "nginx:1.27-alpine",
    args = ["/usr/sbin/nginx", "-c", "/etc/custom/nginx.conf", "-g", "daemon off;"],
    volumes = {"conf": "/etc/custom", "www": "/srv/www"},
    healthcheck = http("localhost:42084/hello.txt", timeout = "30s"),
)

def test_passes():
    assert_eq(web.http.get(path = "/hello.txt").status, 200)

def test_fails():
    assert_eq(web.http.get(path = "/hello.txt").status, 500)
"#;
    write(dir.path(), "spec.star", spec);
    let run = run(dir.path(), "spec.star", &engine, &[]);
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(run.stdout.contains("1 passed, 1 failed"), "{}", run.text());
    assert!(engine.containers("ospecc.service", "life_web").is_empty(), "a container outlived the run");

    for (signal, service) in [(libc::SIGINT, "life_sigint"), (libc::SIGTERM, "life_sigterm")] {
        let mut child = start_stuck(dir.path(), &engine, service, 42087);
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = wait_exit(&mut child);
        assert_eq!(status.code(), Some(2), "{service}: interrupted runs exit 2");
        assert!(engine.containers("ospecc.service", service).is_empty(), "{service}: its container outlived the run");
    }
}

/// Takes the `flock` a run holds on its lock file (creating the file if a reaper removed it),
/// so that the run counts as alive until the returned file is dropped.
fn hold(path: &str) -> std::fs::File {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
    // SAFETY: flock on a file we own.
    assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
    file
}

#[test]
fn the_next_run_removes_what_a_killed_run_left() {
    let _serial = serial();
    let Some(engine) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_stuck(dir.path(), &engine, "killed_web", 42088);
    let name = engine.containers("ospecc.service", "killed_web").remove(0);
    let (ok, lock, err) = engine.run(&["inspect", "--format", "{{index .Config.Labels \"ospecc.lock\"}}", &name]);
    assert!(ok, "{err}");
    let (ok, run_id, err) = engine.run(&["inspect", "--format", "{{index .Config.Labels \"ospecc.run\"}}", &name]);
    assert!(ok, "{err}");
    // The container reaches nothing on the host: it is on its run's network.
    let network = format!("ospecc-{}", run_id.trim());
    // Other runs on this machine (tests running in parallel) would remove the container as soon
    // as they start one: the dead run's lock is taken over the moment it dies (a waiter blocked
    // on it gets it before anyone's non-blocking try) and held while the leftover is checked.
    let (tx, rx) = std::sync::mpsc::channel();
    let lock = lock.trim().to_owned();
    std::thread::spawn(move || tx.send(hold(&lock)));
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    wait_exit(&mut child);
    let held = rx.recv_timeout(Duration::from_secs(30)).expect("the dead run's lock");
    std::thread::sleep(Duration::from_millis(500));
    let left = engine.containers("ospecc.service", "killed_web");
    assert_eq!(
        left,
        std::slice::from_ref(&name),
        "a SIGKILL leaves no time for teardown: the engine keeps the container"
    );
    assert!(engine.run(&["network", "inspect", &network]).0, "the killed run's network {network} is kept too");
    drop(held);

    site(dir.path(), 42085);
    let spec = r#"
web = service("next_web",
    interface("http", "http", 42085),
    image = "nginx:1.27-alpine",
    args = ["/usr/sbin/nginx", "-c", "/etc/custom/nginx.conf", "-g", "daemon off;"],
    volumes = {"conf": "/etc/custom", "www": "/srv/www"},
    healthcheck = http("localhost:42085/hello.txt", timeout = "30s"),
)

def test_serves():
    assert_eq(web.http.get(path = "/hello.txt").status, 200)
"#;
    write(dir.path(), "spec.star", spec);
    assert_passed(&run(dir.path(), "spec.star", &engine, &[]), 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !engine.containers("ospecc.service", "killed_web").is_empty() {
        assert!(Instant::now() < deadline, "the next run left {name} in place");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!engine.run(&["network", "inspect", &network]).0, "the next run left the network {network} in place");
}

/// The users-api example's topology with its PostgreSQL and Redis as images instead of local
/// processes (and its ports moved into this file's range): the same spec text otherwise, so
/// the same 3 tests and 13 fault-matrix cells.
fn users_with_images(api: &Path) -> String {
    let example = std::fs::read_to_string(common::repo_root().join("examples/users-api/users.star")).unwrap();
    let replacements = [
        (
            "    \"db\",\n    \"scripts/postgres.sh\",\n    interface(\"pg\", \"postgres\", 15433),",
            "    \"db\",\n    interface(\"pg\", \"postgres\", 15433),\n    image = \"postgres:16-alpine\",",
        ),
        (
            "    \"cache\",\n    \"scripts/redis.sh\",\n    interface(\"redis\", \"redis\", 16380),",
            "    \"cache\",\n    interface(\"redis\", \"redis\", 16380),\n    image = \"redis:7-alpine\",\n    \
             args = [\"redis-server\", \"--port\", \"16380\"],",
        ),
        ("\"../../target/debug/users-api\"", &format!("{:?}", api.display().to_string())),
        ("15433", "42433"),
        ("16380", "42380"),
        ("18080", "42180"),
    ];
    let mut spec = example;
    for (from, to) in replacements {
        assert!(spec.contains(from), "examples/users-api/users.star no longer has {from:?}: update this test");
        spec = spec.replace(from, to);
    }
    spec
}

#[test]
fn the_example_service_passes_its_matrix_with_postgres_and_redis_as_images() {
    let _serial = serial();
    let Some(engine) = ready() else { return };
    let api = common::repo_root().join("target/debug/users-api");
    let api = std::env::var_os("CARGO_TARGET_DIR").map_or(api.clone(), |dir| Path::new(&dir).join("debug/users-api"));
    if !api.is_file() {
        eprintln!("SKIP: {} is not built (cargo build -p users-api)", api.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "users.star", &users_with_images(&api));
    let run = run(dir.path(), "users.star", &engine, &["--show", "all"]);
    assert_passed(&run, 16);
}

#[test]
fn a_shim_that_cannot_start_the_service_fails_the_start_with_its_reason() {
    let _serial = serial();
    let Some(engine) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"
web = service("shim_fail_web",
    interface("http", "http", 42086),
    image = "nginx:1.27-alpine",
    args = ["/no/such/program"],
    healthcheck = tcp("localhost:42086", timeout = "20s"),
)

def test_faulted():
    fault(web, write = deny("EIO"), run = lambda: None)
"#;
    write(dir.path(), "spec.star", spec);
    let run = run(dir.path(), "spec.star", &engine, &[]);
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(run.stdout.contains("0 passed, 0 failed, 1 errored"), "{}", run.text());
    assert!(run.stdout.contains("exited with code 127 before it became ready"), "{}", run.text());
    assert!(run.stdout.contains("ospecc shim: cannot run `/no/such/program`"), "{}", run.text());
    assert!(engine.containers("ospecc.service", "shim_fail_web").is_empty());
}

/// `reuse=True` on a Redis container and a process: kept from one test to the next (one container for the
/// tests that adopt it), `seed=` after each fresh start, `reset=` before each adopted test,
/// restarted (`service_not_reused`) around a test that faults its syscalls, and removed at
/// the end of the run like every other container.
#[test]
fn a_reused_container_is_kept_across_tests_and_reset_between_them() {
    let _serial = serial();
    let Some(engine) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"
def seed_cache():
    cache.main.set(key = "seeded", value = "yes")

def reset_cache():
    cache.main.command(cmd = "FLUSHALL")
    seed_cache()

cache = service("reuse_cache",
    interface("main", "redis", 23379),
    image = "redis:7-alpine",
    args = ["/usr/bin/redis-server", "--port", "23379", "--protected-mode", "no", "--save", ""],
    reuse = True,
    seed = seed_cache,
    reset = reset_cache,
    healthcheck = ready(timeout = "30s"),
)
worker = service("reuse_worker", "/bin/sh",
    args = ["-c", "echo started; exec sleep 600"],
    reuse = True,
    reset = lambda: None,
)

def test_1_writes():
    assert_eq(cache.main.get(key = "seeded").data["value"], "yes")
    cache.main.set(key = "leak", value = "from test 1")

def test_2_sees_a_reset_cache():
    assert_eq(cache.main.get(key = "leak").data["value"], None)
    assert_eq(cache.main.get(key = "seeded").data["value"], "yes")
    cache.main.set(key = "leak", value = "from test 2")

def test_3_protocol_faults_keep_it():
    def scenario():
        assert_true(not cache.main.get(key = "seeded").ok, "the proxy answers GET with an error")
    fault(cache.main, error(command = "GET"), run = scenario)
    assert_eq(cache.main.get(key = "leak").data["value"], None)

def test_4_syscall_faults_restart_it():
    def scenario():
        assert_eq(cache.main.get(key = "seeded").data["value"], "yes")
    fault(cache, fsync = deny("EIO"), run = scenario)
"#;
    write(dir.path(), "spec.star", spec);
    let run = run(dir.path(), "spec.star", &engine, &["--bundle", "run.bundle"]);
    assert_passed(&run, 4);
    let events =
        common::ospecc_with(dir.path(), &["inspect", "run.bundle", "events.jsonl"], None, &[], Duration::from_secs(60));
    assert_eq!(events.code, Some(0), "{}", events.text());
    let events: Vec<serde_json::Value> =
        events.stdout.lines().map(|l| serde_json::from_str(l).expect("an event per line")).collect();
    let of = |kind: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["type"] == kind && e["service"] == "reuse_cache").collect()
    };
    // Started for test 1, adopted by 2 and 3; test 4 runs it under a filter, so it restarts.
    assert_eq!(of("container_started").len(), 2, "{:#?}", of("container_started"));
    let adopted: Vec<_> = of("service_started").into_iter().filter(|e| e["fields"]["reused"] == true).collect();
    assert_eq!(adopted.len(), 2, "{adopted:#?}");
    assert_eq!(of("service_seed").len(), 2, "a seed after each fresh start");
    assert_eq!(of("service_reset").len(), 2, "a reset before each adopted test");
    assert_eq!(of("service_not_reused").len(), 1, "{:#?}", of("service_not_reused"));
    // Kept after tests 1, 2, 3 and 4; the last one is removed at the end of the run.
    assert_eq!(of("service_kept").len(), 4);
    assert_eq!(of("container_removed").len(), 2);
    // A reused process: started once, adopted by the three later tests, stopped at the end.
    let worker = |kind: &str| events.iter().filter(|e| e["type"] == kind && e["service"] == "reuse_worker").count();
    assert_eq!(worker("service_started"), 4);
    assert_eq!(worker("service_reset"), 3);
    assert_eq!(worker("service_stopped"), 1);
    assert_eq!(events.iter().filter(|e| e["type"] == "stdout" && e["service"] == "reuse_worker").count(), 1);
    assert!(engine.containers("ospecc.service", "reuse_cache").is_empty(), "the kept container was left behind");
}

/// The run's bridge network: a Redis replica container finds its primary container by service
/// name (`primary.main.internal_addr` renders to `net_primary:23381` there) while the test reaches both on the
/// host's loopback; a container whose environment names a process joins the host's network;
/// the network is gone after the run.
#[test]
fn containers_reach_each_other_by_name_on_the_run_network() {
    let _serial = serial();
    let Some(engine) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"
primary = service("net_primary",
    interface("main", "redis", 23381),
    image = "redis:7-alpine",
    args = ["/usr/bin/redis-server", "--port", "23381", "--protected-mode", "no", "--save", ""],
    healthcheck = ready(timeout = "30s"),
)
replica = service("net_replica",
    interface("main", "redis", 23382),
    image = "redis:7-alpine",
    args = ["/bin/sh", "-c", "exec /usr/bin/redis-server --port 23382 --protected-mode no --save '' --replicaof ${PRIMARY%:*} ${PRIMARY#*:}"],
    env = {"PRIMARY": primary.main.internal_addr},
    depends_on = [primary],
    healthcheck = ready(timeout = "30s"),
)
helper = service("net_helper", "/bin/sh",
    interface("main", "tcp", 23383),
    args = ["-c", "exec sleep 600"],
)
hosted = service("net_hosted",
    interface("main", "redis", 23384),
    image = "redis:7-alpine",
    args = ["/bin/sh", "-c", "echo helper=$HELPER; exec /usr/bin/redis-server --port 23384 --protected-mode no --save ''"],
    env = {"HELPER": helper.main.addr},
    observe = [observe.stdout(decoder = decoder("logfmt"))],
    healthcheck = ready(timeout = "30s"),
)

def test_the_replica_follows_its_primary_by_name():
    primary.main.set(key = "k", value = "v")
    seen = None
    for _ in range(100):
        seen = replica.main.get(key = "k").data["value"]
        if seen == "v":
            break
        sleep("100ms")
    assert_eq(seen, "v")
    assert_eventually(service = "net_replica", line = "*Connecting to MASTER net_primary:23381*")
    assert_eq(len(events(service = "net_hosted", helper = "localhost:23383")), 1)
"#;
    write(dir.path(), "spec.star", spec);
    let run = run(dir.path(), "spec.star", &engine, &["--bundle", "run.bundle"]);
    assert_passed(&run, 1);
    let events =
        common::ospecc_with(dir.path(), &["inspect", "run.bundle", "events.jsonl"], None, &[], Duration::from_secs(60));
    let started: Vec<serde_json::Value> = events
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("an event per line"))
        .filter(|e| e["type"] == "container_started")
        .collect();
    let network_of = |service: &str| {
        let event = started.iter().find(|e| e["service"] == service).expect("the container started");
        event["fields"]["network"].as_str().unwrap().to_owned()
    };
    let network = network_of("net_primary");
    assert!(network.starts_with("ospecc-"), "{started:#?}");
    assert_eq!(network_of("net_replica"), network);
    assert_eq!(network_of("net_hosted"), "host");
    let (exists, _, _) = engine.run(&["network", "inspect", &network]);
    assert!(!exists, "the run's network {network} was left behind");
}

/// Whether `program` runs here (`--version` or `-V` answers).
fn runs(program: &str, flag: &str) -> bool {
    Command::new(program).arg(flag).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// The reference's Pattern 2 (producer → Kafka → consumer → PostgreSQL), `tests/runs/pattern2`:
/// the Kafka mock as the broker, PostgreSQL as an image, the producer and consumer as processes
/// (kcat and psql clients); its three critical faults and a positive control pass, and each
/// fault shows in the trace where it was injected.
#[test]
fn the_reference_pattern_2_runs_with_the_kafka_mock() {
    let _serial = serial();
    let Some(engine) = ready() else { return };
    for (program, flag) in [("kcat", "-V"), ("psql", "--version"), ("python3", "--version")] {
        if !runs(program, flag) {
            eprintln!("SKIP: Pattern 2's producer and consumer need `{program}` (tests/deps/podman.sh installs it)");
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let source = common::repo_root().join("tests/runs/pattern2");
    for file in ["faultbox.star", "producer.py", "consumer.py"] {
        std::fs::copy(source.join(file), dir.path().join(file)).unwrap();
    }
    let run = run(dir.path(), "faultbox.star", &engine, &["--normalize", "trace.norm"]);
    assert_passed(&run, 4);
    let norm = std::fs::read_to_string(dir.path().join("trace.norm")).unwrap();
    let block = |test: &str| {
        let start = norm.find(&format!("=== {test} ===")).unwrap_or_else(|| panic!("{test} in\n{norm}"));
        let rest = &norm[start + 4..];
        rest[..rest.find("=== ").unwrap_or(rest.len())].to_owned()
    };
    assert!(block("test_kafka_down").contains("connect deny(connection refused)"), "{norm}");
    assert!(block("test_consumer_db_down").contains("deny(input/output error)"), "{norm}");
    assert!(!block("test_order_is_persisted").contains("deny("), "{norm}");
    assert!(engine.containers("ospecc.service", "db").is_empty(), "the database container was left behind");
}

/// A `reset=` hook that raises errors the test that adopted the service, naming the service and
/// the hook; the test before it (a fresh start, no reset) passes. Processes only: runs without
/// an engine.
#[test]
fn a_raising_reset_hook_errors_the_test() {
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"
def broken_reset():
    fail("the state cannot be restored")

worker = service("hook_worker", "/bin/sh",
    args = ["-c", "exec sleep 600"],
    reuse = True,
    reset = broken_reset,
)

def test_1_fresh():
    assert_true(True)

def test_2_adopted():
    assert_true(True)
"#;
    write(dir.path(), "spec.star", spec);
    let run =
        common::ospecc_with(dir.path(), &["run", "spec.star", "--grace", "2", "--no-bundle"], None, &[], RUN_TIMEOUT);
    run.no_panic();
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(run.stdout.contains("1 passed, 0 failed, 1 errored"), "{}", run.text());
    assert!(
        run.stdout
            .contains("the seed/reset hook raised: `hook_worker` (broken_reset): fail: the state cannot be restored"),
        "{}",
        run.text()
    );
}
