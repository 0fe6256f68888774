//! `load()` checks (reference §8.4 item 42, §7.14). Missing targets and missing symbols are
//! reported by the evaluator (TOP020–TOP024, and TOP010 "Module has no symbol" at the symbol).
//! What remains is shadowing: `load()` binds file-locally over the predeclared builtins, so
//! `load("@faultbox/recipes/http.star", "http")` turns every later `http(...)` healthcheck
//! into a call of the recipe struct.

use crate::topology::hash::HashSet;

use ospecc_schema::topology::catalog;
use starlark::syntax::ast::{AstStmt, ExprP, StmtP};
use starlark_syntax::syntax::uniplate::Visit;

use super::dialect::visit_exprs;
use super::Model;
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::syntax::span;
use crate::topology::values::Arg;

/// One name bound by `load()`.
struct Loaded {
    local: String,
    module: String,
    at: Span,
}

/// A cross check: it reads every call expression of the file, bodies included.
pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    let Some(syntax) = model.syntax.filter(|_| model.part.cross()) else { return };
    let mut loaded = Vec::new();
    loads(&syntax.tree, &mut loaded);
    let shadowing: Vec<&Loaded> =
        loaded.iter().filter(|l| catalog().builtin(&l.local).is_some() && !callable(model, l)).collect();
    if shadowing.is_empty() {
        return;
    }
    let names: HashSet<&str> = shadowing.iter().map(|l| l.local.as_str()).collect();
    let mut uses: Vec<(String, Span)> = Vec::new();
    visit_exprs(&syntax.tree, &mut |e| {
        if let ExprP::Call(callee, _) = &e.node {
            if let ExprP::Identifier(id) = &callee.node {
                if names.contains(id.node.ident.as_str()) {
                    uses.push((id.node.ident.clone(), span(callee.span)));
                }
            }
        }
    });
    for (name, at) in uses {
        let Some(load) = shadowing.iter().find(|l| l.local == name) else { continue };
        let alias = format!("{name}_{}", short(&load.module));
        out.push(
            Diagnostic::warning(
                "TOP340",
                at,
                format!("`{name}` here is the value loaded from `{}`, not the builtin `{name}()`", load.module),
            )
            .with_label(load.at, format!("`load()` binds `{name}` over the builtin for the rest of this file"))
            .with_help(format!(
                "load it under another name: `load(\"{}\", {alias} = \"{name}\")`, then use `{alias}.…` for the module and `{name}(...)` for the builtin",
                load.module
            )),
        );
    }
}

/// Whether the loaded value is a function (then calling it is what the user means). Values
/// of the embedded stdlib are structs; an unevaluated value counts as not callable only then.
fn callable(model: &Model, load: &Loaded) -> bool {
    match model.global(&load.local) {
        Some(Arg::Function(_)) => true,
        Some(Arg::Other(ty)) => ty == "function" || ty == "builtin_function_or_method",
        Some(Arg::Record(_)) => false,
        Some(_) => false,
        None => !load.module.starts_with("@faultbox/"),
    }
}

/// `@faultbox/recipes/http.star` → `recipes`, `lib/common.star` → `common`.
fn short(module: &str) -> String {
    let parts: Vec<&str> = module.trim_end_matches(".star").split('/').collect();
    let pick = if module.starts_with("@faultbox/") { parts.get(1) } else { parts.last() };
    pick.map_or_else(|| "module".to_owned(), |p| p.trim_end_matches('s').replace(['-', '.'], "_"))
}

fn loads(stmt: &AstStmt, out: &mut Vec<Loaded>) {
    if let StmtP::Load(load) = &stmt.node {
        for arg in &load.args {
            out.push(Loaded {
                local: arg.local.node.ident.clone(),
                module: load.module.node.clone(),
                at: span(arg.local.span),
            });
        }
    }
    stmt.visit_children(|c| {
        if let Visit::Stmt(s) = c {
            loads(s, out);
        }
    });
}
