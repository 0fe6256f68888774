//! The unprivileged path to network namespaces: creating one needs `CAP_SYS_ADMIN`, which a
//! user has in a user namespace of their own. The whole process enters a new user namespace
//! with the user's uid and gid mapped to themselves: files keep their owners, services run as
//! the user (an exec drops the namespace's capabilities for a non-zero uid), and the host's
//! network stays reachable (only the job threads leave it). unshare(2) allows this only while
//! the process has one thread, so the CLI does it before the run starts any.

use std::io::Write;

/// Whether the process may create network namespaces already (root, or `CAP_SYS_ADMIN`).
pub fn privileged() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid == 0 || has_sys_admin()
}

/// `CAP_SYS_ADMIN` (bit 21) in the effective set.
fn has_sys_admin() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

/// Threads of this process (from `/proc/self/status`).
fn threads() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|n| n.trim().parse().ok())
}

/// Makes network namespaces available: nothing to do when privileged, else the process enters
/// a user namespace of its own. Must run while the process is single-threaded.
pub fn prepare() -> Result<(), String> {
    if privileged() {
        return Ok(());
    }
    match threads() {
        Some(1) => {}
        Some(n) => {
            return Err(format!("a user namespace needs a single-threaded process, and this one has {n} threads"))
        }
        None => return Err("/proc/self/status is unreadable".to_owned()),
    }
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: unshare(2) with a constant flag; the process is single-threaded (checked above).
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        let error = std::io::Error::last_os_error();
        return Err(format!(
            "cannot create a user namespace ({error}); unprivileged user namespaces may be disabled \
             (sysctl user.max_user_namespaces, kernel.apparmor_restrict_unprivileged_userns)"
        ));
    }
    // An unprivileged process must give up setgroups(2) before it may map its group.
    let writes = [
        ("/proc/self/setgroups", "deny".to_owned()),
        ("/proc/self/uid_map", format!("{uid} {uid} 1")),
        ("/proc/self/gid_map", format!("{gid} {gid} 1")),
    ];
    for (path, line) in writes {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut file| file.write_all(line.as_bytes()))
            .map_err(|e| format!("cannot write {path} of the new user namespace: {e}"))?;
    }
    Ok(())
}
