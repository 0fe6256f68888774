//! Installing the filter in the forked child (`pre_exec`) and handing its listener to the
//! supervisor over a `SOCK_SEQPACKET` socketpair with `SCM_RIGHTS` (runtime-mechanisms.md §2.1,
//! "chosen"): the in-flight reference keeps the listener alive, nothing leaks into the target
//! (both socket ends and the listener are close-on-exec), and there is no race with exec.
//!
//! Everything here that runs in the child is async-signal-safe: raw system calls on memory
//! prepared before the fork (the BPF program, the message buffers are on the stack).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::filter::Program;

/// The child moves its end of the socketpair to the first free fd at or above this, so the
/// `sendmsg` exception in BPF names an fd number the service is unlikely to reuse after exec.
const HANDOFF_FD_MIN: libc::c_int = 900;

/// A `SOCK_SEQPACKET` socketpair, both ends close-on-exec: `(supervisor end, child end)`.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socketpair succeeded: both fds are new and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What the child runs in `pre_exec`, after the parent-death setup.
pub struct ChildHook {
    pub program: Program,
    /// The child's end of the socketpair (the number is the same in the forked child).
    pub sock: RawFd,
}

impl ChildHook {
    /// `NO_NEW_PRIVS`, the filter with a listener, and the listener sent to the supervisor.
    ///
    /// # Safety
    /// Call only in the forked child before exec (it installs a filter on the calling thread).
    /// Async-signal-safe: no allocation, no locks.
    pub unsafe fn run(&mut self) -> io::Result<()> {
        // Gotcha 2: without NO_NEW_PRIVS only CAP_SYS_ADMIN may install a filter. Side effect:
        // setuid binaries run by the service do not gain privileges.
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        // Move the hand-off socket high; if the fd limit is lower, keep its number.
        let moved = libc::fcntl(self.sock, libc::F_DUPFD_CLOEXEC, HANDOFF_FD_MIN);
        let sock = if moved >= 0 { moved } else { self.sock };
        self.program.set_handoff_fd(sock);
        let fprog = libc::sock_fprog {
            len: self.program.instructions.len() as libc::c_ushort,
            filter: self.program.instructions.as_ptr() as *mut libc::sock_filter,
        };
        let flags = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        let listener = libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, &fprog as *const _);
        if listener < 0 {
            return Err(io::Error::last_os_error());
        }
        // From here on the filter is active: every intercepted syscall waits for the supervisor,
        // which is already blocked in recvmsg (gotcha 3). The sendmsg below is the one call it
        // cannot answer; BPF lets it through (see filter.rs).
        send_fd(sock, listener as libc::c_int)?;
        // The listener, the moved socket and the original are close-on-exec; nothing else to do
        // (closing here would be one more syscall that a filter on `close` would notify).
        Ok(())
    }
}

/// A control-message buffer with the alignment `cmsghdr` needs.
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

/// Sends `fd` with `SCM_RIGHTS` and one data byte. Async-signal-safe.
unsafe fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    let mut byte = [b'L'];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    let mut cmsg = CmsgBuf([0; 64]);
    let space = libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) as usize;
    let mut msg: libc::msghdr = std::mem::zeroed();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.0.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    let hdr = libc::CMSG_FIRSTHDR(&msg);
    if hdr.is_null() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    (*hdr).cmsg_level = libc::SOL_SOCKET;
    (*hdr).cmsg_type = libc::SCM_RIGHTS;
    (*hdr).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
    std::ptr::write_unaligned(libc::CMSG_DATA(hdr) as *mut libc::c_int, fd);
    loop {
        let n = libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
        if n >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Receives the listener the child sends. Returns `Ok(None)` when the child ended (or failed
/// before sending) and every copy of its end is closed; bounded by `timeout` in any case.
pub fn recv_fd(sock: &OwnedFd, timeout: Duration) -> io::Result<Option<OwnedFd>> {
    let tv = libc::timeval { tv_sec: timeout.as_secs() as libc::time_t, tv_usec: timeout.subsec_micros() as _ };
    // SAFETY: setsockopt with a valid timeval of the right size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    let mut cmsg = CmsgBuf([0; 64]);
    // SAFETY: a zeroed msghdr is valid; every pointer set below outlives the recvmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.0.as_mut_ptr().cast();
    msg.msg_controllen = cmsg.0.len() as _;
    let n = loop {
        // SAFETY: `msg` points at live buffers; MSG_CMSG_CLOEXEC keeps the listener out of
        // every process the runtime spawns later.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the service did not hand over its seccomp listener within {} s", timeout.as_secs()),
                ))
            }
            _ => return Err(e),
        }
    };
    if n == 0 {
        return Ok(None);
    }
    // SAFETY: `msg` was filled by recvmsg; the CMSG_* walk stays within msg_controllen.
    unsafe {
        let mut hdr = libc::CMSG_FIRSTHDR(&msg);
        while !hdr.is_null() {
            if (*hdr).cmsg_level == libc::SOL_SOCKET && (*hdr).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(hdr) as *const libc::c_int);
                if fd >= 0 {
                    return Ok(Some(OwnedFd::from_raw_fd(fd)));
                }
            }
            hdr = libc::CMSG_NXTHDR(&msg, hdr);
        }
    }
    Err(io::Error::other("the service's hand-off message carried no seccomp listener"))
}
