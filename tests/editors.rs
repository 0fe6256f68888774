//! Editor and ecosystem integration, end to end with the real tools: the VS Code extension
//! (built, its protocol-level test run against `ospecc lsp`, packaged), the Neovim plugin
//! (headless nvim), the Helix config, the pre-commit hook (`pre-commit try-repo`), the CI
//! example, shell completions, the man page and `--version`.
//!
//! Tests needing a tool that is absent (node/npm, nvim, pre-commit, git) print why on stderr
//! and return; tests/run installs them. Every external process runs under a timeout.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ospecc, project, repo_root, run_command, Run};
use serde_json::{json, Value};

/// Runs a tool (node, npm, nvim, git, pre-commit) with the shared runner.
fn run(command: Command, timeout: Duration) -> Run {
    run_command(command, None, timeout)
}

/// Whether `program --version` runs (the tool is installed).
fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn skip(test: &str, reason: &str) {
    eprintln!("SKIP {test}: {reason}");
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ospecc"))
}

/// PATH with the built `ospecc` first (what `language: system` hooks and editors find).
fn path_with_binary() -> String {
    let dir = binary().parent().map(Path::to_path_buf).unwrap_or_default();
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{rest}", dir.display())
}

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/editors").join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

// --- the binary: --version, completions, man ---

#[test]
fn version_names_the_commit_it_was_built_from() {
    let run = ospecc(&repo_root(), &["--version"]);
    run.expect(0);
    let line = run.stdout.trim();
    let rest = line.strip_prefix(&format!("ospecc {} (", env!("CARGO_PKG_VERSION"))).unwrap_or_else(|| {
        panic!("`ospecc --version` should be `ospecc VERSION (HASH)`, is {line:?}");
    });
    let hash = rest.strip_suffix(')').unwrap_or_else(|| panic!("no closing parenthesis in {line:?}"));
    if hash == "unknown" {
        // Built outside a git checkout (or without git): the documented fallback.
        eprintln!("note: the binary was built without git information: {line}");
        return;
    }
    assert!(hash.len() >= 4 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "not a short hash: {line:?}");
    if have("git") {
        let mut git = Command::new("git");
        git.args(["cat-file", "-e", &format!("{hash}^{{commit}}")]).current_dir(repo_root());
        let found = run_git_check(git);
        assert!(found, "{hash} is not a commit of this repository");
    }
    // Subcommands show the same version.
    let sub = ospecc(&repo_root(), &["check", "--version"]);
    sub.expect(0);
    assert!(sub.stdout.contains(&format!("({hash})")), "{}", sub.stdout);
}

fn run_git_check(command: Command) -> bool {
    run(command, Duration::from_secs(30)).code == Some(0)
}

#[test]
fn completions_are_generated_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = ospecc(&repo_root(), &["completions", shell]);
        run.expect(0);
        assert!(run.stdout.contains("ospecc"), "{shell}: {}", run.stdout);
        for sub in ["check", "lsp", "completions", "man"] {
            assert!(run.stdout.contains(sub), "{shell} completions lack `{sub}`");
        }
    }
    // The bash script is valid bash, and completing `ospecc ch` offers `check`.
    if have("bash") {
        let script = ospecc(&repo_root(), &["completions", "bash"]).stdout;
        let dir = project(&[("ospecc.bash", script.as_bytes())]);
        let probe =
            "source ./ospecc.bash; COMP_WORDS=(ospecc ch); COMP_CWORD=1; _ospecc ospecc ch ospecc; printf '%s\\n' \"${COMPREPLY[@]}\"";
        let mut bash = Command::new("bash");
        bash.args(["-c", probe]).current_dir(dir.path());
        let out = run(bash, Duration::from_secs(30));
        assert_eq!(out.code, Some(0), "{}", out.text());
        assert_eq!(out.stdout.trim(), "check", "{}", out.text());
    } else {
        skip("completions (bash run)", "bash is not installed");
    }
    let bad = ospecc(&repo_root(), &["completions", "tcsh"]);
    bad.expect(2);
    assert!(bad.stderr.contains("possible values"), "{}", bad.stderr);
}

