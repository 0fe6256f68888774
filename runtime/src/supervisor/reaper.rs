//! Teardown that survives a SIGKILL of the runtime. `PR_SET_PDEATHSIG` reaches only a service's
//! own process: a grandchild (`sh -c "server & wait"`) or a daemon that left the process group
//! is reparented to PID 1 and keeps its port. So every process of a run carries the run's mark
//! in its environment (`OSPECC_RUN=<id>`, inherited by everything it forks), and the run holds
//! an exclusive `flock` on its lock file (`$TMPDIR/ospecc-runs/<id>.lock`) for as long as it
//! lives. The kernel drops the lock when the run dies, however it dies, so:
//! * at the start of every run, [`reap_abandoned`] finds lock files nobody holds, kills every
//!   process still carrying their marks, and removes them;
//! * at the end of a run, [`reap_own`] kills whatever of its own escaped the process groups.
//!
//! A process that scrubs its whole environment escapes the mark; its process group (recorded by
//! the supervisor) still dies with the run, so only a process that both changed groups and
//! cleared its environment could survive a SIGKILL of the runtime.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable that marks a run's processes.
pub const MARK: &str = "OSPECC_RUN";

/// This process's run: its id and the locked file that says it is alive.
struct Run {
    id: String,
    /// Held open (and locked) until the process exits.
    _lock: Option<File>,
}

static RUN: OnceLock<Run> = OnceLock::new();

/// The directory of the lock files.
fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("ospecc-runs")
}

/// This process's run id (taking the lock on first use). Every service gets `OSPECC_RUN=<id>`.
pub fn run_id() -> &'static str {
    &RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let id = format!("{}-{:x}", std::process::id(), nanos);
        let lock = lock(&lock_dir(), &id).ok();
        Run { id, _lock: lock }
    })
    .id
}

/// This run's lock file (held while the run lives): containers carry its path as a label, so
/// that a later run can tell whether the run that made them is gone.
pub fn lock_file() -> PathBuf {
    lock_dir().join(format!("{}.lock", run_id()))
}

/// Whether the run that holds (or held) the lock file at `path` is gone: the file is absent,
/// or nobody holds its lock.
pub fn run_gone(path: &Path) -> bool {
    !path.exists() || abandoned(path)
}

/// Creates and locks `<dir>/<id>.lock`. Another run's [`reap_abandoned`] may probe the file
/// between its creation and the `flock` (it then looks abandoned, and is removed): the lock is
/// retried until it is held on the very file the path names.
fn lock(dir: &Path, id: &str) -> io::Result<File> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{id}.lock"));
    for _ in 0..LOCK_ATTEMPTS {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        if !try_lock(&file) {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::WouldBlock {
                return Err(error);
            }
            // A reaper's probe holds it for a moment.
            std::thread::sleep(std::time::Duration::from_millis(5));
            continue;
        }
        if names_file(&path, &file) {
            return Ok(file);
        }
    }
    Err(io::Error::new(io::ErrorKind::WouldBlock, format!("could not lock {} on its own", path.display())))
}

/// How often [`lock`] tries before it gives up (each failed try is a reaper's probe).
const LOCK_ATTEMPTS: usize = 200;

/// Takes the exclusive lock without waiting.
fn try_lock(file: &File) -> bool {
    // SAFETY: flock on a file descriptor we own.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Whether `path` still names the open `file` (not removed or replaced since it was opened).
fn names_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
        _ => false,
    }
}

/// What [`reap_abandoned`] cleaned up.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Runs that died without tearing down (their ids).
    pub runs: Vec<String>,
    /// Processes of those runs that were still alive, now killed.
    pub processes: Vec<i32>,
}

/// Kills what runs that died (SIGKILL, a crash) left behind, and forgets those runs.
pub fn reap_abandoned() -> Reaped {
    let own = run_id();
    let mut reaped = Reaped::default();
    let Ok(entries) = std::fs::read_dir(lock_dir()) else { return reaped };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Some(id) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".lock")) else {
            continue;
        };
        if id == own {
            continue;
        }
        // Held while the file is removed: a run that is just taking this lock retries on a new file.
        let Some(_probe) = abandoned_lock(&path) else { continue };
        reaped.processes.extend(kill_marked(id));
        let _ = std::fs::remove_file(&path);
        reaped.runs.push(id.to_owned());
    }
    reaped
}

