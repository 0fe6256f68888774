//! Container services (`image=`, `build=`) on Podman or Docker, behind the supervisor's one
//! service lifecycle: the supervisor starts a container where it would spawn a process, waits
//! for the same healthcheck racing the same exit, reads the same output events, and tears it
//! down in the same reverse order.
//!
//! How (docs/containers.md has the user's view):
//! * The engine's CLI runs the container in the foreground ([`args`]): the CLI process is what
//!   the supervisor spawns and watches, so output decoding, exit causes and crash detection are
//!   the process code's.
//! * A container that only talks to containers joins the run's bridge network under its
//!   service name, with its ports published on the host's loopback; one that reaches the host
//!   (processes, mocks, proxy edges) joins the host's network ([`network`]).
//! * Images are pulled only when absent; `build=` images are cached by the hash of their
//!   context ([`image`]).
//! * Syscall faults go through ospecc itself as the container's entrypoint ([`shim`]).
//! * Every container is labelled with its run and removed at teardown, on signals and at the
//!   run's end; a later run removes what a killed run left ([`cleanup`]).
//!
//! Events: `container_started` (engine, image, container, network: the run's network or
//! `host`, with `network_reason` when it is the host's) after `service_started`,
//! `container_removed` (container, ms: the whole teardown, stop and removal) after
//! `service_stopped`, and `containers_reaped` (containers) on the runner when a dead run's
//! containers were removed.

pub mod args;
pub mod cleanup;
pub mod engine;
pub mod image;
pub mod network;
pub mod shim;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ospecc_schema::plan::topology::Launch;
use ospecc_schema::plan::Service;

use crate::events::{fields, EventLog};
use crate::supervisor::decode::Decoder;
use crate::supervisor::process::{self, Proc};
use crate::supervisor::reaper;
use args::{Mount, RunArgs};
use engine::Engine;

pub use cleanup::cleanup;

/// The label naming the run that made a container (its run id).
pub const LABEL_RUN: &str = "ospecc.run";
/// The label naming that run's lock file (`supervisor::reaper`).
pub const LABEL_LOCK: &str = "ospecc.lock";
/// The label naming the service a container runs.
pub const LABEL_SERVICE: &str = "ospecc.service";
/// The label of images built from a `build=` context (its content hash).
pub const LABEL_BUILD: &str = "ospecc.build";

/// How long the shim has to hand over its seccomp listener once the container runs.
const HANDOFF_TIMEOUT: Duration = Duration::from_secs(60);
/// `stop` waits the grace period, then this much for the engine itself.
const STOP_SLACK: Duration = Duration::from_secs(30);

/// What the supervisor hands over to start one container service.
pub struct Request<'a> {
    pub service: &'a Service,
    /// Every service of the plan (their names become host names in the container).
    pub services: &'a [Service],
    /// The container's environment on the host's network: the service's `env=` rendered for
    /// it, and the extras.
    pub env: BTreeMap<String, String>,
    /// The same on the run's bridge network, when the container can join it
    /// ([`network::bridge_env`]).
    pub bridge_env: Option<BTreeMap<String, String>>,
    pub workdir: &'a Path,
    /// `--engine`, if given.
    pub engine: Option<&'a str>,
    /// Whether this process's executable can be the seccomp shim (the `ospecc` binary).
    pub shim: bool,
    pub faulting: Option<crate::seccomp::Faulting>,
    pub decoders: (Decoder, Decoder),
}

/// A started container: what teardown needs.
pub struct Running {
    engine: Engine,
    pub name: String,
    pub image: String,
    /// The private directory of the env file and the hand-off socket (removed on drop).
    _scratch: Scratch,
    /// Keeps the seccomp supervisor serving for the container's life.
    seccomp: Option<crate::seccomp::notify::Handle>,
    /// The shim's hand-off until [`Running::attach`] has received it.
    handoff: Option<Pending>,
}

/// How often a container's removal is tried at teardown, and the pause between tries.
const REMOVE_ATTEMPTS: usize = 3;
const REMOVE_RETRY: Duration = Duration::from_millis(500);

impl Running {
    /// Stops the container (its stop signal, then SIGKILL after `grace`).
    pub async fn stop(&self, grace: Duration) {
        let engine = self.engine.clone();
        let secs = grace.as_secs_f64().ceil().max(0.0) as u64;
        let args = ["stop".to_owned(), "-t".to_owned(), secs.to_string(), self.name.clone()];
        let _ = tokio::task::spawn_blocking(move || engine.run(&args, grace + STOP_SLACK)).await;
    }

