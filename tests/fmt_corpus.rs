//! `ospecc fmt` over every spec, fixture and corpus file of the repository and `../shared`
//! (the YAML test suite, Faultbox's corpus): every result is idempotent, keeps its meaning
//! (the formatter's own check, run again here), and `ospecc check` reports the same
//! diagnostics before and after (positions aside). The counts are printed for the record.

use std::path::{Path, PathBuf};

use ospecc_compiler::db::{check_file, FileInput};
use ospecc_compiler::fmt::{self, Language, Options};
use ospecc_compiler::ospec::CheckOptions;
use ospecc_compiler::vfs::RealFs;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn language(path: &Path) -> Option<Language> {
    let name = path.file_name()?.to_str()?;
    if name.ends_with(".star") {
        Some(Language::Topology)
    } else if name.ends_with(".yml") || name.ends_with(".yaml") || name.ends_with(".ospec") {
        Some(Language::OSpec)
    } else {
        None
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() && !matches!(name, "target" | ".git" | "node_modules") {
            walk(&path, out);
        } else if language(&path).is_some() {
            out.push(path);
        }
    }
}

/// Diagnostics as (code, severity, message without digits): positions and line numbers aside.
fn findings(path: &Path, text: &str, language: Language) -> Vec<String> {
    let options = CheckOptions::default();
    let root = path.parent().unwrap_or(Path::new("/"));
    let input = FileInput { path, text, language, fs: std::sync::Arc::new(RealFs), root, options: &options };
    let mut out: Vec<String> = check_file(&input)
        .iter()
        .map(|d| {
            let message: String = d.message.chars().filter(|c| !c.is_ascii_digit()).collect();
            format!("{} {:?} {message}", d.code, d.severity)
        })
        .collect();
    out.sort();
    out
}

#[derive(Default, Debug)]
struct Counts {
    files: usize,
    changed: usize,
    left_as_written: usize,
    syntax_errors: usize,
}

fn run(files: &[PathBuf], check_diagnostics: bool) -> Counts {
    let options = Options::default();
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        let Some(language) = language(path) else { continue };
        counts.files += 1;
        let result = fmt::format(language, &text, &options);
        let Some(formatted) = result.text else {
            if result.diagnostics.iter().any(|d| d.code == "FMT002") {
                failures.push(format!("{}: check failed: {:?}", path.display(), result.diagnostics[0].notes));
            } else if result.diagnostics.iter().any(|d| d.code == "FMT001") {
                counts.left_as_written += 1;
            } else {
                counts.syntax_errors += 1;
                assert!(result.has_errors(), "{}: left untouched without an error", path.display());
            }
            continue;
        };
        counts.changed += usize::from(formatted != text);
        let again = fmt::format(language, &formatted, &options);
        if again.text.as_deref() != Some(formatted.as_str()) {
            failures.push(format!("{}: not idempotent", path.display()));
        }
        if check_diagnostics
            && formatted != text
            && findings(path, &text, language) != findings(path, &formatted, language)
        {
            failures.push(format!("{}: `ospecc check` reports differently after formatting", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    counts
}

#[test]
fn repository_files_format_idempotently_and_keep_their_diagnostics() {
    let mut files = Vec::new();
    for dir in ["examples", "docs", "tests", "schema", "fuzz", "bench"] {
        walk(&root().join(dir), &mut files);
    }
    let counts = run(&files, true);
    eprintln!("repository: {counts:?}");
    assert!(counts.files > 300, "{counts:?}");
}

#[test]
fn shared_corpora_format_idempotently() {
    // `../shared` beside the checkout; OSPECC_SHARED names it elsewhere (a git worktree).
    let shared = std::env::var_os("OSPECC_SHARED").map_or_else(|| root().join("../shared"), PathBuf::from).join("data");
    if !shared.is_dir() {
        eprintln!("SKIP: {} is absent", shared.display());
        return;
    }
    let mut stars = Vec::new();
    walk(&shared.join("faultbox-corpus"), &mut stars);
    let counts = run(&stars, true);
    eprintln!("faultbox corpus: {counts:?}");
    assert!(counts.files >= 15 && counts.left_as_written == 0 && counts.syntax_errors == 0, "{counts:?}");
    let mut yaml = Vec::new();
    walk(&shared.join("yaml-test-suite"), &mut yaml);
    let counts = run(&yaml, false);
    eprintln!("yaml test suite: {counts:?}");
    assert!(counts.files > 300, "{counts:?}");
}
