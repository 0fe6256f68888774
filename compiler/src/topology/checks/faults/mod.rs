//! Fault checks (reference §8.1 item 11, §8.3 items 23–28, 30, 31 and 35): what a fault can
//! target, which syscall keys exist, whether a protocol rule means anything on the interface it
//! is applied to, what the packet layer needs, and how fault scopes combine.
//!
//! Each submodule owns a group of items; this module holds what they share: the layer of a
//! fault value, the spans of nested calls and list items, the service behind a target.

mod assumptions;
mod network;
mod protocol;
mod scopes;
mod syscall;

use std::sync::Arc;

use ospecc_schema::topology::catalog;
/// The layer a fault value acts on (catalog `fault_layer` of its type).
use ospecc_schema::topology::FaultLayer as Layer;
use starlark::syntax::ast::{AstExpr, AstStmt, ExprP, StmtP};
use starlark_syntax::syntax::uniplate::Visit;

use super::{Call, Model};
use crate::diagnostics::{Diagnostic, Severity};
use crate::span::Span;
use crate::topology::attrs;
use crate::topology::syntax::{span, CallSite};
use crate::topology::values::{Arg, Recorded};

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    syscall::check(model, out);
    protocol::check(model, out);
    network::check(model, out);
    scopes::check(model, out);
    assumptions::check(model, out);
}

/// How messages name a fault value of a layer.
fn noun(layer: Layer) -> &'static str {
    match layer {
        Layer::Syscall => "a syscall fault",
        Layer::Proxy => "a protocol rule",
        Layer::Packet => "a packet rule",
    }
}

/// The layer of a fault value.
fn layer(arg: &Arg) -> Option<Layer> {
    super::fault_layer(arg.record()?)
}

/// The call site of a nested record, when it is a call in the root file.
fn site_of<'m>(model: &'m Model, record: &Recorded) -> Option<&'m CallSite> {
    if record.file != model.evaluated.root {
        return None;
    }
    model.syntax?.call(record.span)
}

/// The span of a root-file record (a nested rule's own call), or `fallback`.
fn record_span(model: &Model, record: &Recorded, fallback: Span) -> Span {
    if record.file == model.evaluated.root && model.syntax.is_some_and(|s| s.call(record.span).is_some()) {
        record.span
    } else {
        fallback
    }
}

/// The span of the keyword name `name` in a call (`wirte` in `wirte=deny("EIO")`).
fn keyword_name_span(model: &Model, call: &Call, name: &str) -> Span {
    model.site(call).and_then(|s| s.named.iter().find(|a| a.name == name)).map_or(call.record.span, |a| a.name_span)
}

/// The keyword arguments that are syscall faults: those the builtin does not declare.
fn syscall_keywords(call: &Call) -> impl Iterator<Item = &(String, Arg)> {
    let params = call.params();
    call.record.named.iter().filter(move |(name, _)| !params.iter().any(|p| p.name == *name))
}

/// The service a target designates: a service, or the service of an `interface_ref`.
fn service_of(target: &Arg) -> Option<&Recorded> {
    let record = target.record()?;
    match record.ty.as_str() {
        "service" => Some(record),
        "interface_ref" => attrs::parts(record).map(|(service, _)| service),
        _ => None,
    }
}

fn service_name(service: &Recorded) -> &str {
    service.name().unwrap_or("?")
}

/// `db.main` for an interface reference.
fn interface_name(iface_ref: &Recorded) -> String {
    match attrs::parts(iface_ref) {
        Some((service, iface)) => format!("{}.{}", service_name(service), iface.name().unwrap_or("?")),
        None => "this interface".into(),
    }
}

/// Whether an error was already reported at exactly `at` (by the argument-type checks, which
/// run first): one finding per mistake.
fn already_reported(out: &[Diagnostic], at: Span) -> bool {
    out.iter().any(|d| d.severity == Severity::Error && d.span == at)
}

/// The spans of the items of the list literal at `at`, if the expression there is one.
fn list_items(model: &Model, at: Span) -> Option<Vec<Span>> {
    let tree = &model.syntax?.tree;
    let mut found = None;
    find_list_in_stmt(tree, at, &mut found);
    found
}

fn find_list_in_stmt(stmt: &AstStmt, at: Span, found: &mut Option<Vec<Span>>) {
    stmt.visit_children(|child| match child {
        Visit::Stmt(s) => find_list_in_stmt(s, at, found),
        Visit::Expr(e) => find_list_in_expr(e, at, found),
    });
}

