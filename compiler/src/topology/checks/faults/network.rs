//! The packet layer (reference §8.3 items 27 and 28): partitions, packet rules, link shapers
//! and `watch` need `determinism(runtime="gvisor")`; packet matcher constraints Faultbox
//! enforces when it compiles a rule; partitions between two distinct services with an
//! interface on the faulted side, started and stopped in the same body; `watch` on
//! container-mode services.

use ospecc_schema::topology::{builtins, Range};

use crate::topology::hash::HashMap;

use super::{already_reported, service_name, Functions};
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use starlark::syntax::ast::StmtP;

use crate::topology::attrs;
use crate::topology::checks::{Call, Model};
use crate::topology::syntax::span;
use crate::topology::values::{Arg, Recorded};

/// Packet triggers of which a rule takes at most one.
const TRIGGERS: &[&str] = &["nth", "after", "every"];

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    if model.part.cross() {
        gvisor(model, out);
    }
    for call in model.calls() {
        if model.has_splat(call) {
            continue;
        }
        if is_packet_rule(call) {
            triggers(model, call, out);
        }
        ranges(model, call, out);
        if call.is(builtins::PARTITION) || call.is(builtins::PARTITION_START) {
            partition(model, call, out);
        }
        if call.is(builtins::WATCH) || call.is(builtins::WATCH_START) {
            watch(model, call, out);
        }
    }
    if model.part.cross() && model.every_call().iter().any(starts_or_stops_partition) {
        balance(model, &Functions::new(model), out);
    }
}

fn is_packet_rule(call: &Call) -> bool {
    call.builtin().is_some_and(|b| b.returns == "packet_fault")
}

/// TOP214: packet-layer builtins without `determinism(runtime="gvisor")`.
fn gvisor(model: &Model, out: &mut Vec<Diagnostic>) {
    let uses: Vec<&Call> =
        model.every_call().iter().filter(|c| is_packet_rule(c) || c.builtin().is_some_and(|b| b.gateway)).collect();
    let Some(first) = uses.first() else { return };
    let mut declared = None;
    for d in model.evaluated.calls_of(builtins::DETERMINISM) {
        match d.named("runtime") {
            Some(Arg::Str(r)) if r == "gvisor" => return,
            Some(Arg::Str(_)) | None | Some(Arg::None) => declared = Some(d),
            Some(_) => return,
        }
    }
    let names: Vec<String> = {
        let mut n: Vec<String> = uses.iter().map(|c| format!("`{}`", c.display_name())).collect();
        n.dedup();
        n
    };
    let mut d = Diagnostic::warning(
        "TOP214",
        model.callee_span(first),
        format!("`{}` needs `determinism(runtime=\"gvisor\")`, which this file does not declare", first.display_name()),
    )
    .with_note(
        "under the default runtime Faultbox fails the test when it reaches a partition, packet rule, shaper or watch",
    );
    if uses.iter().any(|c| c.builtin().is_some_and(|b| b.name.starts_with("partition"))) {
        d = d.with_note("`ospecc run` cuts partitions at its protocol proxies without gVisor; this is about Faultbox");
    }
    for other in uses.iter().skip(1).take(5) {
        d = d.with_label(model.callee_span(other), "also needs the gVisor runtime");
    }
    d = match declared {
        Some(det) if det.file == model.evaluated.root => d
            .with_label(det.span, "declared without `runtime=\"gvisor\"`")
            .with_help("set `runtime=\"gvisor\"` in the `determinism(...)` call"),
        Some(det) => d.with_help(format!(
            "set `runtime=\"gvisor\"` in the `determinism(...)` call of `{}` (it may be called once per spec)",
            det.file
        )),
        None => {
            let (at, text) = match last_load(model) {
                Some(end) => (Span::at(end), "\ndeterminism(runtime=\"gvisor\")"),
                None => (Span::at(0), "determinism(runtime=\"gvisor\")\n"),
            };
            d.with_help(format!(
                "add `determinism(runtime=\"gvisor\")` at the top of the file (used here by {})",
                names.join(", ")
            ))
            .with_replacement("declare the gVisor runtime", at, text)
        }
    };
    out.push(d);
}

