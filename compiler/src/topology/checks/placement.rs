//! Where builtins may be called (reference §8.4 item 37). The catalog says, per builtin,
//! whether it belongs in a test body (`test_body`: faults, traces, partitions, steps, events,
//! the log assertions, `sleep`, …), at module level (`top_level`: `service`, `fault_matrix`,
//! …) or anywhere. A body-only builtin that runs at load really runs then (steps dial, faults
//! look for a running service); a registration inside a test body comes after discovery.
//! Step methods at load never get this far: the evaluator refuses to call them (TOP010).

use ospecc_schema::topology::CallContext;

use super::{Call, Model, Origin, Target};
use crate::diagnostics::Diagnostic;
use crate::topology::functions::{Function, Functions};

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    for call in model.calls() {
        if let (Origin::Load, Target::Builtin(b)) = (&call.origin, &call.target) {
            if b.context == CallContext::TestBody {
                out.push(body_only_at_load(model, call));
            }
        }
    }
    // Whether a body that registers runs in a test follows the file's functions: cross.
    if !model.part.cross() {
        return;
    }
    let functions = model.functions();
    for call in model.every_call() {
        if let (Origin::Body(_), Target::Builtin(b)) = (&call.origin, &call.target) {
            if b.context == CallContext::TopLevel {
                if let Some(d) = top_level_in_body(model, functions, call) {
                    out.push(d);
                }
            }
        }
    }
}

/// TOP320: a test-body builtin that ran while the file loaded.
fn body_only_at_load(model: &Model, call: &Call) -> Diagnostic {
    let name = call.display_name();
    Diagnostic::error(
        "TOP320",
        model.callee_span(call),
        format!("`{name}` runs when the file loads, but it works only inside a test"),
    )
    .with_note("Faultbox executes module-level code once at load, before any service is started")
    .with_help(format!("move the `{name}(...)` call into a test function (`def test_…():`) or a scenario"))
}

/// TOP322: a registration builtin inside a function that only tests run. A helper the top
/// level called (some of its calls ran at load) declares topology on purpose; a function no
/// test reaches is not reported either.
fn top_level_in_body(model: &Model, functions: Option<&Functions>, call: &Call) -> Option<Diagnostic> {
    let functions = functions?;
    let enclosing = functions.enclosing(call.record.span)?;
    let ran_at_load = model.every_call().iter().any(|c| {
        c.origin == Origin::Load
            && enclosing.span.start <= c.record.span.start
            && c.record.span.end <= enclosing.span.end
    });
    if ran_at_load || !reached_by_a_test(model, functions, enclosing) {
        return None;
    }
    let name = call.display_name();
    Some(
        Diagnostic::error(
            "TOP322",
            model.callee_span(call),
            format!("`{name}` registers topology or tests, but this call is inside a test body that runs after they were collected"),
        )
        .with_label(enclosing.name_span, format!("`{}` runs as part of a test", enclosing.name))
        .with_help(format!("call `{name}(...)` at module level, where Faultbox collects the topology and the tests")),
    )
}

/// Whether a test entry (a `test_*` def, or a callable handed to a builtin) reaches `f`.
fn reached_by_a_test(model: &Model, functions: &Functions, f: &Function) -> bool {
    if f.name == "lambda" {
        return true;
    }
    let roots: Vec<_> = functions
        .all
        .iter()
        .filter(|g| g.top_level && g.name.starts_with("test_") || handed_to_a_builtin(model, &g.name))
        .collect();
    functions.reachable(roots).iter().any(|g| g.span == f.span)
}

/// Whether a recorded call passed the function `name` as an argument.
fn handed_to_a_builtin(model: &Model, name: &str) -> bool {
    use crate::topology::values::Arg;
    fn mentions(arg: &Arg, name: &str) -> bool {
        match arg {
            Arg::Function(f) => f == name,
            Arg::List(items) | Arg::Tuple(items) => items.iter().any(|a| mentions(a, name)),
            Arg::Dict(entries) => entries.iter().any(|(k, v)| mentions(k, name) || mentions(v, name)),
            _ => false,
        }
    }
    model.every_call().iter().any(|c| {
        c.record.positional.iter().any(|a| mentions(a, name)) || c.record.named.iter().any(|(_, a)| mentions(a, name))
    })
}
