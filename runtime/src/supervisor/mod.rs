//! The process supervisor (DESIGN.md §7): starts a plan's services as local processes in start
//! order, waits for each one's healthcheck while racing its exit, captures its output as events,
//! and tears everything down — on [`Services::stop`], on a failed start, when [`Services`] is
//! dropped (a panic, a cancelled future), and through [`kill_all_now`] (signal handlers).
//!
//! Every service runs in its own process group with `PR_SET_PDEATHSIG(SIGKILL)`, so that
//! teardown reaches the children it forks and the runtime's own death takes the service along;
//! [`reaper`] marks every process of a run so that what escapes both (a grandchild of a killed
//! runtime) dies when the next run starts.
//! Mock services are served in-process by the caller; `image=`/`build=` services run on a
//! container engine ([`crate::container`]), whose CLI is then the supervised process.
//!
//! Events: `service_started` (pid, path, args), `service_ready` (ms), `service_failed`
//! (message), `service_exited` (cause, code or signal, during_stop), `service_stopped` (signal:
//! `SIGTERM`/`SIGKILL`/`none`, ms, pid), `stdout`/`stderr` (line, plus decoded fields),
//! `output_dropped` (dropped, limit, limit_bytes), `decoder_error` (stream, decoder, error).

mod capture;
pub mod decode;
pub mod env;
pub mod health;
pub mod ports;
pub mod process;
pub mod reaper;
mod registry;
mod reuse;
mod teardown;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ospecc_schema::plan::topology::Launch;
use ospecc_schema::plan::Service;

use crate::events::{fields, EventLog};
use crate::report::model::ServiceResult;
use decode::Decoder;
use process::Proc;

pub use registry::kill_all_now;
pub use reuse::{Hook, HookKind, Kept};

/// How services are started.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Relative binary paths resolve here; services run with it as their working directory.
    pub workdir: PathBuf,
    /// How long a service has between SIGTERM and SIGKILL at teardown.
    pub grace: Duration,
    /// Extra environment for every service; it overrides the service's own `env=`.
    pub extra_env: BTreeMap<String, String>,
    /// Live syscall rules per service name: a service named here (with a non-empty intercept
    /// set and `seccomp` not opted out) runs under a seccomp filter; others run unfiltered.
    pub seccomp: BTreeMap<String, crate::seccomp::SyscallRules>,
    /// Where a consumer's address references point: `(consumer, service, interface)` to a proxy
    /// edge's address. References without an edge render to the target directly.
    pub edges: env::Edges,
    /// The container engine for `image=`/`build=` services (`--engine`); found when absent.
    pub engine: Option<String>,
    /// Whether this process's executable can be a container's seccomp shim (the `ospecc`
    /// binary is; a test harness embedding the runtime is not).
    pub container_shim: bool,
    /// Determinism mode: every filterable service runs under a filter that also watches the
    /// syscalls that leak nondeterminism.
    pub determinism: Option<Arc<crate::determinism::Detector>>,
}

impl Default for StartOptions {
    fn default() -> StartOptions {
        StartOptions {
            workdir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            grace: Duration::from_secs(5),
            extra_env: BTreeMap::new(),
            seccomp: BTreeMap::new(),
            edges: env::Edges::default(),
            engine: None,
            container_shim: false,
            determinism: None,
        }
    }
}

