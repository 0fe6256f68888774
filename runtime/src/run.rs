//! One run of a plan, end to end: for each test (in this shard), its own lifecycle — mock
//! services served in-process, the other services started in order and healthy, the test's
//! callables run, everything torn down (as Faultbox restarts services for every test); a test
//! with named `choose()` axes or exhaustive `max_fires` rules gets one such lifecycle per leaf
//! ([`crate::explore`]), up to `--max-instances`; then the OSpec acceptance probes against one
//! more lifecycle. With `--jobs N` up to N lifecycles run at once, each job in namespaces of
//! its own ([`crate::jobs`]), and the run reports what a serial run would. Under determinism
//! mode ([`crate::determinism`]) the services' leaks are events, and under strict mode they fail
//! the test. A SIGINT or SIGTERM kills every process group at once and ends the run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ospecc_compiler::topology::run::{self as starlark_run, Loaded};
use ospecc_compiler::topology::Limits;
use ospecc_schema::plan::topology::{Launch, Test};
use ospecc_schema::plan::Plan;

use crate::determinism;
use crate::events::{fields, Event, EventLog};
use crate::explore::{self, Leaf};
use crate::faults::{diagnose, Faults};
use crate::jobs;
use crate::mock::{self, MockHandle};
use crate::probes::{self, ProbeOptions};
use crate::report::{ItemKind, ItemResult, Outcome, RunReport, ServiceResult, Summary};
use crate::scenario::{dynamic::StarlarkMocks, Suite};
use crate::supervisor::{self, Kept, Services, StartOptions};

/// The stack of the thread that runs Starlark (test bodies recurse on the syntax tree).
const RUN_STACK_BYTES: usize = 256 * 1024 * 1024;

/// The environment variable that gives a service its parallel job's number (`--jobs`).
pub const JOB_ENV: &str = "OSPECC_JOB";

/// `--shard K/N`: this machine runs the items whose index `i` (in name order) has `i % N == K-1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parses `K/N` with `1 <= K <= N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text.split_once('/').ok_or_else(|| format!("`{text}` is not K/N"))?;
        let (index, count) = (k.trim().parse::<u32>(), n.trim().parse::<u32>());
        match (index, count) {
            (Ok(index), Ok(count)) if index >= 1 && index <= count => Ok(Shard { index, count }),
            _ => Err(format!("`{text}` is not K/N with 1 <= K <= N")),
        }
    }

    fn takes(self, position: usize) -> bool {
        position % self.count as usize == (self.index - 1) as usize
    }
}

/// How to run.
pub struct RunOptions {
    pub workdir: PathBuf,
    pub grace: Duration,
    pub shard: Option<Shard>,
    /// The process environment (for `${VAR}` in probes and `env_present`).
    pub environment: BTreeMap<String, String>,
    pub allow_shell: bool,
    /// Seeds every probabilistic fault decision (`--seed`): the same seed gives the same draws.
    pub seed: u64,
    /// The most leaves (executions) one test runs (`--max-instances`); at least one runs.
    pub max_instances: u64,
    /// How many times each test runs (`--runs`); with more than one, each result's name ends
    /// in `[run=K]`.
    pub runs: u32,
    /// The container engine (`--engine`: `podman`, `docker` or a path); found when absent.
    pub engine: Option<String>,
    /// Whether this process's executable (the `ospecc` binary) can be a container's seccomp shim.
    pub container_shim: bool,
    /// The most lifecycles at once (`--jobs`); above 1, each runs in its own network namespace
    /// ([`crate::jobs`]). The caller decides it with [`crate::jobs::decide`].
    pub jobs: usize,
    /// `--strict-determinism[=BOOL]`: overrides the spec's `determinism(strict=)`; true also
    /// watches for leaks without `determinism()` ([`crate::determinism`]).
    pub strict_determinism: Option<bool>,
    /// Called with each result as it is known (live progress).
    pub on_result: Box<dyn Fn(&ItemResult) + Send + Sync>,
}

