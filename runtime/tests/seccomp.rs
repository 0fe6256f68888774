//! Syscall faults by seccomp user notification against real python3 children: errno answers,
//! path and connect-destination scoping, delays under signals (WAIT_KILLABLE_RECV), seeded
//! probability, `max_fires`, multithreaded and forking children, live rule changes, events,
//! no filter for unfaulted services, and no thread left behind. Tests run one at a time (timing
//! and thread counts must not be disturbed by a neighbour); each is bounded by a timeout.
//! Without python3 (or without kernel support) they skip with a printed reason.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ospecc_runtime::events::{Event, EventLog};
use ospecc_runtime::faults::rules::{Active, Install};
use ospecc_runtime::seccomp::{Faulting, SyscallRules};
use ospecc_runtime::supervisor::decode::Decoder;
use ospecc_runtime::supervisor::process::{self, Proc};
use ospecc_runtime::supervisor::{Services, StartOptions};
use ospecc_schema::plan::topology::{Launch, SyscallAction, SyscallRule};
use ospecc_schema::plan::{Origin, Service};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// The real python3 executable (not a pyenv shim), or why the tests cannot run.
fn python() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let out = std::process::Command::new("python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .output()
                .map_err(|e| format!("python3 is not available ({e})"))?;
            let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !out.status.success() || path.is_empty() {
                return Err("python3 does not run".to_owned());
            }
            ospecc_runtime::seccomp::probe().map_err(|e| format!("no kernel support: {e}"))?;
            Ok(PathBuf::from(path))
        })
        .clone()
}

/// The python3 path, or None after printing why the test is skipped.
fn python_or_skip(test: &str) -> Option<PathBuf> {
    match python() {
        Ok(p) => Some(p),
        Err(reason) => {
            eprintln!("skipping {test}: {reason}");
            None
        }
    }
}

async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, future).await.expect("the test took too long")
}

fn origin() -> Origin {
    Origin { file: "spec.star".into(), line: 1, column: 1 }
}

fn rule(syscalls: &[&str], action: SyscallAction, path: Option<&str>) -> SyscallRule {
    SyscallRule {
        service: "svc".into(),
        key: syscalls[0].into(),
        syscalls: syscalls.iter().map(|s| s.to_string()).collect(),
        action,
        probability: 1.0,
        max_fires: None,
        mode: None,
        label: Some(format!("label-{}", syscalls[0])),
        path: path.map(Into::into),
        assumption: "a".into(),
        origin: origin(),
    }
}

fn deny(errno: &str) -> SyscallAction {
    SyscallAction::Deny { errno: errno.into() }
}

fn install(table: &SyscallRules, rule: SyscallRule) -> Arc<Active<SyscallRule>> {
    table.install(Install { rule, scope: "test-scope".into(), probability: 1.0, max_fires: None })
}

fn faulting(intercept: &[&str], rules: &SyscallRules) -> Faulting {
    Faulting {
        intercept: intercept.iter().map(|s| s.to_string()).collect(),
        rules: rules.clone(),
        upstream_of: Arc::new(|_| None),
        detect: None,
    }
}

async fn spawn(
    name: &str,
    program: &Path,
    args: &[String],
    seccomp: Option<Faulting>,
    events: &EventLog,
) -> std::io::Result<Proc> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let workdir = std::env::temp_dir();
    let spec = process::Spec {
        name,
        program: program.to_path_buf(),
        args,
        env: &env,
        workdir: &workdir,
        decoders: (Decoder::Plain, Decoder::Plain),
        seccomp,
    };
    process::spawn(spec, events).await
}

fn of(events: &EventLog, service: &str, kind: &str) -> Vec<Event> {
    events.since(0).into_iter().filter(|e| e.service == service && e.kind == kind).collect()
}