    /// Removes the container if it is still there (synchronously), and forgets it once it is
    /// gone. The engine may refuse while the container is still being started (its CLI was
    /// stopped mid-start): a few tries, then it stays on the list for the end of the run.
    pub fn remove_now(&self) {
        for attempt in 0..REMOVE_ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(REMOVE_RETRY);
            }
            if cleanup::remove(&self.engine, std::slice::from_ref(&self.name)).is_ok() {
                cleanup::unregister(&self.name);
                return;
            }
        }
    }

    /// [`Running::remove_now`] off the async threads.
    pub async fn remove(self) {
        let _ = tokio::task::spawn_blocking(move || {
            self.remove_now();
            drop(self);
        })
        .await;
    }
}

/// Removes what runs that are gone left on the engine a container service will use (once per
/// engine and process). Called before the service's ports are checked: a killed run's
/// container may still hold them. Without an engine this does nothing; the launch says why.
pub async fn reap_before_start(choice: Option<&str>, events: &EventLog) {
    let choice = choice.map(str::to_owned);
    let events = events.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Ok(engine) = Engine::find(choice.as_deref()) {
            reap_abandoned(&engine, &events);
        }
    })
    .await;
}

/// [`cleanup::reap_abandoned`], with an event naming what it removed.
fn reap_abandoned(engine: &Engine, events: &EventLog) {
    let reaped = cleanup::reap_abandoned(engine);
    if !reaped.is_empty() {
        events.push("runner", "containers_reaped", fields([("containers", reaped.into())]));
    }
}

/// Starts a container service: engine, image, the `run` line, the CLI spawned as a supervised
/// process. For a service with syscall faults, [`Running::attach`] then takes the shim's
/// seccomp listener.
pub async fn launch(request: Request<'_>, events: &EventLog) -> Result<(Arc<Proc>, Running), String> {
    let service = request.service;
    let name = service.name.as_str();
    if let Some(remap) = service.ports.iter().find(|p| p.host != p.container) {
        return Err(format!(
            "service `{name}`: ports={{{}: {}}} publishes a container port on another host port, and ospecc runs \
             containers on the host's network (a container's ports are the host's); give the interface the port \
             it should have on the host",
            remap.host, remap.container
        ));
    }
    let prepared = prepare(&request, events).await?;
    let Prepared { engine, image, argv, network } = prepared;
    let container = container_name(name);
    let scratch =
        Scratch::create(&container).map_err(|e| format!("service `{name}`: cannot make its scratch directory: {e}"))?;

    let (network, network_reason) = match (network, &request.bridge_env) {
        (Ok(network), Some(_)) => (Some(network), None),
        (Err(why), Some(_)) => (None, Some(format!("the engine cannot make the run's network: {why}"))),
        (_, None) => (None, Some("it reaches the host (a process, mock, remote service or proxy edge)".to_owned())),
    };
    let mut env = match (&network, &request.bridge_env) {
        (Some(_), Some(bridge)) => bridge.clone(),
        _ => request.env.clone(),
    };
    env.insert(reaper::MARK.to_owned(), reaper::run_id().to_owned());
    let (text, by_name) = args::env_file(env.iter());
    let env_path = scratch.path.join("env");
    write_private(&env_path, &text).map_err(|e| format!("service `{name}`: cannot write its env file: {e}"))?;

    let mut run = run_args(&request, &container, &image, &env_path, &by_name);
    run.network = network.clone();
    let handoff = match (&request.faulting, argv) {
        (Some(faulting), Some(argv)) => Some(shim_setup(&mut run, &scratch, faulting, argv, name, events)?),
        _ => None,
    };
    let cli_env = cli_environment(&env, &by_name);
    let argv = run.to_args(engine.kind);
    cleanup::register(&engine, &container);
    let spec = process::Spec {
        name,
        program: engine.program.clone(),
        args: &argv,
        env: &cli_env,
        workdir: request.workdir,
        decoders: request.decoders,
        seccomp: None,
    };
    let proc = match process::spawn(spec, events).await {
        Ok(proc) => Arc::new(proc),
        Err(e) => {
            cleanup::unregister(&container);
            return Err(format!("service `{name}`: cannot run `{}`: {e}", engine.program.display()));
        }
    };
    let mut started = fields([
        ("engine", engine.kind.name().into()),
        ("image", image.clone().into()),
        ("container", container.clone().into()),
        ("network", network.unwrap_or_else(|| "host".to_owned()).into()),
    ]);
    if let Some(reason) = network_reason {
        started.insert("network_reason".to_owned(), reason.into());
    }
    events.push(name, "container_started", started);
    let handoff = handoff.map(|(handoff, supervisor)| Pending { handoff, supervisor });
    let running = Running { engine, name: container, image, _scratch: scratch, seccomp: None, handoff };
    Ok((proc, running))
}