/// A service that could not be started; everything started before it has been torn down.
#[derive(Debug, Clone)]
pub struct StartFailure {
    pub service: String,
    pub message: String,
    /// Every service's fate: the failed one `failed`, later ones `not_started`.
    pub results: Vec<ServiceResult>,
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StartFailure {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    Ready,
    Failed,
}

struct Entry {
    state: State,
    message: Option<String>,
    ready_ms: Option<f64>,
    proc: Option<Arc<Proc>>,
    /// A `remote=` service's resolved address.
    remote: Option<SocketAddr>,
    /// A container service's container (its engine CLI is `proc`).
    container: Option<crate::container::Running>,
    /// How a `reuse=True` service was started (what a later test must match to adopt it).
    launched: Option<reuse::Launched>,
    /// Whether this lifecycle adopted the service from the previous one instead of starting it.
    adopted: bool,
}

impl Entry {
    fn new() -> Entry {
        Entry {
            state: State::NotStarted,
            message: None,
            ready_ms: None,
            proc: None,
            remote: None,
            container: None,
            launched: None,
            adopted: false,
        }
    }
}

/// The running services of a plan. Dropping it without [`Services::stop`] kills every process
/// group at once (SIGKILL).
pub struct Services {
    services: Vec<Service>,
    entries: Vec<Entry>,
    events: EventLog,
    grace: Duration,
    stopped: bool,
}

impl Services {
    /// Starts every non-mock, non-remote service of `services` (already in start order) and waits
    /// for each one's healthcheck, racing the process's exit, before starting the next. Mock
    /// services are skipped (the caller serves them in-process) and reported as `ready`;
    /// `remote=` services are checked (their healthcheck, else a TCP connect), not started.
    /// On the first failure everything already started is torn down before returning Err.
    pub async fn start(
        services: &[Service],
        events: EventLog,
        options: StartOptions,
    ) -> Result<Services, StartFailure> {
        Services::start_reusing(services, events, options, None).await
    }

    /// [`Services::start`] that first offers each `reuse=True` service the one `kept` from the
    /// previous lifecycle ([`reuse`]): adopted when it would start the same way, else stopped
    /// and started afresh.
    pub async fn start_reusing(
        services: &[Service],
        events: EventLog,
        options: StartOptions,
        mut kept: Option<&mut Kept>,
    ) -> Result<Services, StartFailure> {
        let mut running = Services {
            services: services.to_vec(),
            entries: services.iter().map(|_| Entry::new()).collect(),
            events,
            grace: options.grace,
            stopped: false,
        };
        for (index, service) in services.iter().enumerate() {
            let launched = reuse::reusable(service).then(|| running.launched(service, &options));
            if let (Some(kept), Some(wanted)) = (kept.as_deref_mut(), &launched) {
                if running.adopt(index, kept, wanted).await {
                    continue;
                }
            }
            running.entries[index].launched = launched;
            if let Err(message) = running.start_one(index, &options).await {
                let name = service.name.clone();
                running.events.push(&name, "service_failed", fields([("message", message.clone().into())]));
                running.entries[index].state = State::Failed;
                running.entries[index].message = Some(message.clone());
                running.teardown().await;
                return Err(StartFailure { service: name, message, results: running.results() });
            }
        }
        Ok(running)
    }

    /// How `service` would start in this lifecycle (for reuse).
    fn launched(&self, service: &Service, options: &StartOptions) -> reuse::Launched {
        let env = match service.launch {
            Launch::Binary { .. } => self.environment(service, options),
            _ => self.container_environment(service, options),
        };
        reuse::Launched { env, filtered: self.faulting(service, options).is_some() }
    }

    /// Takes the kept service for `index` if there is one and it fits; a kept one that does not
    /// fit is stopped. Returns whether the service was adopted.
    async fn adopt(&mut self, index: usize, kept: &mut Kept, wanted: &reuse::Launched) -> bool {
        let name = self.services[index].name.clone();
        let Some(found) = kept.take(&name) else { return false };
        if let Some(reason) = reuse::refusal(&found, wanted) {
            kept.discard(found, reason).await;
            return false;
        }
        let mut entry = found.entry;
        entry.adopted = true;
        let mut started = fields([("reused", true.into())]);
        if let Some(proc) = &entry.proc {
            started.insert("pid".to_owned(), proc.pid.into());
        }
        if let Some(container) = &entry.container {
            started.insert("container".to_owned(), container.name.clone().into());
        }
        self.events.push(&name, "service_started", started);
        self.events.push(&name, "service_ready", fields([("reused", true.into()), ("ms", 0.0.into())]));
        self.entries[index] = entry;
        true
    }

    /// The `seed=`/`reset=` hooks this lifecycle owes its services, in start order.
    pub fn hooks(&self) -> Vec<Hook> {
        let started = self.services.iter().zip(&self.entries).filter(|(_, e)| e.state == State::Ready);
        reuse::hooks(started.map(|(service, entry)| (service, entry.adopted)))
    }

