//! Syscall faults by seccomp user notification (DESIGN.md §7; runtime-mechanisms.md §2, §5).
//!
//! A service with syscall faults runs under a classic-BPF filter ([`filter`]) that notifies
//! exactly the plan's intercept set for it, installed in the forked child before exec
//! ([`install`]) with `NEW_LISTENER | WAIT_KILLABLE_RECV`; the listener comes back to the runtime
//! over a socketpair (`SCM_RIGHTS`). One supervisor thread per listener ([`notify`]) answers
//! each notification from the service's live rule table ([`decide`]): an errno, CONTINUE, or
//! CONTINUE after a delay. Unfaulted services get no filter at all. [`support::probe`] checks
//! once that the kernel can do all this, and a filtered spawn fails with its message where it
//! cannot (never silently unfaulted).
//!
//! Use from the spawner: [`prepare`] before fork, [`Prepared::child_hook`] in `pre_exec`,
//! [`Prepared::start`] before the command is handed to the spawner thread, then
//! [`Started::spawned`] once spawn has returned.

pub mod decide;
pub mod filter;
pub mod install;
pub mod names;
pub mod notify;
pub mod support;
pub mod target;

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use ospecc_schema::plan::topology::SyscallRule;

use crate::events::EventLog;
use crate::faults::rules::Table;

pub use support::{probe, Support};

/// The live syscall rules of one service.
pub type SyscallRules = Table<SyscallRule>;

/// What a service's filter needs at spawn: the syscalls to notify (the plan's intercept set,
/// fixed for the process's life) and the live rules that decide each notified call.
#[derive(Clone)]
pub struct Faulting {
    pub intercept: Vec<String>,
    pub rules: SyscallRules,
    /// The address a connect destination stands for: a proxy edge's port maps to the upstream
    /// it fronts, so a rule scoped to `*:5432` also catches connects to that edge's proxy.
    pub upstream_of: Arc<dyn Fn(SocketAddr) -> Option<SocketAddr> + Send + Sync>,
    /// Determinism mode: what tells a notified call that leaks nondeterminism (`unmediated_io`).
    pub detect: Option<Arc<crate::determinism::Detector>>,
}

/// A filter ready to install in a child, with the supervisor that will answer it.
pub struct Prepared {
    program: filter::Program,
    supervisor_end: OwnedFd,
    child_end: OwnedFd,
    supervisor: notify::Supervisor,
}

/// Prepares the filter of `service` (before fork: everything that allocates happens here).
/// `Ok(None)` when no intercepted name exists on this architecture (each is reported as a
/// `seccomp_warning` event; the service then needs no filter). Err with an actionable message
/// when the kernel or the sandbox cannot run syscall faults.
pub fn prepare(service: &str, faulting: &Faulting, events: &EventLog) -> Result<Option<Prepared>, String> {
    let support = probe().map_err(|e| format!("service `{service}` has syscall faults, but {e}"))?;
    let selection = filter::select(&faulting.intercept);
    notify::warn_unknown(events, service, &selection.unknown);
    if selection.numbers.is_empty() {
        return Ok(None);
    }
    let program = filter::build(&selection).ok_or_else(|| {
        format!("service `{service}`: syscall faults are not supported on {}", std::env::consts::ARCH)
    })?;
    let (supervisor_end, child_end) = install::socketpair()
        .map_err(|e| format!("service `{service}`: cannot create the seccomp hand-off socketpair: {e}"))?;
    let supervisor = notify::Supervisor {
        service: service.to_owned(),
        faulting: faulting.clone(),
        events: events.clone(),
        sync_wake_up: support.sync_wake_up,
    };
    Ok(Some(Prepared { program, supervisor_end, child_end, supervisor }))
}

impl Prepared {
    /// What `pre_exec` runs (see [`install::ChildHook::run`]).
    pub fn child_hook(&self) -> install::ChildHook {
        install::ChildHook { program: self.program.clone(), sock: self.child_end.as_raw_fd() }
    }

    /// Starts the supervisor thread; call before the spawn (gotcha 3).
    pub fn start(self) -> std::io::Result<Started> {
        let handle = self.supervisor.start(self.supervisor_end)?;
        Ok(Started { handle, child_end: self.child_end })
    }
}

/// A running supervisor waiting for (or serving) its child.
pub struct Started {
    handle: notify::Handle,
    /// Kept open until spawn returns: the child's copy is the one that sends.
    child_end: OwnedFd,
}

impl Started {
    /// After spawn returned (Ok or Err): closes the runtime's copy of the child's socket end, so
    /// that the supervisor sees end-of-file if the child never sent its listener. Keep the
    /// handle for the process's life and drop it once the process has exited.
    pub fn spawned(self, pid: Option<i32>) -> notify::Handle {
        drop(self.child_end);
        if let Some(pid) = pid {
            self.handle.set_pid(pid);
        }
        self.handle
    }
}
