//! Conformance with Faultbox's own regression corpus (`../shared/data/faultbox-corpus/`): every
//! case of `cases.tsv` that needs only mocks, and every case that needs a container engine
//! (with the images `tests/images/build.sh` makes from this machine's packages), runs under
//! `ospecc run --seed <its seed>`, every test of it passes, and the normalized trace equals
//! Faultbox's golden byte for byte, as Faultbox's CI holds itself to them. Skips with a reason
//! when the corpus is absent (and the container cases when no engine can run a container).

mod common;
mod containers_common;

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
    let dir = repo_root().join("../shared/data/faultbox-corpus");
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

/// The ports a spec's interfaces declare (`interface("name", "protocol", PORT)`).
fn declared_ports(spec: &str) -> Vec<u16> {
    spec.split("interface(")
        .skip(1)
        .filter_map(|rest| rest.split(')').next()?.split(',').nth(2)?.trim().parse().ok())
        .collect()
}

#[test]
fn every_container_case_passes_with_the_golden_trace() {
    let Some(dir) = corpus() else { return };
    let containers: Vec<Case> = cases(&dir).into_iter().filter(|c| c.needs.starts_with("container engine")).collect();
    assert!(containers.len() >= 2, "cases.tsv lists {} container cases", containers.len());
    let Some(_engine) = containers_common::ready() else { return };
    let mut failures = Vec::new();
    for case in &containers {
        let spec = std::fs::read_to_string(dir.join(&case.spec)).unwrap();
        // The corpus's ports (80, 5432) are fixed by the specs; a machine that uses them for
        // something else cannot run the case.
        if let Some(port) = declared_ports(&spec).into_iter().find(|p| containers_common::port_in_use(*p)) {
            eprintln!("SKIP: {}: port {port} is already in use on this machine", case.name);
            continue;
        }
        failures.extend(run_case(&dir, case));
    }
    println!(
        "faultbox corpus: {} of {} container cases pass whole with their golden traces",
        containers.len() - failures.len(),
        containers.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn declared_ports_are_read_from_interfaces() {
    let spec =
        "web = service(\"web\",\n    interface(\"http\", \"http\", 80),\n    interface(\"admin\", \"http\", 9090))";
    assert_eq!(declared_ports(spec), [80, 9090]);
}
