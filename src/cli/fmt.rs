//! `ospecc fmt`: rewrites OSpec specs and topology files in their canonical layout, or with
//! `--check` prints a unified diff of what would change and exits 1. The layout and its
//! safety checks are the compiler's (`ospecc_compiler::fmt`); this is discovery, the config,
//! reading and writing files, and output.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;
use ospecc_compiler::fmt::{self, Language, Options};
use ospecc_compiler::report::{self, FileResult};
use ospecc_compiler::syntax::text::decode;
use rayon::prelude::*;

use super::config;
use super::discover::{self, describe, PathError, Source, STDIN_NAME};
use super::{report_error, report_warning, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files and directories to format; `-` formats standard input to standard output
    /// [default: .]
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Change nothing: print a unified diff of every file that is not formatted, and exit 1
    /// if there is one.
    #[arg(long)]
    check: bool,
    /// Use this config file instead of the nearest ospecc.toml.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    config: Option<PathBuf>,
    /// Ignore any ospecc.toml.
    #[arg(long)]
    no_config: bool,
    /// The path standard input stands for (its language and display name).
    #[arg(long, value_name = "PATH")]
    stdin_filename: Option<PathBuf>,
}

/// What happened to one file, with what is left to write, made in parallel by
/// [`format_source`] so that the serial printing loop only writes.
struct Outcome {
    display: String,
    /// The file's text, for rendering its diagnostics (empty when there are none).
    text: String,
    changed: bool,
    /// What [`finish`] writes: with `--check`, the diff; else the formatted text (for standard
    /// input, the bytes as read when they do not change).
    output: Option<Vec<u8>>,
    diagnostics: Vec<ospecc_compiler::Diagnostic>,
    stdin: bool,
}

pub fn run(args: FmtArgs) -> u8 {
    match execute(&args) {
        Ok(code) => code,
        Err(message) => {
            report_error(&message);
            EXIT_USAGE
        }
    }
}

fn execute(args: &FmtArgs) -> Result<u8, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the working directory: {}", describe(&e)))?;
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let settings =
        config::resolve_fmt(discover::config_path(args.config.as_deref(), args.no_config, &paths, &cwd).as_deref())?;
    let (sources, mut errors) = discover::discover(&paths, &settings.excludes, &cwd);
    if sources.is_empty() && errors.is_empty() {
        report_warning("no OSpec or topology files found");
    }
    let outcomes: Vec<Result<Outcome, PathError>> =
        discover::dedup(sources).par_iter().map(|s| format_source(s, args, &settings.options, &cwd)).collect();
    let mut done = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(outcome) => done.push(outcome),
            Err(error) => errors.push(error),
        }
    }
    done.sort_by(|a, b| a.display.cmp(&b.display));
    let mut failed = false;
    let mut changed = 0;
    for outcome in &done {
        failed |= outcome.diagnostics.iter().any(|d| d.severity == ospecc_compiler::Severity::Error);
        changed += usize::from(outcome.changed);
        if let Err(error) = finish(outcome, args.check) {
            errors.push(error);
        }
    }
    let results: Vec<FileResult> = done
        .iter()
        .filter(|o| !o.diagnostics.is_empty())
        .map(|o| FileResult {
            path: o.display.clone(),
            text: o.text.as_str().into(),
            diagnostics: o.diagnostics.clone(),
        })
        .collect();
    if !results.is_empty() {
        let _ =
            std::io::Write::write_all(&mut std::io::stderr().lock(), report::human::render(&results, false).as_bytes());
    }
    for error in &errors {
        report_error(&format!("{}: {}", error.path, error.message));
    }
    summarize(args.check, changed, done.len());
    Ok(if !errors.is_empty() {
        EXIT_USAGE
    } else if failed || (args.check && changed > 0) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

fn summarize(check: bool, changed: usize, files: usize) {
    let verb = if check { "would be reformatted" } else { "reformatted" };
    let plural = |n: usize| if n == 1 { "file" } else { "files" };
    eprintln!("{changed} {} {verb}, {} already formatted", plural(changed), files - changed);
}

/// Reads and formats one source; nothing is written yet.
fn format_source(source: &Source, args: &FmtArgs, options: &Options, cwd: &Path) -> Result<Outcome, PathError> {
    let (bytes, display, language, stdin) = match source {
        Source::File { path, language } => (read_file(path)?, display_path(path, cwd), (*language).into(), false),
        Source::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| PathError { path: STDIN_NAME.into(), message: describe(&e) })?;
            let name = args.stdin_filename.as_deref();
            let language = name
                .and_then(Path::file_name)
                .and_then(|n| n.to_str())
                .and_then(discover::language_of)
                .unwrap_or(discover::Language::OSpec);
            let display = name.map_or_else(|| STDIN_NAME.to_string(), |p| display_path(p, cwd));
            (bytes, display, language.into(), true)
        }
    };
    if let Err(diagnostic) = decode(&bytes) {
        let text = ospecc_compiler::syntax::text::offset_preserving_prefix(&bytes, diagnostic.span.start);
        let output = (stdin && !args.check).then_some(bytes);
        return Ok(Outcome { display, text, changed: false, output, diagnostics: vec![diagnostic], stdin });
    }
    let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let result = fmt::format(language, &text, options);
    let formatted = result.text.filter(|t| *t != text);
    let changed = formatted.is_some();
    let output = match formatted {
        Some(formatted) if args.check => Some(fmt::unified_diff(&text, &formatted, &display).into_bytes()),
        Some(formatted) => Some(formatted.into_bytes()),
        None if stdin && !args.check => Some(text.as_bytes().to_vec()),
        None => None,
    };
    let text = if result.diagnostics.is_empty() { String::new() } else { text };
    Ok(Outcome { display, text, changed, output, diagnostics: result.diagnostics, stdin })
}

impl From<discover::Language> for Language {
    fn from(language: discover::Language) -> Language {
        match language {
            discover::Language::OSpec => Language::OSpec,
            discover::Language::Topology => Language::Topology,
        }
    }
}

/// Writes the file (or standard output), or prints the diff with `--check`.
fn finish(outcome: &Outcome, check: bool) -> Result<(), PathError> {
    let Some(output) = &outcome.output else { return Ok(()) };
    if check || outcome.stdin {
        let mut stdout = std::io::stdout().lock();
        let _ = std::io::Write::write_all(&mut stdout, output).and_then(|()| std::io::Write::flush(&mut stdout));
        return Ok(());
    }
    let path = Path::new(&outcome.display);
    std::fs::write(path, output).map_err(|e| PathError::new(path, &e))
}

/// Reads a regular file (a FIFO or a device could block forever).
fn read_file(path: &Path) -> Result<Vec<u8>, PathError> {
    let meta = std::fs::metadata(path).map_err(|e| PathError::new(path, &e))?;
    if !meta.is_file() {
        return Err(PathError { path: path.display().to_string(), message: "not a regular file".into() });
    }
    std::fs::read(path).map_err(|e| PathError::new(path, &e))
}

/// A path relative to the working directory when inside it, without a leading `./`.
fn display_path(path: &Path, cwd: &Path) -> String {
    let shown = if path.is_absolute() { path.strip_prefix(cwd).unwrap_or(path) } else { path };
    let text = shown.display().to_string();
    text.strip_prefix("./").map(str::to_string).unwrap_or(text)
}
