//! `ospecc run`: executes a spec (lowered on the spot) or a built plan on this machine, with
//! live progress, a summary, and the reports CI wants (JSON, JUnit, HTML, JSONL traces).
//! Secret values never reach any output. Exit codes: 0 all passed (skips allowed), 1 a test
//! or probe failed or errored, 2 usage or IO error, or the run was interrupted.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use ospecc_runtime::report::{self, Redactor};
use ospecc_runtime::run::{self, RunOptions, Shard};
use ospecc_schema::plan::acceptance::Check;
use ospecc_schema::plan::{Plan, PLAN_VERSION};

use super::plan::{lower, LowerArgs};
use super::{report_error, write_stdout, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    lower: LowerArgs,
    /// What to print on stdout: a human summary, or the JSON report.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write a self-contained HTML report here (results, the fault matrix, timelines).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Write one JSONL event trace per test and probe into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run only the K-th of N slices of the tests (for CI machines sharing a plan).
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Seconds a service has between SIGTERM and SIGKILL at teardown.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    grace: u64,
    /// Seeds every probabilistic fault decision: the same seed makes the same decisions.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// The most executions of one test: a test with named choose() axes or exhaustive
    /// max_fires rules runs once per leaf, depth-first, and stops after this many.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    max_instances: u64,
    /// Run only the tests with this name, or whose name matches this glob (`test_*_redis`);
    /// repeatable. The spec's acceptance probes do not run when tests are selected.
    #[arg(long = "test", value_name = "NAME")]
    tests: Vec<String>,
    /// Run each test N times: results per run (`name[run=K]`) and which tests are flaky.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Which results the live output lists: only those that did not pass, or all of them
    /// (default: all in a log, the failures above the bar on a terminal).
    #[arg(long, value_enum, value_name = "WHICH")]
    show: Option<Show>,
    /// Also write the normalized trace here: Faultbox's golden format (one block per test, per
    /// service), to compare a run with Faultbox's or with another run.
    #[arg(long, value_name = "FILE")]
    normalize: Option<PathBuf>,
    #[command(flatten)]
    bundle: super::bundle::BundleArgs,
    /// The container engine for image= and build= services: `podman`, `docker`, or the path
    /// of either's CLI (default: Docker when DOCKER_HOST is set, else the first of podman,
    /// docker on PATH that answers).
    #[arg(long, value_name = "ENGINE")]
    engine: Option<String>,
    /// Run up to N test lifecycles at once, each in its own network namespace (default: one per
    /// core, as memory allows; 1 runs them one at a time).
    #[arg(long, value_name = "N")]
    jobs: Option<u32>,
    /// Fail a test whose services do I/O the run does not mediate (raw clock reads, getrandom,
    /// DNS, undeclared connects, raw sockets) unless the spec tolerates it; watches even without
    /// determinism() in the spec. `=false` only reports.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    strict_determinism: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Show {
    /// Only results that did not pass.
    Fail,
    /// Every result.
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(args: RunArgs) -> u8 {
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(shard) => shard,
        Err(why) => {
            report_error(&format!("--shard: {why}"));
            return EXIT_USAGE;
        }
    };
    let (mut plan, workdir) = match load(&args.lower) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if !args.tests.is_empty() {
        if let Err(why) = select_tests(&mut plan, &args.tests) {
            report_error(&why);
            return EXIT_USAGE;
        }
    }
    let Some(jobs) = jobs(&plan, &args) else { return EXIT_USAGE };
    let environment: BTreeMap<String, String> = std::env::vars().collect();
    let redactor = redactor(&plan, &environment, &args.lower.secret_env);
    let is_tty = std::io::stderr().is_terminal() && args.format == Format::Human;
    // The plan's instance counts estimate the leaves (parallel interleavings, which run once,
    // and axes only a run discovers make it approximate).
    let leaves: u64 =
        plan.tests.iter().map(|t| t.instances.clamp(1, args.max_instances)).sum::<u64>() * u64::from(args.runs);
    let total = leaves + plan.acceptance.as_ref().map_or(0, count_probes);
    let show = match args.show {
        Some(Show::All) => report::human::Show::All,
        Some(Show::Fail) => report::human::Show::Failures,
        None => report::human::Show::Default,
    };
    let progress = report::human::Progress::new(is_tty, total).with_redactor(redactor.clone()).with_show(show);
    let settings = ospecc_runtime::bundle::RunSettings {
        seed: args.seed,
        max_instances: args.max_instances,
        runs: args.runs,
        shard: args.shard.clone(),
        tests: args.tests.clone(),
        grace_seconds: args.grace,
        allow_shell: args.lower.allow_shell || plan.options.allow_shell,
        workdir: workdir.display().to_string(),
        container_engine: args.engine.clone(),
        strict_determinism: args.strict_determinism,
    };
    let options = RunOptions {
        workdir,
        grace: Duration::from_secs(args.grace),
        shard,
        environment,
        allow_shell: args.lower.allow_shell || plan.options.allow_shell,
        seed: args.seed,
        max_instances: args.max_instances,
        runs: args.runs,
        engine: args.engine.clone(),
        container_shim: true,
        jobs,
        strict_determinism: args.strict_determinism,
        on_result: Box::new(move |item| progress.item(item)),
    };
    let finished = run::execute(&plan, &options);
    drop(options);
    let report = finished.report.redacted(&redactor);
    let events = report::redact_events(&finished.events, &redactor);
    let mut code = if report.summary.failed_run() { EXIT_FINDINGS } else { EXIT_OK };
    write_stdout(&match args.format {
        Format::Human => report::human::summary(&report) + &report::human::flakiness(&report),
        Format::Json => report::json::render(&report),
    });
    let writes = [
        (args.junit.as_deref(), report::junit::render(&report)),
        (args.report.as_deref(), report::html::render(&report, Some(&plan), &events)),
        (args.normalize.as_deref(), report::normalize::render(&report, &events)),
    ];
    for (path, text) in writes {
        if let Some(path) = path {
            if let Err(e) = std::fs::write(path, text) {
                report_error(&format!("cannot write {}: {}", path.display(), ospecc_compiler::vfs::describe_io(&e)));
                code = EXIT_USAGE;
            }
        }
    }
    if let Some(dir) = &args.out {
        if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| report::trace::write(dir, &report, &events)) {
            report_error(&format!(
                "cannot write traces to {}: {}",
                dir.display(),
                ospecc_compiler::vfs::describe_io(&e)
            ));
            code = EXIT_USAGE;
        }
    }
    let ran = super::bundle::Ran {
        plan: &plan,
        report: &report,
        events: &events,
        redactor: &redactor,
        settings,
        spec: args.lower.file(),
    };
    super::bundle::after_run(&args.bundle, ran, code)
}

