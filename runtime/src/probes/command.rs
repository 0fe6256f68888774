//! Command probes (`acceptance.commands[]`, only with `--allow-shell`): run an argv in its own
//! process group, kill the group on timeout, then check the exit code, stdout and duration.

use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::http::Ctx;
use super::{round_ms, Verdict};
use crate::events::fields;

/// The most of stdout/stderr an event or a message quotes.
const OUTPUT_EVENT_LIMIT: usize = 4096;
const OUTPUT_MESSAGE_LIMIT: usize = 300;

pub(crate) struct CommandCheck<'a> {
    pub argv: &'a [String],
    pub cwd: Option<&'a str>,
    pub timeout_ms: u64,
    pub expect_exit: i32,
    pub stdout_contains: &'a [String],
    pub stdout_format: Option<&'a str>,
    pub max_duration_ms: Option<u64>,
}

pub(crate) async fn run(ctx: &Ctx<'_>, check: &CommandCheck<'_>) -> Verdict {
    let Some((program, args)) = check.argv.split_first() else {
        return Verdict::errored("the command is empty");
    };
    let cwd = match check.cwd {
        Some(dir) => ctx.options.workdir.join(dir),
        None => ctx.options.workdir.clone(),
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .current_dir(&cwd)
        .envs(&ctx.options.environment)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let shown = check.argv.join(" ");
    let started = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            ctx.events.push(
                ctx.service,
                "command",
                fields([("probe", json!(ctx.probe)), ("argv", json!(check.argv)), ("error", json!(e.to_string()))]),
            );
            return Verdict::failed(format!("cannot run `{shown}` in {}: {e}", cwd.display()), 1);
        }
    };
    let pid = child.id();
    let stdout_task = child.stdout.take().map(|mut out| {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf).await;
            buf
        })
    });
    let stderr_task = child.stderr.take().map(|mut err| {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf).await;
            buf
        })
    });

    let timeout = Duration::from_millis(check.timeout_ms.max(1));
    let (status, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => (status.ok(), false),
        Err(_) => {
            if let Some(pid) = pid {
                // SAFETY: killpg only sends a signal; the group is the child's own (process_group(0)).
                unsafe {
                    libc::killpg(pid as libc::pid_t, libc::SIGKILL);
                }
            }
            let _ = child.kill().await;
            (child.wait().await.ok(), true)
        }
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    // A process that left the group may still hold the pipes: do not wait for it long.
    let collect = |task: Option<tokio::task::JoinHandle<Vec<u8>>>| async move {
        match task {
            Some(task) => tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .ok()
                .and_then(Result::ok)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            None => String::new(),
        }
    };
    let stdout = collect(stdout_task).await;
    let stderr = collect(stderr_task).await;
    let code = status.and_then(|s| s.code());

    let mut event = fields([
        ("probe", json!(ctx.probe)),
        ("argv", json!(check.argv)),
        ("cwd", json!(cwd.display().to_string())),
        ("ms", json!(round_ms(elapsed_ms))),
        ("stdout", json!(truncate(&stdout, OUTPUT_EVENT_LIMIT))),
        ("stderr", json!(truncate(&stderr, OUTPUT_EVENT_LIMIT))),
    ]);
    event.insert("exit".to_owned(), json!(code));
    if timed_out {
        event.insert("timed_out".to_owned(), json!(true));
    }
    ctx.events.push(ctx.service, "command", event);

    if timed_out {
        return Verdict::failed(format!("`{shown}` timed out after {} ms and was killed", check.timeout_ms), 1);
    }
    let mut failures: Vec<String> = Vec::new();
    let mut assertions = 1;
    match code {
        Some(code) if code == check.expect_exit => {}
        Some(code) => failures.push(format!("exit code {code}, expected {}", check.expect_exit)),
        None => failures.push(format!("killed by a signal, expected exit code {}", check.expect_exit)),
    }
    let missing: Vec<String> =
        check.stdout_contains.iter().filter(|s| !stdout.contains(s.as_str())).map(|s| format!("{s:?}")).collect();
    assertions += check.stdout_contains.len() as u32;
    if !missing.is_empty() {
        failures.push(format!("stdout does not contain {}", missing.join(", ")));
    }
    if let Some(format) = check.stdout_format {
        assertions += 1;
        if let Err(e) = check_format(format, &stdout) {
            failures.push(e);
        }
    }
    if let Some(max) = check.max_duration_ms {
        assertions += 1;
        if elapsed_ms > max as f64 {
            failures.push(format!("took {elapsed_ms:.1} ms, over the {max} ms limit"));
        }
    }
    if failures.is_empty() {
        return Verdict::passed(None, assertions);
    }
    let mut message = format!("`{shown}`: {}", failures.join("; "));
    let out = truncate(stdout.trim(), OUTPUT_MESSAGE_LIMIT);
    if !out.is_empty() {
        message.push_str(&format!("; stdout: {out}"));
    }
    let err = truncate(stderr.trim(), OUTPUT_MESSAGE_LIMIT);
    if !err.is_empty() {
        message.push_str(&format!("; stderr: {err}"));
    }
    Verdict::failed(message, assertions)
}

fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `stdout_format`: `semver` (some word of the output is a version `1.2.3`, optionally `v`-
/// prefixed, with pre-release/build suffixes), `table` (at least two lines with the same number
/// (≥ 2) of columns separated by tabs, `|` or two or more spaces), `json` (parses), `text`
/// (anything).
pub(crate) fn check_format(format: &str, stdout: &str) -> Result<(), String> {
    static SEMVER: OnceLock<Regex> = OnceLock::new();
    static COLUMNS: OnceLock<Regex> = OnceLock::new();
    match format {
        "semver" => {
            let semver = SEMVER.get_or_init(|| {
                Regex::new(r"^[vV]?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?[,;)]?$")
                    .expect("semver regex")
            });
            if stdout.split_whitespace().any(|word| semver.is_match(word.trim_start_matches('('))) {
                Ok(())
            } else {
                Err(String::from("stdout has no semantic version (x.y.z)"))
            }
        }
        "table" => {
            let columns = COLUMNS.get_or_init(|| Regex::new(r"\t+|\s*\|\s*| {2,}").expect("columns regex"));
            let mut counts: Vec<usize> = Vec::new();
            for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let line = line.trim_matches('|');
                let n = columns.split(line).filter(|c| !c.trim().is_empty()).count();
                if n >= 2 {
                    counts.push(n);
                }
            }
            counts.sort_unstable();
            if counts.windows(2).any(|w| w[0] == w[1]) {
                Ok(())
            } else {
                Err(String::from("stdout is not a table (two or more aligned lines with two or more columns)"))
            }
        }
        "json" => serde_json::from_str::<serde_json::Value>(stdout)
            .map(|_| ())
            .map_err(|e| format!("stdout is not JSON: {e}")),
        "text" => Ok(()),
        other => Err(format!("unknown stdout format {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::check_format;

    #[test]
    fn formats() {
        assert!(check_format("semver", "mytool 1.2.3\n").is_ok());
        assert!(check_format("semver", "v0.1.0-rc.1+build.5").is_ok());
        assert!(check_format("semver", "version (1.2.3)").is_ok());
        assert!(check_format("semver", "1.2").is_err());
        assert!(check_format("table", "NAME  AGE\nbob   3\n").is_ok());
        assert!(check_format("table", "| a | b |\n| 1 | 2 |").is_ok());
        assert!(check_format("table", "just one line of text\nand another").is_err());
        assert!(check_format("json", "{\"a\": 1}").is_ok());
        assert!(check_format("json", "nope").is_err());
        assert!(check_format("text", "").is_ok());
    }
}