/// A finished run: the report and the whole event log.
pub struct Finished {
    pub report: RunReport,
    pub events: Vec<Event>,
}

/// Runs the plan on this machine.
pub fn execute(plan: &Plan, options: &RunOptions) -> Finished {
    let started = Instant::now();
    let events = EventLog::default();
    let reaped = supervisor::reaper::reap_abandoned();
    if !reaped.runs.is_empty() {
        events.push("runner", "reaped", fields([("runs", reaped.runs.into()), ("processes", reaped.processes.into())]));
    }
    let outcome = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("ospecc-run".into())
            .stack_size(RUN_STACK_BYTES)
            .spawn_scoped(scope, || run_all(plan, options, &events));
        match worker {
            Ok(handle) => handle.join().map_err(|_| "the run thread panicked".to_owned()),
            Err(e) => Err(format!("cannot start the run thread: {e}")),
        }
    });
    // A panic anywhere above must not leave processes behind, nor may what left its group.
    supervisor::kill_all_now();
    let containers = crate::container::cleanup();
    if !containers.is_empty() {
        events.push("runner", "escaped_removed", fields([("containers", containers.into())]));
    }
    let escaped = supervisor::reaper::reap_own();
    if !escaped.is_empty() {
        events.push("runner", "escaped_killed", fields([("processes", escaped.into())]));
    }
    let (services, results) = outcome.unwrap_or_else(|why| {
        let result = error_result("run", &why, &events);
        (Vec::new(), vec![result])
    });
    let summary = Summary::of(&results);
    let all_events = events.since(0);
    let diagnostics = crate::faults::diagnose::suite(&results, &all_events);
    let report = RunReport {
        root: plan.root.clone(),
        shard: options.shard.map(|s| format!("{}/{}", s.index, s.count)),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        services,
        results,
        diagnostics,
        summary,
        plan: Some(crate::report::model::PlanIdentity::of(plan)),
    };
    Finished { report, events: all_events }
}

fn run_all(plan: &Plan, options: &RunOptions, events: &EventLog) -> (Vec<ServiceResult>, Vec<ItemResult>) {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            return (Vec::new(), vec![error_result("run", &format!("cannot start the async runtime: {e}"), events)])
        }
    };
    runtime.spawn(interrupts());
    let mut results = Vec::new();
    let mut services = Vec::new();
    let tests: Vec<&Test> = plan
        .tests
        .iter()
        .enumerate()
        .filter(|(i, _)| options.shard.is_none_or(|s| s.takes(*i)))
        .map(|(_, t)| t)
        .collect();
    let first_shard = options.shard.is_none_or(|s| s.index == 1);
    let acceptance = plan.acceptance.as_ref().filter(|_| first_shard);
    let mut acceptance_ran = false;
    if !tests.is_empty() {
        match load(plan) {
            Ok(loaded) => {
                let loaded = Arc::new(loaded);
                let units = units(&tests, options);
                let determinism = determinism::Settings::of(&loaded.evaluated, options.strict_determinism);
                let detector = determinism.detect.then(|| Arc::new(determinism::Detector::new(plan)));
                let shared =
                    Shared { plan, loaded: &loaded, options, events, determinism: &determinism, detector: &detector };
                if options.jobs.min(units.len() + usize::from(acceptance.is_some())) > 1 {
                    run_parallel(&shared, &units, acceptance, &mut results, &mut services);
                    acceptance_ran = true;
                } else {
                    // `reuse=True` services live from one lifecycle to the next of this serial
                    // run, and stop before the acceptance lifecycle starts its own.
                    let kept = tokio::sync::Mutex::new(Kept::new(events.clone(), options.grace));
                    for unit in &units {
                        let lifecycle = Lifecycle {
                            runtime: &runtime,
                            shared: &shared,
                            seed: unit.seed,
                            job: None,
                            kept: Some(&kept),
                        };
                        results.extend(run_leaves(&lifecycle, unit.test, unit.run, &mut services));
                    }
                    runtime.block_on(async { kept.lock().await.stop_all().await });
                }
            }
            Err(diagnostics) => {
                let why = diagnostics.first().map_or_else(|| "unknown error".to_owned(), |d| d.message.clone());
                for test in tests {
                    let result =
                        error_result(&test.name, &format!("the plan's sources do not evaluate: {why}"), events);
                    (options.on_result)(&result);
                    results.push(result);
                }
            }
        }
    }
    if let (Some(acceptance), false) = (acceptance, acceptance_ran) {
        let found = runtime.block_on(acceptance_run(plan, acceptance, options, events, &mut services));
        for result in &found {
            (options.on_result)(result);
        }
        results.extend(found);
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    (services, results)
}