/// The jobs the run gets (`--jobs`, else the default), said when fewer than asked; `None`
/// for `--jobs 0`. Before the run starts threads: an unprivileged process enters its user
/// namespace here.
fn jobs(plan: &Plan, args: &RunArgs) -> Option<usize> {
    if args.jobs == Some(0) {
        report_error("--jobs 0: at least one job must run (--jobs 1 runs the tests one at a time)");
        return None;
    }
    let requested = args.jobs.map_or_else(ospecc_runtime::jobs::default_jobs, |n| n as usize);
    let shard = args.shard.as_deref().and_then(|s| Shard::parse(s).ok());
    let tests = (0..plan.tests.len()).filter(|i| shard.is_none_or(|s| i % s.count as usize + 1 == s.index as usize));
    // The acceptance probes (first shard) are one more lifecycle.
    let probes = plan.acceptance.is_some() && shard.is_none_or(|s| s.index == 1);
    let units = tests.count() * args.runs as usize + usize::from(probes);
    let (jobs, why) = ospecc_runtime::jobs::decide(plan, requested, units);
    if let (Some(why), Some(asked)) = (why, args.jobs) {
        super::report_warning(&format!("--jobs {asked}: {why}"));
    }
    Some(jobs)
}

/// Keeps the tests named (exactly or by glob) and drops the acceptance probes; an
/// argument that selects nothing is an error listing what there is.
fn select_tests(plan: &mut Plan, wanted: &[String]) -> Result<(), String> {
    let mut matchers = Vec::with_capacity(wanted.len());
    for pattern in wanted {
        let glob = globset::Glob::new(pattern).map_err(|e| format!("--test {pattern}: not a name or glob: {e}"))?;
        matchers.push((pattern, glob.compile_matcher()));
    }
    for (pattern, matcher) in &matchers {
        if !plan.tests.iter().any(|t| t.name == **pattern || matcher.is_match(&t.name)) {
            let names: Vec<&str> = plan.tests.iter().map(|t| t.name.as_str()).collect();
            let hint = ospecc_compiler::suggest::did_you_mean(pattern, names.iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "--test {pattern}: no test has that name{hint}; the tests are: {}",
                if names.is_empty() { "(none)".to_owned() } else { names.join(", ") }
            ));
        }
    }
    plan.tests.retain(|t| matchers.iter().any(|(p, m)| t.name == **p || m.is_match(&t.name)));
    plan.acceptance = None;
    Ok(())
}

