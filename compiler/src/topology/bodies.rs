//! Static reading of function bodies. Scenario, expectation, monitor and test functions are not
//! run when a topology file loads, so the calls inside them were never recorded; this module
//! reads them from the syntax tree instead, resolving what it can without running anything:
//! literals, the module's evaluated globals (services, assumptions, …), attributes of recorded
//! values (`db.main` is an interface of `db`), local names bound once. What cannot be known
//! (parameters, computed values) is [`Arg::Unknown`], and the checks skip it.
//!
//! Each call becomes a [`BodyCall`] with the same shape as a recorded one, so one set of checks
//! serves calls that ran at load and calls that did not. Attribute and step-method mistakes
//! (`db.mian`, `db.main.post` on postgres) are reported here, where the receiver is known.

use crate::topology::hash::{HashMap, HashSet};
use std::sync::Arc;

use ospecc_schema::topology::{catalog, Builtin, Method};
use starlark::syntax::ast::{
    ArgumentP, AssignTargetP, AstAssignTarget, AstExpr, AstLiteral, AstStmt, ClauseP, ExprP, StmtP,
};
use starlark_syntax::lexer::TokenInt;

use super::attrs;
use super::syntax::{parameter_names, span, Syntax};
use super::values::{Arg, Recorded};
use super::Global;
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::suggest::did_you_mean;

/// One call in a function body.
#[derive(Debug, Clone)]
pub struct BodyCall {
    /// The enclosing `def` (`lambda` inside a lambda).
    pub function: String,
    pub callee: Callee,
    /// The call as a record: the builtin's (or method's) name and return type, the arguments
    /// as far as they are known statically, the call's span.
    pub record: Arc<Recorded>,
}

#[derive(Debug, Clone)]
pub enum Callee {
    Builtin(&'static Builtin),
    /// A step method on an interface (`db.main.query(...)`, or the shorthand `api.post(...)`
    /// on a service's default interface).
    Step {
        interface: Arc<Recorded>,
        method: &'static Method,
    },
}

/// What the body analysis found.
#[derive(Debug, Default)]
pub struct Bodies {
    pub calls: Vec<BodyCall>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads every `def` and `lambda` of the root file.
pub fn analyse(syntax: &Syntax, globals: &[Global], root_file: &str) -> Bodies {
    analyse_with(syntax, globals, &ModuleScope::new(&syntax.tree, globals), root_file)
}

/// What reading a body needs of its module besides the body: the names the module binds at
/// top level, and where each global is (the last binding of a name). Made once per
/// evaluation, for the many `def`s read alone against it.
#[derive(Debug, Default)]
pub struct ModuleScope {
    names: HashSet<String>,
    globals: HashMap<String, usize>,
}

impl ModuleScope {
    /// The scope of the module whose whole tree is `tree` and whose globals are `globals`.
    pub fn new(tree: &AstStmt, globals: &[Global]) -> ModuleScope {
        let mut names = HashSet::default();
        bound_at_top_level(tree, &mut names);
        let globals = globals.iter().enumerate().map(|(i, g)| (g.name.clone(), i)).collect();
        ModuleScope { names, globals }
    }
}

/// [`analyse`] in the module `scope` (`globals` its evaluation's): `syntax` may be one `def`
/// read alone.
pub fn analyse_with(syntax: &Syntax, globals: &[Global], scope: &ModuleScope, root_file: &str) -> Bodies {
    let reader = Reader {
        globals,
        index: &scope.globals,
        module_names: &scope.names,
        root_file,
        out: std::cell::RefCell::new(Bodies::default()),
    };
    reader.top_level(&syntax.tree);
    reader.out.into_inner()
}

/// Names the module binds (assignments, defs, loads), whether or not evaluation reached them:
/// such a name is never the builtin of the same name.
pub(crate) fn bound_at_top_level(stmt: &AstStmt, names: &mut HashSet<String>) {
    match &stmt.node {
        StmtP::Statements(list) => list.iter().for_each(|s| bound_at_top_level(s, names)),
        StmtP::Def(def) => {
            names.insert(def.name.node.ident.clone());
        }
        StmtP::Assign(assign) => target_names(&assign.lhs, names),
        StmtP::AssignModify(target, ..) => target_names(target, names),
        StmtP::Load(load) => names.extend(load.args.iter().map(|a| a.local.node.ident.clone())),
        StmtP::For(f) => {
            target_names(&f.var, names);
            bound_at_top_level(&f.body, names);
        }
        StmtP::If(_, body) => bound_at_top_level(body, names),
        StmtP::IfElse(_, branches) => {
            bound_at_top_level(&branches.0, names);
            bound_at_top_level(&branches.1, names);
        }
        _ => {}
    }
}

fn target_names(target: &AstAssignTarget, names: &mut HashSet<String>) {
    target.visit_lvalue(|id| {
        names.insert(id.node.ident.clone());
    });
}

/// Local names of one function: a name bound once keeps its value; rebinding makes it unknown.
#[derive(Clone, Default)]
struct Scope {
    function: String,
    locals: HashMap<String, Arg>,
}

impl Scope {
    fn bind(&mut self, name: &str, value: Arg) {
        let value = if self.locals.contains_key(name) { Arg::Unknown } else { value };
        self.locals.insert(name.to_owned(), value);
    }