/// One test's repetition: what a job takes from the queue (in test name order, then by run).
struct Unit<'a> {
    test: &'a Test,
    /// The repetition of `--runs`, when there is more than one (named in the results).
    run: Option<u32>,
    /// The seed of this repetition's fault decisions.
    seed: u64,
}

fn units<'a>(tests: &[&'a Test], options: &RunOptions) -> Vec<Unit<'a>> {
    let runs = options.runs.max(1);
    let repetitions = |test: &'a Test| {
        (1..=runs).map(move |run| Unit {
            test,
            run: (runs > 1).then_some(run),
            // Each repetition draws anew (reproducibly): run K decides with seed + K - 1.
            seed: options.seed.wrapping_add(u64::from(run - 1)),
        })
    };
    tests.iter().flat_map(|test| repetitions(test)).collect()
}

/// What every lifecycle of a run shares.
struct Shared<'a> {
    plan: &'a Plan,
    loaded: &'a Arc<Loaded>,
    options: &'a RunOptions,
    events: &'a EventLog,
    determinism: &'a determinism::Settings,
    /// What the services' filters watch for, under determinism mode.
    detector: &'a Option<Arc<determinism::Detector>>,
}

/// One lifecycle's setting: the run's, plus the async runtime, seed, job and log it runs with.
struct Lifecycle<'a> {
    runtime: &'a tokio::runtime::Runtime,
    shared: &'a Shared<'a>,
    seed: u64,
    /// The parallel job (1-based) running it; `None` in a serial run.
    job: Option<usize>,
    /// The `reuse=True` services kept between lifecycles (a serial run's; parallel jobs log
    /// each unit apart, so there every lifecycle starts its own).
    kept: Option<&'a tokio::sync::Mutex<Kept>>,
}

