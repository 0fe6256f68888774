//! Which container engine runs a run's containers, and bounded runs of its command line.
//!
//! The engine is driven through its CLI (`podman` or `docker`), which both engines ship with the
//! same verbs and flags for everything used here: no daemon socket is needed for Podman, and the
//! Docker CLI finds its daemon through `DOCKER_HOST` or its context as the user set it up.
//!
//! Choice, in order: `--engine` (`podman`, `docker` or a path to either's CLI), `OSPECC_ENGINE`,
//! then Docker when `DOCKER_HOST` is set, then the first of `podman`, `docker` on `PATH` whose
//! `version` answers. The answer is computed once per process and choice.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long `version` may take when probing an engine.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a finished command's output may still take to arrive.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Each `--engine` choice (none: the default search) and what it found.
type Found = BTreeMap<Option<String>, Result<Engine, String>>;

/// The two engine families (their CLIs differ in a few flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Podman,
    Docker,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Podman => "podman",
            Kind::Docker => "docker",
        }
    }
}

/// A usable engine: its family and the CLI that drives it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Engine {
    pub kind: Kind,
    pub program: PathBuf,
}

/// What a finished engine command printed.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The last non-empty line of stderr (engines put the reason there), else of stdout.
    pub fn reason(&self) -> String {
        let last = |text: &str| text.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_owned());
        last(&self.stderr).or_else(|| last(&self.stdout)).unwrap_or_else(|| "no output".to_owned())
    }
}

impl Engine {
    /// The engine for `choice` (`--engine`), found once per process.
    pub fn find(choice: Option<&str>) -> Result<Engine, String> {
        static FOUND: OnceLock<Mutex<Found>> = OnceLock::new();
        let choice =
            choice.map(str::to_owned).or_else(|| std::env::var("OSPECC_ENGINE").ok()).filter(|c| !c.is_empty());
        let mut found = FOUND.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
        found.entry(choice.clone()).or_insert_with(|| detect(choice.as_deref())).clone()
    }

    /// Runs the CLI with `args`, bounded by `timeout` (then killed, and an error).
    pub fn run(&self, args: &[String], timeout: Duration) -> Result<Output, String> {
        run_bounded(&self.program, args, timeout)
    }

    /// [`Engine::run`] that must succeed: its stdout, else an error with the engine's reason.
    pub fn call(&self, args: &[String], timeout: Duration) -> Result<String, String> {
        let out = self.run(args, timeout)?;
        if out.success {
            Ok(out.stdout)
        } else {
            Err(format!("`{} {}` failed: {}", self.kind.name(), args.first().map_or("", String::as_str), out.reason()))
        }
    }
}

/// Resolves `choice` or probes the defaults.
fn detect(choice: Option<&str>) -> Result<Engine, String> {
    if let Some(choice) = choice {
        let program = if choice.contains('/') { Some(PathBuf::from(choice)) } else { on_path(choice) };
        let program = program.ok_or_else(|| format!("the container engine `{choice}` is not on PATH"))?;
        let engine = Engine { kind: kind_of(&program), program };
        return probe(&engine).map(|()| engine).map_err(|why| format!("the container engine `{choice}` {why}"));
    }
    let mut candidates = vec!["podman", "docker"];
    if std::env::var_os("DOCKER_HOST").is_some_and(|h| !h.is_empty()) {
        candidates.reverse();
    }
    let mut tried = Vec::new();
    for name in candidates {
        let Some(program) = on_path(name) else {
            tried.push(format!("{name}: not on PATH"));
            continue;
        };
        let engine = Engine { kind: kind_of(&program), program };
        match probe(&engine) {
            Ok(()) => return Ok(engine),
            Err(why) => tried.push(format!("{name}: {why}")),
        }
    }
    Err(format!(
        "no container engine answers here ({}); install Podman or Docker, or name one with --engine",
        tried.join("; ")
    ))
}

/// `podman` unless the file name says Docker (a wrapper named `docker` that runs Podman behaves
/// like Docker's CLI for everything used here).
fn kind_of(program: &Path) -> Kind {
    let name = program.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name.contains("docker") {
        Kind::Docker
    } else {
        Kind::Podman
    }
}

fn probe(engine: &Engine) -> Result<(), String> {
    let args = ["version".to_owned(), "--format".to_owned(), "{{.Server.Version}}".to_owned()];
    // Podman without a service has no "Server" part: `{{.Version}}` is its own version.
    let args: Vec<String> = if engine.kind == Kind::Podman {
        vec!["version".into(), "--format".into(), "{{.Version}}".into()]
    } else {
        args.to_vec()
    };
    let out = engine.run(&args, PROBE_TIMEOUT)?;
    if out.success {
        Ok(())
    } else {
        Err(format!("does not answer (`version`: {})", out.reason()))
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| {
        std::fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Runs `program args` with stdin closed and both outputs read, killing it after `timeout`.
pub fn run_bounded(program: &Path, args: &[String], timeout: Duration) -> Result<Output, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", program.display()))?;
    // Readers are detached: a grandchild that keeps a pipe open (a daemonised helper) must not
    // hold the caller past the command's own exit.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("ospecc-engine-out".into()).spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            let _ = tx.send(String::from_utf8_lossy(&text).into_owned());
        });
        (spawned.is_ok(), rx)
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let collect = |(started, rx): (bool, std::sync::mpsc::Receiver<String>)| {
        if started {
            rx.recv_timeout(OUTPUT_GRACE).unwrap_or_default()
        } else {
            String::new()
        }
    };
    let (out, err) = (collect(out), collect(err));
    let name = program.file_name().and_then(|n| n.to_str()).unwrap_or("engine");
    let status = status.ok_or_else(|| {
        format!("`{name} {}` did not finish within {} s", args.first().map_or("", String::as_str), timeout.as_secs())
    })?;
    Ok(Output { success: status.success(), stdout: out, stderr: err })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_file_name() {
        assert_eq!(kind_of(Path::new("/usr/bin/docker")), Kind::Docker);
        assert_eq!(kind_of(Path::new("/usr/bin/podman")), Kind::Podman);
        assert_eq!(kind_of(Path::new("/opt/podman-remote")), Kind::Podman);
    }

    #[test]
    fn a_named_engine_that_is_absent_is_an_error() {
        let err = detect(Some("no-such-engine-here")).unwrap_err();
        assert!(err.contains("`no-such-engine-here` is not on PATH"), "{err}");
    }

    #[test]
    fn bounded_runs_report_output_and_time_out() {
        let out = run_bounded(
            Path::new("/bin/sh"),
            &["-c".into(), "echo out; echo why >&2; exit 3".into()],
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(!out.success);
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.reason(), "why");
        let slow = run_bounded(Path::new("/bin/sh"), &["-c".into(), "exec sleep 5".into()], Duration::from_millis(200));
        assert!(slow.unwrap_err().contains("did not finish within"));
    }
}
