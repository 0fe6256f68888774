//! Reading what a notified syscall is about from the stopped target: a path argument (its
//! memory, through `process_vm_readv`), a file descriptor's `/proc/<tid>/fd/<n>` link, a socket
//! address. The target is stopped in the syscall while we read, but another of its threads may
//! change the memory (TOCTOU): that is acceptable here, because this is fault injection, not a
//! security boundary. The caller checks `NOTIF_ID_VALID` after reading, so a read from a task
//! that died and whose tid was reused is never acted on.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::PathBuf;

/// The longest path read from a target (PATH_MAX).
const PATH_MAX: usize = 4096;

/// Reads up to `buf.len()` bytes at `addr` in `tid`'s memory; returns how many were read.
/// Reads stop at a page boundary that is not mapped, which is fine for a NUL-terminated string
/// whose tail is in a mapped page.
fn read_memory(tid: i32, addr: u64, buf: &mut [u8]) -> Option<usize> {
    if addr == 0 || buf.is_empty() {
        return None;
    }
    let mut total = 0;
    // A single read fails as a whole when the range crosses into an unmapped page; read page
    // by page so the mapped prefix is still obtained.
    while total < buf.len() {
        let at = addr.checked_add(total as u64)?;
        let to_page_end = 4096 - (at % 4096) as usize;
        let want = to_page_end.min(buf.len() - total);
        let local = libc::iovec { iov_base: buf[total..].as_mut_ptr().cast(), iov_len: want };
        let remote = libc::iovec { iov_base: at as *mut libc::c_void, iov_len: want };
        // SAFETY: `local` points into `buf` with `want <= buf.len() - total` bytes; `remote` is
        // only dereferenced by the kernel in the target's address space.
        let n = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
        if n <= 0 {
            break;
        }
        total += n as usize;
        if buf[..total].contains(&0) {
            break;
        }
    }
    (total > 0).then_some(total)
}

/// A NUL-terminated string at `addr` in the target.
pub fn read_c_string(tid: i32, addr: u64) -> Option<String> {
    let mut buf = vec![0u8; PATH_MAX];
    let n = read_memory(tid, addr, &mut buf)?;
    let end = buf[..n].iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// Where a file descriptor of the target points (`/var/data/x`, `socket:[123]`, `pipe:[9]`).
pub fn fd_link(tid: i32, fd: u64) -> Option<String> {
    let fd = i32::try_from(fd as i64).ok().filter(|fd| *fd >= 0)?;
    std::fs::read_link(format!("/proc/{tid}/fd/{fd}")).ok().map(|p| p.to_string_lossy().into_owned())
}

/// A path argument made absolute: relative paths resolve against the directory fd (`*at`
/// calls) or the target's working directory. `..` and symlinks are left as written.
pub fn absolute_path(tid: i32, path: String, dirfd: Option<u64>) -> String {
    if path.starts_with('/') {
        return path;
    }
    let base = match dirfd {
        // AT_FDCWD is -100 as an int; the register holds it sign-extended or not.
        Some(fd) if fd as i32 != libc::AT_FDCWD => fd_link(tid, fd),
        _ => std::fs::read_link(format!("/proc/{tid}/cwd")).ok().map(|p| p.to_string_lossy().into_owned()),
    };
    match base {
        Some(base) if path.is_empty() => base,
        Some(base) => PathBuf::from(base).join(path.trim_start_matches("./")).to_string_lossy().into_owned(),
        None => path,
    }
}

/// A socket address read from the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr {
    Inet(SocketAddr),
    /// A filesystem path, or `@name` for an abstract socket, or empty for an unnamed one.
    Unix(String),
    /// Another family (netlink, packet, ...).
    Other(u16),
}

/// Reads and decodes the `sockaddr` of `connect`/`bind` (`addr`, `len` from the arguments).
pub fn read_sockaddr(tid: i32, addr: u64, len: u64) -> Option<SockAddr> {
    let len = usize::try_from(len).ok()?.min(std::mem::size_of::<libc::sockaddr_storage>());
    if len < 2 {
        return None;
    }
    let mut buf = vec![0u8; len];
    let n = read_memory_exact(tid, addr, &mut buf)?;
    decode_sockaddr(&buf[..n])
}

/// Like [`read_memory`] but without stopping at a NUL (binary data).
fn read_memory_exact(tid: i32, addr: u64, buf: &mut [u8]) -> Option<usize> {
    if addr == 0 {
        return None;
    }
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: `local` covers exactly `buf`; the kernel reads `remote` in the target.
    let n = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
    (n > 0).then_some(n as usize)
}

/// Decodes a raw `sockaddr` (native byte order for the family, network order for ports).
pub fn decode_sockaddr(raw: &[u8]) -> Option<SockAddr> {
    let family = u16::from_ne_bytes([*raw.first()?, *raw.get(1)?]);
    match i32::from(family) {
        libc::AF_INET if raw.len() >= 8 => {
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let ip = Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
            Some(SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(ip, port))))
        }
        libc::AF_INET6 if raw.len() >= 24 => {
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let flow = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]);
            let octets: [u8; 16] = raw[8..24].try_into().ok()?;
            let scope = raw.get(24..28).and_then(|s| s.try_into().ok()).map(u32::from_ne_bytes).unwrap_or(0);
            Some(SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(octets), port, flow, scope))))
        }
        libc::AF_UNIX => {
            let path = &raw[2..];
            if path.first() == Some(&0) {
                // Abstract: the name is every byte after the leading NUL, up to the length.
                let name = &path[1..];
                if name.is_empty() {
                    return Some(SockAddr::Unix(String::new()));
                }
                return Some(SockAddr::Unix(format!("@{}", String::from_utf8_lossy(name))));
            }
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            Some(SockAddr::Unix(String::from_utf8_lossy(&path[..end]).into_owned()))
        }
        _ => Some(SockAddr::Other(family)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddrs_decode() {
        let mut v4 = vec![0u8; 16];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&15433u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(decode_sockaddr(&v4), Some(SockAddr::Inet("127.0.0.1:15433".parse().unwrap())));

        let mut unix = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/tmp/log.sock\0\0\0");
        assert_eq!(decode_sockaddr(&unix), Some(SockAddr::Unix("/tmp/log.sock".into())));

        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0name");
        assert_eq!(decode_sockaddr(&abs), Some(SockAddr::Unix("@name".into())));

        let mut v6 = vec![0u8; 28];
        v6[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&80u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(decode_sockaddr(&v6), Some(SockAddr::Inet("[::1]:80".parse().unwrap())));
        assert_eq!(decode_sockaddr(&[1]), None);
    }

    #[test]
    fn own_memory_and_fds_read() {
        let text = std::ffi::CString::new("/var/data/file.txt").unwrap();
        let me = std::process::id() as i32;
        assert_eq!(read_c_string(me, text.as_ptr() as u64).as_deref(), Some("/var/data/file.txt"));
        assert_eq!(read_c_string(me, 0), None);
        let file = tempfile::NamedTempFile::new().unwrap();
        use std::os::fd::AsRawFd;
        let link = fd_link(me, file.as_file().as_raw_fd() as u64).unwrap();
        assert_eq!(std::path::Path::new(&link), file.path());
        assert_eq!(absolute_path(me, "/abs".into(), None), "/abs");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute_path(me, "x".into(), Some(libc::AT_FDCWD as u32 as u64)), cwd.join("x").to_string_lossy());
    }
}
