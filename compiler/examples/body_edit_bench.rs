//! What an edit inside a test body costs the analysis database: a topology file (the 2,000-line
//! `big.star` of `bench/lsp/generate.py`) is checked once, then one line of a `test_*` body is
//! edited N times, each edit set as an open document's content (`volatile`) and checked again,
//! as the language server does on every keystroke. Prints p50/p95/max milliseconds per edit.
//!
//! `body_edit_bench PATH [EDITS]` (default 200 edits). Wall-clock and CPU time (the process's,
//! both threads the checks may use) are printed: on a busy machine the CPU time says more.
//! Under callgrind, run it with 1 and with 21 edits and divide the difference by 20.
//! The loop runs on an analysis thread, as the language server's analyses do.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use ospecc_compiler::db::{Database, FileContent, Request};
use ospecc_compiler::ospec::CheckOptions;
use ospecc_compiler::syntax::Language;
use ospecc_compiler::topology::{self, Limits};
use ospecc_compiler::vfs::MemoryFs;

/// The binary's allocator (`src/main.rs`).
#[global_allocator]
static GLOBAL: ospecc_compiler::topology::eval_limits::Metered<mimalloc::MiMalloc> =
    ospecc_compiler::topology::eval_limits::Metered(mimalloc::MiMalloc);

/// The line the edits rewrite (the first of its kind after the middle of the file, as the
/// language-server benchmark picks it).
const EDITED: &str = "    assert_eq(created.status, 201)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: body_edit_bench PATH [EDITS]");
        return ExitCode::from(2);
    };
    let edits: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("body_edit_bench: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    let middle = lines.len() / 2;
    let Some(at) = (middle..lines.len()).find(|&i| lines[i] == EDITED) else {
        eprintln!("body_edit_bench: no `{EDITED}` line after the middle of {path}");
        return ExitCode::from(2);
    };
    let (wall, cpu) = topology::on_analysis_stack(|| run(&text, &lines, at, edits));
    println!(
        "{} edits in line {} of {} lines: wall {}; cpu {}",
        edits,
        at + 1,
        lines.len(),
        summary(wall),
        summary(cpu)
    );
    ExitCode::SUCCESS
}

/// p50, p95 and max of milliseconds.
fn summary(mut times: Vec<f64>) -> String {
    if times.is_empty() {
        return "no edits".into();
    }
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    format!("p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms", pick(0.50), pick(0.95), pick(1.0))
}

/// The CPU time the process has used (user and system), in milliseconds.
fn cpu_ms() -> f64 {
    // SAFETY: getrusage fills the struct it is given; a zeroed rusage is a valid one.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

/// Checks the file once, then edits line `at` `edits` times; the wall-clock and CPU
/// milliseconds of each check.
fn run(text: &str, lines: &[&str], at: usize, edits: usize) -> (Vec<f64>, Vec<f64>) {
    let file = PathBuf::from("/w/big.star");
    let fs = MemoryFs::default().with_file(&file, text);
    let mut db = Database::new(Arc::new(fs), topology::MAX_READ_BYTES);
    let request = Request {
        path: file.clone(),
        written: file.clone(),
        language: Language::Topology,
        root: PathBuf::from("/w"),
        options: CheckOptions::default(),
        limits: Limits::default(),
        confinement: None,
    };
    // Opened in the editor: the document's content is volatile from the start.
    set(&mut db, &file, text);
    let baseline = db.check(&request).len();
    let (mut wall, mut cpu) = (Vec::with_capacity(edits), Vec::with_capacity(edits));
    for i in 0..edits {
        let edited = edit(lines, at, i);
        let (started, cpu_before) = (Instant::now(), cpu_ms());
        set(&mut db, &file, &edited);
        let found = db.check(&request).len();
        wall.push(started.elapsed().as_secs_f64() * 1e3);
        cpu.push(cpu_ms() - cpu_before);
        assert_eq!(found, baseline, "an edit inside a test body changes no diagnostic");
    }
    (wall, cpu)
}

/// The file with line `at` rewritten for the `i`th edit (its length changes as `i` grows, as
/// typing changes it).
fn edit(lines: &[&str], at: usize, i: usize) -> String {
    let mut out = String::new();
    for (n, line) in lines.iter().enumerate() {
        if n == at {
            out.push_str(&format!("    assert_eq(created.status, 201 + {i} - {i})"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn set(db: &mut Database, path: &Path, text: &str) {
    db.set_content(path, FileContent::Bytes(Arc::from(text.as_bytes())), true);
}
