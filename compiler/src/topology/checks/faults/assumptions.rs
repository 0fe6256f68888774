//! Fault assumptions that fault nothing (reference §8.4 item 35): an assumption with no
//! syscall keyword, no rule and no child is legal but inert, so every matrix cell or scenario
//! using it runs unfaulted. (Rules of the wrong layer are reported where rules are checked.)

use super::syscall_keywords;
use crate::diagnostics::Diagnostic;
use crate::topology::checks::{Call, Model};
use crate::topology::values::Arg;
use ospecc_schema::topology::builtins;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    for call in model.calls_of(builtins::FAULT_ASSUMPTION) {
        if !model.has_splat(call) && inert(call) {
            out.push(inert_assumption(model, call));
        }
    }
}

/// Whether a list-valued keyword is certainly empty (absent, None or `[]`).
fn empty(call: &Call, keyword: &str) -> bool {
    match call.record.named(keyword) {
        None | Some(Arg::None) => true,
        Some(Arg::List(items) | Arg::Tuple(items)) => items.is_empty(),
        _ => false,
    }
}

fn inert(call: &Call) -> bool {
    syscall_keywords(call).next().is_none() && empty(call, "rules") && empty(call, "faults")
}

fn inert_assumption(model: &Model, call: &Call) -> Diagnostic {
    let name = call.record.name().unwrap_or("?");
    let monitors = !empty(call, "monitors");
    let d = Diagnostic::warning(
        "TOP224",
        model.callee_span(call),
        format!("fault assumption `{name}` injects no fault: it has no syscall fault, no `rules=` and no `faults=`"),
    );
    if monitors {
        d.with_help("add the fault it assumes (`target=svc, write=deny(\"EIO\")`, or `target=svc.iface, rules=[...]`); to only watch a scenario, pass the monitors to `fault_scenario(monitors=...)`")
    } else {
        d.with_help("add the fault it assumes: `target=svc, write=deny(\"EIO\")`, `target=svc.iface, rules=[error(...)]`, or `faults=[a, b]`")
    }
}
