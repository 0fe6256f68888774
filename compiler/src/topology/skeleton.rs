//! The load-time skeleton of a topology file, for incremental checking: the file's text with
//! the body of every top-level `def` that cannot run while the file loads replaced by `pass`.
//! Evaluating the skeleton records exactly what evaluating the file records (those bodies never
//! run at load, and their names resolve the same), so an editor's keystroke inside a test or
//! scenario body leaves the skeleton, and with it the evaluation, unchanged; only the static
//! reading of bodies (which reads the real tree) runs again. [`SpanMap`] takes the evaluation's
//! spans back to the file's own.
//!
//! A def is kept whole when it may run at load, conservatively: its name is mentioned by
//! top-level code (other than as an argument of a catalog builtin, which only records it) or by
//! the body of a def that may run. It is also kept when a name in its body might not resolve:
//! starlark-rust resolves every name of the module before running anything, so such a body
//! makes the evaluation fail, and the skeleton must fail the same way.

use std::sync::Arc;

use starlark::syntax::AstModule;
use starlark_syntax::syntax::ast::{
    ArgumentP, AstExpr, AstNoPayload, AstParameter, AstStmt, Clause, ClauseP, DefP, ExprP, ForClause, StmtP,
};
use starlark_syntax::syntax::module::AstModuleFields;
use starlark_syntax::syntax::uniplate::Visit;

use super::eval::{self, Limits, DIALECT};
use super::hash::{HashMap, HashSet};
use super::syntax::{parameter_names, span, Syntax};
use super::values::{Arg, Recorded};
use super::{Evaluated, Global};
use crate::diagnostics::Diagnostic;
use crate::span::Span;

type Def = DefP<AstNoPayload>;

/// A file's skeleton: the text to evaluate, how its offsets map back, and the file's own
/// syntax tree (for the checks) when the two texts differ.
#[derive(Debug)]
pub struct Skeleton {
    pub text: String,
    pub map: SpanMap,
    /// The file's tree; `None` when the skeleton is the file itself (its evaluation's tree is
    /// the file's).
    pub syntax: Option<Syntax>,
}

impl Skeleton {
    /// The skeleton of `text`: the text itself when it does not pass the evaluator's precheck
    /// or does not parse (the evaluation reports why, at the file's own offsets), or when no
    /// body can be left out.
    pub fn of(name: &str, text: &str, limits: &Limits) -> Skeleton {
        // The parser is the evaluator's, whose panics the evaluation contains and reports: a
        // panic here leaves that to the evaluation of the whole text.
        std::panic::catch_unwind(|| Skeleton::cut_out(name, text, limits)).unwrap_or_else(|_| Skeleton::whole(text))
    }

    fn whole(text: &str) -> Skeleton {
        Skeleton { text: text.to_owned(), map: SpanMap::default(), syntax: None }
    }

    fn cut_out(name: &str, text: &str, limits: &Limits) -> Skeleton {
        let whole = || Skeleton::whole(text);
        if eval::precheck(text, limits).is_some() {
            return whole();
        }
        let Ok(ast) = AstModule::parse(name, text.to_owned(), &DIALECT) else { return whole() };
        let stubs = stubbed_bodies(ast.statement(), text);
        if stubs.is_empty() {
            return whole();
        }
        let (skeleton, map) = cut(text, &stubs);
        // The tree is taken, not cloned: a clone of a big file's tree cost a tenth of an edit.
        // (`AstModuleFields` is public, though starlark_syntax does not advertise it.)
        let (_, tree, _, _) = ast.into_parts();
        Skeleton { text: skeleton, map, syntax: Some(Syntax::new(tree)) }
    }
}

impl Drop for Skeleton {
    /// The tree of a big file takes a tenth of an edit's time to free, and the database frees
    /// the last revision's skeleton when the next edit is set, on the editor's path.
    fn drop(&mut self) {
        if let Some(syntax) = self.syntax.take() {
            super::threads::drop_later(syntax);
        }
    }
}

/// The text of each stub.
const STUB: &str = "pass";

