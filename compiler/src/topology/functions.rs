//! An index of the root file's functions (`def`s and lambdas), read from the syntax tree: each
//! one's span, signature, the functions it calls or names, and whether it asserts. The dialect
//! check builds the call graph from it (recursion); the test checks follow it from a test entry
//! (vacuity) and look up the signatures of callables passed to builtins (arity); the plan's
//! lowering names tests and callables from it. It is part of the model, below both.
//!
//! Names are resolved by name only, as a reader would: every `def` of a name, at any depth,
//! is taken as a candidate (their facts are merged), so nothing here needs the evaluator.

use crate::topology::hash::{HashMap, HashSet};

use ospecc_schema::topology::catalog;
use starlark::syntax::ast::{AstExpr, AstStmt, ExprP, StmtP};
use starlark_syntax::syntax::uniplate::Visit;

use crate::span::Span;
use crate::topology::syntax::{signature, span, Def};

/// Starlark's universe functions that neither assert nor call back into user code.
const HARMLESS: &[&str] = &[
    "len",
    "str",
    "int",
    "float",
    "bool",
    "list",
    "dict",
    "tuple",
    "range",
    "sorted",
    "reversed",
    "enumerate",
    "zip",
    "min",
    "max",
    "abs",
    "any",
    "all",
    "hasattr",
    "getattr",
    "type",
    "repr",
    "hash",
    "print",
    "dir",
    "struct",
    "json",
];

/// One function of the root file.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    /// The `def`'s name, or `lambda`.
    pub name: String,
    /// The whole `def` statement or lambda expression.
    pub span: Span,
    /// The def's name, or the `lambda` keyword's position (the lambda's start).
    pub name_span: Span,
    pub signature: Def,
    /// Direct calls of other functions of the file by name: (callee, callee span).
    pub calls: Vec<(String, Span)>,
    /// Every name it mentions (called or passed on), for reachability.
    pub mentions: HashSet<String>,
    /// It calls an assertion builtin (or `fail`).
    pub asserts: bool,
    /// It calls something the index cannot see into (a loaded function, a parameter), which
    /// may assert.
    pub opaque: bool,
    /// Whether the def is at module level.
    pub top_level: bool,
}

/// Every function of the root file, in source order.
pub(crate) struct Functions {
    pub all: Vec<Function>,
    /// Names bound by `load()`.
    pub loaded: HashSet<String>,
    def_names: HashSet<String>,
    /// The positions in `all` of the defs of each name, in source order: name look-ups
    /// happen for every mention of every reached function, and a scan of `all` each time
    /// made reachability quadratic in the number of functions.
    by_name: HashMap<String, Vec<usize>>,
    /// The positions in `all` of the lambdas, in source order.
    lambdas: Vec<usize>,
}

impl Functions {
    pub fn new(tree: &AstStmt) -> Functions {
        let mut def_names = HashSet::default();
        let mut loaded = HashSet::default();
        collect_names(tree, &mut def_names, &mut loaded);
        let mut index =
            Functions { all: Vec::new(), loaded, def_names, by_name: HashMap::default(), lambdas: Vec::new() };
        let mut found = Vec::new();
        index.stmt_functions(tree, true, &mut found);
        for (i, f) in found.iter().enumerate() {
            if f.name == "lambda" {
                index.lambdas.push(i);
            } else {
                index.by_name.entry(f.name.clone()).or_default().push(i);
            }
        }
        index.all = found;
        index
    }

