//! Monitors: invariants over a test's events. A monitor declared at load is spec-wide
//! (checked in every test) unless a fault assumption, fault scenario or matrix claims it with
//! `monitors=`, which scopes it to the tests that apply that claim (reference §1.7).

use std::sync::Arc;

use ospecc_schema::plan::topology::Monitor;
use ospecc_schema::topology::{builtins, catalog};

use super::faults::records;
use super::Cx;
use crate::topology::{Arg, Recorded};

pub(crate) struct Monitors {
    all: Vec<(Arc<Recorded>, Monitor)>,
}

pub(super) fn lower(cx: &Cx) -> Monitors {
    let mut all: Vec<(Arc<Recorded>, Monitor)> =
        cx.calls_of(builtins::MONITOR).map(|record| (record.clone(), monitor(cx, record))).collect();
    // The builtins with a `monitors=` parameter claim the monitors given there (in catalog
    // order: a later claim names the scope).
    let claims = catalog().builtins.iter().filter(|b| b.params.iter().any(|p| p.name == "monitors"));
    for claim in claims.map(|b| b.name.as_str()) {
        for call in cx.calls_of(claim) {
            let scope = match call.name() {
                Some(name) => format!("{claim} {name}"),
                None => format!("{claim} at {}", cx.origin(call)),
            };
            for claimed in records(call.named("monitors")) {
                if let Some((_, m)) = all.iter_mut().find(|(r, _)| **r == **claimed) {
                    m.scope = scope.clone();
                }
            }
        }
    }
    Monitors { all }
}

fn monitor(cx: &Cx, record: &Recorded) -> Monitor {
    let first = record.positional.first();
    let mut callables = Vec::new();
    let mut filters: Vec<(String, String)> = Vec::new();
    let name = match first {
        Some(Arg::Str(name)) => name.clone(),
        Some(Arg::Function(f)) => {
            callables.push(cx.callable(f));
            f.name.clone()
        }
        _ => String::new(),
    };
    let on = record.positional.get(1).or_else(|| record.named("on"));
    match on {
        Some(Arg::Function(f)) => callables.push(cx.callable(f)),
        Some(Arg::Record(matcher)) => filters.extend(matcher_criteria(matcher)),
        _ => {}
    }
    let role = |key: &str| match record.named(key) {
        Some(Arg::Function(f)) => Some(cx.callable(f)),
        _ => None,
    };
    let (update, check) = (role("update"), role("check"));
    callables.extend(update.iter().chain(check.iter()).cloned());
    let state_init = record.named("state_init").filter(|a| !matches!(a, Arg::None)).map(Arg::to_json);
    if let Some(service) = record.named("service").and_then(Arg::as_str) {
        filters.push(("service".into(), service.to_owned()));
    }
    filters.sort();
    Monitor { name, origin: cx.origin(record), scope: "spec".into(), callables, update, check, state_init, filters }
}

/// `match.event(type="stdout", service="api")` → its criteria.
fn matcher_criteria(matcher: &Recorded) -> Vec<(String, String)> {
    matcher.named.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect()
}

impl Monitors {
    /// Names of the spec-wide monitors.
    pub fn spec_wide(&self) -> Vec<String> {
        self.all.iter().filter(|(_, m)| m.scope == "spec").map(|(_, m)| m.name.clone()).collect()
    }

    /// Names of the monitors among `claimed` (monitor records).
    pub fn names_of<'r>(&self, claimed: impl Iterator<Item = &'r Arc<Recorded>>) -> Vec<String> {
        claimed.filter_map(|c| self.all.iter().find(|(r, _)| **r == **c)).map(|(_, m)| m.name.clone()).collect()
    }

    pub fn into_plan(self) -> Vec<Monitor> {
        self.all.into_iter().map(|(_, m)| m).collect()
    }
}
