//! Running the `ospecc` binary from tests: with a working directory, optional stdin, and a
//! timeout (a hung process fails the test instead of hanging the suite).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The default limit for one run of the binary.
pub const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Run {
    /// `None` when the process was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Asserts the exit code and that nothing panicked, showing the output when it fails.
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self.no_panic()
    }

    /// The exit code and both streams, for assertion messages.
    pub fn text(&self) -> String {
        format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", self.code, self.stdout, self.stderr)
    }

    pub fn no_panic(&self) -> &Run {
        assert!(!self.stderr.contains("panicked"), "the binary panicked:\n{}", self.stderr);
        self
    }
}

/// The repository root (the root package's manifest directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `ospecc ARGS` in `cwd` with `stdin` (or none), killed after `timeout`.
pub fn ospecc_with(cwd: &Path, args: &[&str], stdin: Option<&[u8]>, envs: &[(&str, &str)], timeout: Duration) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ospecc"));
    command.args(args).current_dir(cwd).env_remove("NO_COLOR");
    for (key, value) in envs {
        command.env(key, value);
    }
    run_command(command, stdin, timeout)
}

/// Runs any command with its output captured and `stdin` (or none) fed to it; a process still
/// running after `timeout` is killed and fails the test, with what it printed.
pub fn run_command(mut command: Command, stdin: Option<&[u8]>, timeout: Duration) -> Run {
    let start = Instant::now();
    let shown = format!("{command:?}");
    command
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let feeder = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let bytes = bytes.to_vec();
        thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
            let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
            panic!("{shown} did not finish within {timeout:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    let stdout = String::from_utf8_lossy(&out.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned();
    Run { code: status.code(), stdout, stderr, elapsed: start.elapsed() }
}

pub fn ospecc(cwd: &Path, args: &[&str]) -> Run {
    ospecc_with(cwd, args, None, &[], TIMEOUT)
}

/// Writes `files` (relative path, content) under a new temporary directory.
pub fn project(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, content).expect("write");
    }
    dir
}
