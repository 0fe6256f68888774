//! `fault_matrix` keys (reference §4.2, §8.4 item 33). Cells, `overrides` and `exclude` are
//! keyed by names (the scenario function's, the assumption's), so lambdas and repeated names
//! collide, and entries naming a cell outside the matrix are silently ignored.

use crate::topology::hash::HashMap;
use ospecc_schema::topology::builtins;

use super::{entry_spans, item_spans, key_name};
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::checks::{Call, Model, Origin};
use crate::topology::values::Arg;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    for call in model.calls_of(builtins::FAULT_MATRIX).filter(|c| c.origin == Origin::Load) {
        let scenarios = names(model, call, "scenarios");
        lambdas(&scenarios, out);
        repeated(&scenarios, "TOP303", "scenario", out);
        let faults = names(model, call, "faults");
        repeated(&faults, "TOP304", "fault assumption", out);
        let excluded = pairs_of_list(model, call);
        let overridden = pairs_of_dict(model, call);
        outside(&scenarios, &faults, &excluded, "exclude", out);
        outside(&scenarios, &faults, &overridden, "overrides", out);
        both(&excluded, &overridden, out);
    }
}

/// (name, span) of each item of a matrix list that has a key name.
fn names(model: &Model, call: &Call, keyword: &str) -> Vec<(String, Span)> {
    let Some(Arg::List(items)) = call.record.named(keyword) else { return Vec::new() };
    let whole = model.value_span(call, keyword);
    let spans = item_spans(model, whole, items.len());
    items
        .iter()
        .enumerate()
        .filter_map(|(i, a)| Some((key_name(a)?, spans.as_ref().and_then(|s| s.get(i).copied()).unwrap_or(whole))))
        .collect()
}

/// A (scenario, assumption) pair and where it is written.
struct Pair {
    scenario: String,
    fault: String,
    at: Span,
}

fn pair(arg: &Arg, at: Span) -> Option<Pair> {
    match arg {
        Arg::Tuple(items) if items.len() == 2 => {
            Some(Pair { scenario: key_name(&items[0])?, fault: key_name(&items[1])?, at })
        }
        _ => None,
    }
}

fn pairs_of_list(model: &Model, call: &Call) -> Vec<Pair> {
    let Some(Arg::List(items)) = call.record.named("exclude") else { return Vec::new() };
    let whole = model.value_span(call, "exclude");
    let spans = item_spans(model, whole, items.len());
    items
        .iter()
        .enumerate()
        .filter_map(|(i, a)| pair(a, spans.as_ref().and_then(|s| s.get(i).copied()).unwrap_or(whole)))
        .collect()
}

fn pairs_of_dict(model: &Model, call: &Call) -> Vec<Pair> {
    let Some(Arg::Dict(entries)) = call.record.named("overrides") else { return Vec::new() };
    let whole = model.value_span(call, "overrides");
    let spans = entry_spans(model, whole, entries.len());
    entries
        .iter()
        .enumerate()
        .filter_map(|(i, (k, _))| pair(k, spans.as_ref().and_then(|s| s.get(i)).map_or(whole, |(key, _)| *key)))
        .collect()
}

/// TOP302: a lambda among the scenarios (its cells are all named `test_matrix_lambda_<f>`).
fn lambdas(scenarios: &[(String, Span)], out: &mut Vec<Diagnostic>) {
    for (_, at) in scenarios.iter().filter(|(n, _)| n == "lambda") {
        out.push(
            Diagnostic::warning("TOP302", *at, "a lambda as a `fault_matrix` scenario: its cells are all named `test_matrix_lambda_…`")
                .with_note("matrix cells, `overrides` and `exclude` are keyed by the scenario function's name, and every lambda is named `lambda`")
                .with_help("define the scenario with `def <name>():` and list it by name"),
        );
    }
}

/// TOP303 / TOP304: a name listed twice (the second's cells replace the first's).
fn repeated(items: &[(String, Span)], code: &'static str, what: &str, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<&str, Span> = HashMap::default();
    for (name, at) in items {
        if name == "lambda" {
            continue;
        }
        match first.get(name.as_str()) {
            None => {
                first.insert(name, *at);
            }
            Some(earlier) => out.push(
                Diagnostic::warning(code, *at, format!("{what} `{name}` is already in this matrix"))
                    .with_label(*earlier, "first listed here")
                    .with_note("cells are keyed by name: the same name gives the same cells, registered twice")
                    .with_help(format!("list each {what} once, with a distinct name")),
            ),
        }
    }
}

/// TOP305: an `exclude` or `overrides` entry for a cell the matrix does not have.
fn outside(
    scenarios: &[(String, Span)],
    faults: &[(String, Span)],
    pairs: &[Pair],
    keyword: &str,
    out: &mut Vec<Diagnostic>,
) {
    if scenarios.is_empty() || faults.is_empty() {
        return;
    }
    for p in pairs {
        let missing = if !scenarios.iter().any(|(n, _)| *n == p.scenario) {
            Some(("scenario", &p.scenario, scenarios))
        } else if !faults.iter().any(|(n, _)| *n == p.fault) {
            Some(("fault assumption", &p.fault, faults))
        } else {
            None
        };
        let Some((what, name, list)) = missing else { continue };
        let known: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
        let help = match crate::suggest::did_you_mean(name, known.iter().copied()) {
            Some(best) => format!("did you mean `{best}`? The matrix's {what}s are: {}", known.join(", ")),
            None => format!(
                "add `{name}` to the matrix, or remove the entry; the matrix's {what}s are: {}",
                known.join(", ")
            ),
        };
        out.push(
            Diagnostic::warning(
                "TOP305",
                p.at,
                format!("this `{keyword}` entry names {what} `{name}`, which is not in the matrix"),
            )
            .with_note("Faultbox silently ignores entries for cells outside the matrix")
            .with_help(help),
        );
    }
}

/// TOP306: a cell both excluded and overridden (the override never runs).
fn both(excluded: &[Pair], overridden: &[Pair], out: &mut Vec<Diagnostic>) {
    for o in overridden {
        if let Some(e) = excluded.iter().find(|e| e.scenario == o.scenario && e.fault == o.fault) {
            out.push(
                Diagnostic::warning(
                    "TOP306",
                    o.at,
                    format!(
                        "the cell (`{}`, `{}`) is overridden but also excluded, so the override never runs",
                        o.scenario, o.fault
                    ),
                )
                .with_label(e.at, "excluded here")
                .with_help("remove the `exclude` entry to run the cell with this expectation, or remove the override"),
            );
        }
    }
}