/// The text with each range replaced by [`STUB`], and the map back.
fn cut(text: &str, ranges: &[Span]) -> (String, SpanMap) {
    let mut out = String::with_capacity(text.len());
    let mut stubs = Vec::with_capacity(ranges.len());
    let mut from = 0;
    for range in ranges {
        out.push_str(&text[from..range.start]);
        let start = out.len();
        out.push_str(STUB);
        stubs.push(Stub { skeleton: Span::new(start, out.len()), real: *range });
        from = range.end;
    }
    out.push_str(&text[from..]);
    (out, SpanMap { stubs })
}

/// The byte ranges of the bodies to stub, in order.
fn stubbed_bodies(tree: &AstStmt, text: &str) -> Vec<Span> {
    let top: Vec<&AstStmt> = match &tree.node {
        StmtP::Statements(list) => list.iter().collect(),
        _ => vec![tree],
    };
    let mut module = HashSet::default();
    super::bodies::bound_at_top_level(tree, &mut module);
    let defs: Vec<&Def> = top
        .iter()
        .filter_map(|s| match &s.node {
            StmtP::Def(def) => Some(def),
            _ => None,
        })
        .collect();
    let runs = may_run_at_load(&top, &defs, &module);
    let resolver = Resolver { module: &module };
    defs.iter()
        .filter(|def| !runs.contains(def.name.node.ident.as_str()))
        .filter(|def| resolver.body_resolves(def))
        .filter_map(|def| body_range(&def.body, text))
        .collect()
}

/// The names of the top-level defs that may run while the file loads.
fn may_run_at_load<'a>(top: &[&AstStmt], defs: &[&'a Def], module: &HashSet<String>) -> HashSet<&'a str> {
    let names: HashSet<&str> = defs.iter().map(|d| d.name.node.ident.as_str()).collect();
    let mut mentioned = HashSet::default();
    for stmt in top {
        match &stmt.node {
            StmtP::Def(def) => {
                def.params.iter().for_each(|p| p.visit_expr(|e| load_mentions(e, module, &mut mentioned)))
            }
            _ => exprs_in(stmt, &mut |e| load_mentions(e, module, &mut mentioned)),
        }
    }
    let mut runs: HashSet<&'a str> = HashSet::default();
    let mut queue: Vec<String> = mentioned.into_iter().collect();
    while let Some(name) = queue.pop() {
        let Some(&known) = names.get(name.as_str()) else { continue };
        if !runs.insert(known) {
            continue;
        }
        for def in defs.iter().filter(|d| d.name.node.ident == name) {
            let mut inner = HashSet::default();
            exprs_in(&def.body, &mut |e| all_mentions(e, &mut inner));
            queue.extend(inner);
        }
    }
    runs
}

/// Calls `each` on every expression of a statement, nested statements and defs included.
fn exprs_in(stmt: &AstStmt, each: &mut impl FnMut(&AstExpr)) {
    stmt.visit_children(|child| match child {
        Visit::Stmt(s) => exprs_in(s, each),
        Visit::Expr(e) => each(e),
    });
}

/// Every identifier in an expression (lambdas and comprehensions included).
fn all_mentions(expr: &AstExpr, into: &mut HashSet<String>) {
    if let ExprP::Identifier(id) = &expr.node {
        into.insert(id.node.ident.clone());
    }
    expr.visit_expr(|e| all_mentions(e, into));
}

/// The identifiers of top-level code that may lead to a call: every one except a function
/// handed to a catalog builtin (directly, or inside a list, tuple or dict literal), which the
/// builtin records without calling.
fn load_mentions(expr: &AstExpr, module: &HashSet<String>, into: &mut HashSet<String>) {
    match &expr.node {
        ExprP::Call(callee, args) if records_only(callee, module) => {
            for arg in &args.args {
                match &arg.node {
                    ArgumentP::Positional(e) | ArgumentP::Named(_, e) => recorded_argument(e, module, into),
                    ArgumentP::Args(e) | ArgumentP::KwArgs(e) => load_mentions(e, module, into),
                }
            }
        }
        ExprP::Identifier(id) => {
            into.insert(id.node.ident.clone());
        }
        _ => expr.visit_expr(|e| load_mentions(e, module, into)),
    }
}

