//! No container outlives its run. Every container carries labels naming its run and the run's
//! lock file (`supervisor::reaper`): the process keeps a list of the containers it started and
//! removes them at teardown, at the end of the run, on SIGINT/SIGTERM and when `Services` is
//! dropped ([`remove_all_now`], [`cleanup`]); and the first container start of a run removes
//! the containers of runs whose lock nobody holds any more, which is what a `kill -9` of
//! ospecc leaves ([`reap_abandoned`]). The run's network ([`super::network`]) follows its
//! containers both ways.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::engine::{Engine, Kind};
use super::{LABEL_LOCK, LABEL_RUN};
use crate::supervisor::reaper;

const REMOVE_TIMEOUT: Duration = Duration::from_secs(60);
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// Containers this process started and has not removed yet, with their engine.
static LIVE: Mutex<Vec<(Engine, String)>> = Mutex::new(Vec::new());
/// The engines this process used (their own leftovers are looked for by label at the end).
static USED: Mutex<Vec<Engine>> = Mutex::new(Vec::new());

/// Records a container about to be created (before the engine is asked, so that a signal in
/// between still finds it).
pub(crate) fn register(engine: &Engine, name: &str) {
    {
        let mut used = USED.lock().unwrap_or_else(|p| p.into_inner());
        if !used.contains(engine) {
            used.push(engine.clone());
        }
    }
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).push((engine.clone(), name.to_owned()));
}

/// Forgets a container that is gone.
pub(crate) fn unregister(name: &str) {
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).retain(|(_, n)| n != name);
}

/// `rm --force` of `names` (and their anonymous volumes), waiting no grace period.
pub(crate) fn remove(engine: &Engine, names: &[String]) -> Result<(), String> {
    if names.is_empty() {
        return Ok(());
    }
    let mut args: Vec<String> = vec!["rm".into(), "--force".into(), "--volumes".into()];
    if engine.kind == Kind::Podman {
        // Podman's forced removal otherwise waits the container's stop timeout (10 s).
        args.extend(["--time".into(), "0".into()]);
    }
    args.extend(names.iter().cloned());
    let out = engine.run(&args, REMOVE_TIMEOUT)?;
    // A container already gone (its `run --rm` removed it) is what we want.
    if out.success || out.stderr.to_lowercase().contains("no such container") {
        Ok(())
    } else {
        Err(out.reason())
    }
}

/// Removes every container this process started and still has: synchronously, for signal
/// handlers, the end of a run and dropped supervisors. Returns how many it asked to remove.
pub fn remove_all_now() -> usize {
    let live: Vec<(Engine, String)> = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|p| p.into_inner()));
    let mut by_engine: BTreeMap<Engine, Vec<String>> = BTreeMap::new();
    for (engine, name) in live {
        by_engine.entry(engine).or_default().push(name);
    }
    let mut count = 0;
    for (engine, names) in by_engine {
        count += names.len();
        let _ = remove(&engine, &names);
    }
    count
}

/// The end of a run (or a signal): every container of this process is removed, and so is any
/// container labelled with this run that the list missed. Does nothing when the run started
/// no container. Returns the names of escaped containers it found by label.
pub fn cleanup() -> Vec<String> {
    remove_all_now();
    let used: Vec<Engine> = USED.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut escaped = Vec::new();
    for engine in used {
        let own = labelled(&engine, &format!("{LABEL_RUN}={}", reaper::run_id()));
        let names: Vec<String> = own.into_iter().map(|c| c.name).collect();
        if remove(&engine, &names).is_ok() {
            escaped.extend(names);
        }
    }
    // The run's network goes once nothing is attached to it.
    super::network::remove_own();
    escaped
}

/// A container found by label.
struct Labelled {
    name: String,
    run: String,
    lock: String,
}

/// The containers (running or not) carrying `filter` (`KEY` or `KEY=VALUE`).
fn labelled(engine: &Engine, filter: &str) -> Vec<Labelled> {
    let list = ["ps", "--all", "--quiet", "--filter", &format!("label={filter}")].map(str::to_owned);
    let Ok(ids) = engine.call(&list, LIST_TIMEOUT) else { return Vec::new() };
    let ids: Vec<String> = ids.split_whitespace().map(str::to_owned).collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let format = format!(
        "{{{{.Name}}}}\t{{{{index .Config.Labels \"{LABEL_RUN}\"}}}}\t{{{{index .Config.Labels \"{LABEL_LOCK}\"}}}}"
    );
    let mut args: Vec<String> = ["container", "inspect", "--format", &format].map(str::to_owned).to_vec();
    args.extend(ids);
    // A container removed between the two calls makes inspect fail for it alone: read what came.
    let Ok(out) = engine.run(&args, LIST_TIMEOUT) else { return Vec::new() };
    out.stdout
        .lines()
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let name = cols.next()?.trim().trim_start_matches('/').to_owned();
            let run = cols.next().unwrap_or_default().trim().to_owned();
            let lock = cols.next().unwrap_or_default().trim().to_owned();
            (!name.is_empty()).then_some(Labelled { name, run, lock })
        })
        .collect()
}

/// Removes the containers of runs that are gone (their lock file is absent or unheld); once per
/// process and engine. Returns the names removed.
pub fn reap_abandoned(engine: &Engine) -> Vec<String> {
    static DONE: OnceLock<Mutex<Vec<Engine>>> = OnceLock::new();
    {
        let mut done = DONE.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
        if done.contains(engine) {
            return Vec::new();
        }
        done.push(engine.clone());
    }
    let own = reaper::run_id();
    let dead: Vec<String> = labelled(engine, LABEL_RUN)
        .into_iter()
        .filter(|c| c.run != own && (c.lock.is_empty() || reaper::run_gone(Path::new(&c.lock))))
        .map(|c| c.name)
        .collect();
    let removed = match remove(engine, &dead) {
        Ok(()) => dead,
        Err(_) => Vec::new(),
    };
    // Their networks, now that nothing of theirs is attached.
    super::network::reap_abandoned(engine);
    removed
}
