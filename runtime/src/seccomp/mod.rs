//! Syscall faults by seccomp user notification (DESIGN.md §7; runtime-mechanisms.md §2, §5).

use std::net::SocketAddr;
use std::sync::Arc;

use ospecc_schema::plan::topology::SyscallRule;

use crate::faults::rules::Table;

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
}
