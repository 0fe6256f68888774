//! Conformance with Faultbox's own regression corpus (`../shared/data/faultbox-corpus/`): every
//! case of `cases.tsv` that needs only mocks, and every case that needs a container engine
//! (with the images `tests/images/build.sh` makes from this machine's packages), runs under
//! `ospecc run --seed <its seed>`, every test of it passes, and the normalized trace equals
//! Faultbox's golden byte for byte, as Faultbox's CI holds itself to them (the container cases
//! skip with a reason when no engine can run a container). The determinism cases run our own leaker service (built
//! from `tests/helpers/leaker.rs`) where the cases name Faultbox's, and their `unmediated_io`
//! lines equal the goldens' (the goldens' `allow` lines are Faultbox's Go runtime writing to
//! its pipes and sockets, which is not ours). Skips with a reason when the corpus is absent.

mod common;
#[path = "helpers/compile.rs"]
mod compile;
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

/// How a case's normalized trace must compare with its golden: `None` when it does.
type Compare = fn(golden: &str, ours: &str) -> Option<String>;

/// Byte for byte.
fn identical(golden: &str, ours: &str) -> Option<String> {
    (ours != golden).then(|| "the normalized trace differs from the golden".to_owned())
}

/// The `unmediated_io` lines equal, and the rest of the trace equals the golden without its
/// `allow` lines.
fn same_unmediated_io(golden: &str, ours: &str) -> Option<String> {
    let lines = |text: &str, keep: fn(&str) -> bool| text.lines().filter(|l| keep(l)).collect::<Vec<_>>().join("\n");
    if lines(golden, |l| l.starts_with("unmediated_io")) != lines(ours, |l| l.starts_with("unmediated_io")) {
        return Some("the unmediated_io lines differ from the golden's".to_owned());
    }
    (lines(golden, |l| !l.contains(" allow ")) != lines(ours, |_| true))
        .then(|| "the normalized trace differs from the golden without its allow lines".to_owned())
}

/// Runs one case; `None` when it passed whole with the golden trace, else what went wrong.
fn run_case(dir: &Path, case: &Case, compare: Compare) -> Option<String> {
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
    compare(&golden, &ours).map(|why| format!("{}: {why}\n--- golden\n{golden}\n--- ours\n{ours}", case.name))
}

#[test]
fn every_mock_only_case_passes_with_the_golden_trace() {
    let Some(dir) = corpus() else { return };
    let mocks: Vec<Case> = cases(&dir).into_iter().filter(|c| c.needs.starts_with("mock")).collect();
    assert!(mocks.len() >= 8, "cases.tsv lists {} mock-only cases", mocks.len());
    let failures: Vec<String> = mocks.iter().filter_map(|case| run_case(&dir, case, identical)).collect();
    println!(
        "faultbox corpus: {} of {} mock-only cases pass whole with their golden traces",
        mocks.len() - failures.len(),
        mocks.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_determinism_case_passes_with_the_goldens_unmediated_io() {
    let Some(dir) = corpus() else { return };
    if let Err(why) = ospecc_runtime::seccomp::probe() {
        eprintln!("SKIP: determinism mode watches syscalls through seccomp, and {why}");
        return;
    }
    let Some(leaker) = compile::leaker() else { return };
    let cases: Vec<Case> = cases(&dir).into_iter().filter(|c| c.needs.contains("determinism()")).collect();
    assert_eq!(cases.len(), 5, "cases.tsv lists {} determinism cases", cases.len());
    for case in &cases {
        // `binary /tmp/faultbox-leaker; determinism()`: where the case expects the leaker.
        let path = case.needs.split(';').find_map(|need| need.trim().strip_prefix("binary ")).unwrap();
        install(leaker, Path::new(path.trim()));
    }
    let failures: Vec<String> = cases.iter().filter_map(|case| run_case(&dir, case, same_unmediated_io)).collect();
    println!(
        "faultbox corpus: {} of {} determinism cases pass whole with the goldens' unmediated_io lines",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Puts `binary` at `path` whole (a copy renamed into place, so a concurrent run never sees
/// half a file).
fn install(binary: &Path, path: &Path) {
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::copy(binary, &partial).unwrap();
    std::fs::rename(&partial, path).unwrap();
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
        failures.extend(run_case(&dir, case, identical));
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
