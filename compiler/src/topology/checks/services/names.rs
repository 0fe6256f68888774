//! Names of services and clients (reference §8.2 item 12): unique service names (Faultbox lets
//! the last declaration win silently), unique client names, no client named like a service or
//! `test` (both rejected by Faultbox at load).

use crate::topology::hash::HashMap;
use ospecc_schema::topology::builtins;
use std::sync::Arc;

use super::Cx;
use crate::diagnostics::Diagnostic;
use crate::topology::values::Recorded;

/// The name test-driver events carry as their service; a client may not take it.
const RESERVED_CLIENT: &str = "test";

pub(super) fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let services: Vec<&Arc<Recorded>> = cx.services().collect();
    duplicates(cx, &services, "TOP109", "service", out);
    let clients: Vec<&Arc<Recorded>> = cx.model.evaluated.calls_of(builtins::CLIENT).collect();
    duplicates(cx, &clients, "TOP110", "client", out);
    for client in clients {
        clash(cx, client, &services, out);
    }
}

/// Second and later declarations of one name, each labelled with the first.
fn duplicates(cx: &Cx, records: &[&Arc<Recorded>], code: &'static str, what: &str, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<&str, &Arc<Recorded>> = HashMap::default();
    for record in records {
        let Some(name) = record.name() else { continue };
        let Some(earlier) = first.get(name).copied() else {
            first.insert(name, record);
            continue;
        };
        let Some(at) = cx.name_span(record) else { continue };
        let consequence = if what == "service" {
            "Faultbox keeps only the last declaration, so the first is never started and references to it reach nothing"
        } else {
            "Faultbox rejects a second client with the same name"
        };
        let mut d = Diagnostic::error(code, at, format!("{what} `{name}` is declared twice"))
            .with_help(format!("give each {what} its own name; {consequence}"));
        if let Some(label) = cx.name_span(earlier).filter(|l| *l != at) {
            d = d.with_label(label, "first declared here");
        }
        out.push(d);
    }
}

fn clash(cx: &Cx, client: &Recorded, services: &[&Arc<Recorded>], out: &mut Vec<Diagnostic>) {
    let Some(name) = client.name() else { return };
    let Some(at) = cx.name_span(client) else { return };
    if name == RESERVED_CLIENT {
        out.push(
            Diagnostic::error("TOP111", at, "a client cannot be named `test`")
                .with_help("`test` is the actor name of the test driver's own steps in events; choose another name"),
        );
        return;
    }
    let Some(service) = services.iter().find(|s| s.name() == Some(name)) else { return };
    let mut d = Diagnostic::error("TOP111", at, format!("client `{name}` has the name of a service"))
        .with_help(format!(
            "events name their actor by this name, so clients and services need distinct names: rename the client (for example `{name}_client`)"
        ));
    if let Some(label) = cx.name_span(service) {
        d = d.with_label(label, "service declared here");
    }
    out.push(d);
}
