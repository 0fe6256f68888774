//! `ospecc check`: discover and read files, check them in parallel through the analysis
//! database (`ospecc_compiler::db`, the queries the language server runs too), then render one
//! report. This module keeps only discovery, configuration, reading and output.
//!
//! Output is deterministic whatever the thread timing: results are sorted by display path and
//! each file's diagnostics come sorted from the analysis. Paths that cannot be read are reported
//! on stderr (naming the path) while every other file is still checked; they make the exit
//! code 2. Machine formats write only their document to stdout.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use clap::{Args, ValueEnum};
use ospecc_compiler::db::{Database, FileContent, Request};
use ospecc_compiler::ospec::CheckOptions;
use ospecc_compiler::report::{self, FileResult, Summary};
use ospecc_compiler::syntax::text::decode;
use ospecc_compiler::topology::{self, Limits};
use ospecc_compiler::vfs::{ConfinedFs, Confinement, RealFs};
use ospecc_compiler::Language as AnalysisLanguage;
use rayon::prelude::*;

use super::config::{self, Overrides};
use super::discover::{self, describe, Language, PathError, Source, STDIN_NAME};
use super::{report_error, report_warning, write_stdout, ProfileArg, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files and directories to check; `-` reads standard input [default: .]
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// When to colour human output (auto: when stdout is a terminal and NO_COLOR is unset).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// OSpec schema profile [default: ext, or the config's]
    #[arg(long, value_enum)]
    profile: Option<ProfileArg>,
    /// Treat warnings as errors.
    #[arg(long)]
    strict: bool,
    /// Report CODE as an error (repeatable).
    #[arg(long, value_name = "CODE")]
    deny: Vec<String>,
    /// Do not report CODE (repeatable).
    #[arg(long, value_name = "CODE")]
    allow: Vec<String>,
    /// Use this config file instead of the nearest ospecc.toml.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    config: Option<PathBuf>,
    /// Ignore any ospecc.toml.
    #[arg(long)]
    no_config: bool,
    /// The path standard input stands for (display name, and base for the files it references).
    #[arg(long, value_name = "PATH")]
    stdin_filename: Option<PathBuf>,
    /// Let specs read PATH although it is outside the workspace (repeatable; symbolic links
    /// are followed before any path is compared).
    #[arg(long, value_name = "PATH")]
    allow_outside: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
    Sarif,
    Junit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

pub fn run(args: CheckArgs) -> u8 {
    match execute(args) {
        Ok(code) => code,
        Err(message) => {
            report_error(&message);
            EXIT_USAGE
        }
    }
}

fn execute(args: CheckArgs) -> Result<u8, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the working directory: {}", describe(&e)))?;
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let settings = config::resolve(
        discover::config_path(args.config.as_deref(), args.no_config, &paths, &cwd).as_deref(),
        overrides(&args),
    )?;
    let (sources, mut errors) = discover::discover(&paths, &settings.excludes, &cwd);
    if sources.is_empty() && errors.is_empty() {
        report_warning(&format!("no OSpec files found in {}", shown_list(&paths)));
    }
    let stdin_name = args.stdin_filename.clone();
    let mut allowed = settings.allow_outside.clone();
    allowed.extend(args.allow_outside.iter().cloned());
    let scope = Scope { cwd: &cwd, allowed: &allowed, limits: settings.limits };
    let pool = analysis_pool();
    let read: Vec<Result<ReadFile, PathError>> = pool.install(|| {
        discover::dedup(sources).par_iter().map(|source| read_source(source, stdin_name.as_deref(), &cwd)).collect()
    });
    let mut files = Vec::with_capacity(read.len());
    for outcome in read {
        match outcome {
            Ok(file) => files.push(file),
            Err(error) => errors.push(error),
        }
    }
    // Each worker takes its own handle on the one database (a handle is not shared).
    let max_read = topology::MAX_READ_BYTES.max(scope.limits.max_file_bytes as u64);
    let db = std::sync::Mutex::new(Database::new(Arc::new(RealFs), max_read));
    let handle = || db.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    // Every file to check (standard input standing for the file it names) is an input before
    // any query runs, so none is read from disk instead; the workers make them, in parallel.
    pool.install(|| files.par_iter().for_each_init(handle, |db, file| db.provide(&file.path, file.content.to_input())));
    let mut results: Vec<FileResult> = pool.install(|| {
        files.into_par_iter().map_init(&handle, |db, file| check_read(db, file, &scope, &settings.options)).collect()
    });
    // The process ends after the report: freeing every memoised tree and model one by one
    // would only delay the exit (the operating system takes the memory back at once).
    std::mem::forget(db);
    results.sort_by(|a, b| a.path.cmp(&b.path));
    errors.sort_by(|a, b| a.path.cmp(&b.path));
    for error in &errors {
        report_error(&format!("{}: {}", error.path, error.message));
    }
    write_stdout(&render(args.format, args.color, &results));
    let summary = Summary::of(&results);
    Ok(exit_code(&summary, errors.len()))
}

