//! The intercept set of each service: the syscalls its seccomp filter must catch, computed
//! from the lowered plan and every fault site of the file, not from a text scan. A fault a
//! test body applies through a helper or a variable is found through the evaluated values
//! and the static reading of function bodies; one whose target is not known statically counts
//! for every filterable service (a filter that catches too much only costs a round trip).

use std::collections::{BTreeMap, BTreeSet};

use ospecc_schema::plan::topology::{Launch, Service, Test};
use ospecc_schema::plan::Origin;

use super::faults::{self, Assumptions};
use super::Cx;
use crate::diagnostics::Diagnostic;

pub(super) fn compute(
    cx: &Cx,
    assumptions: &Assumptions,
    services: &mut [Service],
    tests: &[Test],
    out: &mut Vec<Diagnostic>,
) {
    let mut sets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut unknown: BTreeMap<String, Vec<Origin>> = BTreeMap::new();
    let rules = assumptions.iter().flat_map(|a| &a.syscall_rules).chain(tests.iter().flat_map(|t| &t.syscall_rules));
    for rule in rules {
        sets.entry(rule.service.clone()).or_default().extend(rule.syscalls.iter().cloned());
    }
    let every_service: Vec<String> = services.iter().filter(|s| filterable(s)).map(|s| s.name.clone()).collect();
    for call in &cx.body_calls {
        let Some(site) = faults::scoped(cx, assumptions, call) else { continue };
        let targets = if site.target_known { site.fault.services.clone() } else { every_service.clone() };
        for service in &targets {
            sets.entry(service.clone()).or_default().extend(site.fault.syscalls.iter().cloned());
            if site.keys_unknown {
                unknown.entry(service.clone()).or_default().push(site.fault.origin.clone());
            }
        }
        if site.keys_unknown {
            out.push(
                Diagnostic::warning(
                    "PLN001",
                    call.record.span,
                    "the syscalls this fault applies are not known statically (`**kwargs`)",
                )
                .with_help("write the fault keys out (`write=deny(\"EIO\")`) so the intercept set covers them"),
            );
        }
    }
    for service in services.iter_mut().filter(|s| filterable(s)) {
        service.intercept = sets.remove(&service.name).unwrap_or_default().into_iter().collect();
        service.intercept_unknown = unknown.remove(&service.name).unwrap_or_default();
    }
}

/// Whether a seccomp filter can be installed: a local binary or container that did not opt out.
fn filterable(service: &Service) -> bool {
    service.seccomp && !matches!(service.launch, Launch::Mock { .. } | Launch::Remote { .. })
}