fn stdout(events: &EventLog, service: &str) -> Vec<String> {
    of(events, service, "stdout").iter().map(|e| e.fields["line"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn eventually(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs a python script under a filter to its end; returns its stdout lines (after checking
/// it exited 0) once its supervisor loop has ended too.
async fn run_script(name: &str, script: &str, seccomp: Option<Faulting>, events: &EventLog) -> Vec<String> {
    let python = python().expect("checked by the caller");
    let args = vec!["-c".to_owned(), script.to_owned()];
    let filtered = seccomp.is_some();
    let proc = spawn(name, &python, &args, seccomp, events).await.expect("spawn");
    let exit = tokio::time::timeout(Duration::from_secs(30), proc.exited()).await.expect("the child took too long");
    if filtered {
        eventually("the supervisor loop to end", Duration::from_secs(5), || {
            !of(events, name, "syscall_supervisor").is_empty()
        })
        .await;
    }
    let lines = stdout(events, name);
    let errors: Vec<String> =
        of(events, name, "stderr").iter().map(|e| e.fields["line"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(exit.code, Some(0), "{name} {}; stdout {lines:?}; stderr {errors:?}", exit.cause);
    lines
}

fn syscall_events(events: &EventLog, service: &str) -> Vec<Event> {
    of(events, service, "syscall")
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

const CONNECT_FN: &str = r#"
import socket, sys
def connect(addr, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.connect(addr)
        return "ok"
    except OSError as e:
        return "errno=%d" % e.errno
    finally:
        s.close()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_denied_for_inet_and_passes_for_unix() {
    let _serial = SERIAL.lock().await;
    let Some(_) = python_or_skip("connect_is_denied_for_inet_and_passes_for_unix") else { return };
    bounded(async {
        let (_l, port) = listener();
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("log.sock");
        let script = format!(
            "{CONNECT_FN}
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); u.bind({sock:?}); u.listen(1)
print('inet', connect(('127.0.0.1', {port})))
print('unix', connect({sock:?}, socket.AF_UNIX))
",
            sock = sock.to_string_lossy()
        );
        let events = EventLog::default();
        let rules = SyscallRules::new(1);
        let active = install(&rules, rule(&["connect"], deny("ECONNREFUSED"), None));
        let lines = run_script("conn", &script, Some(faulting(&["connect"], &rules)), &events).await;
        assert_eq!(lines, vec!["inet errno=111".to_owned(), "unix ok".to_owned()]);
        let fired = syscall_events(&events, "conn");
        assert_eq!(fired.len(), 1, "{fired:?}");
        let f = &fired[0].fields;
        assert_eq!(f["syscall"], "connect");
        assert_eq!(f["decision"], "deny");
        assert_eq!(f["errno"], "ECONNREFUSED");
        assert_eq!(f["dest"], format!("127.0.0.1:{port}"));
        assert_eq!(f["rule"], active.id);
        assert_eq!(f["scope"], "test-scope");
        assert_eq!(f["label"], "label-connect");
        assert!(f["pid"].as_u64().unwrap() > 0);
        assert_eq!((active.matched(), active.fired()), (1, 1), "the unix connect never matched");
        let stats = &of(&events, "conn", "syscall_supervisor")[0].fields;
        assert_eq!(stats["fired"], 1);
        assert!(stats["continued"].as_u64().unwrap() >= 1, "{stats:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_scoped_rules_deny_only_the_matching_port_and_its_proxies() {
    let _serial = SERIAL.lock().await;
    let Some(_) = python_or_skip("destination_scoped_rules") else { return };
    bounded(async {
        let (_a, port_a) = listener();
        let (_b, port_b) = listener();
        let (_proxy, port_proxy) = listener();
        let script = format!(
            "{CONNECT_FN}
print('a', connect(('127.0.0.1', {port_a})))
print('b', connect(('127.0.0.1', {port_b})))
print('proxy', connect(('127.0.0.1', {port_proxy})))
"
        );
        let events = EventLog::default();
        let rules = SyscallRules::new(1);
        install(&rules, rule(&["connect"], deny("ECONNREFUSED"), Some(&format!("*:{port_a}"))));
        let mut f = faulting(&["connect"], &rules);
        let upstream: SocketAddr = format!("127.0.0.1:{port_a}").parse().unwrap();
        f.upstream_of = Arc::new(move |addr| (addr.port() == port_proxy).then_some(upstream));
        let lines = run_script("dest", &script, Some(f), &events).await;
        assert_eq!(lines, vec!["a errno=111".to_owned(), "b ok".to_owned(), "proxy errno=111".to_owned()]);
        let fired = syscall_events(&events, "dest");
        assert_eq!(fired.len(), 2);
        assert_eq!(fired[1].fields["dest"], format!("127.0.0.1:{port_proxy}"));
        assert_eq!(fired[1].fields["upstream"], format!("127.0.0.1:{port_a}"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_enospc_hits_only_files_under_the_glob_and_stdout_still_works() {
    let _serial = SERIAL.lock().await;
    let Some(_) = python_or_skip("write_enospc") else { return };
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_string_lossy().into_owned();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let script = format!(
            r#"
import os, sys
def write(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"x")
        return "ok"
    except OSError as e:
        return "errno=%d" % e.errno
    finally:
        os.close(fd)
print("data", write("{root}/data/file.txt"))
sys.stdout.flush()
print("other", write("{root}/other.txt"))
os.write(2, b"stderr works\n")
"#
        );
        let events = EventLog::default();
        let rules = SyscallRules::new(1);
        install(&rules, rule(&["write", "writev", "pwrite64"], deny("ENOSPC"), Some(&format!("{root}/data/*"))));
        let intercept = ["write", "writev", "pwrite64", "pwritev", "pwritev2"];
        let lines = run_script("wr", &script, Some(faulting(&intercept, &rules)), &events).await;
        assert_eq!(lines, vec!["data errno=28".to_owned(), "other ok".to_owned()]);
        assert_eq!(of(&events, "wr", "stderr").len(), 1);
        let fired = syscall_events(&events, "wr");
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].fields["path"], format!("{root}/data/file.txt"));
        assert_eq!(fired[0].fields["errno"], "ENOSPC");
        let stats = &of(&events, "wr", "syscall_supervisor")[0].fields;
        assert_eq!(stats["notified"], 2, "stdout/stderr writes are not notified: {stats:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsync_fails_with_eio_and_unknown_names_warn() {
    let _serial = SERIAL.lock().await;
    let Some(_) = python_or_skip("fsync_eio") else { return };
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f").to_string_lossy().into_owned();
        let script = format!(
            r#"
import os
fd = os.open("{path}", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x")
try:
    os.fsync(fd); print("fsync ok")
except OSError as e:
    print("fsync errno=%d" % e.errno)
try:
    os.fdatasync(fd); print("fdatasync ok")
except OSError as e:
    print("fdatasync errno=%d" % e.errno)
"#
        );
        let events = EventLog::default();
        let rules = SyscallRules::new(1);
        install(&rules, rule(&["fsync"], deny("EIO"), None));
        install(&rules, rule(&["fdatasync"], deny("EBOGUS"), None));
        let f = faulting(&["fsync", "fdatasync", "no_such_syscall"], &rules);
        let lines = run_script("fs", &script, Some(f), &events).await;
        assert_eq!(lines, vec!["fsync errno=5".to_owned(), "fdatasync errno=5".to_owned()]);
        let warnings: Vec<String> = of(&events, "fs", "seccomp_warning")
            .iter()
            .map(|e| e.fields["message"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("no_such_syscall"), "{warnings:?}");
        assert!(warnings[1].contains("EBOGUS"), "{warnings:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delays_complete_even_with_a_20ms_interval_timer() {
    let _serial = SERIAL.lock().await;
    let Some(_) = python_or_skip("delay") else { return };
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slow.txt").to_string_lossy().into_owned();
        let script = format!(
            r#"
import os, signal, time
fd = os.open("{path}", os.O_WRONLY | os.O_CREAT, 0o644)
t = time.monotonic(); os.write(fd, b"x"); print("plain %.3f" % (time.monotonic() - t))
ticks = [0]
def tick(*_): ticks[0] += 1
signal.signal(signal.SIGALRM, tick)
signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
t = time.monotonic(); os.write(fd, b"y"); d = time.monotonic() - t
signal.setitimer(signal.ITIMER_REAL, 0, 0)
print("timer %.3f" % d)
print("ticks %d" % ticks[0])
"#
        );
        let events = EventLog::default();
        let rules = SyscallRules::new(1);
        install(&rules, rule(&["write"], SyscallAction::Delay { ms: 300 }, Some(&path)));
        let lines = run_script("slow", &script, Some(faulting(&["write"], &rules)), &events).await;
        let value = |prefix: &str| -> f64 {
            let line = lines.iter().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}: {lines:?}"));
            line[prefix.len() + 1..].parse().unwrap()
        };
        let (plain, timer, ticks) = (value("plain"), value("timer"), value("ticks"));
        eprintln!("delay 300 ms measured: plain {plain:.3} s, with a 20 ms itimer {timer:.3} s ({ticks} ticks)");
        assert!((0.29..1.0).contains(&plain), "plain delay {plain}");
        assert!((0.29..1.0).contains(&timer), "delay under signals {timer}");
        // Standard signals do not queue: the ~15 expiries during the delay coalesce into one
        // pending SIGALRM, handled when the write returns. Without WAIT_KILLABLE_RECV each one
        // would have withdrawn the notification and restarted the delay.
        assert!(ticks >= 1.0, "the timer fired during the delay: {ticks}");
        let fired = syscall_events(&events, "slow");
        assert_eq!(fired.len(), 2);
        assert_eq!(fired[0].fields["decision"], "delay");
        assert_eq!(fired[0].fields["delay_ms"], 300);
    })
    .await;
}

const WRITES_SCRIPT: &str = r#"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
out = []
for i in range(int(sys.argv[2])):
    try:
        os.write(fd, b"x"); out.append("1")
    except OSError as e:
        out.append("0")
print("".join(out))
"#;

async fn writes(name: &str, rules: &SyscallRules, count: u32, events: &EventLog) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.txt").to_string_lossy().into_owned();
    let python = python().expect("checked");
    let args = vec!["-c".to_owned(), WRITES_SCRIPT.to_owned(), path, count.to_string()];
    let proc = spawn(name, &python, &args, Some(faulting(&["write"], rules)), events).await.expect("spawn");
    let exit = tokio::time::timeout(Duration::from_secs(30), proc.exited()).await.expect("timeout");
    assert_eq!(exit.code, Some(0), "{}", exit.cause);
    eventually("the loop to end", Duration::from_secs(5), || !of(events, name, "syscall_supervisor").is_empty()).await;
    stdout(events, name).join("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_probability_repeats_and_max_fires_fires_once() {
    let _serial = SERIAL.lock().await;
    let Some(_) = python_or_skip("probability") else { return };
    bounded(async {
        let events = EventLog::default();
        let mut sequences = Vec::new();
        for run in 0..2 {
            let rules = SyscallRules::new(42);
            rules.install(Install {
                rule: rule(&["write"], deny("EIO"), Some("/tmp/*")),
                scope: "p".into(),
                probability: 0.5,
                max_fires: None,
            });
            sequences.push(writes(&format!("prob{run}"), &rules, 32, &events).await);
        }
        eprintln!("probability 0.5, seed 42: {} / {}", sequences[0], sequences[1]);
        assert_eq!(sequences[0], sequences[1], "the same seed decides the same");
        assert!(sequences[0].contains('0') && sequences[0].contains('1'), "{}", sequences[0]);
        assert_eq!(
            syscall_events(&events, "prob0").len(),
            sequences[0].matches('0').count(),
            "one event per fired decision"
        );

        let rules = SyscallRules::new(1);
        let once = rules.install(Install {
            rule: rule(&["write"], deny("EIO"), Some("/tmp/*")),
            scope: "m".into(),
            probability: 1.0,
            max_fires: Some(1),
        });
        assert_eq!(writes("once", &rules, 5, &events).await, "01111");
        assert_eq!((once.matched(), once.fired()), (5, 1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_listener_covers_threads_and_forked_children() {
    let _serial = SERIAL.lock().await;
    let Some(_) = python_or_skip("threads_and_forks") else { return };
    bounded(async {
        let (_l, port) = listener();
        let script = format!(
            r#"{CONNECT_FN}
import os, threading
results = []
threads = [threading.Thread(target=lambda: results.append(connect(("127.0.0.1", {port})))) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print("threads", sorted(results))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(w, connect(("127.0.0.1", {port})).encode()); os._exit(0)
os.waitpid(pid, 0)
print("fork", os.read(r, 100).decode())
"#
        );
        let events = EventLog::default();
        let rules = SyscallRules::new(1);
        install(&rules, rule(&["connect"], deny("ECONNREFUSED"), None));
        let lines = run_script("mt", &script, Some(faulting(&["connect"], &rules)), &events).await;
        assert_eq!(lines, vec!["threads ['errno=111', 'errno=111', 'errno=111', 'errno=111']", "fork errno=111"]);
        let pids: std::collections::BTreeSet<u64> =
            syscall_events(&events, "mt").iter().map(|e| e.fields["pid"].as_u64().unwrap()).collect();
        assert_eq!(pids.len(), 5, "four thread ids and the forked child's pid: {pids:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_installed_and_removed_while_running_take_effect() {
    let _serial = SERIAL.lock().await;
    let Some(python) = python_or_skip("live_rules") else { return };
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.txt").to_string_lossy().into_owned();
        // Writes until one is denied, then until one passes again (at most ~20 s).
        let script = format!(
            r#"
import os, time, sys
fd = os.open("{path}", os.O_WRONLY | os.O_CREAT, 0o644)
def ok():
    try:
        os.write(fd, b"x"); return True
    except OSError:
        return False
print("started"); sys.stdout.flush()
for want, label in ((False, "denied"), (True, "healed")):
    for _ in range(2000):
        if ok() == want: break
        time.sleep(0.01)
    else:
        print("gave up waiting for", label); sys.exit(1)
    print(label); sys.stdout.flush()
"#
        );
        let events = EventLog::default();
        let rules = SyscallRules::new(1);
        let args = vec!["-c".to_owned(), script];
        let proc = spawn("live", &python, &args, Some(faulting(&["write"], &rules)), &events).await.expect("spawn");
        eventually("started", Duration::from_secs(10), || stdout(&events, "live").contains(&"started".to_owned()))
            .await;
        let active = install(&rules, rule(&["write"], deny("EIO"), Some(&path)));
        eventually("denied", Duration::from_secs(10), || stdout(&events, "live").contains(&"denied".to_owned())).await;
        rules.remove(active.id);
        let exit = tokio::time::timeout(Duration::from_secs(20), proc.exited()).await.expect("timeout");
        assert_eq!(exit.code, Some(0), "{}: {:?}", exit.cause, stdout(&events, "live"));
        assert_eq!(stdout(&events, "live"), vec!["started", "denied", "healed"]);
        assert!(active.fired() >= 1);
    })
    .await;
}

fn seccomp_mode(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Seccomp:")).and_then(|v| v.trim().parse().ok())
}

fn service(name: &str, program: &Path, args: &[&str], intercept: &[&str]) -> Service {
    Service {
        name: name.into(),
        origin: origin(),
        launch: Launch::Binary {
            path: program.to_string_lossy().into_owned(),
            args: args.iter().map(|a| a.to_string()).collect(),
        },
        interfaces: vec![],
        env: vec![],
        ports: vec![],
        volumes: vec![],
        healthcheck: None,
        depends_on: vec![],
        observe: vec![],
        ops: vec![],
        seccomp: true,
        intercept: intercept.iter().map(|s| s.to_string()).collect(),
        intercept_unknown: vec![],
        reuse: false,
        seed: None,
        reset: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_services_with_an_intercept_set_get_a_filter() {
    let _serial = SERIAL.lock().await;
    let Some(python) = python_or_skip("filter_presence") else { return };
    bounded(async {
        let sleeper = ["-c", "import time; time.sleep(30)"];
        let services = vec![
            service("plain", &python, &sleeper, &[]),
            service("filtered", &python, &sleeper, &["connect"]),
            service("opted_out", &python, &sleeper, &["connect"]),
        ];
        let mut services = services;
        services[2].seccomp = false;
        let mut options = StartOptions { grace: Duration::from_millis(200), ..StartOptions::default() };
        for name in ["plain", "filtered", "opted_out"] {
            options.seccomp.insert(name.to_owned(), SyscallRules::new(1));
        }
        let events = EventLog::default();
        let running = Services::start(&services, events.clone(), options).await.expect("start");
        let mode = |name: &str| seccomp_mode(running.pid(name).unwrap() as i32);
        assert_eq!(mode("plain"), Some(0), "an empty intercept set installs no filter");
        assert_eq!(mode("filtered"), Some(2));
        assert_eq!(mode("opted_out"), Some(0), "seccomp=False installs no filter");
        assert_eq!(runtime_threads().0, 1, "one supervisor thread, for the filtered service");
        running.stop().await;
        eventually("the loop to end", Duration::from_secs(5), || {
            !of(&events, "filtered", "syscall_supervisor").is_empty()
        })
        .await;

        // process::spawn with an intercept set naming nothing known: a warning, no filter.
        let rules = SyscallRules::new(1);
        let args: Vec<String> = sleeper.iter().map(|s| s.to_string()).collect();
        let proc =
            spawn("unknown", &python, &args, Some(faulting(&["no_such_syscall"], &rules)), &events).await.unwrap();
        assert_eq!(seccomp_mode(proc.pid), Some(0));
        assert_eq!(of(&events, "unknown", "seccomp_warning").len(), 1);
        // SAFETY: killing the process group this test started.
        unsafe { libc::kill(-proc.pid, libc::SIGKILL) };
        tokio::time::timeout(Duration::from_secs(10), proc.exited()).await.expect("exit");
    })
    .await;
}

/// Threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.starts_with(prefix)))
                .count()
        })
        .unwrap_or(0)
}

/// The seccomp supervisors' threads (`ospecc-seccomp`, `ospecc-sc-timer`), and every per-process
/// thread of the runtime (`ospecc-*` but the one long-lived spawner).
fn runtime_threads() -> (usize, usize) {
    let seccomp = threads_named("ospecc-seccomp") + threads_named("ospecc-sc-timer");
    (seccomp, threads_named("ospecc-") - threads_named("ospecc-spawner"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_filtered_spawns_leave_no_thread_behind() {
    let _serial = SERIAL.lock().await;
    if let Err(reason) = ospecc_runtime::seccomp::probe() {
        eprintln!("skipping fifty_filtered_spawns_leave_no_thread_behind: {reason}");
        return;
    }
    bounded(async {
        let events = EventLog::default();
        let rules = SyscallRules::new(1);
        // Every spawn gets a delay, so every supervisor also starts its timer thread.
        // (The glob names /dev, so the system-path exemption does not apply.)
        install(&rules, rule(&["openat"], SyscallAction::Delay { ms: 1 }, Some("/dev/null")));
        let sh = PathBuf::from("/bin/sh");
        let args = vec!["-c".to_owned(), "echo hi >/dev/null".to_owned()];
        let before = runtime_threads();
        for i in 0..50 {
            let name = format!("t{i}");
            let proc =
                spawn(&name, &sh, &args, Some(faulting(&["openat", "connect"], &rules)), &events).await.expect("spawn");
            let exit = tokio::time::timeout(Duration::from_secs(10), proc.exited()).await.expect("exit");
            assert_eq!(exit.code, Some(0), "{}", exit.cause);
        }
        // A failed exec after the filter is installed: spawn reports it, the supervisor ends.
        for i in 0..3 {
            let missing = PathBuf::from("/nonexistent/ospecc-no-such-binary");
            let f = Some(faulting(&["openat", "write", "connect"], &rules));
            let err = spawn(&format!("missing{i}"), &missing, &args, f, &events).await.err().expect("spawn fails");
            assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
        }
        eventually("every supervisor loop to end", Duration::from_secs(10), || {
            (0..50).all(|i| !of(&events, &format!("t{i}"), "syscall_supervisor").is_empty())
        })
        .await;
        assert_eq!(of(&events, "t49", "syscall").len(), 1, "the delay fired (a timer thread ran)");
        eventually("per-process threads to exit", Duration::from_secs(10), || {
            let now = runtime_threads();
            now.0 <= before.0 && now.1 <= before.1
        })
        .await;
        eprintln!("(seccomp, runtime) threads before {before:?}, after 50 filtered spawns {:?}", runtime_threads());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_ends_with_the_process_group_even_if_a_daemon_escaped_it() {
    let _serial = SERIAL.lock().await;
    let Some(_) = python_or_skip("escaped_daemon") else { return };
    bounded(async {
        let (_l, port) = listener();
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("daemon.txt");
        // The main process forks a child that leaves the process group (setsid), then exits at
        // once; the daemon connects 3 s later, after the supervisor has stopped.
        let script = format!(
            r#"{CONNECT_FN}
import os, time
pid = os.fork()
if pid == 0:
    os.setsid()
    print("daemon", os.getpid(), flush=True)
    time.sleep(3)
    with open({report:?}, "w") as f:
        f.write(connect(("127.0.0.1", {port})))
    os._exit(0)
time.sleep(0.2)
"#,
            report = report.to_string_lossy()
        );
        let events = EventLog::default();
        let rules = SyscallRules::new(1);
        install(&rules, rule(&["connect"], SyscallAction::Allow, None));
        let started = Instant::now();
        let lines = run_script("escape", &script, Some(faulting(&["connect"], &rules)), &events).await;
        let ended = started.elapsed();
        let daemon: i32 = lines[0].strip_prefix("daemon ").and_then(|p| p.parse().ok()).expect("daemon pid");
        assert!(ended < Duration::from_millis(2500), "the loop ended with the group, not the daemon: {ended:?}");
        eventually("the daemon's report", Duration::from_secs(10), || report.exists()).await;
        eventually("the daemon's report", Duration::from_secs(2), || {
            std::fs::read_to_string(&report).is_ok_and(|r| !r.is_empty())
        })
        .await;
        // SAFETY: the daemon was started by this test.
        unsafe { libc::kill(daemon, libc::SIGKILL) };
        let result = std::fs::read_to_string(&report).unwrap();
        assert_eq!(result, format!("errno={}", libc::ENOSYS), "without a supervisor the call fails, never hangs");
        assert!(syscall_events(&events, "escape").is_empty());
    })
    .await;
}
