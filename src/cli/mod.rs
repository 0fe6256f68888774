//! The commands of `ospecc` and what they share: argument definitions, exit codes, writing
//! to stdout/stderr without panicking on a closed pipe, and code-name validation.

mod bundle;
mod check;
mod completions;
mod config;
mod diff;
mod discover;
mod explain;
mod fmt;
mod init;
mod inspect;
mod lsp;
mod man;
mod plan;
mod replay;
mod report;
mod run;
mod schema_export;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ospecc_compiler::diagnostics::codes::{lookup, CODES};
use ospecc_compiler::suggest::did_you_mean;
use ospecc_schema::Profile;

/// No findings (warnings allowed).
pub const EXIT_OK: u8 = 0;
/// Findings: an error after policy.
pub const EXIT_FINDINGS: u8 = 1;
/// A usage or IO error: bad flag, unreadable or missing path, bad config.
pub const EXIT_USAGE: u8 = 2;

/// The crate version and the commit it was built from (`0.1.0 (1a2b3c4)`; `unknown` outside a
/// git checkout), set by build.rs.
const VERSION: &str = env!("OSPECC_VERSION");

/// ospecc: a compiler toolchain for OSpec outcome specifications.
#[derive(Debug, Parser)]
#[command(name = "ospecc", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check OSpec files and directories and report every problem.
    Check(check::CheckArgs),
    /// Print the long explanation of a diagnostic code.
    Explain(explain::ExplainArgs),
    /// Format OSpec specs and topology files in place (`--check`: show a diff, change nothing).
    Fmt(fmt::FmtArgs),
    /// Write a starter spec from a Compose file or from one executable.
    Init(init::InitArgs),
    /// Lower a spec into its plan and show it: services, tests, matrix cells, probes, totals.
    Plan(plan::PlanArgs),
    /// Lower a spec into its plan and write it as JSON (what `ospecc run` executes).
    Build(plan::BuildArgs),
    /// Run a spec or a built plan: start its services, run its tests and probes, report.
    Run(Box<run::RunArgs>),
    /// Work with run reports: merge the reports of a plan's shards.
    Report {
        #[command(subcommand)]
        command: report::ReportCommand,
    },
    /// Run a bundle's tests again with its plan, seed and decisions; say whether each outcome
    /// reproduced.
    Replay(replay::ReplayArgs),
    /// List a bundle's parts, print one, or extract them.
    Inspect(inspect::InspectArgs),
    /// Compare two runs (bundles, JSON reports or normalized traces) test by test.
    Diff(diff::DiffArgs),
    /// Work with the embedded JSON Schemas.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Serve the language server over stdin/stdout (for editors).
    Lsp(lsp::LspArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
    /// Print the manual page as roff, or write one page per command with `--out DIR`.
    Man(man::ManArgs),
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Write an OSpec JSON Schema (for yaml-language-server and other editors).
    Export(schema_export::ExportArgs),
}

/// `--profile core|ext`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProfileArg {
    /// Exactly the published OSpec v1.0 rules.
    Core,
    /// Core plus typed extensions (the default).
    Ext,
}

impl From<ProfileArg> for Profile {
    fn from(arg: ProfileArg) -> Profile {
        match arg {
            ProfileArg::Core => Profile::Core,
            ProfileArg::Ext => Profile::Ext,
        }
    }
}

/// Runs one parsed command line and says how the process should exit.
pub fn run(cli: Cli) -> ExitCode {
    ospecc_compiler::topology::eval_limits::quiet_caught_panics();
    let code = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Explain(args) => explain::run(&args),
        Command::Fmt(args) => fmt::run(args),
        Command::Init(args) => init::run(&args),
        Command::Plan(args) => plan::run_plan(args),
        Command::Build(args) => plan::run_build(args),
        Command::Run(args) => run::run(*args),
        Command::Report { command } => report::run(command),
        Command::Replay(args) => replay::run(args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Schema { command: SchemaCommand::Export(args) } => schema_export::run(&args),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
        Command::Lsp(args) => lsp::run(&args),
    };
    ExitCode::from(code)
}

/// Writes to stdout; a reader that went away (`ospecc check | head`) is not an error.
pub fn write_stdout(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Prints `error: message` on stderr.
pub fn report_error(message: &str) {
    let _ = writeln!(io::stderr().lock(), "error: {message}");
}

/// Prints `warning: message` on stderr.
pub fn report_warning(message: &str) {
    let _ = writeln!(io::stderr().lock(), "warning: {message}");
}

/// The registry's spelling of a documented code, or a usage error with a did-you-mean.
pub fn known_code(code: &str) -> Result<&'static str, String> {
    if let Some(doc) = lookup(code) {
        return Ok(doc.code);
    }
    let upper = code.to_ascii_uppercase();
    let hint = match did_you_mean(&upper, CODES.iter().map(|c| c.code)) {
        Some(close) => format!("did you mean `{close}`? "),
        None => String::new(),
    };
    Err(format!("unknown diagnostic code `{code}` ({hint}`ospecc explain --list` lists every code)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn known_codes_are_normalised_and_unknown_ones_get_a_suggestion() {
        assert_eq!(known_code("osp001"), Ok("OSP001"));
        let err = known_code("OSP01").unwrap_err();
        assert!(err.contains("did you mean `OSP00"), "{err}");
        assert!(known_code("nonsense-code").unwrap_err().contains("ospecc explain --list"));
    }

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
