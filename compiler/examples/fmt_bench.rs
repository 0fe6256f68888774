//! The formatting work of `ospecc fmt --check`, without the rest of the binary: a release
//! build of the compiler crate alone is a fraction of the whole binary's, which a two-core
//! machine could not always afford (`bench/fmt/run.sh` takes either, through `OSPECC_BIN`).
//!
//! It takes the command line `bench/fmt/run.sh` gives the binary, `fmt --check [--no-config |
//! --config FILE] PATH...`, and does per file what `src/cli/fmt.rs` does: read, decode,
//! `fmt::format` (parse, lay out, and when the text changes re-parse and compare), and the
//! unified diff of a changed file; files in parallel (`RAYON_NUM_THREADS` threads, else one per
//! core), diffs printed in path order, exit 1 when a file would change. Discovery is simpler
//! than the CLI's (no ignore files or excludes): directories are walked for the names it picks.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use ospecc_compiler::fmt::{self, Language, Options};
use ospecc_compiler::syntax::text::decode;

/// The binary's allocator (`src/main.rs`): the formatter allocates many small nodes.
#[global_allocator]
static GLOBAL: ospecc_compiler::topology::eval_limits::Metered<mimalloc::MiMalloc> =
    ospecc_compiler::topology::eval_limits::Metered(mimalloc::MiMalloc);

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("fmt_bench: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<ExitCode, String> {
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some("fmt") {
        args.next();
    }
    let mut options = Options::default();
    let mut paths = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" | "--no-config" => {}
            "--config" => {
                let file = args.next().ok_or("--config needs a file")?;
                options = read_config(Path::new(&file))?;
            }
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}")),
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    let mut files = Vec::new();
    for path in &paths {
        collect(path, true, &mut files)?;
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|a, b| a.0 == b.0);
    let outcomes = format_all(&files, &options);
    let (mut changed, mut failed) = (0, 0);
    let mut stdout = std::io::stdout().lock();
    for outcome in outcomes {
        let (diff, errors) = outcome?;
        changed += usize::from(diff.is_some());
        failed += usize::from(errors);
        if let Some(diff) = diff {
            std::io::Write::write_all(&mut stdout, diff.as_bytes()).map_err(|e| e.to_string())?;
        }
    }
    eprintln!("{changed} files would be reformatted, {} already formatted", files.len() - changed);
    if failed > 0 {
        eprintln!("{failed} files have errors (left as written)");
    }
    Ok(if changed + failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The `[fmt]` integers and booleans of an `ospecc.toml` (the only keys the bench sets).
fn read_config(path: &Path) -> Result<Options, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut options = Options::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let (key, value) = (key.trim(), value.trim());
        let number = || value.parse::<usize>().map_err(|_| format!("{key}: not a number: {value}"));
        match key {
            "indent_width" => options.indent_width = number()?,
            "yaml_indent_width" => options.yaml_indent_width = number()?,
            "line_width" => options.line_width = number()?,
            "sort_loads" => options.sort_loads = value == "true",
            _ => return Err(format!("{}: unknown key {key}", path.display())),
        }
    }
    Ok(options)
}

/// The language of a file name (`named`: given on the command line, so any name is OSpec
/// unless it is a `.star` file), as the CLI's discovery picks them.
fn language(path: &Path, named: bool) -> Option<Language> {
    let name = path.file_name()?.to_str()?;
    if name.ends_with(".star") {
        return Some(Language::Topology);
    }
    let ospec = [".ospec.yml", ".ospec.yaml", ".ospec"].iter().any(|s| name.ends_with(s))
        || matches!(name, "outcome.yml" | "outcome.yaml");
    (ospec || named).then_some(Language::OSpec)
}

fn collect(path: &Path, named: bool, out: &mut Vec<(PathBuf, Language)>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
            collect(&entry.path(), false, out)?;
        }
    } else if let Some(language) = language(path, named) {
        out.push((path.to_path_buf(), language));
    }
    Ok(())
}

type Outcome = Result<(Option<String>, bool), String>;

/// Formats every file on a pool of threads; the outcomes in the files' order.
fn format_all(files: &[(PathBuf, Language)], options: &Options) -> Vec<Outcome> {
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(files.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, language)) = files.get(i) else { break };
                let outcome = format_file(path, *language, options);
                if let Ok(mut results) = results.lock() {
                    results[i] = Some(outcome);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    results.into_iter().map(|r| r.unwrap_or_else(|| Err("a formatting thread failed".into()))).collect()
}

/// What `ospecc fmt --check` computes for one file: its diff (if it changes) and whether it
/// has errors.
fn format_file(path: &Path, language: Language, options: &Options) -> Outcome {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = match decode(&bytes) {
        Ok(_) => String::from_utf8(bytes).map_err(|e| format!("{}: {e}", path.display()))?,
        Err(_) => return Ok((None, true)),
    };
    let result = fmt::format(language, &text, options);
    let errors = result.has_errors();
    let diff = result.text.filter(|t| *t != text).map(|t| fmt::unified_diff(&text, &t, &path.display().to_string()));
    Ok((diff, errors))
}