/// An argument of a recording builtin: a bare name (or one in a literal collection) is only
/// recorded; anything else is top-level code like any other.
fn recorded_argument(expr: &AstExpr, module: &HashSet<String>, into: &mut HashSet<String>) {
    match &expr.node {
        ExprP::Identifier(_) => {}
        ExprP::List(items) | ExprP::Tuple(items) => items.iter().for_each(|e| recorded_argument(e, module, into)),
        ExprP::Dict(entries) => entries.iter().for_each(|(k, v)| {
            recorded_argument(k, module, into);
            recorded_argument(v, module, into);
        }),
        _ => load_mentions(expr, module, into),
    }
}

/// Whether a callee is a catalog builtin bound to the recorder (not shadowed by the module).
fn records_only(callee: &AstExpr, module: &HashSet<String>) -> bool {
    match &callee.node {
        ExprP::Identifier(id) => !module.contains(&id.node.ident) && eval::records_only(&id.node.ident),
        ExprP::Dot(base, _) => match &base.node {
            ExprP::Identifier(id) => !module.contains(&id.node.ident) && eval::is_namespace(&id.node.ident),
            _ => false,
        },
        _ => false,
    }
}

/// Where a def's body is: from its first statement to the end of its last. A compound
/// statement's span may run on to where the next statement starts (its block ends at the
/// dedent), so the end is taken back over the blanks before it.
fn body_range(body: &AstStmt, text: &str) -> Option<Span> {
    let (start, end) = match &body.node {
        StmtP::Statements(list) => (span(list.first()?.span).start, span(list.last()?.span).end),
        _ => (span(body.span).start, span(body.span).end),
    };
    let trimmed = text.get(start..end)?.trim_end().len();
    (trimmed > 0).then(|| Span::new(start, start + trimmed))
}

/// The names a function binds anywhere in its body (its locals, as starlark-rust scopes them),
/// with its parameters.
fn function_scope(params: &[AstParameter], body: &AstStmt) -> HashSet<String> {
    let mut names: HashSet<String> = parameter_names(params).into_iter().collect();
    bound_in(body, &mut names);
    names
}

fn bound_in(stmt: &AstStmt, names: &mut HashSet<String>) {
    let mut bind = |target: &starlark_syntax::syntax::ast::AstAssignTarget| {
        target.visit_lvalue(|id| {
            names.insert(id.node.ident.clone());
        })
    };
    match &stmt.node {
        StmtP::Def(def) => {
            names.insert(def.name.node.ident.clone());
            return;
        }
        StmtP::Assign(assign) => bind(&assign.lhs),
        StmtP::AssignModify(target, ..) => bind(target),
        StmtP::For(f) => bind(&f.var),
        _ => {}
    }
    stmt.visit_children(|child| {
        if let Visit::Stmt(s) = child {
            bound_in(s, names);
        }
    });
}

/// Whether every name in a body resolves as starlark-rust resolves it, erring on "no": the
/// locals of the function and of enclosing functions, comprehension variables inside their
/// comprehension, the module's names and the predeclared globals.
struct Resolver<'a> {
    module: &'a HashSet<String>,
}

type Scopes = Vec<HashSet<String>>;

