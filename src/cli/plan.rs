//! `ospecc plan` and `ospecc build`: lower one spec into the plan IR, then show it (text, JSON,
//! Graphviz) or write it to a file. Diagnostics go to stderr; a file with errors has no plan.
//! `--check-cost --max-instances N` lets CI gate on the plan's size. `--coverage` shows the
//! fault coverage instead (every dependency edge, the tests that fault it, the gaps),
//! `--suggest` the stubs that close the gaps, and `--min-coverage P` gates on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use ospecc_compiler::coverage::{self, suggest};
use ospecc_compiler::plan::{self, Built, PlanInput, PlanOptions};
use ospecc_compiler::report::{self, FileResult};
use ospecc_compiler::syntax::text::decode;
use ospecc_schema::plan::Plan;

use super::{report_error, write_stdout, ProfileArg, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// What shapes a plan, shared by `plan` and `build`.
#[derive(Debug, Args)]
pub struct LowerArgs {
    /// The spec: a topology file (`*.star`) or an OSpec file (`run` also takes a built `plan.json`).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Merge the overrides of this `environments` entry (OSpec).
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Merge the overrides of this `phases` entry (OSpec).
    #[arg(long, value_name = "NAME")]
    phase: Option<String>,
    /// Send every probe to this base URL (overrides every other source).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Let command probes run (otherwise they are skipped with a reason).
    #[arg(long)]
    pub(super) allow_shell: bool,
    /// OSpec schema profile.
    #[arg(long, value_enum, default_value_t = ProfileArg::Ext)]
    profile: ProfileArg,
    /// Treat the environment variable NAME as a secret (repeatable): never written into a
    /// plan, redacted from every output of `run`.
    #[arg(long, value_name = "NAME")]
    pub(super) secret_env: Vec<String>,
    /// Let the spec read PATH although it is outside the workspace (repeatable; symbolic links
    /// are followed before any path is compared).
    #[arg(long, value_name = "PATH")]
    allow_outside: Vec<PathBuf>,
}

impl LowerArgs {
    pub fn file(&self) -> &Path {
        &self.file
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    lower: LowerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when the plan has more than `--max-instances` instances.
    #[arg(long, requires = "max_instances")]
    check_cost: bool,
    /// The instance budget for `--check-cost`.
    #[arg(long, value_name = "N")]
    max_instances: Option<u64>,
    /// Show the fault coverage instead of the plan: every dependency edge (consumer → service
    /// interface), the tests that fault it, and the gaps.
    #[arg(long)]
    coverage: bool,
    /// Print fault_assumption stubs and the fault_matrix lines that cover the gaps (with
    /// --coverage, after the report).
    #[arg(long)]
    suggest: bool,
    /// Exit 1 when less than PERCENT of the dependency edges are faulted by a test.
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    min_coverage: Option<f64>,
}

fn percent(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a percentage from 0 to 100")),
    }
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    lower: LowerArgs,
    /// Where to write the plan (JSON).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Dot,
}

pub fn run_plan(args: PlanArgs) -> u8 {
    if (args.coverage || args.suggest) && args.format == Format::Dot {
        report_error("--coverage and --suggest print text or JSON, not Graphviz");
        return EXIT_USAGE;
    }
    let plan = match lower(&args.lower) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    if args.coverage || args.suggest || args.min_coverage.is_some() {
        return run_coverage(&args, &plan);
    }
    write_stdout(&match args.format {
        Format::Text => plan::render::text(&plan),
        Format::Json => to_json(&plan),
        Format::Dot => plan::render::dot(&plan),
    });
    match (args.check_cost, args.max_instances) {
        (true, Some(max)) if plan.totals.instances > max => {
            report_error(&format!("the plan has {} instances, more than --max-instances {max}", plan.totals.instances));
            EXIT_FINDINGS
        }
        _ => EXIT_OK,
    }
}

/// `--coverage`, `--suggest`, `--min-coverage`.
fn run_coverage(args: &PlanArgs, plan: &Plan) -> u8 {
    let coverage = coverage::coverage(plan);
    let suggestions = args.suggest.then(|| {
        let text =
            plan.sources.iter().find(|s| Some(&s.path) == plan.topology.as_ref()).map_or("", |s| s.text.as_str());
        suggest::suggest(&coverage, plan, text, None)
    });
    let shown = args.coverage || !args.suggest;
    let out = match args.format {
        Format::Json => {
            let mut value = serde_json::json!({ "coverage": coverage });
            if let Some(suggestions) = &suggestions {
                value["suggestions"] = serde_json::to_value(suggestions).unwrap_or_default();
            }
            let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
            text.push('\n');
            text
        }
        Format::Text | Format::Dot => {
            let report = if shown { coverage::render_text(&coverage) } else { String::new() };
            let stubs = suggestions.as_ref().map(suggest::render_text).unwrap_or_default();
            match (report.is_empty(), stubs.is_empty()) {
                (false, false) => format!("{report}\n{stubs}"),
                _ => report + &stubs,
            }
        }
    };
    write_stdout(&out);
    match args.min_coverage {
        Some(min) if coverage.percent < min => {
            report_error(&format!(
                "fault coverage is {} ({} of {} edges), below --min-coverage {}",
                coverage::percent_text(coverage.percent),
                coverage.covered,
                coverage.total,
                coverage::percent_text(min)
            ));
            EXIT_FINDINGS
        }
        _ => EXIT_OK,
    }
}

pub fn run_build(args: BuildArgs) -> u8 {
    let plan = match lower(&args.lower) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    match std::fs::write(&args.output, to_json(&plan)) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            report_error(&format!("cannot write {}: {}", args.output.display(), ospecc_compiler::vfs::describe_io(&e)));
            EXIT_USAGE
        }
    }
}

