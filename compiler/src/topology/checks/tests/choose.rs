//! `choose()` axes (reference §1.10, §4.3, §8.4 item 38). `choose(options)` or
//! `choose(name, options)`: the options must be a non-empty list; the plan counts them from a
//! literal list only; a named axis is one dimension of the test's fan-out, so one name used
//! twice in one test conflates two choices.

use crate::topology::hash::HashMap;
use ospecc_schema::topology::builtins;

use starlark::syntax::ast::ExprP;

use super::{expr_at, Functions};
use crate::diagnostics::{Diagnostic, Severity};
use crate::span::Span;
use crate::topology::checks::{Call, Model};
use crate::topology::values::Arg;

pub(super) fn check(model: &Model, functions: &Functions, out: &mut Vec<Diagnostic>) {
    let mut axes: HashMap<(Span, String), Span> = HashMap::default();
    for call in model.calls_of(builtins::CHOOSE) {
        let (name, options) = match call.record.positional.as_slice() {
            [options] => (None, (options, 0)),
            [name, options] => (name.as_str(), (options, 1)),
            _ => continue,
        };
        options_shape(model, call, options.0, options.1, out);
        let Some(name) = name else { continue };
        let function = functions.enclosing(call.record.span).map_or(Span::at(0), |f| f.span);
        let at = model.positional_span(call, 0);
        match axes.get(&(function, name.to_owned())) {
            None => {
                axes.insert((function, name.to_owned()), at);
            }
            Some(first) => out.push(
                Diagnostic::warning("TOP310", at, format!("the axis `{name}` is already chosen in this test"))
                    .with_label(*first, "first chosen here")
                    .with_note("Faultbox fans a test out over its named axes; two choices under one name are one axis")
                    .with_help("give each `choose()` its own axis name"),
            ),
        }
    }
}

/// TOP308 (empty list) and TOP309 (not a literal list).
fn options_shape(model: &Model, call: &Call, options: &Arg, index: usize, out: &mut Vec<Diagnostic>) {
    let at = model.positional_span(call, index);
    if matches!(options, Arg::List(items) if items.is_empty()) {
        out.push(
            Diagnostic::error("TOP308", at, "`choose()` needs at least one option, but this list is empty")
                .with_help("list the values to choose from: `choose(\"mode\", [\"a\", \"b\"])`"),
        );
        return;
    }
    let literal = expr_at(model, at).is_some_and(|e| matches!(e.node, ExprP::List(_)));
    if !literal && model.site(call).is_some() {
        out.push(
            Diagnostic::new("TOP309", Severity::Note, at, "the options of this `choose()` are not a list literal")
                .with_note(
                    "`faultbox plan` counts the options of literal lists only; this axis is estimated as one instance",
                )
                .with_help("write the options inline (`choose(\"mode\", [\"a\", \"b\"])`) for an exact plan"),
        );
    }
}
