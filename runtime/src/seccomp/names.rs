//! Names the plan uses and numbers the kernel uses: syscall names ↔ numbers of this
//! architecture (the `syscalls` crate's tables), errno names → numbers, and which syscalls
//! carry a path, a file descriptor or a socket address (what a rule's `path=` is matched
//! against).

use std::str::FromStr;

use syscalls::Sysno;

/// The number of `name` on this architecture, or `None` when this architecture has no such
/// syscall (`open` and `creat` do not exist on aarch64; a typo).
pub fn number(name: &str) -> Option<u32> {
    Sysno::from_str(name).ok().and_then(|s| u32::try_from(s.id()).ok())
}

/// The name of syscall number `nr` on this architecture (`None` for an unknown number).
pub fn name(nr: i32) -> Option<&'static str> {
    usize::try_from(nr).ok().and_then(Sysno::new).map(|s| s.name())
}

/// The write family: never notified for fds 1 and 2 (a service's own output must neither be
/// faulted nor slowed down), an exception the filter makes in BPF.
pub const STDIO_EXEMPT: &[&str] = &["write", "writev", "pwrite64", "pwritev", "pwritev2"];

/// Errno names a rule may give, with their numbers. Names a plan might plausibly use; an
/// unknown name falls back to EIO with a warning event.
const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("ESRCH", libc::ESRCH),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("ENXIO", libc::ENXIO),
    ("E2BIG", libc::E2BIG),
    ("EBADF", libc::EBADF),
    ("ECHILD", libc::ECHILD),
    ("EAGAIN", libc::EAGAIN),
    ("EWOULDBLOCK", libc::EWOULDBLOCK),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("EXDEV", libc::EXDEV),
    ("ENODEV", libc::ENODEV),
    ("ENOTDIR", libc::ENOTDIR),
    ("EISDIR", libc::EISDIR),
    ("EINVAL", libc::EINVAL),
    ("ENFILE", libc::ENFILE),
    ("EMFILE", libc::EMFILE),
    ("ETXTBSY", libc::ETXTBSY),
    ("EFBIG", libc::EFBIG),
    ("ENOSPC", libc::ENOSPC),
    ("ESPIPE", libc::ESPIPE),
    ("EROFS", libc::EROFS),
    ("EMLINK", libc::EMLINK),
    ("EPIPE", libc::EPIPE),
    ("ERANGE", libc::ERANGE),
    ("EDEADLK", libc::EDEADLK),
    ("ENAMETOOLONG", libc::ENAMETOOLONG),
    ("ENOLCK", libc::ENOLCK),
    ("ENOSYS", libc::ENOSYS),
    ("ENOTEMPTY", libc::ENOTEMPTY),
    ("ELOOP", libc::ELOOP),
    ("ENOMSG", libc::ENOMSG),
    ("ENODATA", libc::ENODATA),
    ("ETIME", libc::ETIME),
    ("EPROTO", libc::EPROTO),
    ("EOVERFLOW", libc::EOVERFLOW),
    ("EILSEQ", libc::EILSEQ),
    ("ENOTSOCK", libc::ENOTSOCK),
    ("EDESTADDRREQ", libc::EDESTADDRREQ),
    ("EMSGSIZE", libc::EMSGSIZE),
    ("EPROTOTYPE", libc::EPROTOTYPE),
    ("ENOPROTOOPT", libc::ENOPROTOOPT),
    ("EPROTONOSUPPORT", libc::EPROTONOSUPPORT),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("ENOTSUP", libc::ENOTSUP),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    ("ENETDOWN", libc::ENETDOWN),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("ENETRESET", libc::ENETRESET),
    ("ECONNABORTED", libc::ECONNABORTED),
    ("ECONNRESET", libc::ECONNRESET),
    ("ENOBUFS", libc::ENOBUFS),
    ("EISCONN", libc::EISCONN),
    ("ENOTCONN", libc::ENOTCONN),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("EHOSTDOWN", libc::EHOSTDOWN),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("EALREADY", libc::EALREADY),
    ("EINPROGRESS", libc::EINPROGRESS),
    ("ESTALE", libc::ESTALE),
    ("EDQUOT", libc::EDQUOT),
    ("ECANCELED", libc::ECANCELED),
];

/// The number of an errno name (the plan spells them in upper case; case is forgiven).
pub fn errno(name: &str) -> Option<i32> {
    ERRNOS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, v)| v)
}

/// What a syscall's subject is, for matching a rule's `path=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A path string at argument `path`, relative to the directory fd at argument `dirfd`
    /// (`None`: relative to the working directory).
    Path { path: usize, dirfd: Option<usize> },
    /// A file descriptor at argument 0 (its `/proc/<tid>/fd` link names the file or socket).
    Fd,
    /// A socket address at arguments 1 (pointer) and 2 (length): `connect`, `bind`.
    SockAddr,
    /// Nothing to match a path against.
    Nothing,
}

/// What a syscall's subject is.
pub fn subject(name: &str) -> Subject {
    let path = |path, dirfd| Subject::Path { path, dirfd };
    match name {
        "open" | "creat" | "unlink" | "mkdir" | "rmdir" | "rename" | "stat" | "lstat" | "access" | "truncate"
        | "chmod" | "chown" | "lchown" | "readlink" | "execve" | "link" | "mknod" | "utimes" | "chdir" | "statfs" => {
            path(0, None)
        }
        "openat" | "openat2" | "unlinkat" | "mkdirat" | "renameat" | "renameat2" | "newfstatat" | "statx"
        | "faccessat" | "faccessat2" | "fchmodat" | "fchownat" | "readlinkat" | "execveat" | "mknodat"
        | "utimensat" | "name_to_handle_at" => path(1, Some(0)),
        "connect" | "bind" => Subject::SockAddr,
        "read" | "readv" | "pread64" | "preadv" | "preadv2" | "write" | "writev" | "pwrite64" | "pwritev"
        | "pwritev2" | "fsync" | "fdatasync" | "sync_file_range" | "syncfs" | "sendto" | "sendmsg" | "sendmmsg"
        | "recvfrom" | "recvmsg" | "recvmmsg" | "ftruncate" | "fallocate" | "fstat" | "fstatfs" | "flock" | "lseek"
        | "close" | "getdents64" | "fchmod" | "fchown" | "fchdir" | "ioctl" | "fcntl" | "accept" | "accept4"
        | "listen" | "shutdown" | "setsockopt" | "getsockopt" | "getsockname" | "getpeername" | "sendfile"
        | "splice" | "tee" | "copy_file_range" | "fadvise64" | "readahead" | "mmap" | "fgetxattr" | "fsetxattr"
        | "fremovexattr" | "flistxattr" => Subject::Fd,
        _ => Subject::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        let nr = number("openat").expect("openat exists everywhere");
        assert_eq!(name(nr as i32), Some("openat"));
        assert_eq!(number("no_such_syscall"), None);
        assert_eq!(name(-1), None);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(number("write"), Some(1));
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno("ECONNREFUSED"), Some(libc::ECONNREFUSED));
        assert_eq!(errno("enospc"), Some(libc::ENOSPC));
        assert_eq!(errno("EBOGUS"), None);
    }

    #[test]
    fn subjects() {
        assert_eq!(subject("openat"), Subject::Path { path: 1, dirfd: Some(0) });
        assert_eq!(subject("write"), Subject::Fd);
        assert_eq!(subject("connect"), Subject::SockAddr);
        assert_eq!(subject("getpid"), Subject::Nothing);
    }
}
