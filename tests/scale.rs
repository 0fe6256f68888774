//! Runs at scale, end to end on the mock-only shop (tests/runs/scale/shop.star): shards run in
//! parallel and merged equal the unsharded run — through the commands of docs/ci.md's GitHub
//! Actions and Kubernetes recipes, whose YAML is parsed and checked; merges of mismatched,
//! missing or duplicated shards are refused and write nothing; a failing test's bundle replays
//! to the same failure from a fresh copy; `diff` of a run with itself is empty, and of two
//! seeds names the first diverging decision; truncated and foreign bundles are exit 2.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{ospecc_with, repo_root, run_command, Run};
use ospecc_compiler::syntax::yaml;
use serde_json::Value;

const SHOP: &str = "tests/runs/scale/shop.star";

/// The shop listens on fixed ports: runs outside a network namespace go one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ospecc(cwd: &Path, args: &[&str]) -> Run {
    ospecc_with(cwd, args, None, &[], Duration::from_secs(120))
}

fn shop() -> String {
    repo_root().join(SHOP).display().to_string()
}

/// `(name, outcome, message)` of each result; event numbers in messages (`event #N`) count the
/// whole run's log, which differs between a shard and the whole run, so they are masked.
fn results(json: &str) -> Vec<(String, String, String)> {
    let report: Value = serde_json::from_str(json).unwrap();
    let mask = regex::Regex::new(r"event #\d+").unwrap();
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (text("name"), text("outcome"), mask.replace_all(&text("message"), "event #N").into_owned())
        })
        .collect()
}

/// The unsharded run's JSON report.
fn unsharded(seed: &str) -> String {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = ospecc(dir.path(), &["run", &shop(), "--seed", seed, "--format", "json", "--no-bundle"]);
    run.expect(1);
    run.stdout
}

/// Whether commands can run in a network namespace of their own (root, or user namespaces):
/// then shards on fixed ports run side by side as on separate machines.
fn namespaces_work() -> bool {
    Command::new("unshare").args(["-rn", "true"]).status().is_ok_and(|s| s.success())
}

