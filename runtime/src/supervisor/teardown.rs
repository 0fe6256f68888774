//! Stopping a process group: SIGTERM, a grace period, SIGKILL, reap.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::process::Proc;
use super::registry;
use crate::events::{fields, EventLog};

/// How long to wait for a SIGKILLed group to disappear before giving up on it.
const KILL_WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

/// Whether the process has been reaped and nothing of its group runs any more.
fn gone(proc: &Proc) -> bool {
    proc.exit().is_some() && !registry::group_alive(proc.pid)
}

/// Stops `proc`'s whole process group: SIGTERM, up to `grace` for the leader and every member
/// to end, then SIGKILL. Records `service_stopped` with the signal that ended it (`none` when
/// it had already ended) and the milliseconds teardown took.
pub async fn terminate(proc: &Proc, grace: Duration, events: &EventLog) {
    proc.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    let started = Instant::now();
    let signal = if gone(proc) || !registry::is_registered(proc.pid) {
        // Already ended, or killed by kill_all_now: only wait for the reap below.
        "none"
    } else {
        registry::signal_group(proc.pid, libc::SIGTERM);
        if wait_gone(proc, grace).await {
            "SIGTERM"
        } else {
            registry::signal_group(proc.pid, libc::SIGKILL);
            "SIGKILL"
        }
    };
    let reaped = wait_gone(proc, KILL_WAIT).await;
    registry::unregister(proc.pid);
    let mut f = fields([
        ("signal", signal.into()),
        ("ms", (started.elapsed().as_secs_f64() * 1000.0).into()),
        ("pid", proc.pid.into()),
    ]);
    if !reaped {
        f.insert("lingering".to_owned(), Value::Bool(true));
    }
    events.push(&proc.name, "service_stopped", f);
}

/// Waits up to `limit` for the group to be gone; returns whether it is.
async fn wait_gone(proc: &Proc, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if gone(proc) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
}

/// Synchronous last-resort teardown (Drop, panics): SIGKILL every group at once; a detached
/// thread forgets each group once it is gone.
pub fn kill_now(pids: Vec<i32>) {
    for &pid in &pids {
        registry::signal_group(pid, libc::SIGKILL);
    }
    let forget = move || {
        let deadline = Instant::now() + KILL_WAIT;
        let mut left = pids;
        while !left.is_empty() && Instant::now() < deadline {
            left.retain(|&pid| {
                // SAFETY: kill with signal 0 only checks for existence.
                let leader_alive = unsafe { libc::kill(pid, 0) } == 0
                    && registry::proc_stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X');
                let alive = leader_alive || registry::group_alive(pid);
                if !alive {
                    registry::unregister(pid);
                }
                alive
            });
            std::thread::sleep(POLL);
        }
        for pid in left {
            registry::unregister(pid);
        }
    };
    if std::thread::Builder::new().name("ospecc-reap".into()).spawn(forget).is_err() {
        // No thread: keep the groups registered (kill_all_now may still reach them).
    }
}
