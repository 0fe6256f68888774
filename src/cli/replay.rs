//! `ospecc replay BUNDLE [--test NAME]`: runs the tests a bundle recorded again, with the
//! bundle's plan (its sources verified as `run plan.json` verifies them), seed and options, so
//! every fault decision is drawn the same, and says for each result whether its outcome
//! reproduced. Exit codes: 0 every outcome reproduced, 1 one did not, 2 the bundle is not one
//! (truncated, foreign, untrusted) or nothing matches `--test`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use ospecc_runtime::report::model::PlanIdentity;
use ospecc_runtime::report::{self, ItemKind, ItemResult, RunReport};
use ospecc_runtime::run::{self, RunOptions};

use super::{bundle, report_error, write_stdout, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The bundle (`ospecc run --bundle FILE`, or one a failed run left in .ospecc/bundles).
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
    /// Replay only the results with this name, or whose name matches this glob; repeatable
    /// (default: every test the bundle recorded).
    #[arg(long = "test", value_name = "NAME")]
    tests: Vec<String>,
    /// The directory the plan's relative paths resolve in (default: the recorded one when it
    /// exists, else the bundle's directory).
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Also write the replay's HTML report here (the page `run` writes).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Also write the replay's JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

pub fn run(args: ReplayArgs) -> u8 {
    match replay(&args) {
        Ok(code) => code,
        Err(why) => {
            report_error(&why);
            EXIT_USAGE
        }
    }
}

fn replay(args: &ReplayArgs) -> Result<u8, String> {
    let bundle = ospecc_runtime::bundle::Bundle::read(&args.bundle)?;
    let mut plan = bundle.plan()?;
    let recorded = bundle.report()?;
    let environment: BTreeMap<String, String> = std::env::vars().collect();
    let problems = ospecc_compiler::plan::verify::verify(&plan, &environment);
    if !problems.is_empty() {
        return Err(format!(
            "the plan in {} cannot be trusted, so nothing of it runs:\n  - {}",
            args.bundle.display(),
            problems.join("\n  - ")
        ));
    }
    let chosen = choose(&recorded.results, &args.tests)?;
    let identity = PlanIdentity::of(&plan);
    let keep: BTreeSet<usize> = chosen.iter().filter_map(|r| identity.test_of(&r.name)).collect();
    let mut index = 0;
    plan.tests.retain(|_| {
        index += 1;
        keep.contains(&(index - 1))
    });
    plan.acceptance = None;
    let settings = &bundle.manifest.run;
    let workdir = workdir(args, &settings.workdir);
    let redactor = super::run::redactor(&plan, &environment, &[]);
    let options = RunOptions {
        workdir,
        grace: Duration::from_secs(settings.grace_seconds),
        shard: None,
        environment,
        allow_shell: settings.allow_shell,
        seed: settings.seed,
        max_instances: settings.max_instances.max(1),
        runs: settings.runs.max(1),
        engine: settings.container_engine.clone(),
        container_shim: true,
        // One lifecycle at a time: a replay reproduces a few recorded tests exactly.
        jobs: 1,
        strict_determinism: settings.strict_determinism,
        on_result: Box::new(|_| {}),
    };
    eprintln!("replaying {} result(s) of {} with seed {} ...", chosen.len(), args.bundle.display(), settings.seed);
    let finished = run::execute(&plan, &options);
    drop(options);
    let report = finished.report.redacted(&redactor);
    let events = report::redact_events(&finished.events, &redactor);
    let (text, all_reproduced) = verdicts(&chosen, &report);
    let skipped_probes = recorded.results.iter().filter(|r| r.kind != ItemKind::Test).count();
    let mut outputs = Vec::new();
    if let Some(path) = &args.report {
        outputs.push((path.clone(), report::html::render(&report, Some(&plan), &events)));
    }
    if let Some(path) = &args.junit {
        outputs.push((path.clone(), report::junit::render(&report)));
    }
    for (path, page) in &outputs {
        bundle::write_whole(path, page)?;
    }
    write_stdout(&text);
    if skipped_probes > 0 && args.tests.is_empty() {
        eprintln!("note: {skipped_probes} acceptance probe result(s) are not replayed (replay runs tests)");
    }
    Ok(if all_reproduced { EXIT_OK } else { EXIT_FINDINGS })
}

/// The recorded test results to replay: all, or those `--test` names (exactly or by glob).
fn choose<'a>(results: &'a [ItemResult], wanted: &[String]) -> Result<Vec<&'a ItemResult>, String> {
    let tests: Vec<&ItemResult> = results.iter().filter(|r| r.kind == ItemKind::Test).collect();
    if wanted.is_empty() {
        if tests.is_empty() {
            return Err("the bundle recorded no test to replay".to_owned());
        }
        return Ok(tests);
    }
    let mut matchers = Vec::new();
    for pattern in wanted {
        let glob = globset::Glob::new(pattern).map_err(|e| format!("--test {pattern}: not a name or glob: {e}"))?;
        let matcher = glob.compile_matcher();
        if !tests.iter().any(|t| t.name == *pattern || matcher.is_match(&t.name)) {
            let names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
            return Err(format!("--test {pattern}: the bundle recorded no such test; it has: {}", names.join(", ")));
        }
        matchers.push((pattern, matcher));
    }
    Ok(tests.into_iter().filter(|t| matchers.iter().any(|(p, m)| t.name == **p || m.is_match(&t.name))).collect())
}

fn workdir(args: &ReplayArgs, recorded: &str) -> PathBuf {
    if let Some(dir) = &args.workdir {
        return dir.clone();
    }
    let recorded = Path::new(recorded);
    if !recorded.as_os_str().is_empty() && recorded.is_dir() {
        return recorded.to_path_buf();
    }
    std::path::absolute(&args.bundle).ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default()
}

/// One line per replayed result (`reproduced` or `NOT REPRODUCED`), then the count.
fn verdicts(chosen: &[&ItemResult], now: &RunReport) -> (String, bool) {
    let mut text = String::new();
    let mut reproduced = 0;
    for before in chosen {
        let after = now.results.iter().find(|r| r.name == before.name);
        match after {
            Some(after) if after.outcome == before.outcome => {
                reproduced += 1;
                text.push_str(&format!("reproduced      {:<8} {}\n", before.outcome.name(), before.name));
            }
            Some(after) => text.push_str(&format!(
                "NOT REPRODUCED  {}: recorded {}, replay {}{}\n",
                before.name,
                before.outcome.name(),
                after.outcome.name(),
                after.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
            )),
            None => text.push_str(&format!(
                "NOT REPRODUCED  {}: recorded {}, the replay has no such result\n",
                before.name,
                before.outcome.name()
            )),
        }
    }
    text.push_str(&format!("{reproduced} of {} reproduced\n", chosen.len()));
    (text, reproduced == chosen.len())
}