/// The `run` line of a container without the shim: labels, env file, host names, volumes and
/// `args=`.
fn run_args(request: &Request<'_>, container: &str, image: &str, env_path: &Path, by_name: &[String]) -> RunArgs {
    let service = request.service;
    RunArgs {
        name: container.to_owned(),
        image: image.to_owned(),
        labels: vec![
            (LABEL_RUN.to_owned(), reaper::run_id().to_owned()),
            (LABEL_LOCK.to_owned(), reaper::lock_file().display().to_string()),
            (LABEL_SERVICE.to_owned(), service.name.clone()),
        ],
        env_file: Some(env_path.display().to_string()),
        env_names: by_name.to_vec(),
        network: None,
        aliases: vec![service.name.clone()],
        publish: published(service),
        hosts: request.services.iter().map(|s| s.name.clone()).filter(|n| args::is_host_name(n)).collect(),
        mounts: volumes(service, request.workdir),
        entrypoint: None,
        command: launch_args(service).to_vec(),
    }
}

/// The engine CLI's environment: this process's, plus the container variables passed by name.
fn cli_environment(env: &BTreeMap<String, String>, by_name: &[String]) -> BTreeMap<String, String> {
    let mut cli_env: BTreeMap<String, String> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
    for key in by_name {
        if let Some(value) = env.get(key) {
            cli_env.insert(key.clone(), value.clone());
        }
    }
    cli_env
}

/// The shim's hand-off still to receive: the runtime's socket and the supervisor to start.
struct Pending {
    handoff: shim::Handoff,
    supervisor: crate::seccomp::notify::Supervisor,
}

impl Running {
    /// For a container with syscall faults: waits for its shim's seccomp listener (racing the
    /// CLI's exit) and starts the supervisor that answers it. Nothing for other containers.
    /// Call once the caller holds `proc` and `self` for teardown: on Err it tears them down.
    pub async fn attach(&mut self, proc: &Arc<Proc>) -> Result<(), String> {
        let Some(Pending { handoff, supervisor }) = self.handoff.take() else { return Ok(()) };
        let service = supervisor.service.clone();
        let watched = proc.clone();
        let accepted = tokio::task::spawn_blocking(move || {
            handoff.accept(HANDOFF_TIMEOUT, &|| watched.exit().is_some()).map(|connection| (connection, handoff))
        })
        .await
        .map_err(|e| format!("service `{service}`: the seccomp hand-off failed: {e}"))?;
        // The socket's directory goes with the scratch directory; the listener is not needed
        // once the one connection is in.
        let (connection, _handoff) = accepted.map_err(|e| format!("service `{service}`: {e}"))?;
        let handle = supervisor
            .start(connection)
            .map_err(|e| format!("service `{service}`: cannot start its seccomp supervisor: {e}"))?;
        handle.set_pid(proc.pid);
        self.seccomp = Some(handle);
        Ok(())
    }
}

/// What needs the engine before the container can run: the engine, the image (present or
/// built), for a faulted service the image's own argv (the shim execs it), and the run's
/// network when the container can join it.
struct Prepared {
    engine: Engine,
    image: String,
    argv: Option<Vec<String>>,
    network: Result<String, String>,
}

async fn prepare(request: &Request<'_>, events: &EventLog) -> Result<Prepared, String> {
    let service = request.service;
    let name = service.name.clone();
    let choice = request.engine.map(str::to_owned);
    let launch = service.launch.clone();
    let workdir = request.workdir.to_owned();
    let wants_shim = request.faulting.is_some();
    let wants_network = request.bridge_env.is_some();
    if wants_shim && !request.shim {
        return Err(format!(
            "service `{name}` has syscall faults, and syscall faults inside a container need the `ospecc` binary as \
             the container's shim (this runtime is embedded in another program)"
        ));
    }
    let args = launch_args(service).to_vec();
    let events = events.clone();
    let work = move || -> Result<Prepared, String> {
        let what = match &launch {
            Launch::Build { context, .. } => format!("build `{context}`"),
            _ => format!("run `{}`", image_name(&launch)),
        };
        let engine = Engine::find(choice.as_deref())
            .map_err(|e| format!("service `{name}` needs a container engine to {what}: {e}"))?;
        reap_abandoned(&engine, &events);
        let network = if wants_network { network::ensure(&engine) } else { Err(String::new()) };
        let image = match &launch {
            Launch::Image { image, .. } => {
                image::ensure(&engine, image).map_err(|e| format!("service `{name}`: {e}"))?;
                image.clone()
            }
            Launch::Build { context, .. } => {
                let dir = if Path::new(context).is_absolute() { PathBuf::from(context) } else { workdir.join(context) };
                image::build(&engine, &name, &dir).map_err(|e| format!("service `{name}`: {e}"))?
            }
            _ => return Err(format!("service `{name}` is not a container service")),
        };
        let argv = if wants_shim {
            Some(image::default_argv(&engine, &image, &args).map_err(|e| format!("service `{name}`: {e}"))?)
        } else {
            None
        };
        Ok(Prepared { engine, image, argv, network })
    };
    tokio::task::spawn_blocking(work).await.map_err(|e| format!("the container preparation failed: {e}"))?
}