/// The worker threads of a check: analysis threads (their stacks are as deep as the
/// analysis needs, so no file starts a thread of its own). Without such a pool (resource
/// limits), rayon's global pool, where each topology check gets its own analysis thread.
fn analysis_pool() -> rayon::ThreadPool {
    let built = rayon::ThreadPoolBuilder::new()
        .stack_size(topology::ANALYSIS_STACK_BYTES)
        .start_handler(|_| topology::mark_analysis_thread())
        .build();
    built.or_else(|_| rayon::ThreadPoolBuilder::new().build()).unwrap_or_else(|_| {
        // Not even a plain pool: one thread, the smallest rayon can make.
        match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
            Ok(pool) => pool,
            Err(error) => {
                report_error(&format!("cannot start worker threads: {error}"));
                std::process::exit(i32::from(EXIT_USAGE))
            }
        }
    })
}

/// `a`, `b`, `c` for a message.
fn shown_list(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", ")
}

fn overrides(args: &CheckArgs) -> Overrides {
    Overrides {
        profile: args.profile.map(Into::into),
        strict: args.strict,
        deny: args.deny.clone(),
        allow: args.allow.clone(),
    }
}

/// Where a check runs: the working directory, and the paths allowed outside the workspace.
struct Scope<'a> {
    cwd: &'a Path,
    allowed: &'a [PathBuf],
    /// The evaluation bounds (`[limits]` of `ospecc.toml`).
    limits: Limits,
}

/// One file as read: its bytes, the absolute path the analysis knows it by, its display name.
struct ReadFile {
    /// Shared with the database's input and the report (one copy of each file).
    content: Content,
    path: PathBuf,
    /// The path as given (OSpec findings name the spec's directory by it).
    written: PathBuf,
    display: String,
    language: Language,
}

fn read_source(source: &Source, stdin_name: Option<&Path>, cwd: &Path) -> Result<ReadFile, PathError> {
    let (bytes, path, display, language) = match source {
        Source::File { path, language } => (read_file(path)?, path.clone(), display_path(path, cwd), *language),
        Source::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| PathError { path: STDIN_NAME.into(), message: describe(&e) })?;
            let path = stdin_name.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(STDIN_NAME));
            let display = stdin_name.map(|p| display_path(p, cwd)).unwrap_or_else(|| STDIN_NAME.into());
            let language = stdin_name
                .and_then(Path::file_name)
                .and_then(|n| n.to_str())
                .and_then(discover::language_of)
                .unwrap_or(Language::OSpec);
            (bytes, path, display, language)
        }
    };
    // `load()` targets and references resolve and are confined against absolute paths.
    let absolute = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
    Ok(ReadFile { content: Content::of(bytes), path: absolute, written: path, display, language })
}

/// Reads a regular file. Anything else (a FIFO, a device) is refused rather than read, since
/// reading it could block forever or never end.
fn read_file(path: &Path) -> Result<Vec<u8>, PathError> {
    let meta = std::fs::metadata(path).map_err(|e| PathError::new(path, &e))?;
    if !meta.is_file() {
        return Err(PathError { path: path.display().to_string(), message: "not a regular file".into() });
    }
    std::fs::read(path).map_err(|e| PathError::new(path, &e))
}

/// Checks one file through the database; the result carries its text for the report.
fn check_read(db: &Database, file: ReadFile, scope: &Scope, options: &CheckOptions) -> FileResult {
    let root = workspace_root(&file.path);
    let confinement =
        Confinement::new(std::iter::once(root.as_path()).chain(scope.allowed.iter().map(PathBuf::as_path)));
    let language = match file.language {
        Language::OSpec => AnalysisLanguage::OSpec,
        Language::Topology => AnalysisLanguage::Topology,
    };
    let request = Request {
        path: file.path,
        written: file.written,
        language,
        root,
        options: options.clone(),
        limits: scope.limits,
        confinement: Some(confinement),
    };
    let mut diagnostics = db.check(&request);
    if language == AnalysisLanguage::OSpec {
        // Labels in a topology name it as the working directory shows it, so the human report
        // can show its snippet when it is checked too.
        for label in diagnostics.iter_mut().flat_map(|d| d.labels.iter_mut()) {
            if let Some(name) = label.file.as_mut().filter(|f| Path::new(f.as_str()).is_absolute()) {
                *name = display_path(Path::new(name.as_str()), scope.cwd);
            }
        }
    }
    FileResult { path: file.display, text: file.content.report_text(), diagnostics }
}

