//! One supervised process: spawning (own process group, parent-death signal), output capture as
//! events, and exit observation.
//!
//! Processes are forked from one dedicated, never-exiting thread: `PR_SET_PDEATHSIG` fires when
//! the *thread* that forked exits (runtime-mechanisms.md gotcha 13), so forking from tokio's
//! blocking pool, whose threads exit when idle, would kill services at random. Each process gets
//! a waiter thread (blocking `waitpid`) and two reader threads (stdout, stderr); none of them
//! needs a tokio runtime.

use std::collections::{BTreeMap, VecDeque};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::capture::Pipe;
use super::decode::Decoder;
use super::registry;
use crate::events::{fields, EventLog, Pending};

/// The longest line kept; the rest of a longer line is dropped and a marker says how much.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Output lines stored as events per service; later lines are counted and dropped (the pipes
/// are still drained, so the service never blocks on a full pipe).
pub const MAX_LINES_PER_SERVICE: u64 = 50_000;
/// Bytes of output lines stored as events per service (with at most 64 KiB per line, the line
/// cap alone would allow gigabytes); later lines are dropped like those past the line cap.
pub const MAX_BYTES_PER_SERVICE: u64 = 32 * 1024 * 1024;
/// Output lines kept for failure messages.
const TAIL_LINES: usize = 20;

/// How a process ended.
#[derive(Debug, Clone)]
pub struct ExitInfo {
    /// `exited with code 3`, `killed by signal 9 (SIGKILL)`.
    pub cause: String,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Whether the exit came after teardown had begun.
    pub during_stop: bool,
}

/// What the spawn needs.
pub struct Spec<'a> {
    pub name: &'a str,
    pub program: PathBuf,
    pub args: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub workdir: &'a Path,
    /// `(decoder for stdout, decoder for stderr)`.
    pub decoders: (Decoder, Decoder),
    /// A seccomp filter to install before exec, for a service with syscall faults.
    pub seccomp: Option<crate::seccomp::Faulting>,
}

/// A running (or finished) supervised process.
pub struct Proc {
    pub name: String,
    pub pid: i32,
    pub started: Instant,
    pub ready: AtomicBool,
    pub stopping: Arc<AtomicBool>,
    exit: tokio::sync::watch::Receiver<Option<ExitInfo>>,
    output: Arc<Output>,
}

impl Proc {
    /// The exit, if the process has ended (and been reaped).
    pub fn exit(&self) -> Option<ExitInfo> {
        self.exit.borrow().clone()
    }

    /// Resolves when the process has ended.
    pub async fn exited(&self) -> ExitInfo {
        let mut rx = self.exit.clone();
        loop {
            if let Some(info) = rx.borrow_and_update().clone() {
                return info;
            }
            if rx.changed().await.is_err() {
                // The waiter is gone without a status (it cannot be); never resolve.
                std::future::pending::<()>().await;
            }
        }
    }

    /// The last output lines, oldest first, each prefixed with its stream.
    pub fn tail(&self) -> Vec<String> {
        self.output.tail.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}

/// Output bookkeeping shared by the two readers of a process.
struct Output {
    /// Lines and bytes stored as events so far, and whether the cap was reached (everything
    /// after the first dropped line is dropped too).
    stored: Mutex<(u64, u64, bool)>,
    dropped: AtomicU64,
    open_readers: AtomicUsize,
    tail: Mutex<VecDeque<String>>,
}

type SpawnRequest = (Command, tokio::sync::oneshot::Sender<std::io::Result<Child>>);

/// The dedicated spawner thread's queue.
fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("ospecc-spawner".into())
            .spawn(move || {
                // Never returns while the process lives: the sender is in a static.
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("cannot start the process spawner thread");
        Mutex::new(tx)
    })
}

/// Starts the spawner thread now, in the calling thread's namespaces: the run's own (host)
/// namespaces, before parallel jobs leave them, so that a child joins a job's namespaces from
/// there (allowed even to an unprivileged run), never the host's from a job's.
pub fn start_spawner() {
    spawner();
}