/// The plan as pretty JSON with a final newline (deterministic: the IR keeps every map ordered).
fn to_json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    text
}

/// Reads, checks and lowers the file; prints its diagnostics on stderr.
pub(super) fn lower(args: &LowerArgs) -> Result<Plan, u8> {
    let bytes = std::fs::read(&args.file).map_err(|e| {
        report_error(&format!("cannot read {}: {}", args.file.display(), ospecc_compiler::vfs::describe_io(&e)));
        EXIT_USAGE
    })?;
    let text = decode(&bytes).map_err(|why| {
        report_error(&format!("cannot read {}: {}", args.file.display(), why.message));
        EXIT_USAGE
    })?;
    // Canonical, so that `../specs/x.star` finds the root above the spec, not above the
    // working directory (`absolute` keeps `..` components, which `ancestors` walks textually).
    let absolute = std::fs::canonicalize(&args.file)
        .or_else(|_| std::path::absolute(&args.file))
        .unwrap_or_else(|_| args.file.clone());
    let root = super::check::workspace_root(&absolute);
    let settings =
        super::config::resolve(super::config::find(&absolute).as_deref(), Default::default()).map_err(|message| {
            report_error(&message);
            EXIT_USAGE
        })?;
    let mut allowed = settings.allow_outside;
    allowed.extend(args.allow_outside.iter().cloned());
    let options = PlanOptions {
        env: args.env.clone(),
        phase: args.phase.clone(),
        base_url: args.base_url.clone(),
        allow_shell: args.allow_shell,
        profile: args.profile.into(),
        limits: settings.limits,
        environment: std::env::vars().collect::<BTreeMap<_, _>>(),
        secret_env: args.secret_env.clone(),
    };
    let fs = super::check::confined_disk(&root, &allowed);
    let input = PlanInput { path: &absolute, text, fs: &fs, root: &root, options: &options };
    let built = plan::build(&input);
    print_diagnostics(&args.file, text, &built);
    built.plan.ok_or(EXIT_FINDINGS)
}

fn print_diagnostics(path: &Path, text: &str, built: &Built) {
    let mut files = vec![FileResult {
        path: path.display().to_string(),
        text: text.into(),
        diagnostics: built.diagnostics.clone(),
    }];
    files.extend(built.others.iter().map(|f| FileResult {
        path: f.path.display().to_string(),
        text: f.text.as_str().into(),
        diagnostics: f.diagnostics.clone(),
    }));
    files.retain(|f| !f.diagnostics.is_empty());
    if !files.is_empty() {
        let color = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
        let _ =
            std::io::Write::write_all(&mut std::io::stderr().lock(), report::human::render(&files, color).as_bytes());
    }
}
