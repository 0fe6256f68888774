//! Element spans of list and dict literals in the root file. The recorded arguments say what a
//! `depends_on=[...]` or `env={...}` holds, the call site only where the whole value is; to
//! point at the one offending element the literal itself is looked up here, by its span.

use crate::topology::hash::HashMap;

use starlark::syntax::ast::{AstExpr, AstLiteral, AstStmt, ExprP};
use starlark_syntax::syntax::uniplate::Visit;

use crate::span::Span;
use crate::topology::syntax::span;

/// One literal's parts.
#[derive(Debug)]
pub(super) enum Literal {
    /// A list or tuple: each element's span.
    Items(Vec<Span>),
    /// A dict: each entry's key and value spans.
    Entries(Vec<(Span, Span)>),
    /// A plain string literal (safe to replace with another quoted string).
    Str,
}

/// The list, dict and string literals of a file, by span.
#[derive(Debug, Default)]
pub(in crate::topology::checks) struct Literals(HashMap<Span, Literal>);

impl Literals {
    pub(in crate::topology::checks) fn index(tree: &AstStmt) -> Literals {
        let mut literals = Literals::default();
        literals.stmt(tree);
        literals
    }

    fn stmt(&mut self, stmt: &AstStmt) {
        stmt.visit_children(|child| match child {
            Visit::Stmt(s) => self.stmt(s),
            Visit::Expr(e) => self.expr(e),
        });
    }

    fn expr(&mut self, expr: &AstExpr) {
        let literal = match &expr.node {
            ExprP::List(items) | ExprP::Tuple(items) => {
                Some(Literal::Items(items.iter().map(|e| span(e.span)).collect()))
            }
            ExprP::Dict(entries) => {
                Some(Literal::Entries(entries.iter().map(|(k, v)| (span(k.span), span(v.span))).collect()))
            }
            ExprP::Literal(AstLiteral::String(_)) => Some(Literal::Str),
            _ => None,
        };
        if let Some(literal) = literal {
            self.0.insert(span(expr.span), literal);
        }
        expr.visit_expr(|e| self.expr(e));
    }

    /// The spans of the `n` elements of the list literal at `at`; `at` itself for each element
    /// when the value is not a literal of that length (a variable, a comprehension, a splice).
    pub(in crate::topology::checks) fn items(&self, at: Span, n: usize) -> Vec<Span> {
        match self.0.get(&at) {
            Some(Literal::Items(items)) if items.len() == n => items.clone(),
            _ => vec![at; n],
        }
    }

    /// The key and value spans of the `n` entries of the dict literal at `at` (else `at`).
    pub(in crate::topology::checks) fn entries(&self, at: Span, n: usize) -> Vec<(Span, Span)> {
        match self.0.get(&at) {
            Some(Literal::Entries(entries)) if entries.len() == n => entries.clone(),
            _ => vec![(at, at); n],
        }
    }

    /// Whether `at` is a list literal (to insert an element into it).
    pub(super) fn list_items(&self, at: Span) -> Option<&[Span]> {
        match self.0.get(&at) {
            Some(Literal::Items(items)) => Some(items),
            _ => None,
        }
    }

    /// Whether `at` is exactly a plain string literal.
    pub(super) fn is_str(&self, at: Span) -> bool {
        matches!(self.0.get(&at), Some(Literal::Str))
    }
}