/// `--jobs N`: the units on N workers, each with its own async runtime and a log per unit, all
/// but the first in namespaces of their own; the first runs the acceptance probes before it
/// takes units. The logs are appended to the run's in unit order, the probes' last, and the
/// results renumbered to match, as a serial run would have logged them.
fn run_parallel(
    shared: &Shared,
    units: &[Unit],
    acceptance: Option<&ospecc_schema::plan::Acceptance>,
    results: &mut Vec<ItemResult>,
    services: &mut Vec<ServiceResult>,
) {
    let workers = shared.options.jobs.min(units.len() + usize::from(acceptance.is_some()));
    let init = |job: usize| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
        runtime.map(|runtime| (job, runtime)).map_err(|e| format!("cannot start an async runtime: {e}"))
    };
    let work = |(job, runtime): &(usize, tokio::runtime::Runtime), _: usize, unit: &Unit| {
        let log = shared.events.sibling();
        let own = Shared { events: &log, ..*shared };
        let lifecycle = Lifecycle { runtime, shared: &own, seed: unit.seed, job: Some(*job), kept: None };
        let mut seen = Vec::new();
        let found = run_leaves(&lifecycle, unit.test, unit.run, &mut seen);
        (log, found, seen)
    };
    let probes = |(_, runtime): &(usize, tokio::runtime::Runtime)| {
        let acceptance = acceptance?;
        let (log, mut seen) = (shared.events.sibling(), Vec::new());
        let found = runtime.block_on(acceptance_run(shared.plan, acceptance, shared.options, &log, &mut seen));
        for result in &found {
            (shared.options.on_result)(result);
        }
        Some((log, found, seen))
    };
    supervisor::process::start_spawner();
    let (outcomes, probed) = jobs::run(units, workers, RUN_STACK_BYTES, init, probes, work);
    let named = units.iter().map(|u| u.test.name.as_str()).zip(outcomes);
    let probed = match probed {
        Ok(probed) => probed.map(Ok),
        Err(why) => acceptance.map(|_| Err(why)),
    };
    for (name, outcome) in named.chain(probed.map(|p| ("acceptance", p))) {
        match outcome {
            Ok((log, found, seen)) => {
                let offset = shared.events.append(log.since(0));
                // A monitor's verdict names its event (`event #N`) in the job's own log.
                results.extend(found.into_iter().map(|r| ItemResult {
                    first_seq: r.first_seq + offset,
                    end_seq: r.end_seq + offset,
                    message: r.message.map(|m| crate::report::merge::renumber(&m, |seq| seq + offset)),
                    ..r
                }));
                merge_fates(services, seen);
            }
            Err(why) => {
                let result = error_result(name, &why, shared.events);
                (shared.options.on_result)(&result);
                results.push(result);
            }
        }
    }
}

/// A test's leaves, depth-first from leaf 0 (the discovery execution), each its own lifecycle
/// and its own result (named by its decisions), reported as it finishes. A test that meets no
/// axis is one execution under its plain name.
/// Every leaf of `test` (once; `run` is the repetition of `--runs`, named in the results).
fn run_leaves(
    lifecycle: &Lifecycle,
    test: &Test,
    run: Option<u32>,
    services_seen: &mut Vec<ServiceResult>,
) -> Vec<ItemResult> {
    let cap = lifecycle.shared.options.max_instances.max(1);
    let mut results = Vec::new();
    let mut prescribed = Vec::new();
    let mut interleavings_noted = false;
    loop {
        let leaf = Arc::new(Leaf::new(prescribed));
        let mut result = run_test(lifecycle, test, &leaf, services_seen);
        let path = leaf.path();
        result.name = explore::leaf_name(&test.name, &path);
        if let Some(run) = run {
            result.name = format!("{}[run={run}]", result.name);
        }
        let interleavings = leaf.interleavings();
        if !interleavings.is_empty() && !interleavings_noted {
            interleavings_noted = true;
            result.diagnostics.push(diagnose::instances_not_explored(format!(
                "parallel() asked for {} interleavings; this runtime runs its branches once (their steps concurrently)",
                interleavings.iter().map(u64::to_string).collect::<Vec<_>>().join(" × ")
            )));
        }
        let next = explore::next(&path);
        let ran = results.len() as u64 + 1;
        if next.is_some() && ran >= cap {
            let total = ran.saturating_add(explore::remaining(&path));
            result.diagnostics.push(diagnose::instances_not_explored(format!(
                "`{}` has {total} leaves (named choose() axes × exhaustive max_fires schedules, counted on this leaf's axes); --max-instances {cap} ran the first {ran}",
                test.name
            )));
        }
        (lifecycle.shared.options.on_result)(&result);
        results.push(result);
        match next {
            Some(following) if ran < cap => prescribed = following,
            _ => return results,
        }
    }
}

