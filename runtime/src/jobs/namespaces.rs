//! Namespaces for parallel jobs: a job's thread leaves the host's network namespace for a new
//! one with only its loopback up, so two jobs can bind the same fixed ports, and gets a mount
//! namespace of its own whose `/dev/shm` is a fresh tmpfs, so services that keep their state
//! there (the example's PostgreSQL) use the same paths in every job without meeting. Sockets
//! belong to the network namespace of the thread that creates them, and threads and processes
//! inherit their creator's namespaces, so everything a job's thread starts (its async runtime,
//! step clients, healthchecks) lives in its namespaces. Services are the exception: they are
//! forked by the supervisor's one spawner thread, so a child joins its requester's namespaces
//! before exec ([`Join`]).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

/// The calling thread's namespaces (`/proc/self/ns/...` would name the main thread's), by the
/// `setns` flag that joins each.
const THREAD_NAMESPACES: [(&CStr, libc::c_int); 2] =
    [(c"/proc/thread-self/ns/net", libc::CLONE_NEWNET), (c"/proc/thread-self/ns/mnt", libc::CLONE_NEWNS)];

/// The directory each job gets a tmpfs of its own on.
const PRIVATE_SHM: &CStr = c"/dev/shm";

/// `struct ifreq` with the flags member of its union (40 bytes on every Linux ABI we build for).
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _rest: [u8; 22],
}

/// Moves the calling thread into new network and mount namespaces, brings the loopback up and
/// gives it a `/dev/shm` of its own.
pub fn enter_new() -> Result<(), String> {
    // SAFETY: unshare(2) changes only the calling thread's namespaces (and its own copy of the
    // filesystem attributes, which a new mount namespace implies).
    if unsafe { libc::unshare(libc::CLONE_NEWNET | libc::CLONE_NEWNS) } != 0 {
        return Err(format!("cannot create network and mount namespaces: {}", std::io::Error::last_os_error()));
    }
    loopback_up().map_err(|e| format!("cannot bring the loopback of a new network namespace up: {e}"))?;
    private_shm().map_err(|e| format!("cannot give a job its own /dev/shm: {e}"))
}

/// Mounts stop propagating to and from the host (a job's tmpfs must not appear there), then a
/// fresh tmpfs covers `/dev/shm` when there is one.
fn private_shm() -> std::io::Result<()> {
    let none = std::ptr::null();
    // SAFETY: mount(2) with constant, NUL-terminated arguments; it changes only this thread's
    // mount namespace, which was just made.
    unsafe {
        if libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if !std::path::Path::new("/dev/shm").is_dir() {
            return Ok(());
        }
        let flags = libc::MS_NOSUID | libc::MS_NODEV;
        let options = c"mode=1777".as_ptr().cast();
        if libc::mount(c"ospecc-job".as_ptr(), PRIVATE_SHM.as_ptr(), c"tmpfs".as_ptr(), flags, options) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `ip link set lo up`, by the two ioctls it makes.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: socket(2) with constant arguments; the descriptor is owned right after.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut request = IfReq { name: [0; libc::IFNAMSIZ], flags: 0, _rest: [0; 22] };
    for (slot, byte) in request.name.iter_mut().zip(b"lo") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: both ioctls read and write a `struct ifreq`, which `request` is laid out as.
    unsafe {
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        request.flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The identity (inode) of the calling thread's network namespace.
pub fn current() -> Option<u64> {
    std::fs::metadata("/proc/thread-self/ns/net").ok().map(|m| m.ino())
}

/// Whether this process may give a thread its own namespaces: tried on a scratch thread, which
/// ends (and its namespaces with it) right after.
pub fn probe() -> Result<(), String> {
    std::thread::Builder::new()
        .name("ospecc-netns-probe".into())
        .spawn(enter_new)
        .map_err(|e| format!("cannot start a thread: {e}"))?
        .join()
        .map_err(|_| "the network namespace probe panicked".to_owned())?
}

/// One namespace of the requesting thread: its descriptor and identity.
struct Namespace {
    descriptor: OwnedFd,
    inode: u64,
    path: &'static CStr,
    flag: libc::c_int,
}

/// The requesting thread's namespaces, for a child forked by another thread to join.
pub struct Join {
    namespaces: Vec<Namespace>,
}

impl Join {
    /// The calling thread's namespaces; those `/proc` cannot name are left out (the child then
    /// stays in its forker's, as it always did).
    pub fn of_caller() -> Join {
        let open = |(path, flag): (&'static CStr, libc::c_int)| {
            let file = std::fs::File::open(path.to_str().ok()?).ok()?;
            let inode = file.metadata().ok()?.ino();
            Some(Namespace { descriptor: OwnedFd::from(file), inode, path, flag })
        };
        Join { namespaces: THREAD_NAMESPACES.into_iter().filter_map(open).collect() }
    }

    /// In the forked child, before exec: joins each namespace the child is not in already (so
    /// a run without jobs never needs the privilege `setns` asks for). Only makes
    /// async-signal-safe system calls and allocates nothing.
    pub fn enter(&self) -> std::io::Result<()> {
        // Joining a mount namespace moves the working directory to its root: the child's (set
        // before this runs) is taken back by path afterwards.
        let mut cwd = [0 as libc::c_char; libc::PATH_MAX as usize];
        // SAFETY: getcwd(3) writes at most `cwd.len()` bytes into the buffer.
        let have_cwd = unsafe { !libc::getcwd(cwd.as_mut_ptr(), cwd.len()).is_null() };
        for namespace in &self.namespaces {
            // SAFETY: `stat` is an all-integer C struct; stat(2) fills it from a constant path.
            let here = unsafe {
                let mut stat: libc::stat = std::mem::zeroed();
                (libc::stat(namespace.path.as_ptr(), &mut stat) == 0).then_some(stat.st_ino)
            };
            if here == Some(namespace.inode) {
                continue;
            }
            // SAFETY: setns(2) on a descriptor this value owns.
            if unsafe { libc::setns(namespace.descriptor.as_raw_fd(), namespace.flag) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: chdir(2) on the NUL-terminated path getcwd wrote.
            if namespace.flag == libc::CLONE_NEWNS && have_cwd && unsafe { libc::chdir(cwd.as_ptr()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two threads in their own namespaces bind the same port and write the same `/dev/shm`
    /// file; neither sees the other's, and the host sees neither.
    #[test]
    fn threads_in_new_namespaces_share_neither_ports_nor_shm() {
        if let Err(why) = probe() {
            eprintln!("SKIP: {why}");
            return;
        }
        let host = current();
        let file = std::path::Path::new("/dev/shm/ospecc-namespaces-test");
        let job = |text: &'static str| {
            move || {
                enter_new().unwrap();
                let listener = std::net::TcpListener::bind("127.0.0.1:43999").unwrap();
                let connected = std::net::TcpStream::connect("127.0.0.1:43999").is_ok();
                drop(listener);
                assert!(!file.exists(), "a job's /dev/shm starts empty");
                std::fs::write(file, text).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(100));
                (current(), connected, std::fs::read_to_string(file).unwrap())
            }
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(job("a"));
            let b = s.spawn(job("b"));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(a.1 && b.1, "loopback is up in both");
        assert_eq!((a.2.as_str(), b.2.as_str()), ("a", "b"));
        assert_ne!(a.0, b.0);
        assert_ne!(a.0, host);
        assert_eq!(current(), host, "the test's own thread stayed where it was");
        assert!(!file.exists(), "the host's /dev/shm is untouched");
    }
}