/// Runs shell scripts as the recipes' machines would: in parallel, each in its own network
/// namespace (else one after another, saying why), in `cwd`, with `ospecc` on PATH.
fn run_scripts(shell: &str, scripts: &[(String, Vec<(String, String)>)], cwd: &Path) -> Vec<Run> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ospecc"));
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let isolate = namespaces_work();
    if !isolate {
        eprintln!("NOTE: no network namespaces here: the shards run one after another");
    }
    let command = |script: &str, env: &[(String, String)]| {
        let mut command = if isolate {
            let mut c = Command::new("unshare");
            c.args(["-rn", "sh", "-c", "ip link set lo up 2>/dev/null; exec \"$0\" -c \"$1\"", shell, script]);
            c
        } else {
            let mut c = Command::new(shell);
            c.args(["-c", script]);
            c
        };
        command.current_dir(cwd).env("PATH", &path);
        command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    };
    if !isolate {
        let _serial = serial();
        return scripts.iter().map(|(s, env)| run_command(command(s, env), None, Duration::from_secs(120))).collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = scripts
            .iter()
            .map(|(s, env)| {
                let c = command(s, env);
                scope.spawn(move || run_command(c, None, Duration::from_secs(120)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn parse_yaml(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let parsed = yaml::parse(&text);
    assert!(parsed.diagnostics.is_empty(), "{}: {:?}", path.display(), parsed.diagnostics);
    parsed.documents.iter().filter_map(|d| d.root.as_ref()).map(yaml::Node::to_json).collect()
}

/// A scratch directory holding the shop as `topology.star`, as the recipes name the spec.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo_root().join(SHOP), dir.path().join("topology.star")).unwrap();
    dir
}

#[test]
fn the_github_actions_matrix_runs_three_shards_and_merges_them_into_the_unsharded_run() {
    let workflow = &parse_yaml(&repo_root().join("docs/examples/ospecc-shards.yml"))[0];
    let jobs = &workflow["jobs"];
    let matrix: Vec<i64> =
        jobs["shard"]["strategy"]["matrix"]["shard"].as_array().unwrap().iter().filter_map(Value::as_i64).collect();
    assert_eq!(matrix, [1, 2, 3], "one job per shard");
    assert_eq!(jobs["shard"]["strategy"]["fail-fast"], false, "a failing shard must not cancel the others");
    assert_eq!((jobs["merge"]["needs"].as_str(), jobs["merge"]["if"].as_str()), (Some("shard"), Some("always()")));
    for job in ["shard", "merge"] {
        assert!(jobs[job]["runs-on"].is_string(), "{job} runs somewhere");
        for step in jobs[job]["steps"].as_array().unwrap() {
            assert!(step["run"].is_string() ^ step["uses"].is_string(), "a step runs or uses: {step}");
        }
    }
    let script = |job: &str, needle: &str| -> String {
        let steps = jobs[job]["steps"].as_array().unwrap();
        let step = steps.iter().find(|s| s["run"].as_str().is_some_and(|r| r.contains(needle))).unwrap();
        step["run"].as_str().unwrap().to_owned()
    };
    let (shard, merge) = (script("shard", "ospecc run"), script("merge", "ospecc report merge"));
    let spec = workflow["env"]["SPEC"].as_str().unwrap().to_owned();
    let dir = workspace();
    let scripts: Vec<(String, Vec<(String, String)>)> = (1..=3)
        .map(|k| (shard.replace("${{ matrix.shard }}", &k.to_string()), vec![("SPEC".to_owned(), spec.clone())]))
        .collect();
    for (k, run) in run_scripts("bash", &scripts, dir.path()).iter().enumerate() {
        assert_eq!(run.code, Some(0), "shard {}: {}", k + 1, run.text());
    }
    let merged = run_scripts("bash", &[(merge, Vec::new())], dir.path()).remove(0);
    assert_eq!(merged.code, Some(1), "the merge fails as the run does (a test failed): {}", merged.text());
    let report = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    assert_eq!(results(&report), results(&unsharded("1")));
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_eq!(
        roxmltree::Document::parse(&junit).unwrap().descendants().filter(|n| n.has_tag_name("testcase")).count(),
        7
    );
    let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(page.contains("test_b_create_is_refused") && page.contains("class=\"lanes\""), "a page with timelines");
}

#[test]
fn the_kubernetes_indexed_job_runs_three_shards_and_the_merge_job_joins_them() {
    let docs = parse_yaml(&repo_root().join("docs/examples/k8s/ospecc-shards.yaml"));
    let job = docs.iter().find(|d| d["kind"] == "Job").unwrap();
    assert_eq!(job["apiVersion"], "batch/v1");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], spec["parallelism"], "every shard at once");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let container = &pod["containers"][0];
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e["value"].as_str().unwrap().to_owned()))
        .collect();
    let shards: i64 = env.iter().find(|(k, _)| k == "SHARDS").unwrap().1.parse().unwrap();
    assert_eq!(spec["completions"].as_i64(), Some(shards));
    let claim = pod["volumes"][0]["persistentVolumeClaim"]["claimName"].as_str().unwrap();
    assert!(docs.iter().any(|d| d["kind"] == "PersistentVolumeClaim" && d["metadata"]["name"] == claim));
    assert_eq!(container["command"], serde_json::json!(["sh", "-c"]));
    let shard_script = container["args"][0].as_str().unwrap().to_owned();
    assert!(shard_script.contains("JOB_COMPLETION_INDEX"), "{shard_script}");

    let merge_job = &parse_yaml(&repo_root().join("docs/examples/k8s/ospecc-merge.yaml"))[0];
    assert_eq!((merge_job["kind"].as_str(), merge_job["apiVersion"].as_str()), (Some("Job"), Some("batch/v1")));
    let merge_container = &merge_job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(merge_job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], claim);
    let merge_script = merge_container["args"][0].as_str().unwrap().to_owned();
    assert!(merge_script.contains("ospecc report merge"), "{merge_script}");

    // The pods, locally: the volume is a directory, the image's /specs the workspace.
    let dir = workspace();
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let reports_env = ("REPORTS".to_owned(), reports.display().to_string());
    let pods: Vec<(String, Vec<(String, String)>)> = (0..shards)
        .map(|index| {
            let mut vars: Vec<(String, String)> = env.iter().filter(|(k, _)| k != "REPORTS").cloned().collect();
            vars.push(("JOB_COMPLETION_INDEX".to_owned(), index.to_string()));
            vars.push(reports_env.clone());
            (shard_script.clone(), vars)
        })
        .collect();
    for (index, run) in run_scripts("sh", &pods, dir.path()).iter().enumerate() {
        assert_eq!(run.code, Some(0), "pod {index}: {}", run.text());
    }
    let merged = run_scripts("sh", &[(merge_script, vec![reports_env])], dir.path()).remove(0);
    assert_eq!(merged.code, Some(1), "a test failed: {}", merged.text());
    let report = std::fs::read_to_string(reports.join("report.json")).unwrap();
    assert_eq!(results(&report), results(&unsharded("1")));
}