/// One execution's lifecycle: mocks and services up, the test (following `leaf`), everything
/// down.
fn run_test(
    lifecycle: &Lifecycle,
    test: &Test,
    leaf: &Arc<Leaf>,
    services_seen: &mut Vec<ServiceResult>,
) -> ItemResult {
    let Lifecycle { runtime, shared, seed, job, kept } = *lifecycle;
    let Shared { plan, loaded, options, events, determinism, detector } = *shared;
    let first_seq = events.push("runner", "lifecycle_started", fields([("test", test.name.clone().into())]));
    let started = Instant::now();
    let mut faults = Faults::prepare(plan, test, seed, events.clone(), leaf.clone());
    let handler = Arc::new(StarlarkMocks::new(plan, loaded.clone(), events.clone()));
    let up = runtime.block_on(async {
        faults.start_proxies(plan, test, seed).await?;
        let mut kept = match kept {
            Some(kept) => Some(kept.lock().await),
            None => None,
        };
        start(plan, options, events, handler, &faults, (job, detector.clone()), kept.as_deref_mut()).await
    });
    let (mocks, running) = match up {
        Ok(up) => up,
        Err(why) => {
            runtime.block_on(faults.stop_proxies());
            let mut result = error_result(&test.name, &why, events);
            result.first_seq = first_seq;
            result.origin = Some(test.origin.clone());
            result.matrix = test.matrix.as_ref().map(|m| (m.scenario.clone(), m.fault.clone()));
            result.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
            return result;
        }
    };
    let hooks = running.as_ref().map(Services::hooks).unwrap_or_default();
    let suite = Suite {
        plan,
        loaded,
        events,
        client: reqwest::blocking::Client::new(),
        crashed: &|| running.as_ref().map(Services::crashed).unwrap_or_default(),
        faults: Some(&faults),
        leaf,
        determinism,
        hooks: &hooks,
    };
    let mut result = suite.run(test, first_seq);
    drop(suite);
    faults.clear_all();
    let fates = runtime.block_on(async {
        let fates = match (kept, running) {
            (Some(kept), Some(running)) => {
                let fates = running.stop_keeping(&mut *kept.lock().await).await;
                stop(mocks, None).await;
                fates
            }
            (_, running) => stop(mocks, running).await,
        };
        faults.stop_proxies().await;
        fates
    });
    merge_fates(services_seen, fates);
    result.first_seq = first_seq;
    result.end_seq = events.next_seq();
    result.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    result
}

type Up = (Vec<MockHandle>, Option<Services>);

/// Serves the mocks, then starts the other services in order.
async fn start(
    plan: &Plan,
    options: &RunOptions,
    events: &EventLog,
    handler: Arc<StarlarkMocks>,
    faults: &Faults,
    (job, determinism): (Option<usize>, Option<Arc<determinism::Detector>>),
    kept: Option<&mut Kept>,
) -> Result<Up, String> {
    let mut mocks = Vec::new();
    for service in plan.services.iter().filter(|s| matches!(s.launch, Launch::Mock { .. })) {
        let serving = Instant::now();
        match mock::serve(service, handler.clone(), events.clone(), Some(&options.workdir)).await {
            Ok(handle) => {
                // A mock is up once its ports are bound: started and ready, as Faultbox logs it.
                let addresses: Vec<String> = handle.addresses().iter().map(|(_, a)| a.to_string()).collect();
                events.push(
                    &service.name,
                    "service_started",
                    fields([("mock", true.into()), ("addresses", addresses.into())]),
                );
                let ms = serving.elapsed().as_secs_f64() * 1000.0;
                events.push(&service.name, "service_ready", fields([("ms", ms.into())]));
                mocks.push(handle);
            }
            Err(e) => {
                stop(mocks, None).await;
                return Err(format!("mock service `{}` could not be served: {e}", service.name));
            }
        }
    }
    if plan.services.iter().all(|s| matches!(s.launch, Launch::Mock { .. })) {
        return Ok((mocks, None));
    }
    let start_options = StartOptions {
        workdir: options.workdir.clone(),
        grace: options.grace,
        // A parallel job's number, for what the network namespace does not separate (a
        // service's files): the example's PostgreSQL keeps one data directory per job.
        extra_env: job.map(|job| (JOB_ENV.to_owned(), job.to_string())).into_iter().collect(),
        seccomp: faults.syscall_tables(),
        edges: faults.edges(),
        engine: options.engine.clone(),
        container_shim: options.container_shim,
        determinism,
    };
    match Services::start_reusing(&plan.services, events.clone(), start_options, kept).await {
        Ok(services) => Ok((mocks, Some(services))),
        Err(failure) => {
            stop(mocks, None).await;
            Err(failure.message)
        }
    }
}

