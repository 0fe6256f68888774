//! One bridge network per run, as Faultbox makes one: containers that only talk to other
//! containers join it, under their service names as host names, and publish their ports on the
//! host's loopback for everything on the host (steps, healthchecks, proxies, processes, mocks).
//!
//! A container joins the bridge when every address reference in its environment names another
//! container service reached directly; its references then render to `SERVICE:PORT` on the
//! bridge ([`bridge_env`]). A container that must reach something on the host — a process, a
//! mock, a remote service, or a proxy edge of this test (protocol faults, partitions), all of
//! which listen on the host's loopback, which a bridge cannot reach — joins the host's network
//! instead, with the host-side rendering (`localhost:PORT`, the edge's address). So does every
//! container when the engine cannot make a network (the reason is the `network_reason` field
//! of `container_started`), and every container of a `--jobs` run (each job lives in network
//! namespaces of its own).
//!
//! The network is created at the run's first container start, labelled like its containers,
//! removed at the end of the run after them ([`remove_own`]), and a later run removes the
//! networks of runs that died ([`reap_abandoned`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use ospecc_schema::plan::topology::{EnvPart, Launch};
use ospecc_schema::plan::Service;

use super::engine::Engine;
use super::{LABEL_LOCK, LABEL_RUN};
use crate::supervisor::env::Edges;
use crate::supervisor::reaper;

const NETWORK_TIMEOUT: Duration = Duration::from_secs(60);

/// Each engine's network for this run, or why it has none.
type Made = BTreeMap<Engine, Result<String, String>>;

fn made() -> &'static Mutex<Made> {
    static MADE: OnceLock<Mutex<Made>> = OnceLock::new();
    MADE.get_or_init(Default::default)
}

/// The run's network on `engine`, created on first use (once per process and engine).
pub fn ensure(engine: &Engine) -> Result<String, String> {
    let mut made = made().lock().unwrap_or_else(|p| p.into_inner());
    made.entry(engine.clone()).or_insert_with(|| create(engine)).clone()
}

fn create(engine: &Engine) -> Result<String, String> {
    let name = format!("ospecc-{}", reaper::run_id());
    let args = [
        "network".to_owned(),
        "create".to_owned(),
        "--label".to_owned(),
        format!("{LABEL_RUN}={}", reaper::run_id()),
        "--label".to_owned(),
        format!("{LABEL_LOCK}={}", reaper::lock_file().display()),
        name.clone(),
    ];
    engine.call(&args, NETWORK_TIMEOUT).map(|_| name)
}