impl Resolver<'_> {
    fn body_resolves(&self, def: &Def) -> bool {
        let mut scopes = vec![function_scope(&def.params, &def.body)];
        self.stmt(&def.body, &mut scopes)
    }

    fn known(&self, name: &str, scopes: &Scopes) -> bool {
        scopes.iter().any(|s| s.contains(name)) || self.module.contains(name) || eval::is_predeclared(name)
    }

    fn stmt(&self, stmt: &AstStmt, scopes: &mut Scopes) -> bool {
        if let StmtP::Def(def) = &stmt.node {
            if !self.parameters(&def.params, scopes) {
                return false;
            }
            scopes.push(function_scope(&def.params, &def.body));
            let ok = self.stmt(&def.body, scopes);
            scopes.pop();
            return ok;
        }
        let mut ok = true;
        stmt.visit_children(|child| {
            ok = ok
                && match child {
                    Visit::Stmt(s) => self.stmt(s, scopes),
                    Visit::Expr(e) => self.expr(e, scopes),
                };
        });
        ok
    }

    /// The default values (and anything else) of a parameter list, in the enclosing scope.
    fn parameters(&self, params: &[AstParameter], scopes: &mut Scopes) -> bool {
        let mut ok = true;
        for param in params {
            param.visit_expr(|e| ok = ok && self.expr(e, scopes));
        }
        ok
    }

    fn expr(&self, expr: &AstExpr, scopes: &mut Scopes) -> bool {
        match &expr.node {
            ExprP::Identifier(id) => self.known(&id.node.ident, scopes),
            ExprP::Lambda(lambda) => {
                if !self.parameters(&lambda.params, scopes) {
                    return false;
                }
                scopes.push(parameter_names(&lambda.params).into_iter().collect());
                let ok = self.expr(&lambda.body, scopes);
                scopes.pop();
                ok
            }
            ExprP::ListComprehension(item, first, clauses) => {
                self.comprehension(first, clauses, scopes, |r, s| r.expr(item, s))
            }
            ExprP::DictComprehension(pair, first, clauses) => {
                self.comprehension(first, clauses, scopes, |r, s| r.expr(&pair.0, s) && r.expr(&pair.1, s))
            }
            _ => {
                let mut ok = true;
                expr.visit_expr(|e| ok = ok && self.expr(e, scopes));
                ok
            }
        }
    }

    /// A comprehension: its first iterable in the enclosing scope, each later clause with the
    /// variables bound before it, the item with all of them.
    fn comprehension(
        &self,
        first: &ForClause,
        clauses: &[Clause],
        scopes: &mut Scopes,
        item: impl FnOnce(&Self, &mut Scopes) -> bool,
    ) -> bool {
        if !self.expr(&first.over, scopes) {
            return false;
        }
        let mut vars = HashSet::default();
        first.var.visit_lvalue(|id| {
            vars.insert(id.node.ident.clone());
        });
        scopes.push(vars);
        let mut ok = true;
        for clause in clauses {
            ok = ok
                && match clause {
                    ClauseP::For(f) => {
                        let over = self.expr(&f.over, scopes);
                        if let Some(top) = scopes.last_mut() {
                            f.var.visit_lvalue(|id| {
                                top.insert(id.node.ident.clone());
                            });
                        }
                        over
                    }
                    ClauseP::If(cond) => self.expr(cond, scopes),
                };
        }
        ok = ok && item(self, scopes);
        scopes.pop();
        ok
    }
}

/// From the skeleton's offsets back to the file's.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SpanMap {
    stubs: Vec<Stub>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stub {
    /// The stub in the skeleton.
    skeleton: Span,
    /// The body it stands for in the file.
    real: Span,
}

impl SpanMap {
    /// Whether the skeleton is the file itself.
    pub fn is_identity(&self) -> bool {
        self.stubs.is_empty()
    }

    /// A skeleton offset in the file. Nothing the evaluation reports lies inside a stub (it
    /// never runs); an offset there goes to the body's start, or its end for a span's end.
    fn offset(&self, at: usize, end: bool) -> usize {
        let before = self.stubs.partition_point(|s| s.skeleton.start <= at);
        let Some(stub) = before.checked_sub(1).and_then(|i| self.stubs.get(i)) else { return at };
        if at >= stub.skeleton.end {
            stub.real.end + (at - stub.skeleton.end)
        } else if at == stub.skeleton.start || !end {
            stub.real.start
        } else {
            stub.real.end
        }
    }

    /// Offsets moved `by` (a skeleton with one empty stub at its start, standing for `by`
    /// bytes).
    pub fn moved_by(by: usize) -> SpanMap {
        SpanMap { stubs: vec![Stub { skeleton: Span::at(0), real: Span::new(0, by) }] }
    }

    /// The stubbed bodies, in the file's offsets and in order.
    pub fn bodies(&self) -> Vec<Span> {
        self.stubs.iter().map(|s| s.real).collect()
    }

    pub fn span(&self, s: Span) -> Span {
        Span::new(self.offset(s.start, false), self.offset(s.end, true))
    }

