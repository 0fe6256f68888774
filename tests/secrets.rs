//! Secrets never enter a plan and never leave a run unredacted, end to end through the binary:
//! `build`/`plan` keep `${VAR}` references for secret variables (declared in `secrets.required`,
//! named by `--secret-env`, secret-looking names, URLs with passwords), and the run's outputs
//! hide every form of a secret value.

mod common;

use std::path::Path;

use common::{ospecc_with, Run, TIMEOUT};

const TOKEN: &str = "tok_9f8e7d6c5b4a";
const DB_PASS: &str = "pa55-w0rd-xyz";
const OTHER: &str = "n0t-a-s3cret-name-value";

fn spec(url: &str) -> String {
    format!(
        "ospec_version: \"1.0.0\"\nid: sec\nname: Secrets\ndescription: A spec whose URL holds a secret.\noutcome_type: api\n\
secrets:\n  required: [MY_VALUE]\nenvironments:\n  staging:\n    url: {url}\n\
acceptance:\n  http_endpoints:\n    - {{path: /items, status: 200}}\n"
    )
}

fn run(dir: &Path, args: &[&str]) -> Run {
    let envs = [("APP_TOKEN", TOKEN), ("DB_PASS", DB_PASS), ("MY_VALUE", OTHER), ("PLAIN_HOST", "example.com")];
    let run = ospecc_with(dir, args, None, &envs, TIMEOUT);
    run.no_panic();
    run
}

fn built(dir: &Path, url: &str, extra: &[&str]) -> String {
    std::fs::write(dir.join("s.ospec.yml"), spec(url)).unwrap();
    let mut args = vec!["build", "s.ospec.yml", "--env", "staging", "-o", "plan.json"];
    args.extend_from_slice(extra);
    let build = run(dir, &args);
    assert_eq!(build.code, Some(0), "{}", build.text());
    let plan = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    let shown = run(dir, &["plan", "s.ospec.yml", "--env", "staging", "--format", "json"]);
    for text in [&plan, &build.stdout, &build.stderr, &shown.stdout, &shown.stderr] {
        for secret in [TOKEN, DB_PASS, OTHER] {
            assert!(!text.contains(secret), "{secret} in the plan output:\n{text}");
        }
    }
    plan
}

#[test]
fn secret_variables_stay_references_in_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ospecc.toml"), "").unwrap();
    let plan = built(dir.path(), "https://api:${APP_TOKEN}@${PLAIN_HOST}", &[]);
    assert!(plan.contains("https://api:${APP_TOKEN}@example.com"), "non-secret expanded, secret kept:\n{plan}");
    let plan = built(dir.path(), "https://db:${DB_PASS}@h.example.com", &[]);
    assert!(plan.contains("${DB_PASS}"), "{plan}");
    let plan = built(dir.path(), "https://h.example.com/${MY_VALUE}", &[]);
    assert!(plan.contains("${MY_VALUE}"), "declared in secrets.required:\n{plan}");
}

#[test]
fn secret_env_keeps_any_variable_out_of_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ospecc.toml"), "").unwrap();
    std::fs::write(dir.path().join("s.ospec.yml"), spec("https://${PLAIN_HOST}")).unwrap();
    let args = ["build", "s.ospec.yml", "--env", "staging", "-o", "plan.json", "--secret-env", "PLAIN_HOST"];
    assert_eq!(run(dir.path(), &args).code, Some(0));
    let plan = std::fs::read_to_string(dir.path().join("plan.json")).unwrap();
    assert!(plan.contains("https://${PLAIN_HOST}") && !plan.contains("example.com"), "{plan}");
}

#[test]
fn run_outputs_hold_no_secret_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ospecc.toml"), "").unwrap();
    // Nothing listens on this port (the test range 21400-21499): the probe fails, and its
    // error names the URL it tried.
    let url = "http://u:${APP_TOKEN}@127.0.0.1:21401/${DB_PASS}";
    std::fs::write(dir.path().join("s.ospec.yml"), spec(url)).unwrap();
    let args = [
        "run",
        "s.ospec.yml",
        "--env",
        "staging",
        "--format",
        "json",
        "--junit",
        "j.xml",
        "--report",
        "r.html",
        "--out",
        "traces",
    ];
    let run = run(dir.path(), &args);
    assert!(run.stdout.contains("[REDACTED]"), "the failing probe's URL is shown redacted:\n{}", run.text());
    let mut outputs = vec![("stdout".to_owned(), run.stdout.clone()), ("stderr".to_owned(), run.stderr.clone())];
    for name in ["j.xml", "r.html"] {
        outputs.push((name.to_owned(), std::fs::read_to_string(dir.path().join(name)).unwrap()));
    }
    for entry in std::fs::read_dir(dir.path().join("traces")).unwrap() {
        let path = entry.unwrap().path();
        outputs.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
    }
    for (name, text) in &outputs {
        for secret in [TOKEN, DB_PASS, OTHER] {
            assert!(!text.contains(secret), "{secret} in {name}:\n{text}");
        }
    }
}