async fn stop(mocks: Vec<MockHandle>, services: Option<Services>) -> Vec<ServiceResult> {
    let fates = match services {
        Some(services) => services.stop().await,
        None => Vec::new(),
    };
    for handle in mocks {
        handle.stop().await;
    }
    fates
}

/// Keeps the first failure of each service (a later healthy run does not hide it).
fn merge_fates(seen: &mut Vec<ServiceResult>, fates: Vec<ServiceResult>) {
    for fate in fates {
        match seen.iter_mut().find(|s| s.name == fate.name) {
            Some(existing) if existing.state == "failed" => {}
            Some(existing) => *existing = fate,
            None => seen.push(fate),
        }
    }
}

/// The acceptance probes against one lifecycle of the plan's services (if it has any).
async fn acceptance_run(
    plan: &Plan,
    acceptance: &ospecc_schema::plan::Acceptance,
    options: &RunOptions,
    events: &EventLog,
    services_seen: &mut Vec<ServiceResult>,
) -> Vec<ItemResult> {
    let mut up: Up = (Vec::new(), None);
    if !plan.services.is_empty() {
        let loaded = load(plan).ok().map(Arc::new);
        match loaded {
            Some(loaded) => {
                let handler = Arc::new(StarlarkMocks::new(plan, loaded, events.clone()));
                let no_faults = Faults::none(events.clone());
                match start(plan, options, events, handler, &no_faults, (None, None), None).await {
                    Ok(started) => up = started,
                    Err(why) => return vec![error_result("acceptance", &why, events)],
                }
            }
            None => return vec![error_result("acceptance", "the plan's topology does not evaluate", events)],
        }
    }
    let probe_options = ProbeOptions {
        allow_shell: options.allow_shell,
        environment: options.environment.clone(),
        workdir: options.workdir.clone(),
        max_throughput: Duration::from_secs(10),
    };
    let results = probes::run_acceptance(acceptance, events, &probe_options).await;
    let fates = stop(up.0, up.1).await;
    merge_fates(services_seen, fates);
    results
}

/// The plan's topology, evaluated for running.
fn load(plan: &Plan) -> Result<Loaded, Vec<ospecc_compiler::Diagnostic>> {
    let root = plan.topology.as_deref().unwrap_or(&plan.root);
    starlark_run::load(root, &plan.sources, Limits::default())
}

/// A result for something that could not run at all.
fn error_result(name: &str, why: &str, events: &EventLog) -> ItemResult {
    let seq = events.push("runner", "error", fields([("item", name.into()), ("message", why.into())]));
    ItemResult {
        name: name.to_owned(),
        kind: ItemKind::Test,
        outcome: Outcome::Errored,
        message: Some(why.to_owned()),
        duration_ms: 0.0,
        origin: None,
        matrix: None,
        first_seq: seq,
        end_seq: seq + 1,
        assertions: 0,
        diagnostics: Vec::new(),
    }
}

/// SIGINT or SIGTERM: every process group of the run dies now, and so does the run.
async fn interrupts() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return;
    };
    let name = tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    supervisor::kill_all_now();
    crate::container::cleanup();
    eprintln!("ospecc run: {name}: stopped every service of the run");
    std::process::exit(crate::EXIT_INTERRUPTED);
}
