//! Fault injection for one test's lifecycle: which services run under a seccomp filter, which
//! proxy edges stand between consumers and interfaces, and the scopes that install and remove
//! rules in their live tables while the test runs (the test's own assumptions, `fault(...,
//! run=)`, `fault_start`/`fault_stop`, `trace`, `partition`). Every installed rule is kept with
//! its counters, so the run diagnostics ([`diagnose`]) can say which faults never fired.
//!
//! Scope semantics follow Faultbox (reference §1.4): a scope on a service replaces the
//! service's dynamic rules of its [`Layer`], and leaving any scope clears them; faults and
//! traces are separate layers, so `fault(svc, ..., run=)` inside `trace_start(svc, ...)` keeps
//! the trace (as Faultbox does). The test's own rules (from `fault_scenario`/`fault_matrix`)
//! stay for the whole test.

pub mod diagnose;
pub mod edges;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use ospecc_compiler::plan::topology::faults::ScopeRules;
use ospecc_schema::plan::topology::{Launch, ProxyRule, SyscallRule, Test};
use ospecc_schema::plan::Plan;
use ospecc_schema::topology::ScopeKind;

use crate::events::{fields, EventLog};
use crate::explore::{Leaf, Schedule};
use crate::proxy::{Proxy, ProxyRules};
use crate::seccomp::SyscallRules;
use crate::supervisor::env::Edges;
use rules::{Active, Install};

/// A fault that cannot be applied, with the run diagnostic code it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultError {
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for FaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        match &self.hint {
            Some(hint) => write!(f, " ({hint})"),
            None => Ok(()),
        }
    }
}

/// An installed rule and its live counters.
#[derive(Debug, Clone)]
pub enum Rule {
    Syscall(Arc<Active<SyscallRule>>),
    Proxy(Arc<Active<ProxyRule>>),
}

impl Rule {
    pub fn id(&self) -> u64 {
        match self {
            Rule::Syscall(r) => r.id,
            Rule::Proxy(r) => r.id,
        }
    }

    pub fn matched(&self) -> u64 {
        match self {
            Rule::Syscall(r) => r.matched(),
            Rule::Proxy(r) => r.matched(),
        }
    }

    pub fn fired(&self) -> u64 {
        match self {
            Rule::Syscall(r) => r.fired(),
            Rule::Proxy(r) => r.fired(),
        }
    }

    pub fn scope(&self) -> &str {
        match self {
            Rule::Syscall(r) => &r.scope,
            Rule::Proxy(r) => &r.scope,
        }
    }

    /// An exhaustive rule that this leaf keeps from firing (its `none` schedule).
    pub fn silent_by_schedule(&self) -> bool {
        match self {
            Rule::Syscall(r) => r.silent_by_schedule(),
            Rule::Proxy(r) => r.silent_by_schedule(),
        }
    }

    /// Tracing rules (`trace`, `allow()`) observe; they are not faults that should fire.
    pub fn is_trace(&self) -> bool {
        matches!(self, Rule::Syscall(r) if matches!(r.rule.action, ospecc_schema::plan::topology::SyscallAction::Allow))
    }

    /// `write=deny(ENOSPC) on db`, `error(query=INSERT*) on db.pg`.
    pub fn describe(&self) -> String {
        match self {
            Rule::Syscall(r) => {
                let action = match &r.rule.action {
                    ospecc_schema::plan::topology::SyscallAction::Deny { errno } => format!("deny({errno})"),
                    ospecc_schema::plan::topology::SyscallAction::Delay { ms } => format!("delay({ms}ms)"),
                    ospecc_schema::plan::topology::SyscallAction::Allow => "allow()".to_owned(),
                };
                format!("{}={action} on `{}`", r.rule.key, r.rule.service)
            }
            Rule::Proxy(r) => {
                let action = serde_json::to_value(&r.rule.action)
                    .ok()
                    .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
                    .unwrap_or_default();
                let matchers: Vec<String> = r.rule.matchers.iter().map(|m| format!("{}={}", m.field, m.glob)).collect();
                format!("{action}({}) on `{}.{}`", matchers.join(", "), r.rule.service, r.rule.interface)
            }
        }
    }
}

