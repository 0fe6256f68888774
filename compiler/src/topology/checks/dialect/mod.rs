//! The legacy starlark-go dialect Faultbox runs (reference §0, §7.9, §8.4 item 43).
//! Faultbox sets no resolve flags, so its loader refuses what starlark-rust (our evaluator,
//! standard dialect) accepts: recursion, `if`/`for` at module level, binding a global twice,
//! and the `set` builtin. `while` and f-strings are parse errors here already (TOP001), and
//! `set` an unresolved name (TOP011: the evaluator resolves every name of the file, function
//! bodies included, before it runs anything).

use crate::topology::hash::HashMap;

use starlark::syntax::ast::{AssignTargetP, AstAssignTarget, AstExpr, AstStmt, StmtP};
use starlark_syntax::syntax::uniplate::Visit;

use super::Model;
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::functions::{recursive_groups, Functions};
use crate::topology::syntax::span;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    let (Some(syntax), Some(functions)) = (model.syntax, model.functions()) else { return };
    if model.part.cross() {
        recursion(functions, out);
    }
    // Module-level statements only: load-time.
    if model.part.load_time() {
        top_level_control(&syntax.tree, out);
        reassignment(&syntax.tree, out);
    }
}

/// TOP330: a def that calls itself, directly or through others.
fn recursion(functions: &Functions, out: &mut Vec<Diagnostic>) {
    for group in recursive_groups(functions) {
        let Some(first) = functions.defs(&group[0]).next() else { continue };
        let Some((_, at)) = first.calls.iter().find(|(callee, _)| group.contains(callee)) else { continue };
        let message = match group.as_slice() {
            [only] => format!("`{only}` calls itself"),
            many => format!(
                "{} call each other ({} → {})",
                many.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                many.join(" → "),
                many[0]
            ),
        };
        let mut d =
            Diagnostic::error("TOP330", *at, format!("{message}: Faultbox's Starlark dialect forbids recursion"))
                .with_help("rewrite it as a `for` loop over a bounded `range(...)` inside the function");
        for other in group.iter().skip(1) {
            if let Some(f) = functions.defs(other).next() {
                d = d.with_label(f.name_span, format!("`{other}` is part of the cycle"));
            }
        }
        out.push(d);
    }
}

/// TOP331: `if`/`for` statements at module level.
fn top_level_control(tree: &AstStmt, out: &mut Vec<Diagnostic>) {
    for stmt in top_level(tree) {
        let (keyword, help) = match &stmt.node {
            StmtP::For(_) => {
                ("for", "build the values with a list or dict comprehension, or move the loop into a function")
            }
            StmtP::If(..) | StmtP::IfElse(..) => {
                ("if", "use a conditional expression (`a if cond else b`), or move the statement into a function")
            }
            _ => continue,
        };
        let start = span(stmt.span).start;
        out.push(
            Diagnostic::error(
                "TOP331",
                Span::new(start, start + keyword.len()),
                format!("`{keyword}` at module level: Faultbox's Starlark dialect allows `{keyword}` statements only inside functions"),
            )
            .with_help(help),
        );
    }
}

/// The statements directly at module level.
fn top_level(tree: &AstStmt) -> Vec<&AstStmt> {
    match &tree.node {
        StmtP::Statements(list) => list.iter().flat_map(top_level).collect(),
        _ => vec![tree],
    }
}

/// TOP332: a module-level name bound twice (assignment, augmented assignment, `def`, `load`).
fn reassignment(tree: &AstStmt, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<String, Span> = HashMap::default();
    let mut bindings = Vec::new();
    for stmt in top_level(tree) {
        module_bindings(stmt, &mut bindings);
    }
    for (name, at) in bindings {
        match first.get(&name) {
            None => {
                first.insert(name, at);
            }
            Some(earlier) => out.push(
                Diagnostic::warning("TOP332", at, format!("global `{name}` is bound a second time"))
                    .with_label(*earlier, format!("`{name}` is first bound here"))
                    .with_note("Faultbox's Starlark dialect refuses to rebind a global when it loads the file (`cannot reassign global`)")
                    .with_help(format!("merge the two definitions of `{name}`, or give the second one its own name")),
            ),
        }
    }
}

/// The names a module-level statement binds, with their spans, in order (bodies of
/// module-level `if`/`for` included: their names are globals too).
fn module_bindings(stmt: &AstStmt, out: &mut Vec<(String, Span)>) {
    match &stmt.node {
        StmtP::Assign(assign) => target_bindings(&assign.lhs, out),
        StmtP::AssignModify(target, ..) => target_bindings(target, out),
        StmtP::Def(def) => out.push((def.name.node.ident.clone(), span(def.name.span))),
        StmtP::Load(load) => {
            out.extend(load.args.iter().map(|a| (a.local.node.ident.clone(), span(a.local.span))));
        }
        StmtP::Statements(_) | StmtP::If(..) | StmtP::IfElse(..) | StmtP::For(_) => stmt.visit_children(|c| {
            if let Visit::Stmt(s) = c {
                module_bindings(s, out);
            }
        }),
        _ => {}
    }
}

fn target_bindings(target: &AstAssignTarget, out: &mut Vec<(String, Span)>) {
    // `x[i] = v` and `x.f = v` mutate, they do not bind.
    if matches!(target.node, AssignTargetP::Index(..) | AssignTargetP::Dot(..)) {
        return;
    }
    target.visit_lvalue(|id| out.push((id.node.ident.clone(), span(id.span))));
}

/// Calls `f` on every expression of the tree, nested ones included.
pub(super) fn visit_exprs(stmt: &AstStmt, f: &mut dyn FnMut(&AstExpr)) {
    stmt.visit_children(|c| match c {
        Visit::Stmt(s) => visit_exprs(s, f),
        Visit::Expr(e) => visit_expr_deep(e, f),
    });
}

fn visit_expr_deep(expr: &AstExpr, f: &mut dyn FnMut(&AstExpr)) {
    f(expr);
    expr.visit_expr(|e| visit_expr_deep(e, f));
}
