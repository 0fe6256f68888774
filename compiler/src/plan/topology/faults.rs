//! Fault rules: a `fault_assumption` (with its composed `faults=` children) resolved into
//! syscall rules per service (ops and families expanded) and proxy rules per interface
//! (matchers the protocol does not consult dropped), plus the monitors it claims.

use std::collections::BTreeSet;
use std::sync::Arc;

use ospecc_schema::plan::topology::{Matcher, ProxyAction, ProxyRule, ScopedFault, SyscallAction, SyscallRule};
use ospecc_schema::plan::Origin;
use ospecc_schema::topology::{builtins, catalog, ScopeForm, ScopeKind};

use super::services::duration_ms;
use super::Cx;
use crate::topology::attrs;
use crate::topology::quantities::fraction;
use crate::topology::{Arg, Recorded};

/// `fault_assumption` keywords that are not syscall faults.
const ASSUMPTION_PARAMS: &[&str] = &["name", "target", "description", "monitors", "faults", "rules"];

/// Matcher keywords and the proxy rule field each sets (aliases included, reference §1.5).
const MATCHERS: &[(&str, &str)] = &[
    ("method", "method"),
    ("op", "method"),
    ("path", "path"),
    ("query", "query"),
    ("command", "command"),
    ("key", "key"),
    ("collection", "key"),
    ("topic", "topic"),
    ("subject", "topic"),
];

/// Composition is as deep as the values are; this bounds a pathological nesting.
const MAX_COMPOSITION_DEPTH: usize = 32;

/// One fault assumption, resolved.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolved {
    pub name: String,
    pub syscall_rules: Vec<SyscallRule>,
    pub proxy_rules: Vec<ProxyRule>,
    /// The monitors it claims (records of `monitor(...)`).
    pub monitors: Vec<Arc<Recorded>>,
}

/// Every fault assumption of the evaluation, resolved once.
pub(crate) struct Assumptions {
    all: Vec<(Arc<Recorded>, Resolved)>,
}

impl Assumptions {
    pub fn of(cx: &Cx) -> Assumptions {
        let origin = |r: &Recorded| cx.origin(r);
        let all = cx.calls_of(builtins::FAULT_ASSUMPTION).map(|r| (r.clone(), resolve(&origin, r, 0))).collect();
        Assumptions { all }
    }

