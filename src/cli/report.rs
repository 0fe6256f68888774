//! `ospecc report merge FILES...`: the JSON reports (or bundles) of a plan's `--shard K/N` runs
//! combined into the report of the whole plan, with the same JUnit and HTML outputs `run`
//! writes. Inputs that are not the N shards of one plan are refused (exit 2) before anything
//! is written; otherwise the exit code is the merged run's (1 when a test failed).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ospecc_runtime::report::merge::{self, ShardInput};
use ospecc_runtime::report::{self, RunReport};
use ospecc_schema::plan::Plan;

use super::bundle;
use super::{report_error, write_stdout, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports (or bundles) of a plan's `--shard K/N` runs into one report.
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' JSON reports (`ospecc run --shard K/N --format json`) or bundles
    /// (`--bundle`; with bundles the HTML report has every test's timeline).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// What to print on stdout: a human summary, or the merged JSON report.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also write the merged JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write the merged HTML report here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(command: ReportCommand) -> u8 {
    match command {
        ReportCommand::Merge(args) => merge_command(&args),
    }
}

/// One input: a bundle (report, events, plan) or a JSON report.
fn read_input(path: &std::path::Path) -> Result<(ShardInput, Option<Plan>), String> {
    let label = path.display().to_string();
    if bundle::is_bundle(path) {
        let bundle = ospecc_runtime::bundle::Bundle::read(path)?;
        let report = bundle.report().map_err(|e| format!("{label}: {e}"))?;
        let events = bundle.events().map_err(|e| format!("{label}: {e}"))?;
        let plan = bundle.plan().ok();
        return Ok((ShardInput { label, report, events: Some(events) }, plan));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {label}: {}", ospecc_compiler::vfs::describe_io(&e)))?;
    let report = report::json::parse(&text).map_err(|e| format!("{label} is {e}"))?;
    Ok((ShardInput { label, report, events: None }, None))
}

fn merge_command(args: &MergeArgs) -> u8 {
    let mut inputs = Vec::new();
    let mut plan = None;
    for path in &args.files {
        match read_input(path) {
            Ok((input, found)) => {
                plan = plan.or(found);
                inputs.push(input);
            }
            Err(why) => {
                report_error(&why);
                return EXIT_USAGE;
            }
        }
    }
    let merged = match merge::merge(inputs) {
        Ok(merged) => merged,
        Err(why) => {
            report_error(&format!("cannot merge: {why}"));
            return EXIT_USAGE;
        }
    };
    let outputs = render_outputs(&merged.report, plan.as_ref(), &merged.events, args);
    // Every output is rendered before any is written, and each is written whole.
    for (path, text) in &outputs {
        if let Err(why) = bundle::write_whole(path, text) {
            report_error(&why);
            return EXIT_USAGE;
        }
    }
    write_stdout(&match args.format {
        Format::Human => report::human::summary(&merged.report),
        Format::Json => report::json::render(&merged.report),
    });
    if merged.report.summary.failed_run() {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

fn render_outputs(
    report: &RunReport,
    plan: Option<&Plan>,
    events: &[ospecc_runtime::events::Event],
    args: &MergeArgs,
) -> Vec<(PathBuf, String)> {
    let mut outputs = Vec::new();
    if let Some(path) = &args.junit {
        outputs.push((path.clone(), report::junit::render(report)));
    }
    if let Some(path) = &args.report {
        outputs.push((path.clone(), report::html::render(report, plan, events)));
    }
    outputs
}
