//! Argument values against the catalog (reference §8.1 items 3–7, 10): the type of every
//! argument (and of the elements of lists and dicts), closed vocabularies, duration strings,
//! probabilities and the `max_fires`/`mode` fan-out rules, and `determinism()`'s once-only and
//! L0 rules. Calls that ran at load and calls read from function bodies are checked alike;
//! a value the model does not know ([`Arg::Unknown`]) is skipped, never guessed.

mod determinism;
mod durations;
mod probability;
mod shapes;
mod types;
mod vocabulary;

use crate::topology::hash::HashSet;

use ospecc_schema::topology::{Param, ParamKind};

use super::{Call, Model};
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::values::Arg;
use shapes::Shapes;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    let shapes = Shapes::new(model.syntax, model.part);
    let mut found = Vec::new();
    for call in model.calls() {
        let bound = bind(model, call);
        let cx = Cx { call, shapes: &shapes, name: std::cell::OnceCell::new(), model };
        for arg in &bound {
            types::check(&cx, arg, &mut found);
            vocabulary::check(&cx, arg, &mut found);
            durations::check(&cx, arg, &mut found);
            probability::check(&cx, arg, &mut found);
        }
        probability::fan_out(&cx, &bound, &mut found);
    }
    determinism::check(model, &mut found);
    // A helper called twice at load records one call site twice: report it once.
    let mut seen = HashSet::default();
    out.extend(found.into_iter().filter(|d| seen.insert((d.code, d.span, d.message.clone()))));
}

/// What the value checks of one call share.
struct Cx<'a> {
    call: &'a Call,
    shapes: &'a Shapes,
    /// The callee as users write it (`service`, `db.pg.query`), formatted only when a message
    /// needs it (most calls have none).
    name: std::cell::OnceCell<String>,
    model: &'a Model<'a>,
}

/// One argument bound to its parameter.
struct Bound<'a> {
    param: &'static Param,
    arg: &'a Arg,
    /// The span of the value.
    span: Span,
    /// The keyword as written (for `**kwargs` parameters, the extra keyword), if by keyword.
    keyword: Option<&'a str>,
}

impl Cx<'_> {
    /// The callee as users write it (`service`, `db.pg.query`).
    fn name(&self) -> &str {
        self.name.get_or_init(|| self.call.display_name())
    }

    /// How a message names the argument: `` `service(env=…)` `` or `` `interface` argument `port` ``.
    fn subject(&self, bound: &Bound) -> String {
        match (bound.keyword, bound.param.kind) {
            (Some(keyword), _) => format!("`{}({keyword}=…)`", self.name()),
            (None, ParamKind::Variadic) => format!("each positional argument of `{}`", self.name()),
            (None, _) => format!("`{}` argument `{}`", self.name(), bound.param.name),
        }
    }
}

/// Binds a call's arguments to the callee's parameters as Starlark would. Arguments the
/// signature check rejects (unknown keywords, extra positionals) are left out; so are the
/// positionals of a call with `*args` splats, whose positions cannot be told apart.
fn bind<'a>(model: &Model, call: &'a Call) -> Vec<Bound<'a>> {
    let params = call.params();
    let mut out = Vec::new();
    if !model.has_splat(call) {
        let mut slots =
            params.iter().filter(|p| matches!(p.kind, ParamKind::Positional | ParamKind::PositionalOrKeyword));
        let variadic = params.iter().find(|p| p.kind == ParamKind::Variadic);
        for (index, arg) in call.record.positional.iter().enumerate() {
            if let Some(param) = slots.next().or(variadic) {
                out.push(Bound { param, arg, span: model.positional_span(call, index), keyword: None });
            }
        }
    }
    let keyword_variadic = params.iter().find(|p| p.kind == ParamKind::KeywordVariadic);
    for (keyword, arg) in &call.record.named {
        let named = params
            .iter()
            .find(|p| p.name == *keyword && matches!(p.kind, ParamKind::PositionalOrKeyword | ParamKind::KeywordOnly));
        if let Some(param) = named.or(keyword_variadic) {
            out.push(Bound { param, arg, span: model.value_span(call, keyword), keyword: Some(keyword) });
        }
    }
    out
}

/// A Starlark string literal for `text` (fixes write double-quoted strings).
fn quoted(text: &str) -> String {
    format!("{text:?}")
}