    /// The evaluation of the skeleton as the evaluation of the file: every span in the root
    /// file (calls, values, diagnostics) taken back to the file's offsets, and the file's text
    /// as the root's source. The syntax tree is left out (the skeleton's own says nothing of
    /// the file; the caller has the file's).
    pub fn evaluated(&self, evaluated: &Evaluated, text: &str) -> Evaluated {
        let mut records = Records { map: self, root: &evaluated.root, done: HashMap::default() };
        let calls = evaluated.calls.iter().map(|c| records.record(c)).collect();
        let globals = evaluated
            .globals
            .iter()
            .map(|g| Global { name: g.name.clone(), value: records.global(&g.value) })
            .collect();
        let diagnostics = evaluated.diagnostics.iter().map(|d| self.diagnostic(d)).collect();
        let mut sources = evaluated.sources.clone();
        if let Some(root) = sources.first_mut().filter(|(name, _)| *name == evaluated.root) {
            root.1 = text.to_owned();
        }
        Evaluated {
            calls,
            globals,
            syntax: None,
            root: evaluated.root.clone(),
            complete: evaluated.complete,
            diagnostics,
            sources,
        }
    }

    /// A diagnostic about the skeleton as one about the file.
    pub fn diagnostic(&self, d: &Diagnostic) -> Diagnostic {
        d.with_spans_mapped(|s| self.span(s))
    }
}

/// Records mapped once each (a value recorded once is shared by every place that holds it).
struct Records<'a> {
    map: &'a SpanMap,
    root: &'a str,
    done: HashMap<*const Recorded, Arc<Recorded>>,
}