#[test]
fn man_page_is_printed_and_written_per_command() {
    let run = ospecc(&repo_root(), &["man"]);
    run.expect(0);
    assert!(run.stdout.contains(".TH ospecc 1"), "not a roff man page:\n{}", run.stdout);
    assert!(run.stdout.contains(".SH NAME") && run.stdout.contains(".SH SUBCOMMANDS"), "{}", run.stdout);
    assert!(run.stdout.contains(env!("CARGO_PKG_VERSION")), "the page names the version");

    let dir = project(&[]);
    let out = dir.path().join("man/man1");
    let out_arg = out.display().to_string();
    let written = ospecc(&repo_root(), &["man", "--out", &out_arg]);
    written.expect(0);
    for page in ["ospecc.1", "ospecc-check.1", "ospecc-lsp.1", "ospecc-schema-export.1", "ospecc-completions.1"] {
        let path = out.join(page);
        assert!(written.stdout.contains(&path.display().to_string()), "{page} not listed:\n{}", written.stdout);
        let text = read(&path);
        assert!(text.starts_with(".ie") || text.contains(".TH "), "{page} is not roff");
    }
    assert!(read(&out.join("ospecc-check.1")).contains("sarif"), "the check page lists its formats");

    // A file where the directory should be: a usage error naming the path.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").expect("write");
    let blocker_arg = blocker.display().to_string();
    let failed = ospecc(&repo_root(), &["man", "--out", &blocker_arg]);
    failed.expect(2);
    assert!(failed.stderr.contains("cannot write manual pages") && failed.stderr.contains(&blocker_arg));

    // `man` renders it, when installed.
    if have("man") {
        let mut man = Command::new("man");
        man.args(["-l", "-P", "cat"]).arg(out.join("ospecc-check.1")).env("MANWIDTH", "100");
        let rendered = run_outcome_lenient(man);
        if let Some(rendered) = rendered {
            assert!(rendered.contains("--format"), "rendered page:\n{rendered}");
        }
    }
}

/// stdout of a command that succeeded, or None (a broken `man` installation is not ours).
fn run_outcome_lenient(command: Command) -> Option<String> {
    let out = run(command, Duration::from_secs(30));
    (out.code == Some(0)).then_some(out.stdout)
}

// --- pre-commit ---

/// A git repository in a temporary directory holding `files` (all staged).
fn git_fixture(files: &[(&str, &Path)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, source) in files {
        std::fs::copy(source, dir.path().join(name)).expect("copy fixture");
    }
    for args in [&["init", "-q"][..], &["add", "."][..]] {
        let mut git = Command::new("git");
        git.args(args).current_dir(dir.path());
        let out = run(git, Duration::from_secs(30));
        assert_eq!(out.code, Some(0), "git {args:?}: {}", out.text());
    }
    dir
}

fn try_repo(fixture_repo: &Path, home: &Path) -> Run {
    let mut command = Command::new("pre-commit");
    command
        .arg("try-repo")
        .arg(repo_root())
        .args(["ospecc-check", "--all-files", "--color", "never"])
        .current_dir(fixture_repo)
        .env("PATH", path_with_binary())
        .env("PRE_COMMIT_HOME", home)
        // try-repo commits the hook repository's uncommitted changes in a shadow copy.
        .env("GIT_AUTHOR_NAME", "ospecc tests")
        .env("GIT_AUTHOR_EMAIL", "tests@ospecc.invalid")
        .env("GIT_COMMITTER_NAME", "ospecc tests")
        .env("GIT_COMMITTER_EMAIL", "tests@ospecc.invalid");
    run(command, Duration::from_secs(300))
}