/// A file's content as read: UTF-8 text, or other bytes (which the analysis reports).
enum Content {
    Text(Arc<str>),
    Bytes(Arc<[u8]>),
}

impl Content {
    /// The database input sharing this content.
    fn to_input(&self) -> FileContent {
        match self {
            Content::Text(text) => FileContent::Text(Arc::clone(text)),
            Content::Bytes(bytes) => FileContent::Bytes(Arc::clone(bytes)),
        }
    }

    fn of(bytes: Vec<u8>) -> Content {
        match String::from_utf8(bytes) {
            Ok(text) => Content::Text(Arc::from(text)),
            Err(error) => Content::Bytes(Arc::from(error.into_bytes())),
        }
    }

    /// The text a report shows: the file's, or for undecodable bytes what decodes, so the
    /// snippet still points somewhere useful.
    fn report_text(&self) -> Arc<str> {
        let bytes = match self {
            Content::Text(text) => text.as_bytes(),
            Content::Bytes(bytes) => bytes,
        };
        match (self, decode(bytes)) {
            (Content::Text(text), Ok(_)) => Arc::clone(text),
            (_, Ok(text)) => Arc::from(text),
            (_, Err(diagnostic)) => {
                Arc::from(ospecc_compiler::syntax::text::offset_preserving_prefix(bytes, diagnostic.span.start))
            }
        }
    }
}

/// The workspace a topology file's `load()`s may reach: the nearest enclosing directory with
/// an `ospecc.toml` or a `.git`, else the file's own directory.
pub(super) fn workspace_root(absolute: &Path) -> PathBuf {
    let dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    dir.ancestors()
        .find(|a| a.join("ospecc.toml").is_file() || a.join(".git").exists())
        .map(Path::to_path_buf)
        .unwrap_or(dir)
}

/// The disk as a spec may read it: the workspace root and the paths allowed outside it, each
/// compared after every symbolic link is resolved.
pub(super) fn confined_disk(root: &Path, allowed: &[PathBuf]) -> ConfinedFs {
    ConfinedFs::new(Confinement::new(std::iter::once(root).chain(allowed.iter().map(PathBuf::as_path))))
}

/// A path as the user should read it: relative to the working directory when it is inside it,
/// without a leading `./`.
fn display_path(path: &Path, cwd: &Path) -> String {
    let shown = if path.is_absolute() { path.strip_prefix(cwd).unwrap_or(path) } else { path };
    let text = shown.display().to_string();
    text.strip_prefix("./").map(str::to_string).unwrap_or(text)
}

fn render(format: Format, color: ColorChoice, results: &[FileResult]) -> String {
    match format {
        Format::Human => report::human::render(results, use_color(color)),
        Format::Json => report::json::render(results),
        Format::Sarif => report::sarif::render(results),
        Format::Junit => report::junit::render(results),
    }
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// 2 when a path could not be checked, else 1 when any error remains after policy, else 0.
fn exit_code(summary: &Summary, path_errors: usize) -> u8 {
    if path_errors > 0 {
        EXIT_USAGE
    } else if summary.errors > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_paths_are_relative_without_dot_slash() {
        let cwd = Path::new("/repo");
        assert_eq!(display_path(Path::new("./a/b.ospec.yml"), cwd), "a/b.ospec.yml");
        assert_eq!(display_path(Path::new("/repo/a.ospec"), cwd), "a.ospec");
        assert_eq!(display_path(Path::new("/other/a.ospec"), cwd), "/other/a.ospec");
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let clean = Summary { files: 1, errors: 0, warnings: 3 };
        assert_eq!(exit_code(&clean, 0), EXIT_OK);
        assert_eq!(exit_code(&Summary { errors: 1, ..clean }, 0), EXIT_FINDINGS);
        assert_eq!(exit_code(&Summary { errors: 1, ..clean }, 1), EXIT_USAGE);
    }
}
