//! What the container tests share: the engine they run on (Podman or Docker, `OSPECC_ENGINE`
//! to choose), the test images built from this machine's packages (`tests/images/build.sh`,
//! once per test binary), and looking containers up by label. Every entry point returns `None`
//! after printing `SKIP: <reason>` when no engine can run a container here.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::common::{repo_root, run_command};

/// The engine the tests drive (`podman` or `docker`, or a path).
#[derive(Debug, Clone)]
pub struct Engine {
    pub program: String,
}

impl Engine {
    /// Runs the engine's CLI; `(success, stdout, stderr)`.
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut command = Command::new(&self.program);
        command.args(args);
        let run = run_command(command, None, Duration::from_secs(120));
        (run.code == Some(0), run.stdout, run.stderr)
    }

    /// Names of the containers (running or not) whose label `key` is `value`.
    pub fn containers(&self, key: &str, value: &str) -> Vec<String> {
        let filter = format!("label={key}={value}");
        let (ok, out, err) = self.run(&["ps", "--all", "--filter", &filter, "--format", "{{.Names}}"]);
        assert!(ok, "{} ps failed: {err}", self.program);
        out.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
    }
}

/// The engine with the test images built, or `None` (after printing why) when this machine
/// cannot run containers.
pub fn ready() -> Option<Engine> {
    static READY: OnceLock<Result<Engine, String>> = OnceLock::new();
    match READY.get_or_init(prepare) {
        Ok(engine) => Some(engine.clone()),
        Err(why) => {
            eprintln!("SKIP: {why}");
            None
        }
    }
}

fn prepare() -> Result<Engine, String> {
    let engine = find()?;
    let mut build = Command::new("bash");
    build.arg(repo_root().join("tests/images/build.sh")).arg(&engine.program);
    let run = run_command(build, None, Duration::from_secs(900));
    match run.code {
        Some(0) => {}
        Some(2) => return Err(format!("the test images cannot be built here:\n{}{}", run.stdout, run.stderr)),
        _ => panic!("tests/images/build.sh failed:\n{}", run.text()),
    }
    // An engine that is installed but cannot start a container (a sandbox without the
    // configuration tests/deps/podman.sh writes) is a reason to skip, with its words.
    let (ok, _, err) = engine.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--pull=never",
        "--entrypoint",
        "/bin/sh",
        "nginx:1.27-alpine",
        "-c",
        "true",
    ]);
    if !ok {
        return Err(format!("{} cannot run a container here: {}", engine.program, err.trim()));
    }
    Ok(engine)
}

fn find() -> Result<Engine, String> {
    let candidates: Vec<String> = match std::env::var("OSPECC_ENGINE") {
        Ok(chosen) if !chosen.is_empty() => vec![chosen],
        _ => vec!["podman".into(), "docker".into()],
    };
    let mut tried = Vec::new();
    for program in candidates {
        let found = Command::new("sh").args(["-c", &format!("command -v '{program}'")]).output();
        if !found.is_ok_and(|o| o.status.success()) {
            tried.push(format!("{program}: not found"));
            continue;
        }
        match answers(&program) {
            Ok(()) => return Ok(Engine { program }),
            Err(why) => tried.push(format!("{program}: {why}")),
        }
    }
    Err(format!("no container engine answers here ({}); tests/deps/podman.sh installs one", tried.join("; ")))
}

/// Whether `program version` succeeds within a minute (a daemon that does not answer is a
/// reason to skip, not to hang the suite).
fn answers(program: &str) -> Result<(), String> {
    let mut child = Command::new(program)
        .arg("version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => return Ok(()),
            Some(_) => {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                return Err(stderr.trim().to_owned());
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("`version` did not answer within a minute".to_owned());
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Whether something listens on 127.0.0.1:`port`.
pub fn port_in_use(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}
