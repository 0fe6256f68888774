//! What a seccomp filter costs a service: a child doing 100,000 one-byte `write`s to /dev/null,
//! timed inside the child, spawned through the runtime's own `process::spawn` in four setups:
//!
//! 1. no filter;
//! 2. a filter that does not notify `write` (it intercepts `connect`): the BPF cost alone;
//! 3. `write` intercepted with no rule: every write goes to the supervisor and back (CONTINUE);
//! 4. `write` intercepted with a rule for another path: the supervisor also reads the fd's
//!    `/proc/<tid>/fd` link before continuing.
//!
//! Prints ns per call (median of the runs, each run listed) and the ratio to no filter.
//!
//! ```text
//! cargo run --release -p ospecc-runtime --example seccomp_bench [-- --runs 5 --calls 100000]
//! ```
//! The child mode (`--child CALLS`) is this same binary run by the parent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ospecc_runtime::events::EventLog;
use ospecc_runtime::faults::rules::Install;
use ospecc_runtime::seccomp::{Faulting, SyscallRules};
use ospecc_runtime::supervisor::decode::Decoder;
use ospecc_runtime::supervisor::process;
use ospecc_schema::plan::topology::{SyscallAction, SyscallRule};
use ospecc_schema::plan::Origin;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let calls = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
        std::process::exit(child(calls));
    }
    let flag = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (runs, calls) = (flag("--runs", 5), flag("--calls", 100_000));
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seccomp_bench: cannot start a tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(message) = runtime.block_on(parent(runs, calls)) {
        eprintln!("seccomp_bench: {message}");
        std::process::exit(1);
    }
}

/// The measured loop: `calls` one-byte writes to /dev/null; prints ns per call.
fn child(calls: u64) -> i32 {
    let file = match std::fs::OpenOptions::new().write(true).open("/dev/null") {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot open /dev/null: {e}");
            return 1;
        }
    };
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    let byte = [b'x'];
    let start = Instant::now();
    for _ in 0..calls {
        // SAFETY: a one-byte write from a live buffer to an fd we own.
        if unsafe { libc::write(fd, byte.as_ptr().cast(), 1) } != 1 {
            eprintln!("write failed: {}", std::io::Error::last_os_error());
            return 1;
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / calls as f64;
    println!("ns_per_call {ns:.1}");
    0
}

struct Setup {
    name: &'static str,
    intercept: &'static [&'static str],
    /// A write rule for a path the child never writes (forces fd resolution).
    other_path_rule: bool,
}

const SETUPS: &[Setup] = &[
    Setup { name: "no filter", intercept: &[], other_path_rule: false },
    Setup { name: "filter, write not intercepted", intercept: &["connect"], other_path_rule: false },
    Setup { name: "write intercepted, no rule (CONTINUE)", intercept: &["write"], other_path_rule: false },
    Setup { name: "write intercepted, rule on another path", intercept: &["write"], other_path_rule: true },
];

async fn parent(runs: u64, calls: u64) -> Result<(), String> {
    let support = ospecc_runtime::seccomp::probe()?;
    let me = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    println!(
        "seccomp_bench: {calls} one-byte writes to /dev/null per run, {runs} runs per setup, kernel {}, \
         SYNC_WAKE_UP {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        if support.sync_wake_up { "on" } else { "unsupported" }
    );
    let mut baseline = None;
    for (index, setup) in SETUPS.iter().enumerate() {
        let mut samples = Vec::new();
        for run in 0..runs {
            samples.push(measure(&me, setup, calls, &format!("bench{index}-{run}")).await?);
        }
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let base = *baseline.get_or_insert(median);
        let list: Vec<String> = samples.iter().map(|s| format!("{s:.0}")).collect();
        println!(
            "{:<42} median {:>8.1} ns/call  {:>6.1}x  runs [{}]",
            setup.name,
            median,
            median / base,
            list.join(" ")
        );
    }
    Ok(())
}

async fn measure(me: &std::path::Path, setup: &Setup, calls: u64, name: &str) -> Result<f64, String> {
    let events = EventLog::default();
    let rules = SyscallRules::new(1);
    if setup.other_path_rule {
        rules.install(Install {
            rule: SyscallRule {
                service: name.into(),
                key: "write".into(),
                syscalls: vec!["write".into()],
                action: SyscallAction::Deny { errno: "EIO".into() },
                probability: 1.0,
                max_fires: None,
                mode: None,
                label: None,
                path: Some("/var/ospecc-bench-nothing/*".into()),
                assumption: "bench".into(),
                origin: Origin { file: "bench".into(), line: 1, column: 1 },
            },
            scope: "bench".into(),
            probability: 1.0,
            max_fires: None,
        });
    }
    let seccomp = (!setup.intercept.is_empty()).then(|| Faulting {
        intercept: setup.intercept.iter().map(|s| s.to_string()).collect(),
        rules,
        upstream_of: Arc::new(|_| None),
        detect: None,
    });
    let args = vec!["--child".to_owned(), calls.to_string()];
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let workdir = std::env::temp_dir();
    let spec = process::Spec {
        name,
        program: me.to_path_buf(),
        args: &args,
        env: &env,
        workdir: &workdir,
        decoders: (Decoder::Plain, Decoder::Plain),
        seccomp,
    };
    let proc = process::spawn(spec, &events).await.map_err(|e| format!("cannot spawn the child: {e}"))?;
    let exit = tokio::time::timeout(Duration::from_secs(120), proc.exited())
        .await
        .map_err(|_| "the child did not finish within 120 s".to_owned())?;
    let lines: Vec<String> = events
        .since(0)
        .iter()
        .filter(|e| e.kind == "stdout" || e.kind == "stderr")
        .filter_map(|e| e.fields.get("line").and_then(|l| l.as_str()).map(str::to_owned))
        .collect();
    if exit.code != Some(0) {
        return Err(format!("the child {}: {}", exit.cause, lines.join(" | ")));
    }
    lines
        .iter()
        .find_map(|l| l.strip_prefix("ns_per_call ").and_then(|v| v.parse().ok()))
        .ok_or_else(|| format!("the child printed no measurement: {}", lines.join(" | ")))
}