    fn bind_target(&mut self, target: &AstAssignTarget, value: Arg) {
        match &target.node {
            AssignTargetP::Identifier(id) => self.bind(&id.node.ident, value),
            _ => target.visit_lvalue(|id| self.bind(&id.node.ident, Arg::Unknown)),
        }
    }
}

struct Reader<'a> {
    globals: &'a [Global],
    index: &'a HashMap<String, usize>,
    module_names: &'a HashSet<String>,
    root_file: &'a str,
    out: std::cell::RefCell<Bodies>,
}

impl Reader<'_> {
    /// Module level: top-level code was evaluated, so only the functions are read (and the
    /// lambdas, which live inside top-level expressions).
    fn top_level(&self, stmt: &AstStmt) {
        match &stmt.node {
            StmtP::Def(def) => {
                let mut scope = Scope { function: def.name.node.ident.clone(), ..Scope::default() };
                for name in parameter_names(&def.params) {
                    scope.bind(&name, Arg::Unknown);
                }
                self.stmt(&def.body, &mut scope);
            }
            StmtP::Statements(list) => list.iter().for_each(|s| self.top_level(s)),
            StmtP::For(f) => {
                self.lambdas_in(&f.over);
                self.top_level(&f.body);
            }
            StmtP::If(cond, body) => {
                self.lambdas_in(cond);
                self.top_level(body);
            }
            StmtP::IfElse(cond, branches) => {
                self.lambdas_in(cond);
                self.top_level(&branches.0);
                self.top_level(&branches.1);
            }
            _ => stmt.visit_expr(|e| self.lambdas_in(e)),
        }
    }

    fn lambdas_in(&self, expr: &AstExpr) {
        if let ExprP::Lambda(lambda) = &expr.node {
            let mut scope = Scope { function: "lambda".into(), ..Scope::default() };
            for name in parameter_names(&lambda.params) {
                scope.bind(&name, Arg::Unknown);
            }
            self.expr(&lambda.body, &mut scope);
            return;
        }
        expr.visit_expr(|e| self.lambdas_in(e));
    }

    fn stmt(&self, stmt: &AstStmt, scope: &mut Scope) {
        match &stmt.node {
            StmtP::Assign(assign) => {
                let value = self.expr(&assign.rhs, scope);
                scope.bind_target(&assign.lhs, value);
            }
            StmtP::AssignModify(target, _, rhs) => {
                self.expr(rhs, scope);
                target.visit_expr(|e| {
                    self.expr(e, scope);
                });
                scope.bind_target(target, Arg::Unknown);
            }
            StmtP::For(f) => {
                self.expr(&f.over, scope);
                f.var.visit_lvalue(|id| scope.bind(&id.node.ident, Arg::Unknown));
                self.stmt(&f.body, scope);
            }
            StmtP::Def(def) => {
                scope.bind(&def.name.node.ident, Arg::Function(def.name.node.ident.as_str().into()));
                let mut inner = scope.clone();
                inner.function = def.name.node.ident.clone();
                for name in parameter_names(&def.params) {
                    inner.locals.insert(name, Arg::Unknown);
                }
                self.stmt(&def.body, &mut inner);
            }
            StmtP::Statements(list) => list.iter().for_each(|s| self.stmt(s, scope)),
            StmtP::If(cond, body) => {
                self.expr(cond, scope);
                self.stmt(body, scope);
            }
            StmtP::IfElse(cond, branches) => {
                self.expr(cond, scope);
                self.stmt(&branches.0, scope);
                self.stmt(&branches.1, scope);
            }
            StmtP::Expression(e) | StmtP::Return(Some(e)) => {
                self.expr(e, scope);
            }
            _ => {}
        }
    }

