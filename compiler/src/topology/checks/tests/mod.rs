//! Test, matrix and plan checks (reference §4.1, §4.2, §8.4 items 32–34, 38, 39): test names
//! from all five sources, `fault_matrix` keys, the arity of callables handed to builtins,
//! `choose()` axes, discovery and vacuity.

mod arity;
mod choose;
mod matrix;
mod names;
mod vacuity;

use starlark::syntax::ast::{AstExpr, AstStmt, ExprP};

use super::Model;
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::functions::{Function, Functions};
use crate::topology::syntax::span;
use crate::topology::values::Arg;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    let Some(functions) = model.functions() else { return };
    // Test names and matrices are load-time state; whether a test asserts, and whether a
    // callable fits, follow functions across the file.
    if model.part.load_time() {
        let entries = names::entries(model, functions, names::Cells::Listed);
        names::check(&entries, out);
        matrix::check(model, out);
        vacuity::no_tests(model, &entries, out);
    }
    choose::check(model, functions, out);
    if model.part.cross() {
        arity::check(model, functions, out);
        let entries = names::entries(model, functions, names::Cells::Skipped);
        vacuity::check(model, functions, &entries, out);
    }
}

/// The expression at exactly `at` in the root file: the first in pre-order with that span.
/// Spans nest (a node's span holds its children's), so only the nodes whose span holds `at`
/// are descended into; they are met in the same order as in a walk of the whole tree, which
/// a look-up per matrix list made the bulk of these checks' time.
fn expr_at<'m>(model: &Model<'m>, at: Span) -> Option<&'m AstExpr> {
    let syntax = model.syntax?;
    let mut found = None;
    find_in_stmt(&syntax.tree, at, &mut found);
    found
}

fn holds(outer: Span, at: Span) -> bool {
    outer.start <= at.start && at.end <= outer.end
}

fn find_in_stmt<'t>(stmt: &'t AstStmt, at: Span, found: &mut Option<&'t AstExpr>) {
    use starlark_syntax::syntax::uniplate::Visit;
    stmt.visit_children(|c| match c {
        Visit::Stmt(s) if found.is_none() && holds(span(s.span), at) => find_in_stmt(s, at, found),
        Visit::Expr(e) if found.is_none() && holds(span(e.span), at) => find_in_expr(e, at, found),
        _ => {}
    });
}

fn find_in_expr<'t>(expr: &'t AstExpr, at: Span, found: &mut Option<&'t AstExpr>) {
    if span(expr.span) == at {
        *found = Some(expr);
        return;
    }
    expr.visit_expr(|e| {
        if found.is_none() && holds(span(e.span), at) {
            find_in_expr(e, at, found);
        }
    });
}

/// The spans of the items of the list or tuple literal at `at`, when it has `len` items.
fn item_spans(model: &Model, at: Span, len: usize) -> Option<Vec<Span>> {
    let items = match &expr_at(model, at)?.node {
        ExprP::List(items) | ExprP::Tuple(items) => items.iter().map(|e| span(e.span)).collect::<Vec<_>>(),
        _ => return None,
    };
    (items.len() == len).then_some(items)
}

/// The (key, value) spans of the dict literal at `at`, when it has `len` entries.
fn entry_spans(model: &Model, at: Span, len: usize) -> Option<Vec<(Span, Span)>> {
    let entries = match &expr_at(model, at)?.node {
        ExprP::Dict(entries) => entries.iter().map(|(k, v)| (span(k.span), span(v.span))).collect::<Vec<_>>(),
        _ => return None,
    };
    (entries.len() == len).then_some(entries)
}

/// The functions a callable argument may be: the lambda written at `at`, or every def of its
/// name in this file. `None` when it cannot be told (a loaded function, a computed value).
fn callable<'f>(functions: &'f Functions, arg: &Arg, at: Span) -> Option<Vec<&'f Function>> {
    let Arg::Function(name) = arg else { return None };
    if name == "lambda" {
        return functions.lambda_at(at).map(|f| vec![f]);
    }
    let defs: Vec<&Function> = functions.defs(name).collect();
    (!defs.is_empty()).then_some(defs)
}

/// The name a scenario or assumption is keyed by in a matrix.
fn key_name(arg: &Arg) -> Option<String> {
    match arg {
        Arg::Function(f) => Some(f.name.clone()),
        Arg::Record(r) if r.ty == "fault_assumption" => r.name().map(str::to_owned),
        _ => None,
    }
}