    async fn start_one(&mut self, index: usize, options: &StartOptions) -> Result<(), String> {
        let service = self.services[index].clone();
        let name = service.name.as_str();
        for dep in &service.depends_on {
            let died = self.position(dep).and_then(|i| self.entries[i].proc.as_ref()).and_then(|p| p.exit());
            if let Some(info) = died {
                return Err(format!("service `{name}` cannot start: its dependency `{dep}` {}", info.cause));
            }
        }
        let started = Instant::now();
        match &service.launch {
            Launch::Mock { .. } => {
                self.entries[index].state = State::Ready;
                Ok(())
            }
            Launch::Image { .. } | Launch::Build { .. } => {
                crate::container::reap_before_start(options.engine.as_deref(), &self.events).await;
                // A port someone else holds would let the healthcheck accept the wrong server.
                if let Some(taken) = ports::check(&service) {
                    return Err(taken);
                }
                let env = self.container_environment(&service, options);
                let request = crate::container::Request {
                    service: &service,
                    services: &self.services,
                    env: env.clone(),
                    bridge_env: self.bridge_environment(&service, options),
                    workdir: &options.workdir,
                    engine: options.engine.as_deref(),
                    shim: options.container_shim,
                    faulting: self.faulting(&service, options),
                    decoders: self.decoders(&service),
                };
                let (proc, container) = crate::container::launch(request, &self.events).await?;
                self.entries[index].proc = Some(proc.clone());
                let container = self.entries[index].container.insert(container);
                container.attach(&proc).await?;
                self.wait_ready(index, &service, &proc, &env).await
            }
            Launch::Remote { address } => {
                let remote = self.check_remote(&service, address).await?;
                let entry = &mut self.entries[index];
                entry.remote = remote;
                entry.state = State::Ready;
                entry.ready_ms = Some(millis(started));
                self.events.push(name, "service_ready", fields([("ms", millis(started).into())]));
                Ok(())
            }
            Launch::Binary { path, args } => {
                // A port someone else holds would let the healthcheck accept the wrong server.
                if let Some(taken) = ports::check(&service) {
                    return Err(taken);
                }
                let env = self.environment(&service, options);
                let program = resolve_program(path, &options.workdir, env.get("PATH").map(String::as_str))
                    .map_err(|e| format!("service `{name}`: {e}"))?;
                let decoders = self.decoders(&service);
                let spec = process::Spec {
                    name,
                    program: program.clone(),
                    args,
                    env: &env,
                    workdir: &options.workdir,
                    decoders,
                    seccomp: self.faulting(&service, options),
                };
                let proc = process::spawn(spec, &self.events).await.map_err(|e| {
                    // No syscall-fault support is about the machine, not the binary.
                    let hint = if e.kind() == std::io::ErrorKind::Unsupported {
                        String::new()
                    } else {
                        format!(" {}", path_hint(path, &options.workdir))
                    };
                    format!("service `{name}`: cannot run `{}`: {e}.{hint}", program.display())
                })?;
                let proc = Arc::new(proc);
                self.entries[index].proc = Some(proc.clone());
                self.wait_ready(index, &service, &proc, &env).await
            }
        }
    }

    /// Waits for the service's healthcheck (if any), racing the process's exit; then the
    /// service is ready.
    async fn wait_ready(
        &mut self,
        index: usize,
        service: &Service,
        proc: &Arc<Proc>,
        env: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let name = service.name.as_str();
        if let Some(hc) = &service.healthcheck {
            let probe = health::probe(hc, service, env).map_err(|e| format!("service `{name}`: {e}"))?;
            health::wait(&probe, Some(proc)).await.map_err(|failure| match failure {
                health::Failure::Exited(info) => {
                    format!("service `{name}` {} before it became ready{}", info.cause, tail_text(proc))
                }
                health::Failure::Timeout { last_error } => format!(
                    "service `{name}` did not become ready within {} ms ({}: {last_error}){}",
                    probe.timeout.as_millis(),
                    probe.describe(),
                    tail_text(proc)
                ),
            })?;
        }
        proc.ready.store(true, Ordering::SeqCst);
        let ms = millis(proc.started);
        let entry = &mut self.entries[index];
        entry.state = State::Ready;
        entry.ready_ms = Some(ms);
        self.events.push(name, "service_ready", fields([("ms", ms.into())]));
        Ok(())
    }

