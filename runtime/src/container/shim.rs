//! Syscall faults inside a container. ospecc itself is the shim: its executable, the dynamic
//! loader and the shared libraries it runs with are bind-mounted read-only under `/.ospecc`, and
//! the container's entrypoint becomes that loader running ospecc (so the shim runs in any image,
//! whatever its C library). With `OSPECC_SHIM` in its environment, ospecc does only this
//! ([`main_if_shim`]): it installs the service's filter (the plan's intercept set) with a
//! listener, connects to a unix socket the runtime listens on (a host directory mounted at
//! `/.ospecc/run`), sends the listener with `SCM_RIGHTS`, and execs the image's own entrypoint
//! and command. The runtime answers the listener with the same supervisor as for processes
//! ([`crate::seccomp::notify`]); notifications carry host pids, so paths and addresses resolve
//! as for a process.
//!
//! The host side is [`Handoff`] (the socket, the accepted connection) and [`ShimFiles`] (what
//! to mount).

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::args::Mount;
use crate::seccomp::{filter, install};

/// The environment variable that makes ospecc the shim (its value is a [`Config`] in JSON).
pub const CONFIG_ENV: &str = "OSPECC_SHIM";
/// Where the shim's files are mounted in the container.
const ROOT: &str = "/.ospecc";
/// The socket's name in the mounted run directory.
const SOCKET: &str = "fd.sock";

/// What the shim does, passed in its environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The syscalls to notify (names; this architecture's numbers are looked up in the shim).
    pub intercept: Vec<String>,
    /// The unix socket to send the listener to (a path in the container).
    pub socket: String,
    /// The program to exec and its arguments: the image's entrypoint and command.
    pub argv: Vec<String>,
}

/// Run first thing by the `ospecc` binary: `Some(exit code)` when this process is the shim and
/// could not exec the service (it never returns when it could), `None` otherwise.
pub fn main_if_shim() -> Option<i32> {
    let raw = std::env::var(CONFIG_ENV).ok()?;
    let why = match serde_json::from_str::<Config>(&raw) {
        Ok(config) => run(&config),
        Err(e) => format!("the {CONFIG_ENV} configuration is not valid JSON: {e}"),
    };
    eprintln!("ospecc shim: {why}");
    // 127 as a shell's "command not found": the service could not start.
    Some(127)
}

/// Installs the filter, hands its listener over and execs; returns only the reason it failed.
fn run(config: &Config) -> String {
    let Some(program) = config.argv.first() else {
        return "the image has neither an entrypoint nor a command, and the service gives no args=".to_owned();
    };
    let selection = filter::select(&config.intercept);
    if !selection.numbers.is_empty() {
        let Some(bpf) = filter::build(&selection) else {
            return format!("syscall faults are not supported on {}", std::env::consts::ARCH);
        };
        let sock = match connect(Path::new(&config.socket)) {
            Ok(sock) => sock,
            Err(e) => return format!("cannot reach the runtime at {}: {e}", config.socket),
        };
        let mut hook = install::ChildHook { program: bpf, sock: sock.as_raw_fd() };
        // SAFETY: this is a single-threaded process about to exec; the filter applies to this
        // thread, which is the one that execs.
        if let Err(e) = unsafe { hook.run() } {
            return format!("cannot install the seccomp filter: {e}");
        }
    }
    let error = std::process::Command::new(program).args(&config.argv[1..]).env_remove(CONFIG_ENV).exec();
    format!("cannot run `{program}`: {error}")
}