/// The end of the last top-level `load()`: declarations go after the loads.
fn last_load(model: &Model) -> Option<usize> {
    let tree = &model.syntax?.tree;
    let StmtP::Statements(list) = &tree.node else { return None };
    list.iter().filter(|s| matches!(s.node, StmtP::Load(_))).map(|s| span(s.span).end).max()
}

/// TOP215: `nth`, `after`, `every` are exclusive.
fn triggers(model: &Model, call: &Call, out: &mut Vec<Diagnostic>) {
    let given: Vec<&str> =
        TRIGGERS.iter().copied().filter(|t| call.record.named(t).is_some_and(|v| *v != Arg::None)).collect();
    if given.len() < 2 {
        return;
    }
    out.push(
        Diagnostic::error(
            "TOP215",
            model.keyword_span(call, given[1]),
            format!(
                "`{}` takes only one of `nth=`, `after=`, `every=`, but `{}=` and `{}=` are given",
                call.display_name(),
                given[0],
                given[1]
            ),
        )
        .with_label(model.keyword_span(call, given[0]), "first trigger")
        .with_help("keep one trigger; combine conditions with separate rules"),
    );
}

/// TOP216: integer arguments outside the range Faultbox accepts (catalog `range`).
fn ranges(model: &Model, call: &Call, out: &mut Vec<Diagnostic>) {
    let Some(builtin) = call.builtin() else { return };
    for (index, param) in builtin.params.iter().enumerate() {
        let Some(Range { min, max }) = param.range else { continue };
        let name = param.name.as_str();
        let positional = Some(index).filter(|&i| i < call.record.positional.len());
        let (value, at) = match (call.record.named(name), positional) {
            (Some(v), _) => (v, model.value_span(call, name)),
            (None, Some(i)) => (&call.record.positional[i], model.positional_span(call, i)),
            _ => continue,
        };
        let Arg::Int(n) = value else { continue };
        if (min..=max.unwrap_or(i64::MAX)).contains(n) || already_reported(out, at) {
            continue;
        }
        let range = match max {
            None => format!("at least {min}"),
            Some(max) => format!("between {min} and {max}"),
        };
        out.push(
            Diagnostic::error("TOP216", at, format!("`{name}` of `{}` must be {range}, not {n}", builtin.name))
                .with_help(format!("use a value {range}")),
        );
    }
}

/// The two sides of a partition call, when both are known services.
fn sides(call: &Call) -> Option<(&Recorded, &Recorded)> {
    match call.record.positional.as_slice() {
        [Arg::Record(a), Arg::Record(b), ..] if a.ty == "service" && b.ty == "service" => Some((a, b)),
        _ => None,
    }
}

/// TOP217 and TOP218: distinct sides, with an interface on the faulted side.
fn partition(model: &Model, call: &Call, out: &mut Vec<Diagnostic>) {
    let Some((a, b)) = sides(call) else { return };
    let name = call.display_name();
    if service_name(a) == service_name(b) {
        out.push(
            Diagnostic::error(
                "TOP217",
                model.positional_span(call, 1),
                format!("`{name}` of service `{}` with itself", service_name(a)),
            )
            .with_label(model.positional_span(call, 0), "the same service")
            .with_help("a partition cuts the network between two different services; name the other side"),
        );
        return;
    }
    let direction = call.record.named("direction").and_then(Arg::as_str).unwrap_or("both");
    let targets: Vec<(&Recorded, usize)> = match direction {
        "a_to_b" => vec![(b, 1)],
        "b_to_a" => vec![(a, 0)],
        _ => vec![(a, 0), (b, 1)],
    };
    if targets.iter().any(|(s, _)| attrs::interfaces(s).next().is_some()) {
        return;
    }
    let (side, index) = targets[targets.len() - 1];
    out.push(
        Diagnostic::warning(
            "TOP218",
            model.positional_span(call, index),
            format!("`{name}` cuts nothing: `{}` declares no interface to drop traffic on", service_name(side)),
        )
        .with_help("a partition drops packets on the interfaces of the side being reached; partition against a service that declares one, or add `direction=`"),
    );
}

