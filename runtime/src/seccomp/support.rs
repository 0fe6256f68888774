//! Whether this kernel (and the sandbox around this process) can run syscall faults, checked
//! once per process: `user_notif` among the kernel's seccomp actions, and a real filter with
//! `NEW_LISTENER | WAIT_KILLABLE_RECV` installed in a throwaway child. The flag is required, not
//! optional: without it a delayed syscall in a program that receives signals restarts forever or
//! returns a bogus result (runtime-mechanisms.md §2.2, gotcha 1), so a kernel older than 5.19
//! refuses filtered services instead of running them with silently wrong faults.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What the kernel offers beyond the required minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Support {
    /// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6): the supervisor's wake-up runs on the
    /// notifying task's CPU, which roughly halves the cost of a notified syscall.
    pub sync_wake_up: bool,
}

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (not in libc).
pub const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// The cached result of [`probe_uncached`]: the first filtered spawn pays for the probe.
pub fn probe() -> Result<Support, String> {
    static PROBE: OnceLock<Result<Support, String>> = OnceLock::new();
    PROBE.get_or_init(probe_uncached).clone()
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()).unwrap_or_else(|_| "?".into())
}

const ADVICE: &str = "Run on Linux 5.19 or later, outside a container sandbox that blocks seccomp(2) (for Docker: \
    --security-opt seccomp=unconfined), or opt the service out of syscall faults with seccomp=False";

// Exit codes of the probe child (errno values of seccomp(2) are below 200).
const PROBE_OK_SYNC: i32 = 0;
const PROBE_OK: i32 = 200;
const PROBE_NO_NEW_PRIVS: i32 = 201;

/// Checks support without the cache.
pub fn probe_uncached() -> Result<Support, String> {
    let release = kernel_release();
    if super::filter::NATIVE_ARCH.is_none() {
        return Err(format!(
            "syscall faults are implemented for x86_64 and aarch64 only, and this runtime was built for {}; \
             opt the service out with seccomp=False",
            std::env::consts::ARCH
        ));
    }
    let actions = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").map_err(|e| {
        format!(
            "syscall faults need seccomp, but /proc/sys/kernel/seccomp/actions_avail cannot be read ({e}); \
             the kernel ({release}) may lack CONFIG_SECCOMP_FILTER or /proc is not mounted. {ADVICE}"
        )
    })?;
    if !actions.split_whitespace().any(|a| a == "user_notif") {
        return Err(format!(
            "syscall faults need seccomp user notification (Linux 5.0+), and this kernel ({release}) lists only \
             `{}` in /proc/sys/kernel/seccomp/actions_avail. {ADVICE}",
            actions.trim()
        ));
    }
    let code = probe_child()?;
    match code {
        PROBE_OK_SYNC => Ok(Support { sync_wake_up: true }),
        PROBE_OK => Ok(Support { sync_wake_up: false }),
        PROBE_NO_NEW_PRIVS => Err(format!(
            "syscall faults need prctl(PR_SET_NO_NEW_PRIVS), which failed in a test child on this kernel \
             ({release}). {ADVICE}"
        )),
        errno if errno == libc::EINVAL => Err(format!(
            "syscall faults need the seccomp flag WAIT_KILLABLE_RECV (Linux 5.19+) so that delays survive \
             signals; this kernel ({release}) rejects it (EINVAL). {ADVICE}"
        )),
        errno if errno == libc::ENOSYS || errno == libc::EPERM || errno == libc::EACCES => Err(format!(
            "syscall faults need seccomp(2), which is blocked here ({}: {}); a container's seccomp profile or \
             an LSM usually does this (kernel {release}). {ADVICE}",
            errno,
            std::io::Error::from_raw_os_error(errno)
        )),
        errno => Err(format!(
            "installing a test seccomp filter failed ({}; kernel {release}). {ADVICE}",
            std::io::Error::from_raw_os_error(errno)
        )),
    }
}

/// Installs a real filter (a lone `ret ALLOW`, with a listener) in a forked child and returns
/// its exit code: one of the `PROBE_*` codes, or the errno of seccomp(2).
fn probe_child() -> Result<i32, String> {
    let program = [libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: libc::SECCOMP_RET_ALLOW }];
    let fprog = libc::sock_fprog { len: 1, filter: program.as_ptr() as *mut libc::sock_filter };
    let flags = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    // SAFETY: the child only makes raw system calls on memory prepared before the fork (prctl,
    // seccomp, ioctl, _exit), all async-signal-safe, and never returns into Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("cannot check seccomp support: fork failed ({})", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: see above; this is the forked child.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(PROBE_NO_NEW_PRIVS);
            }
            let fd = libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, &fprog as *const _);
            if fd < 0 {
                libc::_exit(*libc::__errno_location());
            }
            let sync =
                libc::ioctl(fd as libc::c_int, libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
            libc::_exit(if sync == 0 { PROBE_OK_SYNC } else { PROBE_OK });
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut status = 0;
        // SAFETY: plain waitpid on our own child with a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return Ok(libc::WEXITSTATUS(status));
            }
            return Err(format!(
                "cannot check seccomp support: the test child ended abnormally (wait status {status:#x})"
            ));
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("cannot check seccomp support: waitpid failed ({e})"));
        }
        if Instant::now() > deadline {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err("cannot check seccomp support: the test child did not finish within 5 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_probe_answers_and_is_cached() {
        let first = super::probe();
        assert_eq!(first, super::probe());
        if let Err(message) = &first {
            assert!(message.contains("seccomp"), "{message}");
        }
    }
}