    /// The defs named `name`.
    pub fn defs<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s Function> + 's {
        self.by_name.get(name).into_iter().flatten().filter_map(|&i| self.all.get(i))
    }

    /// The lambda whose expression starts at `at` (a lambda argument's span).
    pub fn lambda_at(&self, at: Span) -> Option<&Function> {
        self.lambdas.iter().filter_map(|&i| self.all.get(i)).find(|f| f.span == at)
    }

    /// The innermost function whose text contains `at`.
    pub fn enclosing(&self, at: Span) -> Option<&Function> {
        self.all.iter().filter(|f| f.span.start <= at.start && at.end <= f.span.end).min_by_key(|f| f.span.len())
    }

    /// Every function reachable from `roots` by mention, the roots included.
    pub fn reachable<'s>(&'s self, roots: Vec<&'s Function>) -> Vec<&'s Function> {
        let mut seen: HashSet<Span> = HashSet::default();
        let mut stack = roots;
        let mut out = Vec::new();
        while let Some(f) = stack.pop() {
            if !seen.insert(f.span) {
                continue;
            }
            out.push(f);
            for name in &f.mentions {
                stack.extend(self.defs(name));
            }
            // Lambdas written inside a function are part of what it runs.
            stack.extend(
                self.lambdas
                    .iter()
                    .filter_map(|&i| self.all.get(i))
                    .filter(|l| f.span.start <= l.span.start && l.span.end <= f.span.end),
            );
        }
        out
    }

    fn stmt_functions(&self, stmt: &AstStmt, top_level: bool, out: &mut Vec<Function>) {
        if let StmtP::Def(def) = &stmt.node {
            let name = def.name.node.ident.clone();
            let mut function = Function {
                signature: signature(&name, span(def.name.span), &def.params),
                name,
                span: span(stmt.span),
                name_span: span(def.name.span),
                calls: Vec::new(),
                mentions: HashSet::default(),
                asserts: false,
                opaque: false,
                top_level,
            };
            self.summarise_stmt(&def.body, &mut function);
            out.push(function);
            self.stmt_functions(&def.body, false, out);
            return;
        }
        stmt.visit_children(|child| match child {
            Visit::Stmt(s) => self.stmt_functions(s, top_level, out),
            Visit::Expr(e) => self.expr_functions(e, out),
        });
    }

    fn expr_functions(&self, expr: &AstExpr, out: &mut Vec<Function>) {
        if let ExprP::Lambda(lambda) = &expr.node {
            let at = span(expr.span);
            let mut function = Function {
                name: "lambda".into(),
                span: at,
                name_span: Span::new(at.start, at.start + "lambda".len()),
                signature: signature("lambda", at, &lambda.params),
                calls: Vec::new(),
                mentions: HashSet::default(),
                asserts: false,
                opaque: false,
                top_level: false,
            };
            self.summarise_expr(&lambda.body, &mut function);
            out.push(function);
        }
        expr.visit_expr(|e| self.expr_functions(e, out));
    }

    /// Facts of a function body; nested defs are functions of their own (only their mention
    /// by name links them).
    fn summarise_stmt(&self, stmt: &AstStmt, into: &mut Function) {
        if let StmtP::Def(_) = &stmt.node {
            return;
        }
        stmt.visit_children(|child| match child {
            Visit::Stmt(s) => self.summarise_stmt(s, into),
            Visit::Expr(e) => self.summarise_expr(e, into),
        });
    }

    fn summarise_expr(&self, expr: &AstExpr, into: &mut Function) {
        match &expr.node {
            ExprP::Identifier(id) => {
                into.mentions.insert(id.node.ident.clone());
            }
            ExprP::Call(callee, _) => self.callee(callee, into),
            _ => {}
        }
        expr.visit_expr(|e| self.summarise_expr(e, into));
    }

    fn callee(&self, callee: &AstExpr, into: &mut Function) {
        match &callee.node {
            ExprP::Identifier(id) => {
                let name = id.node.ident.as_str();
                if self.def_names.contains(name) {
                    into.calls.push((name.to_owned(), span(callee.span)));
                } else if asserts(name) && !self.loaded.contains(name) {
                    into.asserts = true;
                } else if !is_known_harmless(name) || self.loaded.contains(name) {
                    into.opaque = true;
                }
            }
            // A member of something loaded (`checks.ok(resp)`) may assert; methods of values
            // (steps, strings, dicts, events) do not.
            ExprP::Dot(base, _) => {
                if let ExprP::Identifier(id) = &base.node {
                    if self.loaded.contains(&id.node.ident) {
                        into.opaque = true;
                    }
                }
            }
            _ => into.opaque = true,
        }
    }
}

/// Whether a call of the builtin `name` counts as an assertion of the calling test (catalog
/// `asserts`: what Faultbox counts for `TEST_NO_ASSERTIONS`; `fail()` is the hand-written form
/// of one).
fn asserts(name: &str) -> bool {
    catalog().builtin(name).is_some_and(|b| b.asserts)
}

/// A builtin of the catalog or the Starlark universe that does not assert.
fn is_known_harmless(name: &str) -> bool {
    HARMLESS.contains(&name) || catalog().builtin(name).is_some()
}

fn collect_names(stmt: &AstStmt, defs: &mut HashSet<String>, loaded: &mut HashSet<String>) {
    match &stmt.node {
        StmtP::Def(def) => {
            defs.insert(def.name.node.ident.clone());
        }
        StmtP::Load(load) => loaded.extend(load.args.iter().map(|a| a.local.node.ident.clone())),
        _ => {}
    }
    stmt.visit_children(|child| {
        if let Visit::Stmt(s) = child {
            collect_names(s, defs, loaded);
        }
    });
}

/// The strongly connected groups of functions that call one another (recursion), each as the
/// def names in source order; a def calling itself is a group of one.
pub(crate) fn recursive_groups(functions: &Functions) -> Vec<Vec<String>> {
    let mut edges: HashMap<&str, HashSet<&str>> = HashMap::default();
    for f in functions.all.iter().filter(|f| f.name != "lambda") {
        edges.entry(&f.name).or_default().extend(f.calls.iter().map(|(c, _)| c.as_str()));
    }
    let reach = |from: &str| -> HashSet<&str> {
        let mut seen = HashSet::default();
        let mut stack: Vec<&str> = edges.get(from).map(|s| s.iter().copied().collect()).unwrap_or_default();
        while let Some(n) = stack.pop() {
            if seen.insert(n) {
                stack.extend(edges.get(n).into_iter().flatten().copied());
            }
        }
        seen
    };
    let mut order: Vec<&str> = Vec::new();
    for f in functions.all.iter().filter(|f| f.name != "lambda") {
        if !order.contains(&f.name.as_str()) {
            order.push(&f.name);
        }
    }
    let reaches: HashMap<&str, HashSet<&str>> = order.iter().map(|n| (*n, reach(n))).collect();
    let mut grouped: HashSet<&str> = HashSet::default();
    let mut groups = Vec::new();
    for name in &order {
        if grouped.contains(name) || !reaches[name].contains(name) {
            continue;
        }
        let group: Vec<String> = order
            .iter()
            .filter(|other| reaches[name].contains(*other) && reaches[*other].contains(name))
            .map(|s| (*s).to_owned())
            .collect();
        grouped.extend(order.iter().filter(|o| group.iter().any(|g| g == *o)).copied());
        groups.push(group);
    }
    groups
}
