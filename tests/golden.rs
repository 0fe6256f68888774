//! Golden tests: the human output of `ospecc check` for every OSpec fixture under
//! `tests/fixtures/` equals the sibling `<file>.golden`, and the json, sarif and junit outputs
//! for `tests/fixtures/cli/` equal `tests/fixtures/cli/report.<format>.golden`.
//!
//! `OSPECC_BLESS=1 cargo test --test golden` (re)writes the goldens; review the diff.
//! The binary runs from the repository root, so paths in the output are relative to it.

mod common;

use std::path::{Path, PathBuf};

use common::{ospecc, repo_root};

/// The discovery patterns of OSpec and topology files (kept in step with `src/cli/discover.rs`).
fn is_ospec(name: &str) -> bool {
    let suffixes = [".ospec.yml", ".ospec.yaml", ".ospec", ".star"];
    suffixes.iter().any(|s| name.len() > s.len() && name.ends_with(s)) || matches!(name, "outcome.yml" | "outcome.yaml")
}

fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            fixtures(&path, out);
        } else if path.file_name().and_then(|n| n.to_str()).is_some_and(is_ospec) {
            out.push(path);
        }
    }
}

fn bless() -> bool {
    std::env::var_os("OSPECC_BLESS").is_some_and(|v| v == "1")
}

/// Compares `actual` with the golden file (or writes it when blessing); returns the problem.
fn compare(golden: &Path, actual: &str) -> Option<String> {
    let shown = golden.strip_prefix(repo_root()).unwrap_or(golden).display().to_string();
    if bless() {
        std::fs::write(golden, actual).unwrap();
        return None;
    }
    match std::fs::read_to_string(golden) {
        Err(_) => Some(format!("{shown}: missing golden (create it with OSPECC_BLESS=1 cargo test --test golden)")),
        Ok(expected) if expected == actual => None,
        Ok(expected) => {
            Some(format!("{shown}: output differs from the golden\n{}", first_difference(&expected, actual)))
        }
    }
}

fn first_difference(expected: &str, actual: &str) -> String {
    let (mut e, mut a) = (expected.lines(), actual.lines());
    for number in 1.. {
        match (e.next(), a.next()) {
            (None, None) => break,
            (left, right) if left == right => continue,
            (left, right) => {
                return format!("  line {number}:\n    golden: {left:?}\n    actual: {right:?}");
            }
        }
    }
    "  (only line endings differ)".into()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root()).unwrap_or(path).display().to_string()
}

#[test]
fn human_output_of_every_fixture_matches_its_golden() {
    let root = repo_root();
    let mut files = Vec::new();
    fixtures(&root.join("tests/fixtures"), &mut files);
    files.sort();
    assert!(!files.is_empty(), "no OSpec fixtures under tests/fixtures");
    let mut problems = Vec::new();
    for file in &files {
        let path = relative(file);
        let run = ospecc(&root, &["check", "--no-config", "--color", "never", &path]);
        run.no_panic();
        assert!(matches!(run.code, Some(0 | 1)), "{path}: exit code {:?}\n{}", run.code, run.stderr);
        let mut golden = file.clone().into_os_string();
        golden.push(".golden");
        problems.extend(compare(Path::new(&golden), &run.stdout));
    }
    assert!(problems.is_empty(), "{} of {} goldens differ:\n{}", problems.len(), files.len(), problems.join("\n"));
}

#[test]
fn machine_formats_match_their_goldens() {
    let root = repo_root();
    let mut problems = Vec::new();
    for format in ["json", "sarif", "junit"] {
        let run = ospecc(&root, &["check", "--no-config", "--format", format, "tests/fixtures/cli"]);
        run.no_panic();
        let golden = root.join(format!("tests/fixtures/cli/report.{format}.golden"));
        problems.extend(compare(&golden, &run.stdout));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