fn count_probes(acceptance: &ospecc_schema::plan::Acceptance) -> u64 {
    let probes = acceptance.preflight.len() + acceptance.stages.iter().map(|s| s.probes.len()).sum::<usize>();
    (probes + acceptance.unverifiable.len()) as u64
}

/// The plan to run and the directory relative paths resolve in: a built plan (`*.json`) as
/// it is, or a spec lowered now.
fn load(args: &LowerArgs) -> Result<(Plan, PathBuf), u8> {
    let file = args.file();
    let dir = std::path::absolute(file).ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default();
    if file.extension().is_some_and(|e| e == "json") {
        let text = std::fs::read_to_string(file).map_err(|e| {
            report_error(&format!("cannot read {}: {}", file.display(), ospecc_compiler::vfs::describe_io(&e)));
            EXIT_USAGE
        })?;
        let plan: Plan = serde_json::from_str(&text).map_err(|e| {
            report_error(&format!("{} is not a plan (build one with `ospecc build`): {e}", file.display()));
            EXIT_USAGE
        })?;
        if plan.version != PLAN_VERSION {
            report_error(&format!(
                "{} is a version {} plan; this ospecc runs version {PLAN_VERSION} (rebuild it with `ospecc build`)",
                file.display(),
                plan.version
            ));
            return Err(EXIT_USAGE);
        }
        let environment: BTreeMap<String, String> = std::env::vars().collect();
        let problems = ospecc_compiler::plan::verify::verify(&plan, &environment);
        if !problems.is_empty() {
            report_error(&format!(
                "{} cannot be trusted, so nothing of it runs:\n  - {}\n  (rebuild it from its sources with `ospecc build`)",
                file.display(),
                problems.join("\n  - ")
            ));
            return Err(EXIT_USAGE);
        }
        return Ok((plan, dir));
    }
    lower(args).map(|plan| (plan, dir))
}

/// Hides the values of the spec's required secrets, of `--secret-env` variables, of every
/// variable (process or service environment) whose name looks secret, and URL passwords.
pub(super) fn redactor(plan: &Plan, environment: &BTreeMap<String, String>, secret_env: &[String]) -> Redactor {
    let mut names: Vec<String> = plan
        .acceptance
        .iter()
        .flat_map(|a| &a.preflight)
        .filter_map(|p| match &p.check {
            Check::EnvPresent { variable } => Some(variable.clone()),
            _ => None,
        })
        .collect();
    names.extend(secret_env.iter().cloned());
    let service_env: Vec<(String, String)> =
        plan.services.iter().flat_map(|s| s.env.iter().map(|v| (v.name.clone(), v.rendered.clone()))).collect();
    Redactor::from_env(&names, environment, &service_env)
}
