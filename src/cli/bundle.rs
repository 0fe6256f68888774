//! Run bundles from the command line: the flags `ospecc run` takes (`--bundle FILE`, and the
//! bundle a failed run leaves in `--bundle-dir`, `[run] bundle_dir` of `ospecc.toml` or
//! `.ospecc/bundles`), writing them, and reading one for `replay`, `inspect`, `diff` and
//! `report merge`.

use std::path::{Path, PathBuf};

use clap::Args;
use ospecc_runtime::bundle::{Bundle, Contents, RunSettings};
use ospecc_runtime::events::Event;
use ospecc_runtime::report::{Redactor, RunReport};
use ospecc_schema::plan::Plan;

use super::{report_error, EXIT_USAGE, VERSION};

/// Where failed runs leave their bundles when neither the flag nor `ospecc.toml` says.
const DEFAULT_DIR: &str = ".ospecc/bundles";
/// Failed-run bundles kept in that directory (the oldest go first).
const KEEP: usize = 20;
/// The bundle file extension.
pub const EXTENSION: &str = "ospecc-bundle";

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Write a bundle of this run here: plan and sources, seed and options, environment,
    /// results, traces and service logs, secrets redacted (`ospecc replay`, `inspect`, `diff`).
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// Where a failed run leaves its bundle (default: `[run] bundle_dir` of ospecc.toml, else
    /// .ospecc/bundles; the newest 20 are kept).
    #[arg(long, value_name = "DIR")]
    bundle_dir: Option<PathBuf>,
    /// Leave no bundle when the run fails.
    #[arg(long, conflicts_with = "bundle_dir")]
    no_bundle: bool,
}

/// A finished run, as a bundle needs it (report and events redacted).
pub struct Ran<'a> {
    pub plan: &'a Plan,
    pub report: &'a RunReport,
    pub events: &'a [Event],
    pub redactor: &'a Redactor,
    pub settings: RunSettings,
    /// Where the spec or plan is (for `ospecc.toml`).
    pub spec: &'a Path,
}

/// Writes the bundles a run asks for; returns the exit code, made 2 when a write failed.
pub fn after_run(args: &BundleArgs, ran: Ran, code: u8) -> u8 {
    let mut targets: Vec<PathBuf> = args.bundle.iter().cloned().collect();
    if ran.report.summary.failed_run() && !args.no_bundle && args.bundle.is_none() {
        match failure_dir(args, ran.spec) {
            Ok(dir) => targets.push(dir.join(file_name())),
            Err(why) => {
                report_error(&why);
                return EXIT_USAGE;
            }
        }
    }
    if targets.is_empty() {
        return code;
    }
    let bundle = Bundle::assemble(&Contents {
        tool_version: VERSION,
        run: ran.settings,
        plan: ran.plan,
        report: ran.report,
        events: ran.events,
        redactor: ran.redactor,
    });
    let mut code = code;
    for target in targets {
        let written = target.parent().filter(|d| !d.as_os_str().is_empty()).map_or(Ok(()), std::fs::create_dir_all);
        match written.and_then(|()| bundle.write(&target)) {
            Ok(()) => {
                eprintln!("bundle: {} (replay it with `ospecc replay {}`)", target.display(), target.display());
                if args.bundle.is_none() {
                    prune(target.parent().unwrap_or(Path::new(".")));
                }
            }
            Err(e) => {
                let why =
                    format!("cannot write the bundle {}: {}", target.display(), ospecc_compiler::vfs::describe_io(&e));
                if args.bundle.is_some() || args.bundle_dir.is_some() {
                    report_error(&why);
                    code = EXIT_USAGE;
                } else {
                    // Nobody asked for this one: the run's own outcome stands.
                    super::report_warning(&format!("{why} (choose a directory with --bundle-dir, or --no-bundle)"));
                }
            }
        }
    }
    code
}

/// The directory of failed-run bundles: the flag, else `ospecc.toml`, else the default.
fn failure_dir(args: &BundleArgs, spec: &Path) -> Result<PathBuf, String> {
    if let Some(dir) = &args.bundle_dir {
        return Ok(dir.clone());
    }
    let start = std::path::absolute(spec).unwrap_or_else(|_| spec.to_path_buf());
    if let Some(config) = super::config::find(&start) {
        if let Some(dir) = super::config::run_bundle_dir(&config)? {
            return Ok(dir);
        }
    }
    Ok(PathBuf::from(DEFAULT_DIR))
}

/// `run-<unix seconds>-<pid>.ospecc-bundle`: sorts by time, unique per process.
fn file_name() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    format!("run-{now}-{}.{EXTENSION}", std::process::id())
}

/// Keeps the newest [`KEEP`] bundles of a failure directory.
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut bundles: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == EXTENSION)
                && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("run-"))
        })
        .collect();
    bundles.sort();
    let excess = bundles.len().saturating_sub(KEEP);
    for old in &bundles[..excess] {
        let _ = std::fs::remove_file(old);
    }
}

/// Whether a file is a bundle (a gzip stream) rather than text.
pub fn is_bundle(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 2];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == [0x1f, 0x8b]
}

/// Writes `text` to `path` through a temporary file beside it (all or nothing).
pub fn write_whole(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let result = std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(|e| format!("cannot write {}: {}", path.display(), ospecc_compiler::vfs::describe_io(&e)))
}