/// Shards of the shop as JSON reports: `(dir, [report-1.json, ...])`.
fn shard_reports(dir: &Path, count: u32, seed: &str) -> Vec<PathBuf> {
    let _serial = serial();
    (1..=count)
        .map(|k| {
            let shard = format!("{k}/{count}");
            let run =
                ospecc(dir, &["run", &shop(), "--shard", &shard, "--seed", seed, "--format", "json", "--no-bundle"]);
            run.no_panic();
            let path = dir.join(format!("report-{k}.json"));
            std::fs::write(&path, &run.stdout).unwrap();
            path
        })
        .collect()
}

#[test]
fn a_merge_of_shards_that_do_not_belong_together_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shard_reports(dir.path(), 3, "1");
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    // Another plan: the same spec with one test selected.
    let picked = other.join("picked.json");
    {
        let _serial = serial();
        let run =
            ospecc(dir.path(), &["run", &shop(), "--test", "test_e_health", "--shard", "2/3", "--format", "json"]);
        run.no_panic();
        std::fs::write(&picked, &run.stdout).unwrap();
    }
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let page = dir.path().join("merged.html");
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![name(&shards[0]), name(&shards[1])],
            "error: cannot merge: shard 3/3 is missing: a merge needs all 3 shards of the plan\n".into(),
        ),
        (
            vec![name(&shards[0]), name(&shards[1]), name(&shards[1]), name(&shards[2])],
            "error: cannot merge: shard 2/3 is given twice: report-2.json and report-2.json\n".into(),
        ),
        (vec![name(&shards[0]), "other/picked.json".into(), name(&shards[2])], "different plans".into()),
        (vec!["shop.star".into()], "error: cannot read shop.star: ".into()),
    ];
    for (files, expected) in cases {
        let mut args = vec!["report", "merge", "--report", page.to_str().unwrap(), "--junit", "merged.xml"];
        args.extend(files.iter().map(String::as_str));
        let run = ospecc(dir.path(), &args);
        run.expect(2);
        assert!(run.stderr.starts_with(&expected) || run.stderr.contains(&expected), "{files:?}: {}", run.stderr);
        assert!(!page.exists() && !dir.path().join("merged.xml").exists(), "nothing is written");
    }
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A report that is not a run's.
    std::fs::write(dir.path().join("not.json"), "{\"results\": 3}").unwrap();
    let run = ospecc(dir.path(), &["report", "merge", "not.json"]);
    run.expect(2);
    assert!(run.stderr.starts_with("error: not.json is not an `ospecc run --format json` report"), "{}", run.stderr);
    // The three together: the golden summary.
    let run = ospecc(dir.path(), &["report", "merge", "report-3.json", "report-1.json", "report-2.json"]);
    run.expect(1);
    let summary = run.stdout.lines().last().unwrap();
    assert!(
        summary.starts_with("5 passed, 2 failed, 0 errored, 0 skipped, 0 not run, 0 unverifiable in "),
        "{}",
        run.stdout
    );
}

