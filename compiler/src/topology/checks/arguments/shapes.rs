//! Where the parts of a literal argument are: the model gives each argument's span, but a
//! wrong element of `depends_on=[db, 5432]` or a wrong value in `env={"PORT": 8080}` should be
//! underlined alone. This indexes the root file's list, tuple and dict displays (and plain
//! literals, which a fix may rewrite) by their span.

use crate::topology::hash::HashMap;

use starlark::syntax::ast::{AstExpr, AstStmt, ExprP, StmtP};
use starlark_syntax::syntax::uniplate::Visit;

use crate::span::Span;
use crate::topology::checks::Part;
use crate::topology::syntax::{span, Syntax};

/// The syntactic form of one expression.
#[derive(Debug, Clone)]
pub(super) enum Shape {
    /// A list or tuple display: each item's span.
    Items(Vec<Span>),
    /// A dict display: each entry's key and value spans.
    Entries(Vec<(Span, Span)>),
    /// A string or number literal (a fix may replace it).
    Literal,
}

/// Shapes of the root file's displays and literals, by span.
#[derive(Debug, Default)]
pub(super) struct Shapes {
    by_span: HashMap<Span, Shape>,
}

impl Shapes {
    /// The shapes in the top-level statements that hold calls `part` checks.
    pub(super) fn new(syntax: Option<&Syntax>, part: Part) -> Shapes {
        let mut shapes = Shapes::default();
        let Some(syntax) = syntax else { return shapes };
        match &syntax.tree.node {
            StmtP::Statements(top) => top.iter().filter(|s| part.reaches(span(s.span))).for_each(|s| shapes.stmt(s)),
            _ => shapes.stmt(&syntax.tree),
        }
        shapes
    }

    fn stmt(&mut self, stmt: &AstStmt) {
        stmt.visit_children(|child| match child {
            Visit::Stmt(s) => self.stmt(s),
            Visit::Expr(e) => self.expr(e),
        });
    }

    fn expr(&mut self, expr: &AstExpr) {
        let shape = match &expr.node {
            ExprP::List(items) | ExprP::Tuple(items) => {
                Some(Shape::Items(items.iter().map(|e| span(e.span)).collect()))
            }
            ExprP::Dict(entries) => {
                Some(Shape::Entries(entries.iter().map(|(k, v)| (span(k.span), span(v.span))).collect()))
            }
            ExprP::Literal(_) => Some(Shape::Literal),
            _ => None,
        };
        if let Some(shape) = shape {
            self.by_span.insert(span(expr.span), shape);
        }
        expr.visit_expr(|e| self.expr(e));
    }

    /// The span of item `index` of the display at `at` (which has `len` items), else `at`.
    pub(super) fn item(&self, at: Span, index: usize, len: usize) -> Span {
        match self.by_span.get(&at) {
            Some(Shape::Items(items)) if items.len() == len => items.get(index).copied().unwrap_or(at),
            _ => at,
        }
    }

    /// The key and value spans of entry `index` of the dict display at `at`, else `at` twice.
    pub(super) fn entry(&self, at: Span, index: usize, len: usize) -> (Span, Span) {
        match self.by_span.get(&at) {
            Some(Shape::Entries(entries)) if entries.len() == len => entries.get(index).copied().unwrap_or((at, at)),
            _ => (at, at),
        }
    }

    /// Whether the expression at `at` is a literal written in place (so a fix may rewrite it).
    pub(super) fn is_literal(&self, at: Span) -> bool {
        matches!(self.by_span.get(&at), Some(Shape::Literal))
    }
}