/// Starts a process in its own process group with `PR_SET_PDEATHSIG(SIGKILL)`, stdin null and
/// stdout/stderr captured as events.
pub async fn spawn(spec: Spec<'_>, events: &EventLog) -> std::io::Result<Proc> {
    let mut command = Command::new(&spec.program);
    command
        .args(spec.args)
        .envs(spec.env)
        // The run's mark, inherited by everything the service forks: the next run kills what a
        // SIGKILLed runtime left behind by it (`reaper`).
        .env(super::reaper::MARK, super::reaper::run_id())
        .current_dir(spec.workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let parent = std::process::id() as libc::pid_t;
    // A seccomp filter is prepared here, before fork: the BPF program is built (allocation is not
    // allowed in the child) and the kernel's support is checked, so a filtered service fails
    // to start with the reason rather than run unfaulted.
    let seccomp = match &spec.seccomp {
        // `Unsupported`: the caller can tell "this machine cannot fault syscalls" from a bad path.
        Some(faulting) => crate::seccomp::prepare(spec.name, faulting, events)
            .map_err(|message| std::io::Error::new(std::io::ErrorKind::Unsupported, message))?,
        None => None,
    };
    let mut seccomp_hook = seccomp.as_ref().map(|prepared| prepared.child_hook());
    // The spawner thread forks; the child joins the namespaces of the job that asked (`--jobs`).
    let namespaces = crate::jobs::namespaces::Join::of_caller();
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // system calls (prctl, getppid, kill, stat and setns for the namespace, and the seccomp hook's prctl, fcntl, seccomp, sendmsg
    // on memory prepared before the fork); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then no signal will ever come
            // (man 2 prctl), so die now.
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            namespaces.enter()?;
            // Last: from here on the intercepted syscalls wait for the supervisor.
            if let Some(hook) = seccomp_hook.as_mut() {
                hook.run()?;
            }
            Ok(())
        });
    }
    // The supervisor thread must already wait for the listener when the child installs its
    // filter: spawn() blocks until exec, and anything intercepted before exec needs an answer.
    let seccomp = match seccomp {
        Some(prepared) => Some(prepared.start().map_err(|e| {
            std::io::Error::other(format!("service `{}`: cannot start its seccomp supervisor: {e}", spec.name))
        })?),
        None => None,
    };

    let (tx, rx) = tokio::sync::oneshot::channel();
    spawner()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((command, tx))
        .map_err(|_| std::io::Error::other("the process spawner thread is gone"))?;
    let spawned = rx.await.map_err(|_| std::io::Error::other("the process spawner thread is gone"))?;
    // Closes the runtime's copy of the child's hand-off socket; on a failed spawn the supervisor
    // then sees end-of-file and ends. The handle lives as long as the process (in the waiter).
    let seccomp = seccomp.map(|started| started.spawned(spawned.as_ref().ok().map(|c| c.id() as i32)));
    let mut child = spawned?;

    let pid = child.id() as i32;
    registry::register(pid);
    let started = Instant::now();
    events.push(
        spec.name,
        "service_started",
        fields([
            ("pid", pid.into()),
            ("path", spec.program.display().to_string().into()),
            ("args", spec.args.to_vec().into()),
        ]),
    );

    let output = Arc::new(Output {
        stored: Mutex::new((0, 0, false)),
        dropped: AtomicU64::new(0),
        open_readers: AtomicUsize::new(2),
        tail: Mutex::new(VecDeque::with_capacity(TAIL_LINES)),
    });
    let (stdout_decoder, stderr_decoder) = spec.decoders;
    let readers: [(&str, Option<OwnedFd>, Decoder); 2] = [
        ("stdout", child.stdout.take().map(OwnedFd::from), stdout_decoder),
        ("stderr", child.stderr.take().map(OwnedFd::from), stderr_decoder),
    ];
    for (stream, fd, decoder) in readers {
        let reader =
            Reader { service: spec.name.to_owned(), stream, decoder, events: events.clone(), output: output.clone() };
        let started = fd.map(Pipe::new).and_then(Result::ok).map(Arc::new).and_then(|pipe| {
            events.watch(Arc::downgrade(&pipe) as Weak<dyn Pending>);
            std::thread::Builder::new().name(format!("ospecc-{stream}-{pid}")).spawn(move || reader.run(&pipe)).ok()
        });
        if started.is_none() {
            output.open_readers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    let (exit_tx, exit_rx) = tokio::sync::watch::channel(None);
    let stopping = Arc::new(AtomicBool::new(false));
    {
        let (name, events, output, stopping) = (spec.name.to_owned(), events.clone(), output.clone(), stopping.clone());
        let waiter = move || {
            let status = wait(&mut child);
            // The main process is gone: the seccomp supervisor serves what is left of the
            // process group, then ends (see seccomp::notify).
            drop(seccomp);
            // Let the readers catch the last lines before the exit event (they see EOF at once
            // unless a forked child still holds the pipes).
            let deadline = Instant::now() + Duration::from_millis(300);
            while output.open_readers.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            let info = exit_info(status, stopping.load(Ordering::SeqCst));
            let mut f = BTreeMap::new();
            f.insert("cause".to_owned(), Value::from(info.cause.clone()));
            if let Some(code) = info.code {
                f.insert("code".to_owned(), code.into());
            }
            if let Some(signal) = info.signal {
                f.insert("signal".to_owned(), signal.into());
            }
            f.insert("during_stop".to_owned(), info.during_stop.into());
            events.push(&name, "service_exited", f);
            let _ = exit_tx.send(Some(info));
        };
        if let Err(e) = std::thread::Builder::new().name(format!("ospecc-wait-{pid}")).spawn(waiter) {
            // Without a waiter nobody would notice the exit: give up on this process.
            registry::signal_group(pid, libc::SIGKILL);
            registry::unregister(pid);
            return Err(e);
        }
    }

    Ok(Proc {
        name: spec.name.to_owned(),
        pid,
        started,
        ready: AtomicBool::new(false),
        stopping,
        exit: exit_rx,
        output,
    })
}

fn wait(child: &mut Child) -> Option<ExitStatus> {
    loop {
        match child.wait() {
            Ok(status) => return Some(status),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

fn exit_info(status: Option<ExitStatus>, during_stop: bool) -> ExitInfo {
    let (code, signal) = match status {
        Some(s) => (s.code(), s.signal()),
        None => (None, None),
    };
    let cause = match (code, signal) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal} ({})", signal_name(signal)),
        (None, None) => "ended (its exit status could not be read)".to_owned(),
    };
    ExitInfo { cause, code, signal, during_stop }
}

/// The conventional name of a signal number.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

/// Reads one output stream line by line into events.
struct Reader {
    service: String,
    stream: &'static str,
    decoder: Decoder,
    events: EventLog,
    output: Arc<Output>,
}

impl Reader {
    fn run(self, pipe: &Pipe) {
        let mut line: Vec<u8> = Vec::new();
        let mut cut: usize = 0; // bytes dropped from the current line
        pipe.drain(|mut rest| {
            while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
                append(&mut line, &mut cut, &rest[..pos]);
                self.emit(&line, cut);
                line.clear();
                cut = 0;
                rest = &rest[pos + 1..];
            }
            append(&mut line, &mut cut, rest);
        });
        if !line.is_empty() || cut > 0 {
            self.emit(&line, cut);
        }
        // The last reader to finish reports what was dropped.
        if self.output.open_readers.fetch_sub(1, Ordering::SeqCst) == 1 {
            let dropped = self.output.dropped.load(Ordering::SeqCst);
            if dropped > 0 {
                self.events.push(
                    &self.service,
                    "output_dropped",
                    fields([
                        ("dropped", dropped.into()),
                        ("limit", MAX_LINES_PER_SERVICE.into()),
                        ("limit_bytes", MAX_BYTES_PER_SERVICE.into()),
                    ]),
                );
            }
        }
    }

    fn emit(&self, raw: &[u8], cut: usize) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let mut text = String::from_utf8_lossy(raw).into_owned();
        if cut > 0 {
            text.push_str(&format!(" …[line truncated: {cut} more bytes]"));
        }
        {
            let mut tail = self.output.tail.lock().unwrap_or_else(|p| p.into_inner());
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            let shown: String = text.chars().take(500).collect();
            tail.push_back(format!("[{}] {shown}", self.stream));
        }
        let admitted = {
            let mut stored = self.output.stored.lock().unwrap_or_else(|p| p.into_inner());
            let (lines, bytes, capped) = &mut *stored;
            let size = text.len() as u64;
            *capped = *capped || *lines >= MAX_LINES_PER_SERVICE || *bytes + size > MAX_BYTES_PER_SERVICE;
            if !*capped {
                *lines += 1;
                *bytes += size;
            }
            !*capped
        };
        if !admitted {
            self.output.dropped.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let mut f = self.decoder.decode(&text);
        f.insert("line".to_owned(), Value::String(text));
        self.events.push(&self.service, self.stream, f);
    }
}

fn append(line: &mut Vec<u8>, cut: &mut usize, bytes: &[u8]) {
    let room = MAX_LINE_BYTES.saturating_sub(line.len());
    let take = room.min(bytes.len());
    line.extend_from_slice(&bytes[..take]);
    *cut += bytes.len() - take;
}