#[test]
fn a_failing_tests_bundle_replays_to_the_same_failure_from_a_fresh_copy() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("run.ospecc-bundle");
    let failures = dir.path().join("failures");
    {
        let _serial = serial();
        let run = ospecc(dir.path(), &["run", &shop(), "--seed", "5", "--bundle", bundle.to_str().unwrap()]);
        run.expect(1);
        // A failed run without --bundle leaves one in --bundle-dir.
        let run =
            ospecc(dir.path(), &["run", &shop(), "--test", "test_b_*", "--bundle-dir", failures.to_str().unwrap()]);
        run.expect(1);
        assert!(run.stderr.contains("bundle: "), "{}", run.stderr);
    }
    let left: Vec<PathBuf> = std::fs::read_dir(&failures).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].extension().is_some_and(|e| e == "ospecc-bundle"));

    // A fresh directory elsewhere, holding only a copy of the bundle.
    let fresh = tempfile::tempdir().unwrap();
    std::fs::copy(&bundle, fresh.path().join("copy.ospecc-bundle")).unwrap();
    let replay = {
        let _serial = serial();
        ospecc(
            fresh.path(),
            &["replay", "copy.ospecc-bundle", "--test", "test_b_create_is_refused", "--report", "replay.html"],
        )
    };
    replay.expect(0);
    assert_eq!(replay.stdout, "reproduced      failed   test_b_create_is_refused\n1 of 1 reproduced\n");
    let page = std::fs::read_to_string(fresh.path().join("replay.html")).unwrap();
    assert!(page.contains("assert_eq failed: 201 != 409"), "the replay's page shows the failure");
    let whole = {
        let _serial = serial();
        ospecc(fresh.path(), &["replay", "copy.ospecc-bundle"])
    };
    whole.expect(0);
    assert!(whole.stdout.ends_with("7 of 7 reproduced\n"), "{}", whole.stdout);

    // inspect lists and extracts the parts.
    let listing = ospecc(fresh.path(), &["inspect", "copy.ospecc-bundle"]);
    listing.expect(0);
    for part in ["manifest.json", "plan.json", "report.json", "events.jsonl", "traces/test_b_create_is_refused.jsonl"] {
        assert!(listing.stdout.contains(part), "{part}: {}", listing.stdout);
    }
    assert!(listing.stdout.contains("seed 5"), "{}", listing.stdout);
    ospecc(fresh.path(), &["inspect", "copy.ospecc-bundle", "traces", "--extract", "out"]).expect(0);
    let trace = std::fs::read_to_string(fresh.path().join("out/traces/test_b_create_is_refused.jsonl")).unwrap();
    assert!(trace.lines().any(|l| l.contains("\"assertion\"")), "{trace}");
    let report = ospecc(fresh.path(), &["inspect", "copy.ospecc-bundle", "report.json"]);
    assert_eq!(results(&report.stdout).len(), 7);
    let missing = ospecc(fresh.path(), &["inspect", "copy.ospecc-bundle", "trace"]);
    missing.expect(2);
    assert!(missing.stderr.contains("no part `trace`"), "{}", missing.stderr);

    // A truncated bundle and a foreign file: exit 2 with what is wrong.
    let bytes = std::fs::read(&bundle).unwrap();
    std::fs::write(fresh.path().join("cut.ospecc-bundle"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(fresh.path().join("foreign.ospecc-bundle"), b"PK\x03\x04 a zip file").unwrap();
    for (file, expected) in [
        ("cut.ospecc-bundle", "error: cut.ospecc-bundle is not a complete ospecc bundle (truncated or damaged: "),
        (
            "foreign.ospecc-bundle",
            "error: foreign.ospecc-bundle is not an ospecc bundle (not a gzip-compressed tar archive)\n",
        ),
    ] {
        for command in ["replay", "inspect"] {
            let run = ospecc(fresh.path(), &[command, file]);
            run.expect(2);
            assert!(run.stderr.starts_with(expected), "{command} {file}: {}", run.stderr);
        }
    }
}

#[test]
fn diff_of_a_run_with_itself_is_empty_and_of_two_seeds_names_the_first_diverging_decision() {
    let dir = tempfile::tempdir().unwrap();
    {
        let _serial = serial();
        for seed in ["3", "4"] {
            let bundle = format!("seed-{seed}.ospecc-bundle");
            let run = ospecc(
                dir.path(),
                &[
                    "run",
                    &shop(),
                    "--seed",
                    seed,
                    "--bundle",
                    &bundle,
                    "--format",
                    "json",
                    "--normalize",
                    &format!("seed-{seed}.trace"),
                ],
            );
            run.expect(1);
            std::fs::write(dir.path().join(format!("seed-{seed}.json")), &run.stdout).unwrap();
        }
    }
    let same = ospecc(dir.path(), &["diff", "seed-3.ospecc-bundle", "seed-3.ospecc-bundle"]);
    same.expect(0);
    assert_eq!(
        same.stdout,
        "--- A seed-3.ospecc-bundle\n+++ B seed-3.ospecc-bundle\n7 tests compared: no differences\n"
    );
    let reports = ospecc(dir.path(), &["diff", "seed-3.json", "seed-4.json"]);
    reports.expect(0);
    assert!(reports.stdout.contains("note: events not compared"), "{}", reports.stdout);
    let traces = ospecc(dir.path(), &["diff", "seed-3.trace", "seed-3.trace"]);
    traces.expect(0);

    let seeds = ospecc(dir.path(), &["diff", "seed-3.ospecc-bundle", "seed-4.ospecc-bundle"]);
    seeds.expect(1);
    assert_eq!(
        seeds.stdout,
        "--- A seed-3.ospecc-bundle\n+++ B seed-4.ospecc-bundle\n\
         test_c_flaky_users: same outcome, different events\n\
         \x20 first divergence in `runner` at event 3:\n\
         \x20   A: fault_removed fired=5 scope=fault() targets=[\"users.http\"]\n\
         \x20   B: fault_removed fired=4 scope=fault() targets=[\"users.http\"]\n\
         \x20 first divergence in `test` at event 3:\n\
         \x20   A: step error=null interface=http method=get ok=true protocol=http status=200 target=users\n\
         \x20   B: step error=null interface=http method=get ok=true protocol=http status=502 target=users\n\
         \x20 first divergence in `users` at event 3:\n\
         \x20   A: mock_request interface=http method=GET path=/users/2 query= route=GET /users/{id} status=200\n\
         \x20   B: proxy action=error consumer=test interface=http method=GET path=/users/2 protocol=http rule=1 scope=fault() status=502\n\
         7 tests compared: 1 differs\n"
    );
    let bad = ospecc(dir.path(), &["diff", "seed-3.json", &shop()]);
    bad.expect(2);
}

#[test]
fn a_bundle_holds_no_secret() {
    const SECRET: &str = "create_is_refused";
    let dir = tempfile::tempdir().unwrap();
    {
        let _serial = serial();
        let args = ["run", &shop(), "--secret-env", "SHOP_SECRET", "--bundle", "s.ospecc-bundle"];
        let run = ospecc_with(dir.path(), &args, None, &[("SHOP_SECRET", SECRET)], Duration::from_secs(120));
        run.expect(1);
        assert!(!run.text().contains(SECRET), "{}", run.text());
    }
    ospecc(dir.path(), &["inspect", "s.ospecc-bundle", "--extract", "parts"]).expect(0);
    let mut files = vec![dir.path().join("parts")];
    let mut seen = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(SECRET), "{} holds the secret", path.display());
        assert!(!path.display().to_string().contains(SECRET), "{}", path.display());
    }
    assert!(seen >= 10, "every part was read ({seen})");
    let report = std::fs::read_to_string(dir.path().join("parts/report.json")).unwrap();
    assert!(report.contains("test_b_[REDACTED]"), "{report}");
}