/// Which dynamic rules a scope replaces: `fault*` scopes replace faults, `trace*` scopes
/// replace traces; neither touches the other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    #[default]
    Fault,
    Trace,
}

impl Layer {
    /// The layer of a scope builtin's catalog `scope` kind (`trace`, `trace_start`,
    /// `trace_stop` → trace).
    pub fn of(kind: ScopeKind) -> Layer {
        match kind {
            ScopeKind::Trace => Layer::Trace,
            ScopeKind::Fault | ScopeKind::Partition => Layer::Fault,
        }
    }
}

/// What applying a scope installed (to remove it again).
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub scope: String,
    layer: Layer,
    syscall: Vec<(String, u64)>,
    proxy: Vec<((String, String), u64)>,
    /// Services whose dynamic rules this scope replaced.
    services: Vec<String>,
}

/// A partition in force.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Partition {
    a: String,
    b: String,
    /// Traffic from a to b is cut; traffic from b to a is cut.
    a_to_b: bool,
    b_to_a: bool,
}

/// The fault machinery of one lifecycle.
pub struct Faults {
    events: EventLog,
    /// Services that run under a filter, with their live rules.
    syscall: BTreeMap<String, SyscallRules>,
    /// Why a service's syscalls cannot be faulted in this lifecycle.
    unfilterable: BTreeMap<String, String>,
    intercept: BTreeMap<String, BTreeSet<String>>,
    /// Live proxy rules per target interface (shared by every edge into it).
    proxy: BTreeMap<(String, String), ProxyRules>,
    proxies: Vec<Proxy>,
    edges: Edges,
    installed: Mutex<Vec<Rule>>,
    /// The leaf this lifecycle runs: it gives each exhaustive rule its fire schedule.
    leaf: Arc<Leaf>,
    /// Rule ids of each service's dynamic (body-applied) syscall rules, per layer.
    dynamic: Mutex<BTreeMap<(String, Layer), Vec<u64>>>,
    partitions: Mutex<Vec<Partition>>,
}

impl Faults {
    /// The filters this test needs: a service gets one when the test's rules or the fault
    /// sites its body reaches can target it, it has an intercept set, and it runs as a local
    /// binary or a container with `seccomp` left on. Everything else runs unfiltered, at native speed.
    /// Exhaustive rules installed in it follow `leaf`'s schedules.
    pub fn prepare(plan: &Plan, test: &Test, seed: u64, events: EventLog, leaf: Arc<Leaf>) -> Faults {
        let seed = seed ^ fnv1a(test.name.as_bytes());
        let targeted = targeted_services(test);
        let mut syscall = BTreeMap::new();
        let mut unfilterable = BTreeMap::new();
        let mut intercept = BTreeMap::new();
        for service in &plan.services {
            intercept.insert(service.name.clone(), service.intercept.iter().cloned().collect());
            let why = match &service.launch {
                Launch::Mock { .. } => Some("it is a mock served in-process (no process to filter)"),
                Launch::Remote { .. } => Some("it is a remote service (no local process to filter)"),
                _ if !service.seccomp => Some("it opts out with seccomp=False"),
                _ if service.intercept.is_empty() => {
                    Some("no fault in the plan targets its syscalls, so it runs without a filter")
                }
                // Binaries get the filter at spawn, containers through the shim.
                Launch::Binary { .. } | Launch::Image { .. } | Launch::Build { .. } => None,
            };
            match why {
                Some(why) => {
                    unfilterable.insert(service.name.clone(), why.to_owned());
                }
                None if targeted.as_ref().is_none_or(|t| t.contains(&service.name)) => {
                    syscall.insert(service.name.clone(), SyscallRules::new(seed));
                }
                None => {
                    unfilterable.insert(
                        service.name.clone(),
                        "this test's faults do not target it, so it runs without a filter".to_owned(),
                    );
                }
            }
        }
        Faults { syscall, unfilterable, intercept, leaf, ..Faults::none(events) }
    }

