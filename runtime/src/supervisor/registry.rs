//! The process-wide registry of live process groups, so that a signal handler or a panic hook
//! can kill every service this process started ([`kill_all_now`]).
//!
//! The registry is a fixed array of atomics: registering, unregistering and killing take no lock
//! and allocate nothing, so [`kill_all_now`] is async-signal-safe.

use std::sync::atomic::{AtomicI32, Ordering};

/// More live services than this in one process are still supervised, but `kill_all_now` does
/// not see the extra ones (they still die with the runtime through `PR_SET_PDEATHSIG`).
const SLOTS: usize = 4096;

static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

/// Records a live process group; returns false if the registry is full.
pub(crate) fn register(pgid: i32) -> bool {
    if pgid <= 0 {
        return false;
    }
    GROUPS.iter().any(|slot| slot.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst).is_ok())
}

/// Forgets a process group (it is gone).
pub(crate) fn unregister(pgid: i32) {
    for slot in &GROUPS {
        let _ = slot.compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// Whether the group is still ours to signal: [`kill_all_now`] forgets the groups it killed, so
/// a later teardown never signals a process-group id that might have been reused.
pub(crate) fn is_registered(pgid: i32) -> bool {
    pgid > 0 && GROUPS.iter().any(|slot| slot.load(Ordering::SeqCst) == pgid)
}

/// Kills every process group this process started that is still alive, synchronously, with
/// SIGKILL (for signal handlers and panics). Async-signal-safe: no locks, no allocation.
pub fn kill_all_now() {
    for slot in &GROUPS {
        let pgid = slot.swap(0, Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: killpg has no memory-safety preconditions.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

/// Sends `signal` to the whole group if it is still registered.
pub(crate) fn signal_group(pgid: i32, signal: i32) {
    if is_registered(pgid) {
        // SAFETY: killpg has no memory-safety preconditions.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}

/// Whether any live (non-zombie) process is still in the group.
pub(crate) fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let exists = unsafe { libc::kill(-pgid, 0) } == 0;
    if !exists {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    }
    // kill(2) also succeeds for a group of zombies (orphans whose reaper has not run yet):
    // look at /proc for a member that still runs.
    let Ok(dir) = std::fs::read_dir("/proc") else { return true };
    dir.filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .any(|pid| matches!(proc_stat(pid), Some((state, pgrp)) if pgrp == pgid && state != 'Z' && state != 'X'))
}

/// `(state, pgrp)` of a process from `/proc/PID/stat`.
pub(crate) fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything; fields follow the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_and_unregister() {
        // A pid that no process has (beyond the default pid_max), so nothing is signalled.
        let fake = 0x3FFF_FFF0;
        assert!(register(fake));
        assert!(is_registered(fake));
        unregister(fake);
        assert!(!is_registered(fake));
        assert!(!register(0));
    }

    #[test]
    fn own_stat_parses() {
        let pid = std::process::id() as i32;
        let (state, pgrp) = proc_stat(pid).unwrap();
        assert_ne!(state, 'Z');
        assert_eq!(pgrp, unsafe { libc::getpgrp() });
    }
}
