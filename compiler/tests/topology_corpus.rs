//! The topology corpus under `tests/topology/`:
//!
//! - `positive/*.star` check without errors or warnings (a `# allow: CODE` line permits a
//!   code), and together they call every builtin and every step method of the catalog;
//! - `negative/**/*.star` each declare what they must produce, one `# expect: CODE L:C` line
//!   per diagnostic (1-based line and column of the span's start). The errors and warnings the
//!   file produces must be exactly those; notes may be listed too, and are then required.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ospecc_compiler::topology::{self, Limits, TopologyInput};
use ospecc_compiler::vfs::RealFs;
use ospecc_compiler::{Diagnostic, LineIndex, Severity};
use ospecc_schema::topology::catalog;

fn corpus(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/topology").join(sub)
}

fn star_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            star_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "star") {
            out.push(path);
        }
    }
    out.sort();
}

fn check(path: &Path) -> (String, Vec<Diagnostic>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/topology");
    let input = TopologyInput { path, text: &text, fs: &RealFs, root: &root, limits: Limits::default() };
    let diagnostics = topology::check(&input);
    (text, diagnostics)
}

/// Values of `# key: value` comment lines.
fn directives<'t>(text: &'t str, key: &str) -> Vec<&'t str> {
    let prefix = format!("# {key}:");
    text.lines().filter_map(|l| l.trim().strip_prefix(prefix.as_str())).map(str::trim).collect()
}

fn render(text: &str, d: &Diagnostic) -> String {
    let at = LineIndex::new(text).line_col(text, d.span.start);
    format!("{} {}:{}", d.code, at.line, at.column)
}

#[test]
fn positive_specs_check_clean() {
    let mut files = Vec::new();
    star_files(&corpus("positive"), &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let (text, diagnostics) = check(file);
        let allowed = directives(&text, "allow");
        for d in diagnostics.iter().filter(|d| d.severity != Severity::Note) {
            if !allowed.contains(&d.code) {
                problems.push(format!("{}: {} ({})", file.display(), render(&text, d), d.message));
            }
        }
    }
    assert!(problems.is_empty(), "positive specs with findings:\n{}", problems.join("\n"));
    assert!(files.len() >= 30, "the positive corpus has {} specs; at least 30 are wanted", files.len());
}

#[test]
fn positive_specs_cover_every_builtin_and_step_method() {
    let mut files = Vec::new();
    star_files(&corpus("positive"), &mut files);
    let text: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap_or_default()).collect();
    let called = |name: &str| {
        let needle = format!("{name}(");
        text.match_indices(&needle).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    let mut missing: Vec<String> = catalog()
        .builtins
        .iter()
        .filter(|b| b.removed.is_none())
        .filter(|b| !called(&b.name))
        .map(|b| b.name.clone())
        .collect();
    for protocol in &catalog().protocols {
        for method in &protocol.methods {
            // `del` is a Starlark keyword: `getattr(iface, "del")(...)` is the only way to call it.
            let dotted = format!(".{}(", method.name);
            let by_getattr = format!(", \"{}\")(", method.name);
            if !text.contains(&dotted) && !text.contains(&by_getattr) {
                missing.push(format!("{}.{}", protocol.name, method.name));
            }
        }
    }
    assert!(missing.is_empty(), "not called by any positive spec: {}", missing.join(", "));
}

#[test]
fn negative_specs_produce_exactly_their_expected_diagnostics() {
    let mut files = Vec::new();
    star_files(&corpus("negative"), &mut files);
    // `OSPECC_CORPUS=faults` narrows the run to files whose path contains `faults`.
    let only = std::env::var("OSPECC_CORPUS").unwrap_or_default();
    files.retain(|f| f.display().to_string().contains(&only));
    let mut problems = Vec::new();
    let mut codes = BTreeSet::new();
    for file in &files {
        let (text, diagnostics) = check(file);
        let expected: BTreeSet<String> =
            directives(&text, "expect").iter().map(|e| e.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        if expected.is_empty() {
            problems.push(format!("{}: no `# expect: CODE L:C` line", file.display()));
            continue;
        }
        let actual: BTreeSet<String> = diagnostics
            .iter()
            .filter(|d| d.severity != Severity::Note || expected.contains(&render(&text, d)))
            .map(|d| render(&text, d))
            .collect();
        codes.extend(actual.iter().filter_map(|a| a.split(' ').next().map(str::to_owned)));
        if expected != actual {
            let details: Vec<String> =
                diagnostics.iter().map(|d| format!("{} {}", render(&text, d), d.message)).collect();
            problems.push(format!(
                "{}:\n  expected {:?}\n  actual   {:?}\n  {}",
                file.display(),
                expected,
                actual,
                details.join("\n  ")
            ));
        }
    }
    assert!(problems.is_empty(), "{} negative specs differ:\n{}", problems.len(), problems.join("\n"));
    println!("negative corpus: {} specs, {} distinct codes: {codes:?}", files.len(), codes.len());
    if only.is_empty() {
        assert!(files.len() >= 80, "the negative corpus has {} specs; at least 80 are wanted", files.len());
    }
}