/// A `SOCK_SEQPACKET` connection (close-on-exec) to `path`.
fn connect(path: &Path) -> io::Result<OwnedFd> {
    let fd = unix_socket()?;
    let (addr, len) = sockaddr(path)?;
    // SAFETY: connect with a valid sockaddr_un of `len` bytes.
    let r = unsafe { libc::connect(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

fn unix_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sockaddr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain data; all zeroes is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the socket path is too long"));
    }
    for (slot, byte) in addr.sun_path.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Ok((addr, len as libc::socklen_t))
}

/// The runtime's end: a listening socket in a private directory that the container mounts.
pub struct Handoff {
    dir: PathBuf,
    listener: OwnedFd,
}

impl Handoff {
    /// Listens on `<dir>/fd.sock`; `dir` must exist and be private to this container.
    pub fn listen(dir: &Path) -> io::Result<Handoff> {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(SOCKET);
        let listener = unix_socket()?;
        let (addr, len) = sockaddr(&path)?;
        // SAFETY: bind and listen on our socket with a valid sockaddr_un.
        unsafe {
            if libc::bind(listener.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::listen(listener.as_raw_fd(), 1) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // The image's user (any uid) must be able to connect: the directory is the container's
        // alone, and the socket takes one connection.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))?;
        Ok(Handoff { dir: dir.to_owned(), listener })
    }

    /// The mount of the socket's directory.
    pub fn mount(&self) -> Mount {
        Mount { host: self.dir.display().to_string(), container: format!("{ROOT}/run"), read_only: false }
    }

    /// The socket's path in the container.
    pub fn container_socket() -> String {
        format!("{ROOT}/run/{SOCKET}")
    }

    /// Waits for the shim's connection, up to `timeout`, giving up early when `gone()` says the
    /// container has ended.
    pub fn accept(&self, timeout: Duration, gone: &dyn Fn() -> bool) -> Result<OwnedFd, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut fds = [libc::pollfd { fd: self.listener.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
            // SAFETY: poll on one valid pollfd.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 100) };
            if n > 0 {
                // SAFETY: accept4 on our listening socket; the peer address is not wanted.
                let fd = unsafe {
                    libc::accept4(
                        self.listener.as_raw_fd(),
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_CLOEXEC,
                    )
                };
                if fd >= 0 {
                    // SAFETY: a new fd nobody else owns.
                    return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
            if gone() {
                return Err("the container ended before its shim handed over the seccomp listener".to_owned());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the container's shim did not hand over the seccomp listener within {} s",
                    timeout.as_secs()
                ));
            }
        }
    }
}

/// What the container mounts to run this process's executable as its shim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimFiles {
    pub exe: PathBuf,
    /// The dynamic loader (absent for a static executable).
    pub loader: Option<PathBuf>,
    pub libraries: Vec<PathBuf>,
}

impl ShimFiles {
    /// This process's executable and the shared objects it has mapped (`/proc/self/maps`).
    pub fn of_this_process() -> Result<ShimFiles, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find ospecc's own executable: {e}"))?;
        let maps =
            std::fs::read_to_string("/proc/self/maps").map_err(|e| format!("cannot read /proc/self/maps: {e}"))?;
        Ok(ShimFiles::from_maps(exe, &maps))
    }

    fn from_maps(exe: PathBuf, maps: &str) -> ShimFiles {
        let mut seen = BTreeSet::new();
        let mut loader = None;
        let mut libraries = Vec::new();
        for path in maps.lines().filter_map(|line| line.split_whitespace().nth(5)).filter(|p| p.starts_with('/')) {
            let path = PathBuf::from(path);
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
            if path == exe || !name.contains(".so") || !seen.insert(name.clone()) {
                continue;
            }
            if name.starts_with("ld-linux") || name.starts_with("ld64") || name.starts_with("ld-musl") {
                loader = Some(path);
            } else {
                libraries.push(path);
            }
        }
        ShimFiles { exe, loader, libraries }
    }

    /// The read-only mounts: the executable, the loader and the libraries under `/.ospecc`.
    pub fn mounts(&self) -> Vec<Mount> {
        let mut mounts =
            vec![Mount { host: self.exe.display().to_string(), container: format!("{ROOT}/ospecc"), read_only: true }];
        for lib in self.loader.iter().chain(&self.libraries) {
            if let Some(name) = lib.file_name().and_then(|n| n.to_str()) {
                mounts.push(Mount {
                    host: lib.display().to_string(),
                    container: format!("{ROOT}/lib/{name}"),
                    read_only: true,
                });
            }
        }
        mounts
    }

    /// The entrypoint and the arguments that start the shim.
    pub fn entrypoint(&self) -> (String, Vec<String>) {
        let exe = format!("{ROOT}/ospecc");
        match self.loader.as_ref().and_then(|l| l.file_name()).and_then(|n| n.to_str()) {
            Some(name) => (format!("{ROOT}/lib/{name}"), vec!["--library-path".to_owned(), format!("{ROOT}/lib"), exe]),
            None => (exe, Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0a00000-55d0c0b00000 r-xp 00000000 fd:01 123 /work/target/debug/ospecc
7f0000000000-7f0000100000 r-xp 00000000 fd:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000200000-7f0000300000 r--p 00000000 fd:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000300000-7f0000400000 r-xp 00000000 fd:01 789 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
7f0000400000-7f0000500000 rw-p 00000000 00:00 0 [heap]
7f0000500000-7f0000600000 r-xp 00000000 fd:01 999 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f0000600000-7f0000700000 r--p 00000000 fd:01 111 /usr/lib/locale/C.utf8/LC_CTYPE
";

    #[test]
    fn the_shim_files_come_from_the_maps() {
        let files = ShimFiles::from_maps(PathBuf::from("/work/target/debug/ospecc"), MAPS);
        assert_eq!(files.loader, Some(PathBuf::from("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")));
        assert_eq!(
            files.libraries,
            [
                PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/usr/lib/x86_64-linux-gnu/libgcc_s.so.1")
            ]
        );
        let (entrypoint, args) = files.entrypoint();
        assert_eq!(entrypoint, "/.ospecc/lib/ld-linux-x86-64.so.2");
        assert_eq!(args, ["--library-path", "/.ospecc/lib", "/.ospecc/ospecc"]);
        let mounts = files.mounts();
        assert_eq!(mounts.len(), 4);
        assert!(mounts.iter().all(|m| m.read_only && m.container.starts_with("/.ospecc/")));
    }

    #[test]
    fn a_static_executable_is_its_own_entrypoint() {
        let files = ShimFiles::from_maps(PathBuf::from("/x/ospecc"), "1-2 r-xp 0 0:0 1 /x/ospecc\n");
        assert_eq!(files.entrypoint(), ("/.ospecc/ospecc".to_owned(), vec![]));
    }

    #[test]
    fn the_handoff_accepts_a_connection_and_times_out_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let handoff = Handoff::listen(dir.path()).unwrap();
        let err = handoff.accept(Duration::from_millis(150), &|| false).unwrap_err();
        assert!(err.contains("did not hand over"), "{err}");
        let err = handoff.accept(Duration::from_secs(5), &|| true).unwrap_err();
        assert!(err.contains("ended before"), "{err}");
        let _client = connect(&dir.path().join(SOCKET)).unwrap();
        handoff.accept(Duration::from_secs(5), &|| false).unwrap();
    }

    #[test]
    fn a_bad_configuration_is_reported() {
        let config = Config { intercept: vec![], socket: "/nonexistent".into(), argv: vec![] };
        assert!(run(&config).contains("neither an entrypoint nor a command"));
        let config =
            Config { intercept: vec![], socket: "/nonexistent".into(), argv: vec!["/nonexistent/program".into()] };
        assert!(run(&config).contains("cannot run `/nonexistent/program`"));
    }
}
