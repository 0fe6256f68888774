//! The terminal output: a live [`Progress`] while items finish and the [`summary`] at the end.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::format_ms;
use super::model::{ItemResult, Outcome, RunReport};
use super::redact::Redactor;

/// The fixed-width label of an outcome (`PASS`, `FAIL`, ...).
pub fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "PASS",
        Outcome::Failed => "FAIL",
        Outcome::Errored => "ERROR",
        Outcome::Skipped => "SKIP",
        Outcome::NotRun => "NOT RUN",
        Outcome::Unverifiable => "UNVERIFIABLE",
    }
}

/// Indents every line of a multi-line message after the first.
fn indent_rest(message: &str, indent: &str) -> String {
    message.trim_end().replace('\n', &format!("\n{indent}"))
}

/// The end-of-run text: one line per failed, errored, not-run and skipped item (and per
/// service that failed) with its message, then the counts and the time.
pub fn summary(report: &RunReport) -> String {
    let mut out = String::new();
    let order = [Outcome::Failed, Outcome::Errored, Outcome::NotRun, Outcome::Skipped];
    for service in report.services.iter().filter(|s| s.state == "failed") {
        let message = service.message.as_deref().map(|m| format!(": {}", indent_rest(m, "  "))).unwrap_or_default();
        out.push_str(&format!("service {} failed{message}\n", service.name));
    }
    for outcome in order {
        for item in report.results.iter().filter(|r| r.outcome == outcome) {
            let tag = label(outcome);
            let message = item.message.as_deref().map(|m| format!(": {}", indent_rest(m, "    "))).unwrap_or_default();
            out.push_str(&format!("{tag:<7} {}{message}\n", item.name));
        }
    }
    // Run diagnostics that deserve a look (infos stay in the JSON and HTML reports).
    let noteworthy = |d: &&super::RunDiagnostic| d.level != "info";
    for item in &report.results {
        for diagnostic in item.diagnostics.iter().filter(noteworthy) {
            out.push_str(&format!("{}: {}\n", item.name, indent_rest(&diagnostic.to_string(), "    ")));
        }
    }
    for diagnostic in report.diagnostics.iter().filter(noteworthy) {
        out.push_str(&format!("run: {}\n", indent_rest(&diagnostic.to_string(), "    ")));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let s = &report.summary;
    out.push_str(&format!(
        "{} passed, {} failed, {} errored, {} skipped, {} not run, {} unverifiable in {}",
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        s.not_run,
        s.unverifiable,
        format_ms(report.duration_ms)
    ));
    if let Some(shard) = &report.shard {
        out.push_str(&format!(" (shard {shard})"));
    }
    out.push('\n');
    out
}

/// One progress line: `PASS name (12 ms)`, with the message for anything but a pass.
pub fn progress_line(item: &ItemResult) -> String {
    let mut line = format!("{} {} ({})", label(item.outcome), item.name, format_ms(item.duration_ms));
    if item.outcome != Outcome::Passed {
        if let Some(message) = &item.message {
            line.push_str(": ");
            line.push_str(&indent_rest(message, "    "));
        }
    }
    line
}

/// Which finished items the live output lists (`--show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Everything in a log; on a terminal, what did not pass (above the bar).
    Default,
    /// Only what did not pass.
    Failures,
    /// Everything.
    All,
}

/// The flakiness of a run with `--runs`: each test whose runs disagree, with how many of its
/// runs passed (empty when no test ran more than once or all agreed).
pub fn flakiness(report: &RunReport) -> String {
    let mut runs: std::collections::BTreeMap<&str, (u32, u32)> = std::collections::BTreeMap::new();
    for item in &report.results {
        let Some(base) = item.name.rfind("[run=").map(|at| &item.name[..at]) else { continue };
        let entry = runs.entry(base).or_default();
        entry.1 += 1;
        if item.outcome == Outcome::Passed {
            entry.0 += 1;
        }
    }
    let flaky: Vec<String> = runs
        .iter()
        .filter(|(_, (passed, total))| *passed > 0 && passed < total)
        .map(|(name, (passed, total))| format!("FLAKY   {name}: passed {passed} of {total} runs\n"))
        .collect();
    if runs.is_empty() {
        return String::new();
    }
    format!("{}{} of {} tests flaky over their runs\n", flaky.concat(), flaky.len(), runs.len())
}

/// Live progress on stderr: a bar on a terminal (lines above it for what did not pass), plain
/// lines otherwise (CI logs); `--show` narrows or widens what is listed.
pub struct Progress {
    bar: ProgressBar,
    tty: bool,
    redactor: Redactor,
    show: Show,
}

impl Progress {
    pub fn new(is_tty: bool, total: u64) -> Progress {
        let bar = if is_tty {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {elapsed} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { bar, tty: is_tty, redactor: Redactor::none(), show: Show::Default }
    }

    /// Lists the items `show` asks for.
    pub fn with_show(mut self, show: Show) -> Progress {
        self.show = show;
        self
    }

    /// Redacts every line this progress prints.
    pub fn with_redactor(mut self, redactor: Redactor) -> Progress {
        self.redactor = redactor;
        self
    }

    /// Shows what is running now (the bar's message on a terminal; nothing otherwise).
    pub fn running(&self, name: &str) {
        if self.tty {
            self.bar.set_message(self.redactor.apply(name));
        }
    }

    /// Reports one finished item.
    pub fn item(&self, item: &ItemResult) {
        let listed = match self.show {
            Show::All => true,
            Show::Failures => item.outcome != Outcome::Passed,
            Show::Default => !self.tty || item.outcome != Outcome::Passed,
        };
        let line = listed.then(|| self.redactor.apply(&progress_line(item)));
        if self.tty {
            if let Some(line) = line {
                self.bar.println(line);
            }
            self.bar.inc(1);
        } else if let Some(line) = line {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
        }
    }

    /// Removes the bar (the summary follows).
    pub fn finish(&self) {
        if self.tty {
            self.bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.tty && !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}
