//! The arity of callables handed to builtins (reference §8.4 item 34). Faultbox calls them
//! with a fixed number of positional arguments (a scenario with none, an expectation with the
//! scenario's result, a monitor callback with the event and the state); a mismatch fails only
//! when the test runs.

use super::{callable, entry_spans, item_spans, Functions};
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::checks::{Call, Model};
use crate::topology::values::Arg;

/// Where the callable is in the call.
#[derive(Clone, Copy)]
enum Slot {
    Keyword(&'static str),
    Positional(usize),
    /// Each item of a list keyword.
    Items(&'static str),
    /// Each value of a dict keyword.
    Values(&'static str),
    /// Every positional argument.
    AllPositional,
}

/// (builtin, slot, arguments Faultbox passes, what they are).
const RULES: &[(&str, Slot, usize, &str)] = &[
    ("scenario", Slot::Positional(0), 0, "a scenario is called with no arguments"),
    ("fault_scenario", Slot::Keyword("scenario"), 0, "a scenario is called with no arguments"),
    ("fault_scenario", Slot::Keyword("expect"), 1, "`expect` is called with the scenario's result"),
    ("fault_matrix", Slot::Items("scenarios"), 0, "a scenario is called with no arguments"),
    ("fault_matrix", Slot::Keyword("default_expect"), 1, "`default_expect` is called with the scenario's result"),
    ("fault_matrix", Slot::Values("overrides"), 1, "an override is called with the scenario's result"),
    ("test", Slot::Keyword("body"), 0, "a test body is called with no arguments"),
    ("test", Slot::Positional(1), 0, "a test body is called with no arguments"),
    ("test", Slot::Keyword("setup"), 0, "`setup` is called with no arguments"),
    ("test", Slot::Items("assume"), 1, "an `assume` predicate is called with the choices"),
    ("fault", Slot::Keyword("run"), 0, "`run` is called with no arguments"),
    ("fault_all", Slot::Keyword("run"), 0, "`run` is called with no arguments"),
    ("trace", Slot::Keyword("run"), 0, "`run` is called with no arguments"),
    ("partition", Slot::Keyword("run"), 0, "`run` is called with no arguments"),
    ("watch", Slot::Keyword("run"), 0, "`run` is called with no arguments"),
    ("parallel", Slot::AllPositional, 0, "`parallel` calls each function with no arguments"),
    ("monitor", Slot::Keyword("update"), 2, "`update` is called with the event and the state"),
    ("monitor", Slot::Keyword("check"), 2, "`check` is called with the event and the state"),
    ("monitor", Slot::Positional(3), 2, "`update` is called with the event and the state"),
    ("monitor", Slot::Positional(4), 2, "`check` is called with the event and the state"),
    ("monitor", Slot::Positional(0), 1, "a monitor function is called with the event"),
    ("monitor", Slot::Positional(1), 1, "an `on` function is called with the event"),
    ("monitor", Slot::Keyword("on"), 1, "an `on` function is called with the event"),
    ("events", Slot::Keyword("where"), 1, "`where` is called with each event"),
    ("assert_eventually", Slot::Keyword("where"), 1, "`where` is called with each event"),
    ("assert_never", Slot::Keyword("where"), 1, "`where` is called with each event"),
    ("packet_drop", Slot::Keyword("where"), 1, "`where` is called with each packet"),
    ("packet_pass", Slot::Keyword("where"), 1, "`where` is called with each packet"),
    ("packet_reset", Slot::Keyword("where"), 1, "`where` is called with each packet"),
    ("packet_delay", Slot::Keyword("where"), 1, "`where` is called with each packet"),
    ("packet_reorder", Slot::Keyword("where"), 1, "`where` is called with each packet"),
    ("packet_duplicate", Slot::Keyword("where"), 1, "`where` is called with each packet"),
    ("packet_corrupt", Slot::Keyword("where"), 1, "`where` is called with each packet"),
    ("packet_window", Slot::Keyword("where"), 1, "`where` is called with each packet"),
    ("dynamic", Slot::Positional(0), 1, "a `dynamic` handler is called with the request"),
    ("eventually", Slot::Positional(0), 1, "a temporal predicate is called with the trace"),
    ("always", Slot::Positional(0), 1, "a temporal predicate is called with the trace"),
    ("assume", Slot::Positional(0), 1, "an `assume` predicate is called with the choices"),
    ("await_event", Slot::Positional(0), 1, "an `await_event` predicate is called with each event"),
    ("await_stable", Slot::Keyword("ignore"), 1, "an `ignore` predicate is called with each event"),
];

pub(super) fn check(model: &Model, functions: &Functions, out: &mut Vec<Diagnostic>) {
    for call in &model.calls {
        let Some(builtin) = call.builtin() else { continue };
        for (_, slot, n, why) in RULES.iter().filter(|(b, ..)| *b == builtin.name) {
            for (arg, at) in slot_args(model, call, *slot) {
                if let Some(d) = mismatch(functions, &arg, at, *n, why) {
                    out.push(d);
                }
            }
        }
    }
}

/// The arguments in a slot, each with its span.
fn slot_args(model: &Model, call: &Call, slot: Slot) -> Vec<(Arg, Span)> {
    let record = &call.record;
    match slot {
        Slot::Keyword(k) => record.named(k).map(|a| vec![(a.clone(), model.value_span(call, k))]).unwrap_or_default(),
        Slot::Positional(i) => {
            record.positional.get(i).map(|a| vec![(a.clone(), model.positional_span(call, i))]).unwrap_or_default()
        }
        Slot::AllPositional => {
            record.positional.iter().enumerate().map(|(i, a)| (a.clone(), model.positional_span(call, i))).collect()
        }
        Slot::Items(k) => {
            let Some(Arg::List(items)) = record.named(k) else { return Vec::new() };
            let spans = item_spans(model, model.value_span(call, k), items.len());
            let Some(spans) = spans else { return Vec::new() };
            items.iter().cloned().zip(spans).collect()
        }
        Slot::Values(k) => {
            let Some(Arg::Dict(entries)) = record.named(k) else { return Vec::new() };
            let Some(spans) = entry_spans(model, model.value_span(call, k), entries.len()) else { return Vec::new() };
            entries.iter().map(|(_, v)| v.clone()).zip(spans.into_iter().map(|(_, v)| v)).collect()
        }
    }
}

/// TOP307 when no candidate of the callable binds `n` positional arguments.
fn mismatch(functions: &Functions, arg: &Arg, at: Span, n: usize, why: &str) -> Option<Diagnostic> {
    let candidates = callable(functions, arg, at)?;
    if candidates.iter().any(|f| f.signature.accepts(n)) {
        return None;
    }
    let f = candidates.first()?;
    let takes = takes(&f.signature);
    let shown = if f.name == "lambda" { "this lambda".to_owned() } else { format!("`{}`", f.name) };
    let wanted = match n {
        0 => "no parameters".to_owned(),
        1 => "exactly one parameter".to_owned(),
        n => format!("{n} parameters"),
    };
    let mut d = Diagnostic::error("TOP307", at, format!("{shown} takes {takes}, but {why}"))
        .with_help(format!("give it {wanted}"));
    if f.name != "lambda" {
        d = d.with_label(f.name_span, format!("`{}` is defined here", f.name));
    }
    Some(d)
}

fn takes(def: &crate::topology::syntax::Def) -> String {
    match (def.required, def.positional, def.varargs) {
        (_, _, true) => format!("at least {} argument{}", def.required, if def.required == 1 { "" } else { "s" }),
        (0, 0, _) => "no arguments".to_owned(),
        (r, p, _) if r == p => format!("{r} argument{}", if r == 1 { "" } else { "s" }),
        (r, p, _) => format!("{r} to {p} arguments"),
    }
}