    /// The resolution of an assumption value (resolved on the spot if it was not recorded,
    /// which cannot happen for values of this evaluation, but costs nothing to allow).
    pub fn get(&self, cx: &Cx, record: &Recorded) -> Resolved {
        match self.all.iter().find(|(r, _)| **r == *record) {
            Some((_, resolved)) => resolved.clone(),
            None => resolve(&|r: &Recorded| cx.origin(r), record, 0),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Resolved> {
        self.all.iter().map(|(_, r)| r)
    }
}

/// Where a recorded call is, for the rules made from it.
pub type OriginOf<'a> = dyn Fn(&Recorded) -> Origin + 'a;

fn resolve(origin: &OriginOf, assumption: &Recorded, depth: usize) -> Resolved {
    let name = assumption.name().unwrap_or_default().to_owned();
    let mut resolved = Resolved { name: name.clone(), ..Resolved::default() };
    if depth < MAX_COMPOSITION_DEPTH {
        for child in records(assumption.named("faults")) {
            let child = resolve(origin, child, depth + 1);
            merge_syscall_rules(&mut resolved.syscall_rules, child.syscall_rules);
            resolved.proxy_rules.extend(child.proxy_rules);
            resolved.monitors.extend(child.monitors);
        }
    }
    let target = assumption.named("target").and_then(Arg::record);
    let service = target.and_then(|t| service_of(t));
    if let Some(service) = service {
        let own: Vec<SyscallRule> = syscall_faults(assumption)
            .flat_map(|(key, fault)| syscall_rule(origin, service, key, fault, &name))
            .collect();
        merge_syscall_rules(&mut resolved.syscall_rules, own);
    }
    if let Some(iface_ref) = target.filter(|t| t.ty == "interface_ref") {
        let rules = records(assumption.named("rules")).filter_map(|rule| proxy_rule(origin, iface_ref, rule, &name));
        resolved.proxy_rules.extend(rules.collect::<Vec<_>>());
    }
    resolved.monitors.extend(records(assumption.named("monitors")).cloned());
    resolved
}

/// Later rules replace earlier ones for the same service and key (composition merges).
pub(crate) fn merge_syscall_rules(into: &mut Vec<SyscallRule>, rules: Vec<SyscallRule>) {
    for rule in rules {
        into.retain(|r| !(r.service == rule.service && r.key == rule.key));
        into.push(rule);
    }
}

/// The syscall-fault keywords of an assumption or a `fault(svc, KEY=...)` call.
pub(crate) fn syscall_faults(call: &Recorded) -> impl Iterator<Item = (&str, &Recorded)> {
    call.named.iter().filter(|(k, _)| !ASSUMPTION_PARAMS.contains(&k.as_str()) && k != "run").filter_map(|(k, v)| {
        let fault =
            v.record().filter(|r| r.ty == "fault" || (r.builtin == builtins::DELAY || r.builtin == builtins::ALLOW))?;
        Some((k.as_str(), fault.as_ref()))
    })
}

/// The service a target names (a service, or the service of an interface reference).
pub(crate) fn service_of(target: &Recorded) -> Option<&Recorded> {
    match target.ty.as_str() {
        "service" => Some(target),
        "interface_ref" => attrs::parts(target).map(|(service, _)| service),
        _ => None,
    }
}

fn syscall_rule(
    origin: &OriginOf,
    service: &Recorded,
    key: &str,
    fault: &Recorded,
    assumption: &str,
) -> Option<SyscallRule> {
    let action = match fault.builtin.as_str() {
        builtins::DENY => SyscallAction::Deny { errno: fault.positional.first()?.as_str()?.to_ascii_uppercase() },
        builtins::DELAY => SyscallAction::Delay {
            ms: fault.positional.first().or(fault.named("duration")).and_then(Arg::as_str).and_then(duration_ms)?,
        },
        builtins::ALLOW => SyscallAction::Allow,
        _ => return None,
    };
    let (syscalls, path) = expand_key(service, key);
    let max_fires = match fault.named("max_fires") {
        Some(Arg::Int(n)) => u32::try_from(*n).ok(),
        _ => None,
    };
    let mode = fault.named("mode").and_then(Arg::as_str).map(str::to_owned);
    Some(SyscallRule {
        service: service.name().unwrap_or_default().to_owned(),
        key: key.to_owned(),
        syscalls,
        probability: fault.named("probability").and_then(fraction).flatten().unwrap_or(1.0).clamp(0.0, 1.0),
        // `max_fires` without a mode means exhaustive (reference §1.4).
        mode: mode.or_else(|| max_fires.map(|_| "exhaustive".to_owned())),
        max_fires,
        label: fault.named("label").and_then(Arg::as_str).map(str::to_owned),
        path,
        action,
        assumption: assumption.to_owned(),
        origin: origin(fault),
    })
}

/// The syscalls a fault key stands for on a service: one of its `ops` (with the op's path
/// glob), else a family, else the syscall itself.
pub(crate) fn expand_key(service: &Recorded, key: &str) -> (Vec<String>, Option<String>) {
    if let Some(Arg::Dict(ops)) = service.named("ops") {
        let op = ops.iter().find(|(name, _)| name.as_str() == Some(key)).and_then(|(_, op)| op.record());
        if let Some(op) = op {
            let mut syscalls = BTreeSet::new();
            if let Some(Arg::List(names)) = op.named("syscalls") {
                for name in names.iter().filter_map(Arg::as_str) {
                    syscalls.extend(family(name));
                }
            }
            let path = op.named("path").and_then(Arg::as_str).map(str::to_owned);
            return (syscalls.into_iter().collect(), path);
        }
    }
    (family(key), None)
}

/// A key's family members (reference §3.3), or the key itself; sorted.
pub(crate) fn family(key: &str) -> Vec<String> {
    let members = catalog()
        .vocabulary("syscall_family")
        .and_then(|v| v.values.iter().find(|value| value.value == key))
        .map(|value| value.members.clone())
        .filter(|m| !m.is_empty());
    let mut syscalls = members.unwrap_or_else(|| vec![key.to_owned()]);
    syscalls.sort();
    syscalls
}

fn proxy_rule(origin: &OriginOf, iface_ref: &Recorded, rule: &Recorded, assumption: &str) -> Option<ProxyRule> {
    let (service, iface) = attrs::parts(iface_ref)?;
    let protocol = attrs::protocol_of(iface_ref).unwrap_or_default().to_owned();
    let text = |key: &str| rule.named(key).and_then(Arg::as_str).map(str::to_owned);
    let status = match rule.named("status") {
        Some(Arg::Int(s)) => u16::try_from(*s).ok(),
        _ => None,
    };
    // The proxy action the rule's builtin installs (catalog `proxy_action`).
    let action = match catalog().builtin(&rule.builtin)?.proxy_action.as_deref()? {
        "respond" => ProxyAction::Respond { status, body: text("body").or_else(|| text("value")) },
        "error" => ProxyAction::Error { message: text("message"), status },
        "delay" => ProxyAction::Delay { ms: text("delay").as_deref().and_then(duration_ms)? },
        "drop" => ProxyAction::Drop,
        "duplicate" => ProxyAction::Duplicate,
        _ => return None,
    };
    let consulted: Vec<&str> =
        catalog().protocol(&protocol).map(|p| p.matchers.iter().map(String::as_str).collect()).unwrap_or_default();
    let matchers = MATCHERS
        .iter()
        .filter(|(_, field)| consulted.contains(field))
        .filter_map(|(keyword, field)| Some(Matcher { field: (*field).to_owned(), glob: text(keyword)? }))
        .collect();
    // For proxies an absent or zero probability means always (reference §3.5).
    let probability = match rule.named("probability").and_then(fraction).flatten() {
        Some(p) if p > 0.0 => p.min(1.0),
        _ => 1.0,
    };
    Some(ProxyRule {
        service: service.name().unwrap_or_default().to_owned(),
        interface: iface.name().unwrap_or_default().to_owned(),
        protocol,
        action,
        matchers,
        probability,
        assumption: assumption.to_owned(),
        origin: origin(rule),
    })
}

/// The records in a list argument (or a single record).
pub(crate) fn records(arg: Option<&Arg>) -> impl Iterator<Item = &Arc<Recorded>> {
    let items: &[Arg] = match arg {
        Some(Arg::List(items) | Arg::Tuple(items)) => items,
        Some(one @ Arg::Record(_)) => std::slice::from_ref(one),
        _ => &[],
    };
    items.iter().filter_map(Arg::record)
}

/// A fault site in a function body, as far as it is known statically: a call of a builtin
/// that applies faults, traces or a partition for part of a test's run (a catalog `scope`
/// that is not a stop).
pub(crate) fn scoped(cx: &Cx, assumptions: &Assumptions, call: &crate::topology::bodies::BodyCall) -> Option<Scoped> {
    let (builtin, kind) = match &call.callee {
        crate::topology::bodies::Callee::Builtin(b) => match b.scope {
            Some(scope) if scope.form != ScopeForm::Stop => (b.name.as_str(), scope.kind),
            _ => return None,
        },
        _ => return None,
    };
    let record = &call.record;
    let splat = cx.evaluated.syntax.as_ref().and_then(|s| s.call(record.span)).is_some_and(|site| site.splat);
    let mut fault = ScopedFault {
        builtin: builtin.to_owned(),
        function: call.function.clone(),
        origin: cx.root_origin(record.span),
        services: Vec::new(),
        interface: None,
        syscalls: Vec::new(),
        assumption: None,
        direction: record.named("direction").and_then(Arg::as_str).map(str::to_owned),
    };
    let mut targets: Vec<&Recorded> = Vec::new();
    let mut target_known = true;
    match record.positional.first() {
        Some(Arg::Record(first)) if first.ty == "fault_assumption" => {
            let resolved = assumptions.get(cx, first);
            fault.assumption = Some(resolved.name.clone());
            let services: BTreeSet<String> = resolved.syscall_rules.iter().map(|r| r.service.clone()).collect();
            fault.services = services.into_iter().collect();
            let syscalls: BTreeSet<String> = resolved.syscall_rules.iter().flat_map(|r| r.syscalls.clone()).collect();
            fault.syscalls = syscalls.into_iter().collect();
            return Some(Scoped { fault, keys_unknown: false, target_known: true });
        }
        Some(Arg::Record(first)) => {
            if first.ty == "interface_ref" {
                if let Some((service, iface)) = attrs::parts(first) {
                    fault.interface =
                        Some(format!("{}.{}", service.name().unwrap_or_default(), iface.name().unwrap_or_default()));
                }
            }
            targets.extend(service_of(first));
            if kind == ScopeKind::Partition {
                targets.extend(record.positional.get(1).and_then(Arg::record).and_then(|r| service_of(r)));
            }
        }
        Some(Arg::List(items)) => {
            for item in items {
                match item.record().and_then(|r| service_of(r)) {
                    Some(service) => targets.push(service),
                    None => target_known = false,
                }
            }
        }
        _ => target_known = false,
    }
    fault.services =
        targets.iter().filter_map(|s| s.name().map(str::to_owned)).collect::<BTreeSet<_>>().into_iter().collect();
    let mut syscalls = BTreeSet::new();
    if kind == ScopeKind::Trace {
        let names = match record.named("syscalls") {
            Some(Arg::List(items)) => items.iter().filter_map(Arg::as_str).collect(),
            _ => Vec::new(),
        };
        syscalls.extend(names.iter().flat_map(|n| family(n)));
    } else if kind != ScopeKind::Partition {
        for (key, _) in syscall_keys(record) {
            match targets.as_slice() {
                [] => syscalls.extend(family(key)),
                services => services.iter().for_each(|s| syscalls.extend(expand_key(s, key).0)),
            }
        }
    }
    fault.syscalls = syscalls.into_iter().collect();
    Some(Scoped { fault, keys_unknown: splat, target_known })
}

/// The keyword arguments of a scoped call that name syscall faults (their values may be
/// unknown statically; the keys are what the intercept set needs).
fn syscall_keys(call: &Recorded) -> impl Iterator<Item = (&str, &Arg)> {
    const NOT_KEYS: &[&str] = &["run", "source", "rules", "target"];
    call.named.iter().filter(|(k, _)| !NOT_KEYS.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v))
}

/// A scoped fault and what could not be known about it.
pub(crate) struct Scoped {
    pub fault: ScopedFault,
    /// `**kwargs` hide some of its keys.
    pub keys_unknown: bool,
    /// Its target is not known statically (a parameter, a computed value).
    pub target_known: bool,
}

/// The rules a fault scope applies at run time, made from its call as the test body made it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopeRules {
    pub syscall: Vec<SyscallRule>,
    pub proxy: Vec<ProxyRule>,
    /// The services the scope targets (what `fault_stop`/`trace_stop` clear).
    pub services: Vec<String>,
    /// The names of the monitors an applied assumption claims.
    pub monitors: Vec<String>,
}