#[test]
fn pre_commit_hook_fails_on_a_bad_spec_and_passes_on_a_good_one() {
    if !have("pre-commit") {
        return skip("pre-commit hook", "pre-commit is not installed (pip install pre-commit)");
    }
    if !have("git") {
        return skip("pre-commit hook", "git is not installed");
    }
    let tracked = Command::new("git")
        .args(["ls-files", "--error-unmatch", ".pre-commit-hooks.yaml"])
        .current_dir(repo_root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !tracked {
        return skip("pre-commit hook", "not a git checkout with .pre-commit-hooks.yaml tracked (try-repo needs it)");
    }
    let home = tempfile::tempdir().expect("tempdir");

    let both =
        git_fixture(&[("good.ospec.yml", &fixture("good.ospec.yml")), ("bad.ospec.yml", &fixture("bad.ospec.yml"))]);
    let failed = try_repo(both.path(), home.path());
    assert_eq!(failed.code, Some(1), "the hook should fail:\n{}", failed.text());
    assert!(failed.stdout.contains("ospecc check") && failed.stdout.contains("Failed"), "{}", failed.text());
    assert!(failed.stdout.contains("bad.ospec.yml"), "the output names the bad file:\n{}", failed.text());
    assert!(failed.stdout.contains("OSP101"), "the output names the diagnostic:\n{}", failed.text());
    assert!(!failed.stdout.contains("good.ospec.yml:"), "the good file has no findings:\n{}", failed.text());

    let good =
        git_fixture(&[("good.ospec.yml", &fixture("good.ospec.yml")), ("topology.star", &fixture("topology.star"))]);
    let passed = try_repo(good.path(), home.path());
    assert_eq!(passed.code, Some(0), "the hook should pass:\n{}", passed.text());
    assert!(passed.stdout.contains("Passed"), "{}", passed.text());
}

// --- VS Code ---

fn node_major() -> Option<u32> {
    let out = Command::new("node").arg("--version").stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.trim().trim_start_matches('v').split('.').next()?.parse().ok()
}

fn npm(dir: &Path, args: &[&str], timeout: Duration) -> Run {
    let mut command = Command::new("npm");
    command.args(args).current_dir(dir).env("OSPECC_BIN", binary()).env("PATH", path_with_binary());
    run(command, timeout)
}

#[test]
fn vscode_extension_builds_drives_the_server_and_packages() {
    let dir = repo_root().join("editors/vscode");
    let Some(major) = node_major() else {
        return skip("vscode extension", "node is not installed");
    };
    if !have("npm") {
        return skip("vscode extension", "npm is not installed");
    }
    if !dir.join("node_modules/vscode-languageclient").is_dir() {
        return skip("vscode extension", "editors/vscode/node_modules is missing: run `npm ci` there (tests/run does)");
    }
    let build = npm(&dir, &["run", "build"], Duration::from_secs(180));
    assert_eq!(build.code, Some(0), "npm run build:\n{}", build.text());
    assert!(dir.join("dist/extension.js").is_file() && dir.join("dist/settings.js").is_file());

    let typecheck = npm(&dir, &["run", "typecheck"], Duration::from_secs(180));
    assert_eq!(typecheck.code, Some(0), "tsc --noEmit:\n{}", typecheck.text());

    // The protocol-level test: initialize, didOpen bad.ospec.yml, OSP101, completion/hover,
    // shutdown/exit (editors/vscode/test/server.test.mjs).
    let test = npm(&dir, &["test"], Duration::from_secs(300));
    eprintln!("{}", test.stdout.lines().filter(|l| l.starts_with('#')).collect::<Vec<_>>().join("\n"));
    assert_eq!(test.code, Some(0), "npm test:\n{}", test.text());
    assert!(test.stdout.contains("diagnostics: [[\"OSP101\""), "{}", test.text());
    assert!(test.stdout.contains("# fail 0"), "{}", test.text());

    if major < 20 {
        return skip("vscode extension packaging", &format!("@vscode/vsce needs node 20 or later, found {major}"));
    }
    let out = tempfile::tempdir().expect("tempdir");
    let vsix = out.path().join("ospecc.vsix");
    let vsix_arg = vsix.display().to_string();
    let package =
        npm(&dir, &["exec", "--offline", "--", "vsce", "package", "--out", &vsix_arg], Duration::from_secs(300));
    assert_eq!(package.code, Some(0), "vsce package:\n{}", package.text());
    let bytes = std::fs::read(&vsix).unwrap_or_default();
    assert!(bytes.starts_with(b"PK"), "{} is not a zip archive", vsix.display());
    for inside in [
        "extension/dist/extension.js",
        "extension/syntaxes/topology.tmLanguage.json",
        "extension/snippets/ospec.json",
        "extension/package.json",
    ] {
        assert!(
            package.stdout.contains(inside.rsplit('/').next().unwrap_or(inside)),
            "{inside} not packaged:\n{}",
            package.stdout
        );
        // Zip central directory entries hold the names uncompressed.
        assert!(bytes.windows(inside.len()).any(|w| w == inside.as_bytes()), "{inside} is not in the .vsix");
    }
    assert!(!bytes.windows(b"node_modules/".len()).any(|w| w == b"node_modules/"), "the bundle ships node_modules");
}

// --- Neovim ---

#[test]
fn neovim_plugin_detects_files_attaches_and_reports_diagnostics() {
    if !have("nvim") {
        return skip("neovim plugin", "nvim is not installed (apt-get install -y neovim)");
    }
    let dir = project(&[
        ("bad.ospec.yml", read(&fixture("bad.ospec.yml")).as_bytes()),
        ("topology.star", read(&fixture("topology.star")).as_bytes()),
        ("nav.ospec.yml", read(&fixture("nav.ospec.yml")).as_bytes()),
        ("nav.star", read(&fixture("nav.star")).as_bytes()),
        ("nav_lib.star", read(&fixture("nav_lib.star")).as_bytes()),
        ("ospecc.toml", b"[check]\nprofile = \"ext\"\n"),
    ]);
    let result_file = dir.path().join("result.json");
    let mut nvim = Command::new("nvim");
    nvim.args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", fixture("nvim_test.lua").display()))
        .current_dir(dir.path())
        .env("OSPECC_NVIM_RTP", repo_root().join("editors/nvim"))
        .env("OSPECC_BIN", binary())
        .env("OSPECC_FIXTURE", dir.path().join("bad.ospec.yml"))
        .env("OSPECC_TOPOLOGY_FIXTURE", dir.path().join("topology.star"))
        .env("OSPECC_NAV_SPEC", dir.path().join("nav.ospec.yml"))
        .env("OSPECC_NAV_TOPOLOGY", dir.path().join("nav.star"))
        .env("OSPECC_NVIM_OUT", &result_file)
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"));
    let out = run(nvim, Duration::from_secs(240));
    let text =
        std::fs::read_to_string(&result_file).unwrap_or_else(|e| panic!("nvim wrote no result ({e}):\n{}", out.text()));
    eprintln!("nvim result: {text}");
    let result: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"));
    assert_eq!(result.get("error"), None, "the Lua script failed: {text}\n{}", out.text());
    assert_eq!(result["filetype"], "ospec", "{text}");
    assert_eq!(result["syntax"], "yaml", "{text}");
    assert_eq!(result["attached"], true, "{text}");
    assert_eq!(result["diagnostics_arrived"], true, "{text}");
    let diagnostics = result["diagnostics"].as_array().cloned().unwrap_or_default();
    let osp101 = diagnostics.iter().find(|d| d["code"] == "OSP101");
    let osp101 = osp101.unwrap_or_else(|| panic!("no OSP101 among {diagnostics:?}"));
    assert_eq!(osp101["severity"], 1, "an error: {osp101}");
    assert_eq!(osp101["source"], "ospecc", "{osp101}");
    assert_eq!(osp101["lnum"], 1, "on the document's first key (0-based line 1): {osp101}");

    // Completion at the start of a root key offers the schema's keys; hover on `outcome_type`
    // shows its schema documentation, as Neovim received them.
    for request in ["completion", "hover"] {
        let entry = &result[request];
        assert_eq!(entry["sent"], true, "{request}: {entry}");
        assert_ne!(entry["timed_out"], true, "{request} timed out: {entry}");
        assert_eq!(entry.get("error"), None, "{request} failed: {entry}");
    }
    let items: Vec<&str> = result["completion"]["items"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(items.contains(&"acceptance") && items.contains(&"services"), "schema keys offered: {items:?}");
    let hover = result["hover"]["result"]["contents"]["value"].as_str().unwrap_or_default();
    assert!(hover.contains("The kind of outcome this specification describes"), "hover: {hover}");
    assert!(hover.contains("`web-app`"), "hover lists the values: {hover}");
    assert_eq!(result["topology_filetype"], "starlark", "{text}");
    assert_eq!(result["topology_attached"], true, "{text}");
    assert_navigation_across_files(&result, &text);
    assert_eq!(result["stopped"], true, "{text}");
}

/// What Neovim got for references and rename across files (`navigate` in nvim_test.lua): a
/// loaded topology name in its importer and its module; the spec's service `api` in the spec
/// and in the topology's `service("api", ...)`; the rename of that service from the topology,
/// applied by Neovim to both files; a refused rename with its reason.
fn assert_navigation_across_files(result: &Value, text: &str) {
    for entry in ["loaded_references", "service_references", "prepare_rename", "rename"] {
        assert_eq!(result[entry]["sent"], true, "{entry}: {text}");
        assert_eq!(result[entry].get("error"), None, "{entry} failed: {text}");
        assert_ne!(result[entry]["timed_out"], true, "{entry} timed out: {text}");
    }
    assert_eq!(result["loaded_references"]["files"], json!({"nav.star": 2, "nav_lib.star": 1}), "{text}");
    assert_eq!(result["service_references"]["files"], json!({"nav.ospec.yml": 2, "nav.star": 1}), "{text}");
    let range = json!({"start": {"line": 4, "character": 5}, "end": {"line": 4, "character": 8}});
    assert_eq!(result["prepare_rename"]["result"], range, "{text}");
    let rename = &result["rename"];
    assert_eq!(rename["files"], json!({"nav.ospec.yml": 2, "nav.star": 1}), "{text}");
    let spec = rename["spec_text"].as_str().unwrap_or_default();
    assert!(spec.contains("\n  gateway:\n") && spec.contains("- service: gateway\n"), "spec after the rename: {spec}");
    assert!(!spec.contains("api:"), "spec after the rename: {spec}");
    let topology = rename["topology_text"].as_str().unwrap_or_default();
    assert!(topology.contains("api = service(\n    \"gateway\",\n"), "topology after the rename: {topology}");
    let refused = result["refused_rename"]["error"]["message"].as_str().unwrap_or_default();
    assert!(refused.contains("not a valid service name"), "{text}");
}

// --- Helix, CI docs, schema ---

/// A port of this suite's range (45300-45399) that nothing listens on now.
fn free_port() -> u16 {
    (45300..45400)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port in 45300-45399")
}

#[test]
fn neovim_ospecc_run_runs_the_test_under_the_cursor() {
    if !have("nvim") {
        return skip("neovim :OspeccRun", "nvim is not installed (apt-get install -y neovim)");
    }
    let spec = read(&repo_root().join("tests/lsp/run/mock.star")).replace("45110", &free_port().to_string());
    let assertion = spec.find("\"slow answers 200\"").expect("the failing assertion");
    let assertion_line = spec[..assertion].matches('\n').count() + 1;
    let dir = project(&[("mock.star", spec.as_bytes())]);
    let result_file = dir.path().join("result.json");
    let mut nvim = Command::new("nvim");
    nvim.args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", fixture("nvim_run_test.lua").display()))
        .current_dir(dir.path())
        .env("OSPECC_NVIM_RTP", repo_root().join("editors/nvim"))
        .env("OSPECC_BIN", binary())
        .env("OSPECC_FIXTURE", dir.path().join("mock.star"))
        .env("OSPECC_FAIL_LINE", (assertion_line - 1).to_string())
        .env("OSPECC_NVIM_OUT", &result_file)
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"));
    let out = run(nvim, Duration::from_secs(300));
    let text =
        std::fs::read_to_string(&result_file).unwrap_or_else(|e| panic!("nvim wrote no result ({e}):\n{}", out.text()));
    eprintln!("nvim :OspeccRun result: {text}");
    let result: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"));
    assert_eq!(result.get("error"), None, "the Lua script failed: {text}\n{}", out.text());
    assert_eq!(result["attached"], true, "{text}");
    assert_eq!(result["commands"], true, ":OspeccRun is defined: {text}");
    assert_eq!(
        result["tests"],
        serde_json::json!([
            "test_health",
            "test_slow_is_up",
            "test_fetch",
            "test_health_under_fault",
            "test_matrix_fetch_api_down"
        ]),
        "{text}"
    );
    assert_eq!(result["first_done"], true, "{text}");
    let first = &result["first"]["results"];
    assert_eq!(first.as_array().map(Vec::len), Some(1), "only the test under the cursor ran: {text}");
    assert_eq!(first[0]["name"], "test_slow_is_up", "{text}");
    assert_eq!(first[0]["outcome"], "failed", "{text}");
    assert_eq!(first[0]["line"], assertion_line, "{text}");
    assert_eq!(result["failure_published"], true, "{text}");
    let diagnostic = &result["diagnostics"][0];
    assert_eq!(diagnostic["lnum"], assertion_line - 1, "on the failing assertion's line (0-based): {text}");
    assert_eq!(diagnostic["severity"], 1, "{text}");
    assert_eq!(result["second_done"], true, "{text}");
    assert_eq!(result["second"]["results"][0]["name"], "test_health", "{text}");
    assert_eq!(result["second"]["passed"], true, "{text}");
}

#[test]
fn helix_languages_toml_defines_the_server_and_the_languages() {
    let text = read(&repo_root().join("editors/helix/languages.toml"));
    let config: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("languages.toml: {e}"));
    let server = &config["language-server"]["ospecc"];
    assert_eq!(server["command"].as_str(), Some("ospecc"));
    assert_eq!(server["args"].as_array().map(|a| a.len()), Some(1));
    assert_eq!(server["args"][0].as_str(), Some("lsp"));
    let options = server["config"].as_table().expect("config table");
    for key in options.keys() {
        assert!(["debounceMs", "maxFileBytes"].contains(&key.as_str()), "the server does not read `{key}`");
    }
    let languages = config["language"].as_array().expect("[[language]]");
    let ospec = languages.iter().find(|l| l["name"].as_str() == Some("ospec")).expect("ospec language");
    let globs: Vec<String> = ospec["file-types"]
        .as_array()
        .expect("file-types")
        .iter()
        .map(|f| {
            f.as_str().map(|s| format!("*.{s}")).or_else(|| f["glob"].as_str().map(str::to_string)).unwrap_or_default()
        })
        .collect();
    for pattern in ["*.ospec.yml", "*.ospec.yaml", "*.ospec", "outcome.yml", "outcome.yaml"] {
        assert!(globs.iter().any(|g| g == pattern), "{pattern} missing from {globs:?}");
    }
    let starlark = languages.iter().find(|l| l["name"].as_str() == Some("starlark")).expect("starlark language");
    for language in [ospec, starlark] {
        let servers = language["language-servers"].as_array().expect("language-servers");
        assert!(servers.iter().any(|s| s.as_str() == Some("ospecc")));
    }
}

#[test]
fn ci_example_workflow_uploads_the_sarif_that_check_writes() {
    let workflow = read(&repo_root().join("docs/examples/ospecc-sarif.yml"));
    assert!(workflow.contains("ospecc check --format sarif"), "{workflow}");
    assert!(workflow.contains("github/codeql-action/upload-sarif"), "{workflow}");
    assert!(workflow.contains("security-events: write"), "upload-sarif needs the permission");
    assert!(read(&repo_root().join("docs/ci.md")).contains("docs/examples/ospecc-sarif.yml"));
    // The command the workflow runs, on a failing tree: SARIF 2.1.0 with the finding.
    let dir = project(&[("specs/bad.ospec.yml", read(&fixture("bad.ospec.yml")).as_bytes())]);
    let run = ospecc(dir.path(), &["check", "--format", "sarif"]);
    run.expect(1);
    let sarif: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().cloned().unwrap_or_default();
    assert!(results.iter().any(|r| r["ruleId"] == "OSP101"), "{results:?}");
}

#[test]
fn exported_schema_serves_the_documented_modeline() {
    let dir = project(&[]);
    let file = dir.path().join("ospec.schema.json");
    let file_arg = file.display().to_string();
    ospecc(dir.path(), &["schema", "export", "--profile", "ext", "-o", &file_arg]).expect(0);
    let schema: Value = serde_json::from_str(&read(&file)).unwrap_or_else(|e| panic!("schema export: {e}"));
    assert!(schema.get("$schema").is_some() && schema.get("properties").is_some(), "not a JSON Schema");
    let editors = read(&repo_root().join("docs/editors.md"));
    assert!(editors.contains("# yaml-language-server: $schema="), "docs/editors.md documents the modeline");
    assert!(editors.contains("ospecc schema export"), "docs/editors.md documents the export");
}

#[test]
fn readme_keeps_its_first_two_commands_then_documents_install_and_editors() {
    let readme = read(&repo_root().join("README.md"));
    let first_block = readme.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).unwrap_or_default();
    let lines: Vec<&str> = first_block.lines().collect();
    assert!(lines.first().is_some_and(|l| l.starts_with("bash tests/services.sh")), "{first_block}");
    assert!(lines.get(1).is_some_and(|l| l.starts_with("./tests/run")), "{first_block}");
    let install = readme.find("## Install").expect("an Install section");
    assert!(install > readme.find("./tests/run").unwrap_or(usize::MAX), "Install comes after the first commands");
    assert!(readme.contains("cargo install --path ."));
    assert!(readme.contains("docs/editors.md"));
}