fn find_list_in_expr(expr: &AstExpr, at: Span, found: &mut Option<Vec<Span>>) {
    if found.is_some() {
        return;
    }
    let here = span(expr.span);
    if here.start > at.start || here.end < at.end {
        return;
    }
    if here == at {
        if let ExprP::List(items) | ExprP::Tuple(items) = &expr.node {
            *found = Some(items.iter().map(|i| span(i.span)).collect());
            return;
        }
    }
    expr.visit_expr(|e| find_list_in_expr(e, at, found));
}

/// The span of item `index` of the list literal at `list`, else `list` itself.
fn list_item(model: &Model, list: Span, index: usize) -> Span {
    list_items(model, list).and_then(|items| items.get(index).copied()).unwrap_or(list)
}

/// Whether a vocabulary lists `value`.
fn in_vocabulary(vocabulary: &str, value: &str) -> bool {
    catalog().vocabulary(vocabulary).is_some_and(|v| v.values.iter().any(|x| x.value == value))
}

/// A vocabulary's values.
fn vocabulary_values(vocabulary: &str) -> Vec<&'static str> {
    catalog().vocabulary(vocabulary).map(|v| v.values.iter().map(|x| x.value.as_str()).collect()).unwrap_or_default()
}

/// The fault assumptions a `faults=` value names (a list, or one assumption).
fn assumption_list(arg: &Arg) -> Vec<Option<&Arc<Recorded>>> {
    match arg {
        Arg::List(items) | Arg::Tuple(items) => {
            items.iter().map(|i| i.record().filter(|r| r.ty == "fault_assumption")).collect()
        }
        Arg::Record(r) if r.ty == "fault_assumption" => vec![Some(r)],
        _ => Vec::new(),
    }
}

/// The functions of the root file (`def`s at any depth and lambdas) by span, to tell which
/// body a call is in and which `def` a name passed as `run=` is.
struct Functions {
    /// (name, whole span, index of the enclosing function).
    list: Vec<(String, Span, Option<usize>)>,
}

impl Functions {
    fn new(model: &Model) -> Functions {
        let mut functions = Functions { list: Vec::new() };
        if let Some(syntax) = model.syntax {
            functions.stmt(&syntax.tree, None);
        }
        functions
    }

    fn stmt(&mut self, stmt: &AstStmt, parent: Option<usize>) {
        let parent = match &stmt.node {
            StmtP::Def(def) => {
                self.list.push((def.name.node.ident.clone(), span(stmt.span), parent));
                Some(self.list.len() - 1)
            }
            _ => parent,
        };
        stmt.visit_children(|child| match child {
            Visit::Stmt(s) => self.stmt(s, parent),
            Visit::Expr(e) => self.expr(e, parent),
        });
    }

    fn expr(&mut self, expr: &AstExpr, parent: Option<usize>) {
        let parent = match &expr.node {
            ExprP::Lambda(_) => {
                self.list.push(("lambda".into(), span(expr.span), parent));
                Some(self.list.len() - 1)
            }
            _ => parent,
        };
        expr.visit_expr(|e| self.expr(e, parent));
    }

    /// The innermost function containing `at`.
    fn enclosing(&self, at: Span) -> Option<usize> {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, (_, s, _))| s.start <= at.start && at.end <= s.end && *s != at)
            .min_by_key(|(_, (_, s, _))| s.len())
            .map(|(i, _)| i)
    }

    /// The `def` a name used at `at` refers to: one nested in a function around `at` (the
    /// innermost), else a top-level one.
    fn resolve(&self, name: &str, at: Span) -> Option<usize> {
        let around: Vec<usize> = std::iter::successors(self.enclosing(at), |&i| self.list[i].2).collect();
        let candidates = self.list.iter().enumerate().filter(|(_, (n, ..))| n == name);
        candidates
            .filter_map(|(i, (_, _, parent))| match parent {
                None => Some((usize::MAX, i)),
                Some(p) => around.iter().position(|a| a == p).map(|depth| (depth, i)),
            })
            .min()
            .map(|(_, i)| i)
    }

    /// The calls whose innermost function is `index`.
    fn calls_in<'m>(&'m self, model: &'m Model, index: usize) -> impl Iterator<Item = &'m Call> + 'm {
        model.every_call().iter().filter(move |c| self.enclosing(c.record.span) == Some(index))
    }
}