/// The rules of a run-time call of `fault`, `fault_all`, `fault_start`, `trace` or
/// `trace_start` (the same lowering as the plan's, so a fault means the same at both times).
/// `scope` names the rules' owner in events and reports.
pub fn scope_rules(call: &Recorded, scope: &str, origin: &OriginOf) -> ScopeRules {
    let mut rules = ScopeRules::default();
    let first = call.positional.first().and_then(Arg::record);
    if let Some(assumption) = first.filter(|r| r.ty == "fault_assumption") {
        let resolved = resolve(origin, assumption, 0);
        rules.services = resolved.syscall_rules.iter().map(|r| r.service.clone()).collect();
        rules.monitors = resolved.monitors.iter().filter_map(|m| m.name().map(str::to_owned)).collect();
        (rules.syscall, rules.proxy) = (resolved.syscall_rules, resolved.proxy_rules);
        rules.services.sort();
        rules.services.dedup();
        return rules;
    }
    if let Some(iface_ref) = first.filter(|r| r.ty == "interface_ref") {
        let positional = call.positional.iter().skip(1).filter_map(Arg::record);
        let listed = records(call.named("rules"));
        rules.proxy = positional.chain(listed).filter_map(|rule| proxy_rule(origin, iface_ref, rule, scope)).collect();
    }
    let services: Vec<&Recorded> = match call.positional.first() {
        Some(Arg::List(items)) => items.iter().filter_map(Arg::record).filter_map(|r| service_of(r)).collect(),
        Some(Arg::Record(target)) => service_of(target).into_iter().collect(),
        _ => Vec::new(),
    };
    let trace = catalog().builtin(&call.builtin).and_then(|b| b.scope).is_some_and(|s| s.kind == ScopeKind::Trace);
    for service in &services {
        if trace {
            rules.syscall.extend(trace_rules(origin, service, call, scope));
        } else if first.is_none_or(|r| r.ty == "service") || matches!(call.positional.first(), Some(Arg::List(_))) {
            let own = syscall_faults(call).filter_map(|(key, fault)| syscall_rule(origin, service, key, fault, scope));
            merge_syscall_rules(&mut rules.syscall, own.collect());
        }
    }
    rules.services = services.iter().filter_map(|s| s.name().map(str::to_owned)).collect();
    rules
}

/// `trace(svc, syscalls=[...])`: an allow rule per named syscall (families expanded).
fn trace_rules(origin: &OriginOf, service: &Recorded, call: &Recorded, scope: &str) -> Vec<SyscallRule> {
    let names = match call.named("syscalls") {
        Some(Arg::List(items)) => items.iter().filter_map(Arg::as_str).collect(),
        _ => Vec::new(),
    };
    names
        .into_iter()
        .map(|key| {
            let (syscalls, path) = expand_key(service, key);
            SyscallRule {
                service: service.name().unwrap_or_default().to_owned(),
                key: key.to_owned(),
                syscalls,
                action: SyscallAction::Allow,
                probability: 1.0,
                max_fires: None,
                mode: None,
                label: Some("trace".to_owned()),
                path,
                assumption: scope.to_owned(),
                origin: origin(call),
            }
        })
        .collect()
}