    /// No faults at all (the acceptance lifecycle): no filters, no proxies.
    pub fn none(events: EventLog) -> Faults {
        Faults {
            events,
            syscall: BTreeMap::new(),
            unfilterable: BTreeMap::new(),
            intercept: BTreeMap::new(),
            proxy: BTreeMap::new(),
            proxies: Vec::new(),
            edges: Edges::default(),
            installed: Mutex::default(),
            leaf: Arc::default(),
            dynamic: Mutex::default(),
            partitions: Mutex::default(),
        }
    }

    /// Starts the proxy edges this test needs (before the services, which connect through
    /// them: their upstream ports are static). Must run inside the tokio runtime.
    pub async fn start_proxies(&mut self, plan: &Plan, test: &Test, seed: u64) -> Result<(), String> {
        if !edges::needed(test) {
            return Ok(());
        }
        let wanted = edges::of(plan);
        let mut addresses = BTreeMap::new();
        for edge in wanted {
            let key = (edge.service.clone(), edge.interface.clone());
            let rules = self.proxy.entry(key).or_insert_with(|| ProxyRules::new(seed ^ fnv1a(test.name.as_bytes())));
            let upstream = edge.upstream;
            let proxy = Proxy::start(edge.clone(), rules.clone(), self.events.clone()).await.map_err(|e| {
                format!("cannot start the proxy from `{}` to `{}.{}`: {e}", edge.consumer, edge.service, edge.interface)
            })?;
            addresses.insert(
                (edge.consumer.clone(), edge.service.clone(), edge.interface.clone()),
                crate::supervisor::env::Edge { proxy: proxy.addr(), upstream },
            );
            self.proxies.push(proxy);
        }
        self.edges = Edges::new(addresses);
        Ok(())
    }

    /// Stops every proxy (bounded).
    pub async fn stop_proxies(&mut self) {
        for proxy in self.proxies.drain(..) {
            proxy.stop().await;
        }
    }

    /// The live syscall rules per filtered service (for the supervisor).
    pub fn syscall_tables(&self) -> BTreeMap<String, SyscallRules> {
        self.syscall.clone()
    }

    pub fn edges(&self) -> Edges {
        self.edges.clone()
    }

