//! The arity of callables handed to builtins (reference §8.4 item 34). Faultbox calls them
//! with a fixed number of positional arguments (a scenario with none, an expectation with the
//! scenario's result, a monitor callback with the event and the state); a mismatch fails only
//! when the test runs. The counts and reasons are the catalog's `callback` of each callable
//! parameter.

use super::{callable, entry_spans, item_spans, Functions};
use ospecc_schema::topology::{Callback, Param, ParamKind};

use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::checks::{Call, Model};
use crate::topology::values::Arg;

/// Where the callable is in the call.
#[derive(Clone, Copy)]
enum Slot<'p> {
    Keyword(&'p str),
    Positional(usize),
    /// Each item of a list keyword.
    Items(&'p str),
    /// Each value of a dict keyword.
    Values(&'p str),
    /// Every positional argument.
    AllPositional,
}

/// A cross check: a callable named by a call may be any def of the file.
pub(super) fn check(model: &Model, functions: &Functions, out: &mut Vec<Diagnostic>) {
    for call in model.every_call() {
        let Some(builtin) = call.builtin() else { continue };
        for (index, param) in builtin.params.iter().enumerate() {
            let Some(Callback { arity, why }) = &param.callback else { continue };
            for slot in slots(index, param) {
                for (arg, at) in slot_args(model, call, slot) {
                    if let Some(d) = mismatch(functions, &arg, at, *arity, why) {
                        out.push(d);
                    }
                }
            }
        }
    }
}

/// Where the callables of a parameter with a catalog `callback` are written: by position, by
/// keyword, or both; each item of a list, each value of a dict, each of `*args`.
fn slots(index: usize, param: &Param) -> Vec<Slot<'_>> {
    let name = param.name.as_str();
    let container = param.ty.split('[').next().unwrap_or_default();
    match param.kind {
        ParamKind::Positional => vec![Slot::Positional(index)],
        ParamKind::PositionalOrKeyword => vec![Slot::Positional(index), Slot::Keyword(name)],
        ParamKind::KeywordOnly if container == "list" => vec![Slot::Items(name)],
        ParamKind::KeywordOnly if container == "dict" => vec![Slot::Values(name)],
        ParamKind::KeywordOnly => vec![Slot::Keyword(name)],
        ParamKind::Variadic => vec![Slot::AllPositional],
        ParamKind::KeywordVariadic => Vec::new(),
    }
}

/// The arguments in a slot, each with its span.
fn slot_args(model: &Model, call: &Call, slot: Slot<'_>) -> Vec<(Arg, Span)> {
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
