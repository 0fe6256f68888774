//! `ospecc check`: discover, read and check files in parallel, then render one report.
//!
//! Output is deterministic whatever the thread timing: results are sorted by display path and
//! each file's diagnostics come sorted from the analysis. Paths that cannot be read are reported
//! on stderr (naming the path) while every other file is still checked; they make the exit
//! code 2. Machine formats write only their document to stdout.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use ospecc_compiler::crossfile::{self, CrossInput};
use ospecc_compiler::diagnostics::Diagnostic;
use ospecc_compiler::ospec::{self, CheckInput, CheckOptions};
use ospecc_compiler::report::{self, FileResult, Summary};
use ospecc_compiler::syntax::text::decode;
use ospecc_compiler::topology::{self, Limits, TopologyInput};
use ospecc_compiler::vfs::{ConfinedFs, Confinement};
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
    let checked: Vec<Result<FileResult, PathError>> = discover::dedup(sources)
        .par_iter()
        .map(|source| check_source(source, stdin_name.as_deref(), &scope, &settings.options))
        .collect();
    let mut results = Vec::with_capacity(checked.len());
    for outcome in checked {
        match outcome {
            Ok(result) => results.push(result),
            Err(error) => errors.push(error),
        }
    }
    results.sort_by(|a, b| a.path.cmp(&b.path));
    errors.sort_by(|a, b| a.path.cmp(&b.path));
    for error in &errors {
        report_error(&format!("{}: {}", error.path, error.message));
    }
    write_stdout(&render(args.format, args.color, &results));
    let summary = Summary::of(&results);
    Ok(exit_code(&summary, errors.len()))
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

fn check_source(
    source: &Source,
    stdin_name: Option<&Path>,
    scope: &Scope,
    options: &CheckOptions,
) -> Result<FileResult, PathError> {
    let cwd = scope.cwd;
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
    Ok(check_bytes(bytes, (&path, display), language, scope, options))
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

/// Checks one file's bytes; `file` is its path and its display name.
fn check_bytes(
    bytes: Vec<u8>,
    (path, display): (&Path, String),
    language: Language,
    scope: &Scope,
    options: &CheckOptions,
) -> FileResult {
    if let Err(diagnostic) = decode(&bytes) {
        // Undecodable bytes: show what decodes, so the snippet still points somewhere useful.
        let text = ospecc_compiler::syntax::text::offset_preserving_prefix(&bytes, diagnostic.span.start);
        let diagnostics = options.policy.apply(vec![diagnostic]);
        return FileResult { path: display, text, diagnostics };
    }
    // `decode` accepted the bytes, so this cannot fail; it avoids copying a large file's text.
    let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let diagnostics = match language {
        Language::OSpec => {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            let fs = confined_disk(&workspace_root(&absolute), scope.allowed);
            let own = ospec::check(&CheckInput { path, text: &text, fs: &fs, options });
            crossfile::merge(own, options.policy.apply(cross_file(path, &text, scope, options)))
        }
        Language::Topology => {
            // `load()` targets are resolved and confined against absolute paths, so a relative
            // file path and an absolute workspace root compare correctly.
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            let root = workspace_root(&absolute);
            let fs = confined_disk(&root, scope.allowed);
            let input = TopologyInput { path: &absolute, text: &text, fs: &fs, root: &root, limits: scope.limits };
            options.policy.apply(topology::check(&input))
        }
    };
    FileResult { path: display, text, diagnostics }
}

/// The cross-file diagnostics of a spec that names a topology file (`ext` profile only: in
/// `core`, `topology:` is an unknown key). Labels in the topology name it as the working
/// directory shows it, so the human report can show its snippet when it is checked too.
fn cross_file(path: &Path, text: &str, scope: &Scope, options: &CheckOptions) -> Vec<Diagnostic> {
    if options.profile != ospecc_compiler::Profile::Ext {
        return Vec::new();
    }
    let cwd = scope.cwd;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let root = workspace_root(&absolute);
    let fs = confined_disk(&root, scope.allowed);
    let input = CrossInput { path: &absolute, text, fs: &fs, root: &root, limits: scope.limits };
    let mut diagnostics = crossfile::check(&input);
    for label in diagnostics.iter_mut().flat_map(|d| d.labels.iter_mut()) {
        if let Some(file) = label.file.as_mut().filter(|f| Path::new(f.as_str()).is_absolute()) {
            *file = display_path(Path::new(file.as_str()), cwd);
        }
    }
    diagnostics
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