/// The shim's mounts, entrypoint and configuration on `run`, and the host's end of the hand-off.
fn shim_setup(
    run: &mut RunArgs,
    scratch: &Scratch,
    faulting: &crate::seccomp::Faulting,
    argv: Vec<String>,
    name: &str,
    events: &EventLog,
) -> Result<(shim::Handoff, crate::seccomp::notify::Supervisor), String> {
    let support = crate::seccomp::probe().map_err(|e| format!("service `{name}` has syscall faults, but {e}"))?;
    let files = shim::ShimFiles::of_this_process().map_err(|e| format!("service `{name}`: {e}"))?;
    let dir = scratch.path.join("run");
    std::fs::create_dir(&dir).map_err(|e| format!("service `{name}`: cannot make the hand-off directory: {e}"))?;
    let handoff =
        shim::Handoff::listen(&dir).map_err(|e| format!("service `{name}`: cannot listen for the shim: {e}"))?;
    let config =
        shim::Config { intercept: faulting.intercept.clone(), socket: shim::Handoff::container_socket(), argv };
    let config = serde_json::to_string(&config).map_err(|e| format!("service `{name}`: {e}"))?;
    // The configuration goes in the env file (no line breaks in JSON).
    let env_path = scratch.path.join("env");
    let mut text = std::fs::read_to_string(&env_path).unwrap_or_default();
    text.push_str(&format!("{}={config}\n", shim::CONFIG_ENV));
    write_private(&env_path, &text).map_err(|e| format!("service `{name}`: cannot write its env file: {e}"))?;
    let (entrypoint, command) = files.entrypoint();
    run.entrypoint = Some(entrypoint);
    run.command = command;
    run.mounts.extend(files.mounts());
    run.mounts.push(handoff.mount());
    let supervisor = crate::seccomp::notify::Supervisor {
        service: name.to_owned(),
        faulting: faulting.clone(),
        events: events.clone(),
        sync_wake_up: support.sync_wake_up,
    };
    Ok((handoff, supervisor))
}

/// The ports a bridged container publishes on the host's loopback: its interfaces' and
/// `ports=`' (which publish a port under its own number).
fn published(service: &Service) -> Vec<u16> {
    let mut ports: Vec<u16> = service.interfaces.iter().filter_map(|i| i.port).collect();
    ports.extend(service.ports.iter().map(|p| p.host));
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn image_name(launch: &Launch) -> &str {
    match launch {
        Launch::Image { image, .. } => image,
        _ => "",
    }
}

/// `args=` of a container service (they replace the image's command).
fn launch_args(service: &Service) -> &[String] {
    match &service.launch {
        Launch::Image { args, .. } | Launch::Build { args, .. } => args,
        _ => &[],
    }
}

/// `volumes=` as bind mounts; relative host paths resolve against the working directory (a
/// bare name is a directory there, never an engine-managed named volume that would outlive
/// the run).
fn volumes(service: &Service, workdir: &Path) -> Vec<Mount> {
    service
        .volumes
        .iter()
        .map(|v| {
            let host = if Path::new(&v.host).is_absolute() { PathBuf::from(&v.host) } else { workdir.join(&v.host) };
            let (container, read_only) = match v.container.strip_suffix(":ro") {
                Some(path) => (path.to_owned(), true),
                None => (v.container.strip_suffix(":rw").unwrap_or(&v.container).to_owned(), false),
            };
            Mount { host: host.display().to_string(), container, read_only }
        })
        .collect()
}

/// `ospecc-SERVICE-RUNID-N`: unique per run and start, recognisable in `ps`.
fn container_name(service: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("ospecc-{}-{}-{n}", sanitize(service), reaper::run_id())
}

/// A name part made of the characters engines accept in names and tags.
pub(crate) fn sanitize(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let trimmed = cleaned.trim_matches(['-', '_']);
    if trimmed.is_empty() {
        "service".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// A private directory per container (env file with secrets, the hand-off socket), removed
/// when the container is.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn create(container: &str) -> std::io::Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir().join("ospecc-containers");
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&base)?;
        let path = base.join(container);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize("My API!"), "my-api");
        assert_eq!(sanitize("__"), "service");
        assert!(container_name("db").starts_with("ospecc-db-"));
        assert_ne!(container_name("db"), container_name("db"));
    }
}