    /// A remote service is ready when its healthcheck passes, or else when a TCP connect to its
    /// address works; returns its resolved address.
    async fn check_remote(&self, service: &Service, address: &str) -> Result<Option<SocketAddr>, String> {
        let name = &service.name;
        let (host, port) = env::split_host_port(address)
            .ok_or_else(|| format!("service `{name}`: the remote address `{address}` has no host"))?;
        let port = port.or_else(|| service.interfaces.iter().find_map(|i| i.port));
        let resolved = match port {
            Some(port) => tokio::net::lookup_host((host.as_str(), port)).await.ok().and_then(|mut a| a.next()),
            None => None,
        };
        if let Some(hc) = &service.healthcheck {
            let env = service.env.iter().map(|v| (v.name.clone(), env::render(&v.parts, &self.services))).collect();
            let probe = health::probe(hc, service, &env).map_err(|e| format!("service `{name}`: {e}"))?;
            health::wait(&probe, None).await.map_err(|failure| match failure {
                health::Failure::Exited(info) => format!("service `{name}` {}", info.cause),
                health::Failure::Timeout { last_error } => format!(
                    "remote service `{name}` at `{address}` did not become ready within {} ms ({}: {last_error})",
                    probe.timeout.as_millis(),
                    probe.describe()
                ),
            })?;
            return Ok(resolved);
        }
        let port =
            port.ok_or_else(|| format!("service `{name}`: the remote address `{address}` has no port to connect to"))?;
        let connect = tokio::net::TcpStream::connect((host.as_str(), port));
        match tokio::time::timeout(Duration::from_secs(5), connect).await {
            Ok(Ok(_)) => Ok(resolved),
            Ok(Err(e)) => Err(format!("remote service `{name}` at `{address}` is not reachable: {e}")),
            Err(_) => {
                Err(format!("remote service `{name}` at `{address}` is not reachable: connect timed out after 5 s"))
            }
        }
    }

    /// The service's environment: this process's, then the service's `env=` (rendered), then
    /// the caller's extra variables.
    fn environment(&self, service: &Service, options: &StartOptions) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        for var in &service.env {
            env.insert(var.name.clone(), options.edges.render(&service.name, &var.parts, &self.services));
        }
        env.extend(options.extra_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }

    /// A container's environment: only the service's `env=` (rendered for it) and the caller's
    /// extra variables; the image provides the rest, not this process's environment.
    fn container_environment(&self, service: &Service, options: &StartOptions) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = service
            .env
            .iter()
            .map(|var| (var.name.clone(), options.edges.render(&service.name, &var.parts, &self.services)))
            .collect();
        env.extend(options.extra_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }

    /// A container's environment on the run's bridge network, when it can join it: not in a
    /// `--jobs` run (each job has network namespaces of its own), nor with
    /// `OSPECC_CONTAINER_NETWORK=host`.
    fn bridge_environment(&self, service: &Service, options: &StartOptions) -> Option<BTreeMap<String, String>> {
        let host_only = options.extra_env.contains_key(crate::run::JOB_ENV)
            || std::env::var("OSPECC_CONTAINER_NETWORK").is_ok_and(|v| v == "host");
        if host_only {
            return None;
        }
        let mut env = crate::container::network::bridge_env(service, &self.services, &options.edges)?;
        env.extend(options.extra_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        Some(env)
    }

    /// The seccomp filter a service runs under: only with rules to read, something to
    /// intercept, and `seccomp` not opted out (unfaulted services run without a filter).
    /// Under determinism mode every service not opted out gets one, watching the leaks too.
    fn faulting(&self, service: &Service, options: &StartOptions) -> Option<crate::seccomp::Faulting> {
        let detect = options.determinism.clone();
        let rules = match (options.seccomp.get(&service.name), &detect) {
            (Some(rules), _) => rules.clone(),
            (None, Some(_)) => crate::seccomp::SyscallRules::new(0),
            (None, None) => return None,
        };
        let mut intercept = service.intercept.clone();
        intercept.extend(detect.iter().flat_map(|d| d.syscalls()).filter(|s| !service.intercept.contains(s)));
        if !service.seccomp || intercept.is_empty() {
            return None;
        }
        let edges = options.edges.clone();
        Some(crate::seccomp::Faulting {
            intercept,
            rules,
            upstream_of: std::sync::Arc::new(move |addr| edges.upstream_of(addr)),
            detect,
        })
    }

    /// `(stdout, stderr)` decoders from `observe=`; an unusable decoder is reported once as a
    /// `decoder_error` event and its stream stays plain.
    fn decoders(&self, service: &Service) -> (Decoder, Decoder) {
        let pick = |stream: &str| {
            let Some(observe) = service.observe.iter().find(|o| o.stream == stream && o.decoder.is_some()) else {
                return Decoder::Plain;
            };
            Decoder::new(observe.decoder.as_deref(), observe.pattern.as_deref()).unwrap_or_else(|error| {
                self.events.push(
                    &service.name,
                    "decoder_error",
                    fields([
                        ("stream", stream.into()),
                        ("decoder", observe.decoder.clone().unwrap_or_default().into()),
                        ("error", error.into()),
                    ]),
                );
                Decoder::Plain
            })
        };
        (pick("stdout"), pick("stderr"))
    }

    fn position(&self, service: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == service)
    }

