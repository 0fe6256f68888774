//! What the cross-file checks need to know about an evaluated topology: each service's name,
//! where it is declared, its interface ports, its published `ports=` and its `depends_on`.
//!
//! Values the evaluation could not know (a port computed from a parameter) make the
//! corresponding fact unknown (`None`): the checks skip it rather than guess.

use std::collections::BTreeMap;

use crate::span::Span;
use crate::topology::{Arg, Evaluated, Recorded};

/// The positional index of `port` in `interface(name, protocol, port)`.
const INTERFACE_PORT_INDEX: usize = 2;

/// One declared service.
#[derive(Debug)]
pub struct Service {
    /// The file the `service(...)` call is in (as the evaluation named it) and its span.
    pub file: String,
    pub span: Span,
    /// Container-side ports of its interfaces; `None` when one of them is not known.
    pub interface_ports: Option<Vec<i64>>,
    /// `ports={host: container}`; `None` when absent or not known.
    pub published: Option<Vec<(i64, i64)>>,
    /// Names of the services in `depends_on`; `None` when not known.
    pub depends_on: Option<Vec<String>>,
}

/// The services of a topology, by name.
#[derive(Debug, Default)]
pub struct Topology {
    pub services: BTreeMap<String, Service>,
}

impl Topology {
    pub fn of(evaluated: &Evaluated) -> Topology {
        let mut services = BTreeMap::new();
        // Faultbox registers services by name and the last declaration wins.
        for call in evaluated.services() {
            if let Some(name) = call.name() {
                services.insert(name.to_owned(), Service::of(call));
            }
        }
        Topology { services }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }
}

impl Service {
    fn of(call: &Recorded) -> Service {
        Service {
            file: call.file.clone(),
            span: call.span,
            interface_ports: interface_ports(call),
            published: published(call),
            depends_on: depends_on(call),
        }
    }
}

fn interface_ports(call: &Recorded) -> Option<Vec<i64>> {
    call.positional_records()
        .filter(|r| r.builtin == "interface")
        .map(|iface| match iface.positional.get(INTERFACE_PORT_INDEX).or_else(|| iface.named("port")) {
            Some(Arg::Int(port)) => Some(*port),
            _ => None,
        })
        .collect()
}

fn published(call: &Recorded) -> Option<Vec<(i64, i64)>> {
    match call.named("ports")? {
        Arg::Dict(entries) => entries
            .iter()
            .map(|(host, container)| match (host, container) {
                (Arg::Int(h), Arg::Int(c)) => Some((*h, *c)),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn depends_on(call: &Recorded) -> Option<Vec<String>> {
    match call.named("depends_on") {
        None | Some(Arg::None) => Some(Vec::new()),
        Some(Arg::List(items) | Arg::Tuple(items)) => items
            .iter()
            .map(|item| match item {
                Arg::Str(name) => Some(name.clone()),
                Arg::Record(service) => service.name().map(str::to_owned),
                _ => None,
            })
            .collect(),
        Some(_) => None,
    }
}