/// TOP220: `watch` needs a container-mode service.
fn watch(model: &Model, call: &Call, out: &mut Vec<Diagnostic>) {
    let Some(service) = call.record.positional.first().and_then(Arg::record).filter(|s| s.ty == "service") else {
        return;
    };
    let container = ["image", "build"].iter().any(|k| service.named(k).is_some_and(|v| *v != Arg::None));
    if container {
        return;
    }
    let kind = if service.builtin == builtins::MOCK_SERVICE {
        "a mock"
    } else if service.named("remote").is_some() {
        "a remote service"
    } else {
        "a binary service"
    };
    out.push(
        Diagnostic::error(
            "TOP220",
            model.positional_span(call, 0),
            format!("`{}` needs a container-mode service, but `{}` is {kind}", call.display_name(), service_name(service)),
        )
        .with_help("file observation runs inside the gVisor sandbox of a container: declare the service with `image=` or `build=`"),
    );
}

fn starts_or_stops_partition(call: &Call) -> bool {
    call.is(builtins::PARTITION_START) || call.is(builtins::PARTITION_STOP)
}

/// TOP219: `partition_start`/`partition_stop` balanced within each body.
fn balance(model: &Model, functions: &Functions, out: &mut Vec<Diagnostic>) {
    let pair_of = |call: &Call| {
        sides(call).map(|(a, b)| {
            let mut pair = [service_name(a).to_owned(), service_name(b).to_owned()];
            pair.sort();
            pair
        })
    };
    // A pair started or stopped in another body may be a helper's half of the pairing.
    let elsewhere = |name: &str, body: Option<usize>| -> Vec<[String; 2]> {
        model.every_call_of(name).filter(|c| functions.enclosing(c.record.span) != body).filter_map(pair_of).collect()
    };
    let mut by_body: HashMap<Option<usize>, Vec<&Call>> = HashMap::default();
    for call in model.every_call().iter().filter(|c| starts_or_stops_partition(c)) {
        by_body.entry(functions.enclosing(call.record.span)).or_default().push(call);
    }
    for (body, calls) in &by_body {
        let started_elsewhere = elsewhere("partition_start", *body);
        let stopped_elsewhere = elsewhere("partition_stop", *body);
        let mut active: Vec<([String; 2], &Call)> = Vec::new();
        for call in calls {
            let Some(pair) = pair_of(call) else { continue };
            let open = active.iter().position(|(p, _)| *p == pair);
            match (call.is(builtins::PARTITION_START), open) {
                (true, Some(i)) => {
                    out.push(unbalanced(model, call, &pair, "is started again while active", Some(active[i].1)))
                }
                (true, None) => active.push((pair, call)),
                (false, Some(i)) => {
                    active.remove(i);
                }
                (false, None) if !started_elsewhere.contains(&pair) => {
                    out.push(unbalanced(model, call, &pair, "is stopped but never started", None))
                }
                (false, None) => {}
            }
        }
        for (pair, call) in active {
            if !stopped_elsewhere.contains(&pair) {
                out.push(unbalanced(model, call, &pair, "is started but not stopped in this body", None));
            }
        }
    }
}

fn unbalanced(model: &Model, call: &Call, pair: &[String; 2], what: &str, earlier: Option<&Call>) -> Diagnostic {
    let mut d = Diagnostic::warning("TOP219", model.callee_span(call), format!("the partition `{}`–`{}` {what}", pair[0], pair[1]))
        .with_help(
            "pair each `partition_start(a, b)` with a `partition_stop(a, b)` in the same body, or use `partition(a, b, run=...)`",
        );
    if let Some(e) = earlier {
        d = d.with_label(model.callee_span(e), "started here");
    }
    d
}