    /// Every service's state (`ready`, `failed`, `not_started`, or `exited` for one that ended on
    /// its own after becoming ready) and time to ready.
    pub fn results(&self) -> Vec<ServiceResult> {
        self.services
            .iter()
            .zip(&self.entries)
            .map(|(service, entry)| {
                let crash =
                    entry.proc.as_ref().filter(|p| entry.state == State::Ready && p.ready.load(Ordering::SeqCst));
                let crash = crash.and_then(|p| p.exit()).filter(|info| !info.during_stop);
                let (state, message) = match (entry.state, crash) {
                    (State::Ready, Some(info)) => ("exited", Some(format!("{} after it became ready", info.cause))),
                    (State::Ready, None) => ("ready", entry.message.clone()),
                    (State::Failed, _) => ("failed", entry.message.clone()),
                    (State::NotStarted, _) => ("not_started", entry.message.clone()),
                };
                ServiceResult { name: service.name.clone(), state: state.to_owned(), message, ready_ms: entry.ready_ms }
            })
            .collect()
    }

    /// Services that exited after becoming ready (not through teardown): `(name, exit cause)`.
    /// A process already gone whose exit is not yet published (its waiter lets the output
    /// readers finish first) is waited for, briefly, so a crash at the end of a test counts.
    pub fn crashed(&self) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_millis(1000);
        for proc in self.entries.iter().filter_map(|e| e.proc.as_ref()) {
            let gone = has_exited(proc.pid);
            while gone && proc.exit().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.entries
            .iter()
            .filter_map(|entry| {
                let proc = entry.proc.as_ref()?;
                if !proc.ready.load(Ordering::SeqCst) {
                    return None;
                }
                let info = proc.exit().filter(|info| !info.during_stop)?;
                Some((proc.name.clone(), info.cause))
            })
            .collect()
    }