impl Records<'_> {
    fn record(&mut self, record: &Arc<Recorded>) -> Arc<Recorded> {
        let key = Arc::as_ptr(record);
        if let Some(done) = self.done.get(&key) {
            return Arc::clone(done);
        }
        let positional: Vec<Option<Arg>> = record.positional.iter().map(|a| self.arg(a)).collect();
        let named: Vec<Option<Arg>> = record.named.iter().map(|(_, a)| self.arg(a)).collect();
        let span = if record.file == self.root { self.map.span(record.span) } else { record.span };
        let unchanged = span == record.span && positional.iter().chain(&named).all(Option::is_none);
        let mapped = if unchanged {
            Arc::clone(record)
        } else {
            Arc::new(Recorded {
                builtin: record.builtin.clone(),
                ty: record.ty.clone(),
                file: record.file.clone(),
                span,
                positional: record
                    .positional
                    .iter()
                    .zip(positional)
                    .map(|(a, m)| m.unwrap_or_else(|| a.clone()))
                    .collect(),
                named: record
                    .named
                    .iter()
                    .zip(named)
                    .map(|((n, a), m)| (n.clone(), m.unwrap_or_else(|| a.clone())))
                    .collect(),
            })
        };
        self.done.insert(key, Arc::clone(&mapped));
        mapped
    }

    /// The argument with its records mapped, or `None` when nothing in it changed.
    fn arg(&mut self, arg: &Arg) -> Option<Arg> {
        match arg {
            Arg::Record(r) => {
                let mapped = self.record(r);
                (!Arc::ptr_eq(&mapped, r)).then_some(Arg::Record(mapped))
            }
            Arg::List(items) => self.items(items).map(Arg::List),
            Arg::Tuple(items) => self.items(items).map(Arg::Tuple),
            Arg::Dict(entries) => {
                let mapped: Vec<(Option<Arg>, Option<Arg>)> =
                    entries.iter().map(|(k, v)| (self.arg(k), self.arg(v))).collect();
                if mapped.iter().all(|(k, v)| k.is_none() && v.is_none()) {
                    return None;
                }
                Some(Arg::Dict(
                    entries
                        .iter()
                        .zip(mapped)
                        .map(|((k, v), (mk, mv))| (mk.unwrap_or_else(|| k.clone()), mv.unwrap_or_else(|| v.clone())))
                        .collect(),
                ))
            }
            _ => None,
        }
    }

    fn items(&mut self, items: &[Arg]) -> Option<Vec<Arg>> {
        let mapped: Vec<Option<Arg>> = items.iter().map(|a| self.arg(a)).collect();
        if mapped.iter().all(Option::is_none) {
            return None;
        }
        Some(items.iter().zip(mapped).map(|(a, m)| m.unwrap_or_else(|| a.clone())).collect())
    }

    fn global(&mut self, value: &Arg) -> Arg {
        self.arg(value).unwrap_or_else(|| value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skeleton(text: &str) -> Skeleton {
        Skeleton::of("t.star", text, &Limits::default())
    }

    const FILE: &str = "\
def make(name):
    return service(name, interface(\"main\", \"http\", 80), binary = \"./x\")

api = make(\"api\")

def sort_key(x):
    return x

names = sorted([\"b\", \"a\"], key = sort_key)

def scenario_a():
    return api.main.get(path = \"/\")

scenario(scenario_a)

def test_one():
    r = api.main.get(path = \"/\")  # a comment
    assert_eq(r.status, 200)
    [x for x in [1] if x]

def test_broken():
    return undefined_name

def test_last(): return lambda y: y + len(names)
";

    #[test]
    fn bodies_that_cannot_run_at_load_are_stubbed_and_the_rest_kept() {
        let s = skeleton(FILE);
        assert!(s.syntax.is_some());
        // Called at load, or handed to a builtin that calls it: kept.
        assert!(s.text.contains("return service(name"), "{}", s.text);
        assert!(s.text.contains("def sort_key(x):\n    return x"), "{}", s.text);
        // Handed only to a recording builtin, or never mentioned: stubbed.
        assert!(s.text.contains("def scenario_a():\n    pass\n"), "{}", s.text);
        assert!(s.text.contains("def test_one():\n    pass\n"), "{}", s.text);
        assert!(s.text.contains("def test_last(): pass\n"), "{}", s.text);
        // A name that does not resolve fails the whole evaluation: kept.
        assert!(s.text.contains("return undefined_name"), "{}", s.text);
        assert!(AstModule::parse("t.star", s.text.clone(), &DIALECT).is_ok(), "{}", s.text);
    }

    #[test]
    fn an_edit_inside_a_stubbed_body_leaves_the_skeleton_as_it_was() {
        let before = skeleton(FILE);
        let edited = FILE.replace("assert_eq(r.status, 200)", "assert_eq(r.status, 201)\n    print(r.body)");
        let after = skeleton(&edited);
        assert_eq!(before.text, after.text);
        assert_ne!(before.map, after.map);
        // The top-level call after the edited body: the same text in both files.
        let at = |text: &str, what: &str| text.find(what).unwrap();
        let in_skeleton = at(&after.text, "def test_broken");
        assert_eq!(after.map.offset(in_skeleton, false), at(&edited, "def test_broken"));
        let call = Span::new(at(&after.text, "scenario(scenario_a)"), at(&after.text, "scenario(scenario_a)") + 20);
        let real = after.map.span(call);
        assert_eq!(&edited[real.start..real.end], "scenario(scenario_a)");
    }

    #[test]
    fn a_body_ending_in_a_block_keeps_the_statement_after_it() {
        let s = skeleton("def test_x(e):\n    if e:\n        fail(\"x\")\n\n# next\nafter = 1\n");
        // The comment before the next statement goes with the body (nothing reads it).
        assert_eq!(s.text, "def test_x(e):\n    pass\nafter = 1\n");
    }

    #[test]
    fn a_file_that_does_not_parse_is_its_own_skeleton() {
        let s = skeleton("def test_x():\n    x = (\n");
        assert!(s.syntax.is_none() && s.map.is_identity());
        assert_eq!(s.text, "def test_x():\n    x = (\n");
    }

    #[test]
    fn a_name_bound_only_in_a_comprehension_is_not_a_local() {
        let s = skeleton("def test_x():\n    [i for i in [1]]\n    return i\n");
        assert!(s.syntax.is_none(), "{}", s.text);
        let s =
            skeleton("def test_x(a, b = 1):\n    for k in [a]:\n        v = k\n    return [j * v for j in [b] if j]\n");
        assert!(s.syntax.is_some(), "{}", s.text);
    }
}