    /// Every rule installed so far, in install order.
    pub fn installed(&self) -> Vec<Rule> {
        self.installed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Installs the test's own rules (its fault assumptions), for the whole test.
    pub fn apply_test(&self, test: &Test) -> Result<Applied, FaultError> {
        let scope = if test.faults.is_empty() { test.name.clone() } else { test.faults.join("+") };
        self.install(&scope, &test.syscall_rules, &test.proxy_rules)
    }

    /// Installs a body's scope: for each service it targets, its earlier dynamic rules of the
    /// same layer are replaced.
    pub fn apply_scope(&self, scope: &str, layer: Layer, rules: &ScopeRules) -> Result<Applied, FaultError> {
        let services: BTreeSet<&String> = rules.syscall.iter().map(|r| &r.service).collect();
        for service in &services {
            self.clear_dynamic(service, layer);
        }
        let mut applied = self.install(scope, &rules.syscall, &rules.proxy)?;
        applied.layer = layer;
        let mut dynamic = self.dynamic.lock().unwrap_or_else(|p| p.into_inner());
        for (service, id) in &applied.syscall {
            dynamic.entry((service.clone(), layer)).or_default().push(*id);
        }
        applied.services = services.into_iter().cloned().collect();
        Ok(applied)
    }

    /// Leaves a scope: its proxy rules go, and every dynamic rule of its layer on the services
    /// it targeted.
    pub fn leave_scope(&self, applied: &Applied) {
        // The scope's own rules are reported once, below, under the scope's name.
        for service in &applied.services {
            self.take_dynamic(service, applied.layer);
        }
        for ((service, interface), id) in &applied.proxy {
            if let Some(table) = self.proxy.get(&(service.clone(), interface.clone())) {
                table.remove(*id);
            }
        }
        self.removed(applied);
    }

    /// The test is over: every rule goes before teardown (a service stopping under `delay` or
    /// `deny` would not stop cleanly), partitions heal, and rules still in force are reported.
    pub fn clear_all(&self) {
        for (a, b) in self.leaked_partitions() {
            self.events.push("", "partition_leaked", fields([("a", a.clone().into()), ("b", b.clone().into())]));
            self.heal(&a, &b);
        }
        let mut by_scope: BTreeMap<String, Applied> = BTreeMap::new();
        for rule in self.installed() {
            let applied = by_scope
                .entry(rule.scope().to_owned())
                .or_insert_with(|| Applied { scope: rule.scope().to_owned(), ..Applied::default() });
            match &rule {
                Rule::Syscall(r) => applied.syscall.push((r.rule.service.clone(), r.id)),
                Rule::Proxy(r) => applied.proxy.push(((r.rule.service.clone(), r.rule.interface.clone()), r.id)),
            }
        }
        self.dynamic.lock().unwrap_or_else(|p| p.into_inner()).clear();
        for applied in by_scope.values() {
            let live: Vec<u64> = applied
                .syscall
                .iter()
                .filter(|(service, id)| self.syscall.get(service).is_some_and(|t| t.contains(*id)))
                .map(|(_, id)| *id)
                .chain(
                    applied
                        .proxy
                        .iter()
                        .filter(|(key, id)| self.proxy.get(key).is_some_and(|t| t.contains(*id)))
                        .map(|(_, id)| *id),
                )
                .collect();
            if live.is_empty() {
                continue;
            }
            for (service, id) in &applied.syscall {
                if let Some(table) = self.syscall.get(service) {
                    table.remove(*id);
                }
            }
            for (key, id) in &applied.proxy {
                if let Some(table) = self.proxy.get(key) {
                    table.remove(*id);
                }
            }
            self.removed(applied);
        }
    }

    /// `fault_stop(svc)`/`trace_stop(svc)`: the service's dynamic rules of that layer go.
    pub fn clear_dynamic(&self, service: &str, layer: Layer) {
        let ids = self.take_dynamic(service, layer);
        if !ids.is_empty() {
            let applied = Applied {
                scope: service.to_owned(),
                layer,
                syscall: ids.into_iter().map(|id| (service.to_owned(), id)).collect(),
                ..Applied::default()
            };
            self.removed(&applied);
        }
    }

    /// Removes the service's dynamic rules of `layer` from its table; returns their ids.
    fn take_dynamic(&self, service: &str, layer: Layer) -> Vec<u64> {
        let key = (service.to_owned(), layer);
        let ids = self.dynamic.lock().unwrap_or_else(|p| p.into_inner()).remove(&key).unwrap_or_default();
        if let Some(table) = self.syscall.get(service) {
            for id in &ids {
                table.remove(*id);
            }
        }
        ids
    }

    fn install(&self, scope: &str, syscall: &[SyscallRule], proxy: &[ProxyRule]) -> Result<Applied, FaultError> {
        for rule in syscall {
            self.check_filterable(rule)?;
        }
        for rule in proxy {
            if !self.proxy.contains_key(&(rule.service.clone(), rule.interface.clone())) {
                return Err(FaultError {
                    code: "FAULT_NOT_APPLICABLE",
                    message: format!(
                        "no proxy stands in front of `{}.{}`, so its protocol faults cannot be applied",
                        rule.service, rule.interface
                    ),
                    hint: Some("protocol faults need a local service with a declared port on that interface".into()),
                });
            }
        }
        let mut applied = Applied { scope: scope.to_owned(), ..Applied::default() };
        let mut installed = self.installed.lock().unwrap_or_else(|p| p.into_inner());
        for rule in syscall {
            let Some(table) = self.syscall.get(&rule.service) else { continue };
            let install = Install {
                rule: rule.clone(),
                scope: scope.to_owned(),
                probability: rule.probability,
                max_fires: rule.max_fires.map(u64::from),
            };
            let active = table.install_scheduled(install, self.schedule(rule));
            applied.syscall.push((rule.service.clone(), active.id));
            installed.push(Rule::Syscall(active));
        }
        for rule in proxy {
            let key = (rule.service.clone(), rule.interface.clone());
            let Some(table) = self.proxy.get(&key) else { continue };
            let active = table.install(Install {
                rule: rule.clone(),
                scope: scope.to_owned(),
                probability: rule.probability,
                max_fires: None,
            });
            applied.proxy.push((key, active.id));
            installed.push(Rule::Proxy(active));
        }
        drop(installed);
        if !applied.syscall.is_empty() || !applied.proxy.is_empty() {
            let targets: BTreeSet<String> = syscall
                .iter()
                .map(|r| r.service.clone())
                .chain(proxy.iter().map(|r| format!("{}.{}", r.service, r.interface)))
                .collect();
            self.events.push(
                "",
                "fault_applied",
                fields([
                    ("scope", scope.into()),
                    ("targets", targets.into_iter().collect::<Vec<_>>().into()),
                    ("rules", (applied.syscall.len() + applied.proxy.len()).into()),
                ]),
            );
        }
        Ok(applied)
    }

    /// An exhaustive rule's fire schedule in this leaf (a decision point of the leaf), or
    /// `None` for a rule that decides by its seeded draw. Exhaustive as the plan counts it:
    /// `max_fires` given, mode `exhaustive` (the default with `max_fires`), probability < 1.
    fn schedule(&self, rule: &SyscallRule) -> Option<Schedule> {
        let fires = rule.max_fires.filter(|k| *k > 0)?;
        let exhaustive = rule.mode.as_deref().is_none_or(|m| m == "exhaustive") && rule.probability < 1.0;
        exhaustive.then(|| self.leaf.schedule(&format!("{}.{}", rule.service, rule.key), fires))
    }

    /// Mocks and `seccomp=False` services skip syscall faults with an event (as Faultbox);
    /// anything else that cannot take the rule is an error naming why.
    fn check_filterable(&self, rule: &SyscallRule) -> Result<(), FaultError> {
        let service = &rule.service;
        if self.syscall.contains_key(service) {
            let intercept = self.intercept.get(service).cloned().unwrap_or_default();
            let missing: Vec<&String> = rule.syscalls.iter().filter(|s| !intercept.contains(*s)).collect();
            if missing.is_empty() {
                return Ok(());
            }
            return Err(FaultError {
                code: "FAULT_NOT_FILTERABLE",
                message: format!(
                    "`{}` on `{service}` needs {} in its seccomp filter, which holds only the syscalls the plan found faults for",
                    rule.key,
                    missing.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                ),
                hint: Some(
                    "fault it where the plan can see it: a fault_assumption, or fault()/trace() called with the service and keyword written out (not **kwargs)"
                        .into(),
                ),
            });
        }
        let why = self.unfilterable.get(service).cloned().unwrap_or_else(|| "it is not in the plan".to_owned());
        Err(FaultError {
            code: "FAULT_NOT_FILTERABLE",
            message: format!("cannot fault `{}` on `{service}`: {why}", rule.key),
            hint: None,
        })
    }

    fn removed(&self, applied: &Applied) {
        let ids: BTreeSet<u64> =
            applied.syscall.iter().map(|(_, id)| *id).chain(applied.proxy.iter().map(|(_, id)| *id)).collect();
        let rules: Vec<Rule> = self.installed().into_iter().filter(|r| ids.contains(&r.id())).collect();
        for rule in rules.iter().filter(|r| r.matched() == 0 && !r.is_trace()) {
            self.events.push(
                "",
                "fault_zero_traffic",
                fields([("scope", applied.scope.clone().into()), ("rule", rule.describe().into())]),
            );
        }
        if !rules.is_empty() {
            let fired: u64 = rules.iter().map(Rule::fired).sum();
            let targets: BTreeSet<String> = applied
                .syscall
                .iter()
                .map(|(service, _)| service.clone())
                .chain(applied.proxy.iter().map(|((service, interface), _)| format!("{service}.{interface}")))
                .collect();
            self.events.push(
                "",
                "fault_removed",
                fields([
                    ("scope", applied.scope.clone().into()),
                    ("targets", targets.into_iter().collect::<Vec<_>>().into()),
                    ("fired", fired.into()),
                ]),
            );
        }
    }

    /// `partition(a, b, direction)`: cuts the edges between the two services (both ways, or one
    /// way), on established connections and new ones alike.
    pub fn partition(&self, a: &str, b: &str, direction: &str) -> Result<(), FaultError> {
        let (a_to_b, b_to_a) = match direction {
            "both" | "" => (true, true),
            "a_to_b" => (true, false),
            "b_to_a" => (false, true),
            other => {
                return Err(FaultError {
                    code: "SPEC_LOAD_FAILED",
                    message: format!("partition direction `{other}` is not one of both, a_to_b, b_to_a"),
                    hint: None,
                })
            }
        };
        let between = |p: &Proxy| {
            let e = p.edge();
            (e.consumer == a && e.service == b) || (e.consumer == b && e.service == a)
        };
        if !self.proxies.iter().any(between) {
            return Err(FaultError {
                code: "PARTITION_NO_EDGE",
                message: format!(
                    "partition(`{a}`, `{b}`): neither service reaches the other through an address reference, so there is no edge to cut"
                ),
                hint: Some(format!("wire the consumer with an env reference such as `{b}.<interface>.addr`")),
            });
        }
        self.partitions.lock().unwrap_or_else(|p| p.into_inner()).push(Partition {
            a: a.to_owned(),
            b: b.to_owned(),
            a_to_b,
            b_to_a,
        });
        self.apply_partitions();
        self.events.push(
            "",
            "partition_applied",
            fields([("a", a.into()), ("b", b.into()), ("direction", direction_name(a_to_b, b_to_a).into())]),
        );
        Ok(())
    }

    /// Heals the partition between `a` and `b` (either order); false when none was in force.
    pub fn heal(&self, a: &str, b: &str) -> bool {
        let mut partitions = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        let before = partitions.len();
        partitions.retain(|p| !((p.a == a && p.b == b) || (p.a == b && p.b == a)));
        let healed = partitions.len() != before;
        drop(partitions);
        if healed {
            self.apply_partitions();
            self.events.push("", "partition_removed", fields([("a", a.into()), ("b", b.into())]));
        }
        healed
    }

    /// Partitions still in force at the end of the test (`partition_start` without a stop).
    pub fn leaked_partitions(&self) -> Vec<(String, String)> {
        let partitions = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        partitions.iter().map(|p| (p.a.clone(), p.b.clone())).collect()
    }

    /// Sets every edge's blackhole from the partitions in force: an edge from consumer C to
    /// service S carries C→S requests upstream and S→C replies downstream.
    fn apply_partitions(&self) {
        let partitions = self.partitions.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for proxy in &self.proxies {
            let edge = proxy.edge();
            let cut = |from: &str, to: &str| {
                partitions
                    .iter()
                    .any(|p| (p.a == from && p.b == to && p.a_to_b) || (p.b == from && p.a == to && p.b_to_a))
            };
            proxy.set_blackhole(cut(&edge.consumer, &edge.service), cut(&edge.service, &edge.consumer));
        }
    }
}

fn direction_name(a_to_b: bool, b_to_a: bool) -> &'static str {
    match (a_to_b, b_to_a) {
        (true, true) => "both",
        (true, false) => "a_to_b",
        _ => "b_to_a",
    }
}

/// The services a test's faults can target, or `None` when some fault site's target is not
/// known statically (then every eligible service gets its filter).
fn targeted_services(test: &Test) -> Option<BTreeSet<String>> {
    let mut services: BTreeSet<String> = test.syscall_rules.iter().map(|r| r.service.clone()).collect();
    for fault in &test.scoped_faults {
        if fault.builtin.starts_with("partition") || fault.interface.is_some() {
            continue;
        }
        if fault.assumption.is_some() {
            services.extend(fault.services.iter().cloned());
            continue;
        }
        if fault.services.is_empty() {
            return None;
        }
        services.extend(fault.services.iter().cloned());
    }
    Some(services)
}

/// A stable 64-bit hash (per-test seeds must not depend on the process's random state).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}
