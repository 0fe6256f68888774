//! The supervisor of one filtered process tree: one OS thread per listener (runtime-mechanisms.md
//! §2.1, §5 item 3). It is started *before* the service is spawned (gotcha 3: `spawn()` blocks
//! until exec, and the child needs someone to take its listener), receives the listener, then
//! loops: `poll(POLLIN)` → `NOTIF_RECV` → decide → `NOTIF_SEND`.
//!
//! * `POLLHUP` on the listener means no filtered task is left: the loop ends. A blocking RECV
//!   would never see that, hence poll (gotcha 9).
//! * `ENOENT` from RECV/SEND/ID_VALID means the task was killed meanwhile: counted, not fatal.
//! * Delays never block the loop: a timer thread (started on the first delay) sends CONTINUE at
//!   the deadline; with `WAIT_KILLABLE_RECV` the delayed task does not restart on signals.
//! * When the service's main process has exited (the [`Handle`] is dropped), the loop keeps
//!   serving its remaining group members until POLLHUP, and stops as soon as the process group
//!   is empty: tasks that escaped the group (a `setsid` daemon) are not worth a thread for
//!   ever; their intercepted calls then fail with ENOSYS (gotcha 8), never hang.
//!
//! Events: one `syscall` event per fired rule; `unmediated_io` (determinism mode: category,
//! syscall, pid, detail) per leak; `seccomp_warning` (an unknown errno name),
//! `seccomp_error` (the loop failed), and at the end one `syscall_supervisor` event with the
//! counters (notified, continued, fired, withdrawn, send_errors).

use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::decide::{self, Globs, Target, Verdict};
use super::support::SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
use super::{install, names, Faulting};
use crate::events::{fields, EventLog};

/// How long the supervisor waits for the child's listener (the child sends it right after
/// installing the filter, before exec; this only bounds a pathological stall).
const HANDOFF_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the loop checks for an empty process group once the main process has exited.
const GROUP_CHECK: Duration = Duration::from_millis(200);

/// The loop's counters.
#[derive(Default, Debug)]
pub struct Stats {
    pub notified: AtomicU64,
    pub continued: AtomicU64,
    pub fired: AtomicU64,
    pub withdrawn: AtomicU64,
    pub send_errors: AtomicU64,
}

/// Ties the supervisor thread to the process: tell it the pid, and drop it when the process
/// has exited (that closes a pipe the loop polls).
pub struct Handle {
    pgid: Arc<AtomicI32>,
    _exited: OwnedFd,
    pub stats: Arc<Stats>,
}

impl Handle {
    /// The spawned process's pid (its process group id).
    pub fn set_pid(&self, pid: i32) {
        self.pgid.store(pid, Ordering::SeqCst);
    }
}