    /// `127.0.0.1:PORT` for a declared interface port (the resolved address for `remote=`).
    pub fn address(&self, service: &str, interface: &str) -> Option<SocketAddr> {
        let index = self.position(service)?;
        if let Some(remote) = self.entries[index].remote {
            return Some(remote);
        }
        let port = self.services[index].interfaces.iter().find(|i| i.name == interface)?.port?;
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// The process id of a started service (its process-group id too).
    pub fn pid(&self, service: &str) -> Option<u32> {
        let index = self.position(service)?;
        self.entries[index].proc.as_ref().map(|p| p.pid as u32)
    }

    /// Tears everything down: SIGTERM to each process group in reverse start order, up to the
    /// grace period, SIGKILL, reap. Returns the final results.
    pub async fn stop(mut self) -> Vec<ServiceResult> {
        self.teardown().await;
        self.results()
    }

    /// [`Services::stop`], except that every healthy `reuse=True` service is moved to `kept`
    /// for the next lifecycle instead of being stopped.
    pub async fn stop_keeping(mut self, kept: &mut Kept) -> Vec<ServiceResult> {
        let results = self.results();
        for (service, entry) in self.services.iter().zip(self.entries.iter_mut()) {
            let healthy = entry.state == State::Ready && entry.proc.as_ref().is_some_and(|p| p.exit().is_none());
            let Some(launched) = entry.launched.clone().filter(|_| healthy) else { continue };
            let moved = std::mem::replace(entry, Entry::new());
            kept.keep(reuse::KeptService { service: service.clone(), entry: moved, launched });
        }
        self.teardown().await;
        results
    }

    async fn teardown(&mut self) {
        for (service, entry) in self.services.iter().zip(self.entries.iter_mut()).rev() {
            teardown_entry(&service.name, entry, self.grace, &self.events).await;
        }
        self.stopped = true;
    }
}

/// Stops one service: a container through its engine, then its CLI's (or the process's) group,
/// then the container's removal.
async fn teardown_entry(service: &str, entry: &mut Entry, grace: Duration, events: &EventLog) {
    let container = entry.container.take();
    let started = Instant::now();
    if let Some(proc) = &entry.proc {
        if !proc.stopping.load(Ordering::SeqCst) {
            // A container stops through its engine (its own stop signal, the grace
            // period, SIGKILL); its CLI then ends by itself.
            if let Some(container) = &container {
                proc.stopping.store(true, Ordering::SeqCst);
                container.stop(grace).await;
            }
            teardown::terminate(proc, grace, events).await;
        }
    }
    if let Some(container) = container {
        let name = container.name.clone();
        container.remove().await;
        let ms = millis(started);
        events.push(service, "container_removed", fields([("container", name.into()), ("ms", ms.into())]));
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        let pids: Vec<i32> = self
            .entries
            .iter()
            .rev()
            .filter_map(|e| e.proc.as_ref())
            .map(|p| {
                p.stopping.store(true, Ordering::SeqCst);
                p.pid
            })
            .collect();
        teardown::kill_now(pids);
        for entry in &self.entries {
            if let Some(container) = &entry.container {
                container.remove_now();
            }
        }
    }
}

/// Whether `pid` has exited: reaped already, or a zombie waiting to be.
fn has_exited(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return true;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // `pid (comm) STATE ...`: comm may hold spaces, so read after the last ')'.
    stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn tail_text(proc: &Proc) -> String {
    let tail = proc.tail();
    if tail.is_empty() {
        return "; it printed nothing".to_owned();
    }
    let mut text = String::from("; its last output:");
    for line in tail {
        text.push_str("\n  ");
        text.push_str(&line);
    }
    text
}

/// The executable a `binary=` path names: a path with a `/` is taken relative to the workdir;
/// a bare name is looked up on `PATH`, then in the workdir.
fn resolve_program(path: &str, workdir: &Path, search: Option<&str>) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("the binary path is empty".to_owned());
    }
    if path.contains('/') {
        let candidate = if Path::new(path).is_absolute() { PathBuf::from(path) } else { workdir.join(path) };
        return executable(&candidate).map(|()| candidate).map_err(|e| format!("{e}. {}", path_hint(path, workdir)));
    }
    for dir in std::env::split_paths(search.unwrap_or("")) {
        let candidate = dir.join(path);
        if executable(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    let candidate = workdir.join(path);
    if candidate.exists() {
        return executable(&candidate).map(|()| candidate).map_err(|e| format!("{e}. {}", path_hint(path, workdir)));
    }
    Err(format!(
        "cannot run `{path}`: no executable of that name on PATH or in the workdir `{}`. {}",
        workdir.display(),
        path_hint(path, workdir)
    ))
}

fn executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot run `{}`: {e}", path.display()))?;
    if meta.is_dir() {
        return Err(format!("cannot run `{}`: it is a directory", path.display()));
    }
    let mode = meta.permissions().mode();
    if mode & 0o111 == 0 {
        return Err(format!(
            "cannot run `{}`: it is not executable (mode {:o}; chmod +x it)",
            path.display(),
            mode & 0o7777
        ));
    }
    Ok(())
}

fn path_hint(path: &str, workdir: &Path) -> String {
    if Path::new(path).is_absolute() {
        "Build the binary first, or fix the path in binary=".to_owned()
    } else {
        format!(
            "Build the binary first, or fix the path in binary=: relative paths resolve against the workdir `{}`",
            workdir.display()
        )
    }
}
