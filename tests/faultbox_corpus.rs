//! Conformance with Faultbox's own regression corpus (`../shared/data/faultbox-corpus/`): every
//! case of `cases.tsv` that needs only mocks runs under `ospecc run --seed <its seed>`, every
//! test of it passes, and the normalized trace equals Faultbox's golden byte for byte, as
//! Faultbox's CI holds itself to them. Skips with a reason when the corpus is absent.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{ospecc_with, repo_root};

/// One row of `cases.tsv`.
struct Case {
    name: String,
    spec: String,
    seed: String,
    timeout_s: u64,
    needs: String,
}

fn corpus() -> Option<PathBuf> {
    // `../shared` beside the clone; `OSPECC_SHARED_DIR` names it elsewhere (a git worktree).
    let shared = std::env::var_os("OSPECC_SHARED_DIR").map_or_else(|| repo_root().join("../shared"), PathBuf::from);
    let dir = shared.join("data/faultbox-corpus");
    if dir.join("cases.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!("SKIP: {} is absent (the Faultbox corpus lives in ../shared)", dir.display());
        None
    }
}

fn cases(dir: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(dir.join("cases.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(cols.len() >= 5, "cases.tsv: a row has fewer than 5 columns: {line:?}");
            Case {
                name: cols[0].to_owned(),
                spec: cols[1].to_owned(),
                seed: cols[2].to_owned(),
                timeout_s: cols[3].parse().unwrap_or(60),
                needs: cols[4].to_owned(),
            }
        })
        .collect()
}

/// Runs one case; `None` when it passed whole with the golden trace, else what went wrong.
fn run_case(dir: &Path, case: &Case) -> Option<String> {
    let out = tempfile::tempdir().unwrap();
    let norm = out.path().join(format!("{}.norm", case.name));
    let spec = dir.join(&case.spec);
    let run = ospecc_with(
        &repo_root(),
        &["run", spec.to_str().unwrap(), "--seed", &case.seed, "--normalize", norm.to_str().unwrap()],
        None,
        &[],
        // Faultbox's limit for the case, with room for a loaded CI machine.
        Duration::from_secs(case.timeout_s * 3),
    );
    if run.code != Some(0) {
        return Some(format!("{}: not every test passed\n{}", case.name, run.text()));
    }
    let golden = std::fs::read_to_string(dir.join("goldens").join(format!("{}.norm", case.name))).unwrap();
    let ours = std::fs::read_to_string(&norm).unwrap_or_default();
    if ours != golden {
        return Some(format!(
            "{}: the normalized trace differs from the golden\n--- golden\n{golden}\n--- ours\n{ours}",
            case.name
        ));
    }
    None
}

#[test]
fn every_mock_only_case_passes_with_the_golden_trace() {
    let Some(dir) = corpus() else { return };
    let mocks: Vec<Case> = cases(&dir).into_iter().filter(|c| c.needs.starts_with("mock")).collect();
    assert!(mocks.len() >= 8, "cases.tsv lists {} mock-only cases", mocks.len());
    let failures: Vec<String> = mocks.iter().filter_map(|case| run_case(&dir, case)).collect();
    println!(
        "faultbox corpus: {} of {} mock-only cases pass whole with their golden traces",
        mocks.len() - failures.len(),
        mocks.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