/// Everything the thread needs.
pub struct Supervisor {
    pub service: String,
    pub faulting: Faulting,
    pub events: EventLog,
    pub sync_wake_up: bool,
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded; both fds are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Supervisor {
    /// Starts the thread, which first blocks receiving the listener on `sock` (the supervisor's
    /// end of the hand-off socketpair). It ends by itself when the child never sends one.
    pub fn start(self, sock: OwnedFd) -> io::Result<Handle> {
        let (exited_r, exited_w) = pipe()?;
        let pgid = Arc::new(AtomicI32::new(0));
        let stats = Arc::new(Stats::default());
        let handle = Handle { pgid: pgid.clone(), _exited: exited_w, stats: stats.clone() };
        std::thread::Builder::new().name("ospecc-seccomp".into()).spawn(move || {
            let listener = match install::recv_fd(&sock, HANDOFF_TIMEOUT) {
                Ok(Some(listener)) => listener,
                // The child failed before sending (spawn reports why) or never ran.
                Ok(None) => return,
                Err(e) => {
                    self.error(&format!("cannot receive the seccomp listener from the service: {e}"));
                    return;
                }
            };
            drop(sock);
            self.run(Arc::new(listener), exited_r, &pgid, &stats);
        })?;
        Ok(handle)
    }

    fn error(&self, message: &str) {
        self.events.push(&self.service, "seccomp_error", fields([("message", message.into())]));
    }

    fn run(self, listener: Arc<OwnedFd>, exited: OwnedFd, pgid: &AtomicI32, stats: &Arc<Stats>) {
        if self.sync_wake_up {
            // SAFETY: an ioctl on our listener with a flag value (not a pointer); failure only
            // costs speed.
            unsafe {
                libc::ioctl(
                    listener.as_raw_fd(),
                    libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                    SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
                )
            };
        }
        let mut state = LoopState {
            globs: Globs::default(),
            timer: None,
            warned: HashSet::new(),
            listener: listener.clone(),
            stats: stats.clone(),
        };
        let mut exited_fd = exited.as_raw_fd();
        loop {
            let mut fds = [
                libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 },
                // A negative fd is ignored by poll: once the main process has exited.
                libc::pollfd { fd: exited_fd, events: libc::POLLIN, revents: 0 },
            ];
            let timeout = if exited_fd < 0 { GROUP_CHECK.as_millis() as libc::c_int } else { -1 };
            // SAFETY: `fds` is a valid array of two pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.error(&format!("poll on the seccomp listener failed: {e}"));
                break;
            }
            if fds[1].revents != 0 {
                // The main process has exited: from now on also watch for an empty group.
                exited_fd = -1;
            }
            if fds[0].revents & libc::POLLIN != 0 {
                if let Err(e) = self.receive(&mut state) {
                    self.error(&format!("receiving a seccomp notification failed: {e}"));
                    break;
                }
                continue;
            }
            if fds[0].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                break;
            }
            if exited_fd < 0 && group_empty(pgid.load(Ordering::SeqCst)) {
                break;
            }
        }
        // The timer thread finishes pending delays (or drops them for dead tasks) and exits.
        drop(state.timer.take());
        let count = |c: &AtomicU64| Value::from(c.load(Ordering::SeqCst));
        self.events.push(
            &self.service,
            "syscall_supervisor",
            fields([
                ("notified", count(&stats.notified)),
                ("continued", count(&stats.continued)),
                ("fired", count(&stats.fired)),
                ("withdrawn", count(&stats.withdrawn)),
                ("send_errors", count(&stats.send_errors)),
            ]),
        );
    }

    /// Receives and answers one notification. Err only when the listener is unusable.
    fn receive(&self, state: &mut LoopState) -> io::Result<()> {
        let fd = state.listener.as_raw_fd();
        // SAFETY: seccomp_notif is plain data; the kernel requires it zeroed before RECV.
        let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: RECV fills `notif`, a valid seccomp_notif.
        if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif as *mut libc::seccomp_notif) } != 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                // Withdrawn (the task died or, without WAIT_KILLABLE_RECV, got a signal).
                Some(libc::ENOENT) => {
                    state.stats.withdrawn.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
                Some(libc::EINTR) | Some(libc::EAGAIN) => Ok(()),
                _ => Err(e),
            };
        }
        state.stats.notified.fetch_add(1, Ordering::SeqCst);
        let nr = notif.data.nr;
        let name = names::name(nr).unwrap_or("unknown");
        if let Some(detector) = self.faulting.detect.as_deref().filter(|d| d.watches(name)) {
            self.detect(detector, name, &notif, fd);
        }
        let rules = &self.faulting.rules;
        // The common case for an intercepted call nobody faults: no allocation, no target read.
        if rules.is_empty() || !decide::any_candidate(&rules.snapshot(), name) {
            state.stats.continued.fetch_add(1, Ordering::SeqCst);
            send(state, notif.id, Verdict::Continue);
            return Ok(());
        }
        let tid = notif.pid as i32;
        let target = Target::resolve(name, tid, &notif.data.args, &*self.faulting.upstream_of);
        if !id_valid(fd, notif.id) {
            // The task died while we read it: what we read may belong to a reused tid.
            state.stats.withdrawn.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        let Some(fired) = decide::decide(rules, &mut state.globs, name, &target) else {
            state.stats.continued.fetch_add(1, Ordering::SeqCst);
            send(state, notif.id, Verdict::Continue);
            return Ok(());
        };
        state.stats.fired.fetch_add(1, Ordering::SeqCst);
        if let Some(bad) = &fired.unknown_errno {
            if state.warned.insert(fired.rule.id) {
                let message = format!(
                    "the fault rule `{}` ({}) denies `{name}` with the unknown errno name `{bad}`; EIO is used \
                     instead (names are upper case, like ECONNREFUSED, ENOSPC, EIO)",
                    fired.rule.rule.key, fired.rule.scope
                );
                self.events.push(
                    &self.service,
                    "seccomp_warning",
                    fields([("message", message.into()), ("rule", fired.rule.id.into())]),
                );
            }
        }
        self.events.push(&self.service, "syscall", decide::event_fields(name, notif.pid, &target, &fired));
        send(state, notif.id, fired.verdict);
        Ok(())
    }
}

