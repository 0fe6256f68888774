//! The root file's syntax tree, kept after evaluation for the static checks: call sites by
//! span (so a diagnostic about one argument points at that argument, not the whole call),
//! the signatures of `def`s (for arity checks of callables passed to builtins), and the tree
//! itself for the analysis of function bodies.

use crate::topology::hash::HashMap;

use starlark::codemap::Span as CodeSpan;
use starlark::syntax::ast::{ArgumentP, AstExpr, AstStmt, ExprP, ParameterP, StmtP};

use crate::span::Span;

/// The root file's tree and what the checks look up in it.
#[derive(Debug)]
pub struct Syntax {
    pub tree: AstStmt,
    /// Call expressions by their span (the span the evaluator reports for a builtin call).
    pub calls: HashMap<Span, CallSite>,
    /// Every `def`, top level or nested, in source order.
    pub defs: Vec<Def>,
}

/// One call expression's parts.
#[derive(Debug, Clone)]
pub struct CallSite {
    pub span: Span,
    /// The callee expression (`service`, `db.main.query`).
    pub callee: Span,
    /// Each positional argument's span.
    pub positional: Vec<Span>,
    /// Each keyword argument: name, name span, value span.
    pub named: Vec<NamedArg>,
    /// Whether `*args` or `**kwargs` splats make the argument list unknowable statically.
    pub splat: bool,
}

#[derive(Debug, Clone)]
pub struct NamedArg {
    pub name: String,
    pub name_span: Span,
    pub value: Span,
}

impl CallSite {
    /// The span of the keyword `name=value` (name through value), if given.
    pub fn keyword(&self, name: &str) -> Option<Span> {
        self.named.iter().find(|a| a.name == name).map(|a| a.name_span.cover(a.value))
    }

    /// The span of the value of keyword `name`, if given.
    pub fn keyword_value(&self, name: &str) -> Option<Span> {
        self.named.iter().find(|a| a.name == name).map(|a| a.value)
    }
}

/// A `def`'s name and parameters.
#[derive(Debug, Clone)]
pub struct Def {
    pub name: String,
    pub name_span: Span,
    /// Positional parameters without a default.
    pub required: usize,
    /// Positional parameters in all (with or without a default).
    pub positional: usize,
    /// Whether it takes `*args`.
    pub varargs: bool,
}

impl Def {
    /// Whether a call with `n` positional arguments binds.
    pub fn accepts(&self, n: usize) -> bool {
        n >= self.required && (n <= self.positional || self.varargs)
    }
}

pub(crate) fn span(s: CodeSpan) -> Span {
    Span::new(s.begin().get() as usize, s.end().get() as usize)
}

impl Syntax {
    pub fn new(tree: AstStmt) -> Syntax {
        let mut calls = HashMap::default();
        let mut defs = Vec::new();
        index_stmt(&tree, &mut calls, &mut defs);
        Syntax { tree, calls, defs }
    }

    /// The call site at exactly `span`.
    pub fn call(&self, span: Span) -> Option<&CallSite> {
        self.calls.get(&span)
    }

    /// The `def` named `name` (the last one, as Starlark binds it).
    pub fn def(&self, name: &str) -> Option<&Def> {
        self.defs.iter().rev().find(|d| d.name == name)
    }
}

fn index_stmt(stmt: &AstStmt, calls: &mut HashMap<Span, CallSite>, defs: &mut Vec<Def>) {
    if let StmtP::Def(def) = &stmt.node {
        defs.push(signature(&def.name.node.ident, span(def.name.span), &def.params));
    }
    stmt.visit_children(|child| match child {
        starlark_syntax::syntax::uniplate::Visit::Stmt(s) => index_stmt(s, calls, defs),
        starlark_syntax::syntax::uniplate::Visit::Expr(e) => index_expr(e, calls),
    });
}

fn index_expr(expr: &AstExpr, calls: &mut HashMap<Span, CallSite>) {
    if let ExprP::Call(callee, args) = &expr.node {
        let mut site = CallSite {
            span: span(expr.span),
            callee: span(callee.span),
            positional: Vec::new(),
            named: Vec::new(),
            splat: false,
        };
        for arg in &args.args {
            match &arg.node {
                ArgumentP::Positional(e) => site.positional.push(span(e.span)),
                ArgumentP::Named(name, e) => site.named.push(NamedArg {
                    name: name.node.clone(),
                    name_span: span(name.span),
                    value: span(e.span),
                }),
                ArgumentP::Args(_) | ArgumentP::KwArgs(_) => site.splat = true,
            }
        }
        calls.insert(site.span, site);
    }
    expr.visit_expr(|e| index_expr(e, calls));
}

/// A def's (or lambda's) signature.
pub(crate) fn signature(name: &str, name_span: Span, params: &[starlark::syntax::ast::AstParameter]) -> Def {
    let mut def = Def { name: name.to_owned(), name_span, required: 0, positional: 0, varargs: false };
    let mut keyword_only = false;
    for param in params {
        match &param.node {
            ParameterP::Normal(_, _, default) if !keyword_only => {
                def.positional += 1;
                if default.is_none() {
                    def.required += 1;
                }
            }
            ParameterP::Args(..) => {
                def.varargs = true;
                keyword_only = true;
            }
            ParameterP::NoArgs => keyword_only = true,
            _ => {}
        }
    }
    def
}

/// The names a parameter list binds.
pub(crate) fn parameter_names(params: &[starlark::syntax::ast::AstParameter]) -> Vec<String> {
    params
        .iter()
        .filter_map(|p| match &p.node {
            ParameterP::Normal(id, ..) | ParameterP::Args(id, _) | ParameterP::KwArgs(id, _) => {
                Some(id.node.ident.clone())
            }
            _ => None,
        })
        .collect()
}