    /// The value of an expression as far as it is known, recording the calls inside it.
    fn expr(&self, expr: &AstExpr, scope: &mut Scope) -> Arg {
        match &expr.node {
            ExprP::Literal(literal) => literal_value(literal),
            ExprP::Identifier(id) => self.name(&id.node.ident, scope),
            ExprP::Dot(base, attribute) => {
                let base_value = self.expr(base, scope);
                self.attribute(&base_value, &attribute.node, span(attribute.span), span(base.span))
            }
            ExprP::Call(callee, args) => self.call(expr, callee, &args.args, scope),
            ExprP::List(items) => Arg::List(items.iter().map(|e| self.expr(e, scope)).collect()),
            ExprP::Tuple(items) => Arg::Tuple(items.iter().map(|e| self.expr(e, scope)).collect()),
            ExprP::Dict(entries) => {
                Arg::Dict(entries.iter().map(|(k, v)| (self.expr(k, scope), self.expr(v, scope))).collect())
            }
            ExprP::Lambda(lambda) => {
                let mut inner = scope.clone();
                inner.function = "lambda".into();
                for name in parameter_names(&lambda.params) {
                    inner.locals.insert(name, Arg::Unknown);
                }
                self.expr(&lambda.body, &mut inner);
                Arg::Function("lambda".into())
            }
            ExprP::ListComprehension(item, first, clauses) => {
                self.comprehension(first.as_ref(), clauses, scope, |reader, inner| {
                    reader.expr(item, inner);
                });
                Arg::Unknown
            }
            ExprP::DictComprehension(pair, first, clauses) => {
                self.comprehension(first.as_ref(), clauses, scope, |reader, inner| {
                    reader.expr(&pair.0, inner);
                    reader.expr(&pair.1, inner);
                });
                Arg::Unknown
            }
            _ => {
                expr.visit_expr(|e| {
                    self.expr(e, scope);
                });
                Arg::Unknown
            }
        }
    }

    fn comprehension(
        &self,
        first: &starlark::syntax::ast::ForClause,
        clauses: &[starlark::syntax::ast::Clause],
        scope: &Scope,
        body: impl FnOnce(&Self, &mut Scope),
    ) {
        let mut inner = scope.clone();
        self.expr(&first.over, &mut inner);
        first.var.visit_lvalue(|id| {
            inner.locals.insert(id.node.ident.clone(), Arg::Unknown);
        });
        for clause in clauses {
            match clause {
                ClauseP::For(f) => {
                    self.expr(&f.over, &mut inner);
                    f.var.visit_lvalue(|id| {
                        inner.locals.insert(id.node.ident.clone(), Arg::Unknown);
                    });
                }
                ClauseP::If(cond) => {
                    self.expr(cond, &mut inner);
                }
            }
        }
        body(self, &mut inner);
    }

    fn name(&self, name: &str, scope: &Scope) -> Arg {
        if let Some(value) = scope.locals.get(name) {
            return value.clone();
        }
        if let Some(value) = self.index.get(name).and_then(|&i| self.globals.get(i)).map(|g| &g.value) {
            return value.clone();
        }
        if self.module_names.contains(name) {
            return Arg::Unknown;
        }
        match name {
            "None" => Arg::None,
            "True" => Arg::Bool(true),
            "False" => Arg::Bool(false),
            _ if builtin(name).is_some() || is_namespace(name) => Arg::Other("builtin_function_or_method".into()),
            _ => Arg::Unknown,
        }
    }

    /// `base.attribute` for a known base; unknown attributes of services and interfaces are
    /// reported (they are always mistakes: the set is fixed by the topology).
    fn attribute(&self, base: &Arg, attribute: &str, at: Span, base_span: Span) -> Arg {
        let Arg::Record(record) = base else { return Arg::Unknown };
        if let Some(value) = attrs::resolve(record, attribute) {
            return value;
        }
        if matches!(record.ty.as_str(), "service" | "interface_ref" | "response") {
            self.report(unknown_attribute(record, attribute, at, base_span));
        }
        Arg::Unknown
    }