/// Kills the processes of this run that outlived their process groups, and removes the run's
/// lock file: the run ended in order, so nothing is left for a later run to reap.
pub fn reap_own() -> Vec<i32> {
    let killed = kill_marked(run_id());
    let _ = std::fs::remove_file(lock_dir().join(format!("{}.lock", run_id())));
    killed
}

/// Whether nobody holds the lock file (its run is gone).
fn abandoned(path: &Path) -> bool {
    abandoned_lock(path).is_some()
}

/// The lock of a file nobody holds, now held by the caller (released as it is dropped).
fn abandoned_lock(path: &Path) -> Option<File> {
    let file = File::open(path).ok()?;
    try_lock(&file).then_some(file)
}

/// SIGKILLs every process whose environment carries `OSPECC_RUN=<id>`; returns their pids.
fn kill_marked(id: &str) -> Vec<i32> {
    let needle = format!("{MARK}={id}");
    let own = std::process::id() as i32;
    let marked: Vec<i32> = pids().filter(|pid| *pid != own && carries(*pid, &needle)).collect();
    for pid in &marked {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
        }
    }
    marked
}

fn pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
}

/// Whether the process's environment holds exactly `needle` as one of its entries.
fn carries(pid: i32, needle: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|environ| environ.split(|b| *b == 0).any(|entry| entry == needle.as_bytes()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::sync::Mutex;

    /// Each test reaps every abandoned run of the machine: one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn a_dead_runs_marked_processes_are_killed_and_its_lock_removed() {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let dir = lock_dir();
        let id = format!("test-{}-dead", std::process::id());
        // A run that died: its lock file exists but nobody holds it.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{id}.lock")), b"").unwrap();
        let mut orphan = Command::new("sleep").arg("30").env(MARK, &id).spawn().unwrap();
        let mut unmarked = Command::new("sleep").arg("30").spawn().unwrap();
        // /proc/PID/environ is readable once the exec is done.
        std::thread::sleep(std::time::Duration::from_millis(100));

        let reaped = reap_abandoned();
        assert!(reaped.runs.contains(&id), "{reaped:?}");
        assert!(reaped.processes.contains(&(orphan.id() as i32)), "{reaped:?}");
        assert!(!reaped.processes.contains(&(unmarked.id() as i32)));
        assert!(orphan.wait().unwrap().code().is_none(), "killed by a signal");
        assert!(!dir.join(format!("{id}.lock")).exists());
        unmarked.kill().unwrap();
        let _ = unmarked.wait();
    }

    /// A run taking its lock while another run's reap probes it (the file exists, nobody holds
    /// it yet, so the reap takes it for abandoned and removes it): the run waits out the probe
    /// and ends up holding the lock of the file its path names, so no later run takes it for
    /// abandoned.
    #[test]
    fn a_run_starting_during_a_reap_keeps_its_lock() {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let dir = lock_dir();
        let id = format!("test-{}-racing", std::process::id());
        let path = dir.join(format!("{id}.lock"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, b"").unwrap();
        let probe = abandoned_lock(&path).expect("an unheld file is abandoned");
        let reaper = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(100));
                std::fs::remove_file(&path).unwrap();
                drop(probe);
            })
        };
        let held = lock(&dir, &id).expect("the lock, once the probe is gone");
        reaper.join().unwrap();
        assert!(names_file(&path, &held), "its lock file was removed under it");
        assert!(!run_gone(&path), "a live run looks gone");
        drop(held);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_live_runs_lock_is_left_alone() {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let dir = lock_dir();
        let id = format!("test-{}-live", std::process::id());
        let held = lock(&dir, &id).unwrap();
        let reaped = reap_abandoned();
        assert!(!reaped.runs.contains(&id));
        assert!(dir.join(format!("{id}.lock")).exists());
        drop(held);
        let _ = std::fs::remove_file(dir.join(format!("{id}.lock")));
    }
}