/// Removes the networks this run made (after its containers), also one whose creation the
/// run took for failed (the engine answered after the timeout): every network on an engine the
/// run asked that carries its label. Returns their names.
pub fn remove_own() -> Vec<String> {
    let made: Made = std::mem::take(&mut *made().lock().unwrap_or_else(|p| p.into_inner()));
    let mut removed = Vec::new();
    for (engine, network) in made {
        let mut names = labelled_own(&engine);
        if let Ok(name) = network {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        if remove(&engine, &names) {
            removed.extend(names);
        }
    }
    removed
}

/// The networks on `engine` labelled with this run.
fn labelled_own(engine: &Engine) -> Vec<String> {
    let filter = format!("label={LABEL_RUN}={}", reaper::run_id());
    let list = ["network", "ls", "--filter", &filter, "--format", "{{.Name}}"].map(str::to_owned);
    engine
        .call(&list, NETWORK_TIMEOUT)
        .map(|names| names.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn remove(engine: &Engine, names: &[String]) -> bool {
    if names.is_empty() {
        return true;
    }
    let mut args = vec!["network".to_owned(), "rm".to_owned()];
    if engine.kind == super::engine::Kind::Podman {
        // Podman's `--force` also removes containers still attached (none should be).
        args.push("--force".to_owned());
    }
    args.extend(names.iter().cloned());
    // The engine may still be detaching a container it just removed: a few tries.
    (0..REMOVE_ATTEMPTS).any(|attempt| {
        if attempt > 0 {
            std::thread::sleep(REMOVE_RETRY);
        }
        engine.run(&args, NETWORK_TIMEOUT).is_ok_and(|out| out.success)
    })
}

/// How often a network's removal is tried, and the pause between tries.
const REMOVE_ATTEMPTS: usize = 3;
const REMOVE_RETRY: std::time::Duration = std::time::Duration::from_millis(500);

/// Removes the networks of runs that are gone (their lock file is absent or unheld); call after
/// their containers are removed. Returns the names removed.
pub fn reap_abandoned(engine: &Engine) -> Vec<String> {
    let list = ["network", "ls", "--filter", &format!("label={LABEL_RUN}"), "--format", "{{.Name}}"].map(str::to_owned);
    let Ok(names) = engine.call(&list, NETWORK_TIMEOUT) else { return Vec::new() };
    let names: Vec<String> = names.split_whitespace().map(str::to_owned).collect();
    if names.is_empty() {
        return Vec::new();
    }
    let format =
        format!("{{{{.Name}}}}\t{{{{index .Labels \"{LABEL_RUN}\"}}}}\t{{{{index .Labels \"{LABEL_LOCK}\"}}}}");
    let mut args: Vec<String> = ["network", "inspect", "--format", &format].map(str::to_owned).to_vec();
    args.extend(names);
    let Ok(out) = engine.run(&args, NETWORK_TIMEOUT) else { return Vec::new() };
    let own = reaper::run_id();
    let dead: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|line| {
            let mut cols = line.split('\t').map(str::trim);
            let (name, run, lock) = (cols.next()?, cols.next().unwrap_or_default(), cols.next().unwrap_or_default());
            let gone = run != own && (lock.is_empty() || reaper::run_gone(Path::new(lock)));
            (gone && !name.is_empty()).then(|| name.to_owned())
        })
        .collect();
    if remove(engine, &dead) {
        dead
    } else {
        Vec::new()
    }
}

/// Whether a service name can be a host name on the bridge (its alias there).
fn alias_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with(['-', '_'])
}

/// Whether `service` is a container that can join the bridge under its own name.
fn on_bridge(service: &Service) -> bool {
    matches!(service.launch, Launch::Image { .. } | Launch::Build { .. }) && alias_ok(&service.name)
}

/// The environment of container `consumer` on the bridge: every `env=` value with its address
/// references rendered to `SERVICE:PORT`; `None` when a reference needs the host's network
/// (its target is not a container on the bridge, or this test puts a proxy edge in front of it).
pub fn bridge_env(consumer: &Service, services: &[Service], edges: &Edges) -> Option<BTreeMap<String, String>> {
    if !on_bridge(consumer) {
        return None;
    }
    consumer.env.iter().map(|var| Some((var.name.clone(), render(consumer, &var.parts, services, edges)?))).collect()
}

fn render(consumer: &Service, parts: &[EnvPart], services: &[Service], edges: &Edges) -> Option<String> {
    parts
        .iter()
        .map(|part| match part {
            EnvPart::Text { text } => Some(text.clone()),
            EnvPart::Address { service, interface, attribute } => {
                if edges.get(&consumer.name, service, interface).is_some() {
                    return None;
                }
                let target = services.iter().find(|s| &s.name == service).filter(|s| on_bridge(s))?;
                let port = target.interfaces.iter().find(|i| &i.name == interface)?.port?;
                Some(match attribute.as_str() {
                    "host" | "proxy_host" => service.clone(),
                    "port" | "proxy_port" => port.to_string(),
                    _ => format!("{service}:{port}"),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ospecc_schema::plan::topology::{EnvVar, Interface};

    fn service(name: &str, launch: Launch, env: Vec<EnvVar>) -> Service {
        let json = serde_json::json!({
            "name": name,
            "origin": {"file": "spec.star", "line": 1, "column": 1},
            "launch": launch,
            "interfaces": [Interface { name: "main".into(), protocol: "tcp".into(), port: Some(5432), spec: None, tls: false }],
            "env": env,
            "ports": [], "depends_on": [], "observe": [], "ops": [], "seccomp": true, "intercept": [],
        });
        serde_json::from_value(json).unwrap()
    }

    fn reference(service: &str, attribute: &str) -> EnvVar {
        EnvVar {
            name: "DB".into(),
            parts: vec![
                EnvPart::Text { text: "postgres://".into() },
                EnvPart::Address { service: service.into(), interface: "main".into(), attribute: attribute.into() },
            ],
            rendered: String::new(),
        }
    }

    fn image() -> Launch {
        Launch::Image { image: "x".into(), args: vec![] }
    }

    #[test]
    fn references_between_containers_use_service_names() {
        let db = service("db", image(), vec![]);
        let app = service("app", image(), vec![reference("db", "addr")]);
        let services = [db, app.clone()];
        let env = bridge_env(&app, &services, &Edges::default()).unwrap();
        assert_eq!(env["DB"], "postgres://db:5432");
        let app = service("app", image(), vec![reference("db", "internal_addr")]);
        assert_eq!(bridge_env(&app, &services, &Edges::default()).unwrap()["DB"], "postgres://db:5432");
    }

    #[test]
    fn references_to_the_host_keep_the_host_network() {
        let process = service("db", Launch::Binary { path: "/bin/db".into(), args: vec![] }, vec![]);
        let app = service("app", image(), vec![reference("db", "addr")]);
        assert!(bridge_env(&app, &[process, app.clone()], &Edges::default()).is_none());
        let db = service("db", image(), vec![]);
        let edge = crate::supervisor::env::Edge {
            proxy: "127.0.0.1:1".parse().unwrap(),
            upstream: "127.0.0.1:5432".parse().unwrap(),
        };
        let edges = Edges::new([(("app".to_owned(), "db".to_owned(), "main".to_owned()), edge)].into());
        assert!(bridge_env(&app, &[db, app.clone()], &edges).is_none());
        let process_consumer = service("app", Launch::Binary { path: "/bin/app".into(), args: vec![] }, vec![]);
        assert!(bridge_env(&process_consumer, &[], &Edges::default()).is_none());
    }
}