    fn call(
        &self,
        expr: &AstExpr,
        callee: &AstExpr,
        args: &[starlark::syntax::ast::AstArgument],
        scope: &mut Scope,
    ) -> Arg {
        let target = self.callee(callee, scope);
        let mut positional = Vec::new();
        let mut named = Vec::new();
        for arg in args {
            match &arg.node {
                ArgumentP::Positional(e) => positional.push(self.expr(e, scope)),
                ArgumentP::Named(name, e) => named.push((name.node.clone(), self.expr(e, scope))),
                ArgumentP::Args(e) | ArgumentP::KwArgs(e) => {
                    self.expr(e, scope);
                }
            }
        }
        let Some(callee) = target else { return Arg::Unknown };
        let (name, returns) = match &callee {
            Callee::Builtin(b) => (b.name.clone(), b.returns.clone()),
            Callee::Step { method, .. } => (method.name.clone(), method.returns.clone()),
        };
        let record = Arc::new(Recorded {
            builtin: name,
            ty: returns.clone(),
            file: self.root_file.to_owned(),
            span: span(expr.span),
            positional,
            named,
        });
        self.out.borrow_mut().calls.push(BodyCall { function: scope.function.clone(), callee, record: record.clone() });
        if matches!(returns.as_str(), "None" | "none" | "" | "any") {
            Arg::Unknown
        } else {
            Arg::Record(record)
        }
    }

    /// What a call expression calls, when it is a builtin or a step method.
    fn callee(&self, callee: &AstExpr, scope: &mut Scope) -> Option<Callee> {
        match &callee.node {
            ExprP::Identifier(id) => {
                let name = id.node.ident.as_str();
                let shadowed = scope.locals.contains_key(name) || self.module_names.contains(name);
                if shadowed {
                    return None;
                }
                builtin(name).map(Callee::Builtin)
            }
            ExprP::Dot(base, member) => {
                if let ExprP::Identifier(id) = &base.node {
                    let prefix = id.node.ident.as_str();
                    if is_namespace(prefix) && !scope.locals.contains_key(prefix) && !self.module_names.contains(prefix)
                    {
                        return self.namespace_member(prefix, &member.node, span(member.span));
                    }
                }
                let receiver = self.expr(base, scope);
                let Arg::Record(record) = receiver else { return None };
                self.method(&record, &member.node, span(member.span), span(base.span))
            }
            _ => {
                self.expr(callee, scope);
                None
            }
        }
    }

    fn namespace_member(&self, prefix: &str, member: &str, at: Span) -> Option<Callee> {
        let full = format!("{prefix}.{member}");
        if let Some(b) = builtin(&full) {
            return Some(Callee::Builtin(b));
        }
        let members: Vec<String> = catalog()
            .builtins
            .iter()
            .filter_map(|b| b.name.strip_prefix(prefix).and_then(|m| m.strip_prefix('.')).map(str::to_owned))
            .collect();
        let mut d = Diagnostic::error("TOP050", at, format!("`{prefix}` has no member `{member}`"));
        d = match did_you_mean(member, members.iter().map(String::as_str)) {
            Some(best) => d.with_help(format!("did you mean `{prefix}.{best}`?")),
            None => d.with_help(format!("`{prefix}` has: {}", members.join(", "))),
        };
        self.report(d);
        None
    }

    /// `receiver.member(...)`: a step method of an interface, or the shorthand on a service.
    fn method(&self, receiver: &Arc<Recorded>, member: &str, at: Span, base_span: Span) -> Option<Callee> {
        match receiver.ty.as_str() {
            "interface_ref" => {
                if let Some(method) = step_method(receiver, member) {
                    return Some(Callee::Step { interface: receiver.clone(), method });
                }
                if attrs::resolve(receiver, member).is_none() {
                    self.report(unknown_attribute(receiver, member, at, base_span));
                }
                None
            }
            "service" => {
                if attrs::resolve(receiver, member).is_some() && !is_shorthand(member) {
                    return None;
                }
                if !is_shorthand(member) {
                    self.report(unknown_attribute(receiver, member, at, base_span));
                    return None;
                }
                let Some(interface) = default_interface(receiver) else {
                    self.report(no_default_interface(receiver, member, at));
                    return None;
                };
                match step_method(&interface, member) {
                    Some(method) => Some(Callee::Step { interface, method }),
                    None => {
                        self.report(unknown_attribute(&interface, member, at, base_span));
                        None
                    }
                }
            }
            _ => None,
        }
    }