impl Supervisor {
    /// Determinism mode: an `unmediated_io` event when the call leaks nondeterminism (before
    /// it is answered, whatever the answer, as Faultbox reports it).
    fn detect(&self, detector: &crate::determinism::Detector, name: &str, notif: &libc::seccomp_notif, fd: i32) {
        let tid = notif.pid as i32;
        let Some(leak) = detector.classify(name, tid, &notif.data.args, &*self.faulting.upstream_of) else { return };
        // What was read may belong to a reused tid if the task died meanwhile.
        if !id_valid(fd, notif.id) {
            return;
        }
        let mut f = fields([("category", leak.category.into()), ("syscall", name.into()), ("pid", notif.pid.into())]);
        if let Some(detail) = leak.detail {
            f.insert("detail".to_owned(), detail.into());
        }
        self.events.push(&self.service, "unmediated_io", f);
    }
}

struct LoopState {
    globs: Globs,
    timer: Option<mpsc::Sender<(Instant, u64)>>,
    /// Rules already warned about (one warning per rule).
    warned: HashSet<u64>,
    listener: Arc<OwnedFd>,
    stats: Arc<Stats>,
}

/// Answers at once, or hands a delay to the timer thread (started on first use).
fn send(state: &mut LoopState, id: u64, verdict: Verdict) {
    let delay = match verdict {
        Verdict::Delay(d) => d,
        other => {
            answer(&state.listener, &state.stats, id, other);
            return;
        }
    };
    let deadline = Instant::now() + delay;
    if let Some(timer) = &state.timer {
        if timer.send((deadline, id)).is_ok() {
            return;
        }
    }
    let (tx, rx) = mpsc::channel();
    let (listener, stats) = (state.listener.clone(), state.stats.clone());
    let started = std::thread::Builder::new().name("ospecc-sc-timer".into()).spawn(move || timer(rx, listener, stats));
    match started {
        Ok(_) if tx.send((deadline, id)).is_ok() => state.timer = Some(tx),
        // No thread for delays: waiting inline is the only way left to honour the delay.
        _ => {
            std::thread::sleep(delay);
            answer(&state.listener, &state.stats, id, Verdict::Continue);
        }
    }
}

/// Sends one response; ENOENT (the task is gone) is counted, other errors too.
fn answer(listener: &OwnedFd, stats: &Stats, id: u64, verdict: Verdict) {
    let (error, flags) = match verdict {
        Verdict::Deny(errno) => (-errno, 0),
        Verdict::Continue | Verdict::Delay(_) => (0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
    };
    let mut resp = libc::seccomp_notif_resp { id, val: 0, error, flags };
    // SAFETY: SEND reads a valid seccomp_notif_resp.
    let r = unsafe {
        libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp as *mut libc::seccomp_notif_resp)
    };
    if r != 0 {
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::ENOENT) => stats.withdrawn.fetch_add(1, Ordering::SeqCst),
            _ => stats.send_errors.fetch_add(1, Ordering::SeqCst),
        };
    }
}

fn id_valid(listener: libc::c_int, id: u64) -> bool {
    let mut id = id;
    // SAFETY: ID_VALID reads a u64.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id as *mut u64) == 0 }
}

fn group_empty(pgid: i32) -> bool {
    if pgid <= 0 {
        return true;
    }
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(-pgid, 0) };
    r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Sends CONTINUE for each delayed notification at its deadline. When the loop is gone (the
/// sender dropped), it still honours the deadlines of tasks that live, then exits.
fn timer(rx: mpsc::Receiver<(Instant, u64)>, listener: Arc<OwnedFd>, stats: Arc<Stats>) {
    let mut pending: BinaryHeap<std::cmp::Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut open = true;
    loop {
        let now = Instant::now();
        while let Some(std::cmp::Reverse((deadline, id))) = pending.peek().copied() {
            if deadline > now {
                break;
            }
            pending.pop();
            answer(&listener, &stats, id, Verdict::Continue);
        }
        if !open {
            pending.retain(|std::cmp::Reverse((_, id))| id_valid(listener.as_raw_fd(), *id));
            match pending.peek() {
                None => return,
                Some(std::cmp::Reverse((deadline, _))) => {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()).min(GROUP_CHECK));
                    continue;
                }
            }
        }
        let next = match pending.peek() {
            Some(std::cmp::Reverse((deadline, _))) => rx.recv_timeout(deadline.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(item) => pending.push(std::cmp::Reverse(item)),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => open = false,
        }
    }
}

/// The `seccomp_warning` events for intercept names this architecture does not have.
pub fn warn_unknown(events: &EventLog, service: &str, unknown: &[String]) {
    for name in unknown {
        let mut f = BTreeMap::new();
        f.insert(
            "message".to_owned(),
            Value::from(format!(
                "the syscall `{name}` does not exist on {}; it is not intercepted, so faults on it never fire",
                std::env::consts::ARCH
            )),
        );
        f.insert("syscall".to_owned(), Value::from(name.clone()));
        events.push(service, "seccomp_warning", f);
    }
}