    fn report(&self, diagnostic: Diagnostic) {
        self.out.borrow_mut().diagnostics.push(diagnostic);
    }
}

fn builtin(name: &str) -> Option<&'static Builtin> {
    catalog().builtin(name)
}

fn is_namespace(name: &str) -> bool {
    catalog().builtins.iter().any(|b| b.name.split_once('.').is_some_and(|(prefix, _)| prefix == name))
}

fn literal_value(literal: &AstLiteral) -> Arg {
    match literal {
        AstLiteral::Int(i) => match &i.node {
            TokenInt::I32(v) => Arg::Int(i64::from(*v)),
            TokenInt::BigInt(_) => Arg::Unknown,
        },
        AstLiteral::Float(f) => Arg::Float(f.node),
        AstLiteral::String(s) => Arg::Str(s.node.clone()),
        AstLiteral::Bytes(_) => Arg::Other("bytes".into()),
        AstLiteral::Ellipsis => Arg::Unknown,
    }
}

/// The service methods that forward to the default interface (reference §2.1).
fn is_shorthand(name: &str) -> bool {
    catalog()
        .value_type("service")
        .is_some_and(|t| t.attributes.iter().any(|a| a.name == name && a.ty == "step_method"))
}

fn step_method(interface: &Recorded, name: &str) -> Option<&'static Method> {
    let protocol = catalog().protocol(attrs::protocol_of(interface)?)?;
    protocol.methods.iter().find(|m| m.name == name)
}

/// A service's default interface: its only one, or the one named `default`.
pub(crate) fn default_interface(service: &Arc<Recorded>) -> Option<Arc<Recorded>> {
    let interfaces: Vec<&Arc<Recorded>> = attrs::interfaces(service).collect();
    let chosen = match interfaces.as_slice() {
        [only] => Some(*only),
        many => many.iter().copied().find(|i| i.name() == Some("default")),
    }?;
    match attrs::resolve(service, chosen.name()?) {
        Some(Arg::Record(r)) => Some(r),
        _ => None,
    }
}

fn describe(record: &Recorded) -> String {
    match record.ty.as_str() {
        "service" => format!("service `{}`", record.name().unwrap_or("?")),
        "interface_ref" => match attrs::parts(record) {
            Some((service, iface)) => format!(
                "interface `{}.{}` ({})",
                service.name().unwrap_or("?"),
                iface.name().unwrap_or("?"),
                attrs::protocol_of(record).unwrap_or("unknown protocol")
            ),
            None => "this interface".into(),
        },
        other => format!("a `{other}` value"),
    }
}

fn unknown_attribute(record: &Arc<Recorded>, attribute: &str, at: Span, base_span: Span) -> Diagnostic {
    let names = attrs::names(record);
    let (code, message) = match record.ty.as_str() {
        "interface_ref" => ("TOP051", format!("{} has no step method or attribute `{attribute}`", describe(record))),
        _ => ("TOP050", format!("{} has no attribute `{attribute}`", describe(record))),
    };
    let d = Diagnostic::error(code, at, message).with_label(base_span, describe(record));
    match did_you_mean(attribute, names.iter().map(String::as_str)) {
        Some(best) => {
            d.with_help(format!("did you mean `{best}`?")).with_replacement(format!("replace with `{best}`"), at, best)
        }
        None => d.with_help(format!("it has: {}", names.join(", "))),
    }
}

fn no_default_interface(service: &Recorded, method: &str, at: Span) -> Diagnostic {
    let names: Vec<&str> = attrs::interfaces(service).filter_map(|i| i.name()).collect();
    let name = service.name().unwrap_or("?");
    let example = names.first().copied().unwrap_or("iface");
    Diagnostic::error(
        "TOP052",
        at,
        format!(
            "`{name}.{method}` needs a default interface, but service `{name}` has {} interfaces and none is named `default`",
            names.len()
        ),
    )
    .with_help(format!("call the step on an interface: `{name}.{example}.{method}(...)`"))
}
