//! Static checks of one topology file (reference `topology-language.md` §8), over the
//! evaluated model: the calls that ran at load (recorded with their real arguments) and the
//! calls in function bodies (read statically by [`super::bodies`]). Each check module owns one
//! concern and pushes located diagnostics; [`Model`] gives them one view of both kinds of call
//! with the argument spans of the syntax tree.

mod arguments;
mod dialect;
mod faults;
mod loads;
mod mocks;
mod placement;
mod services;
mod signature;
mod tests;

use std::path::Path;
use std::sync::Arc;

use ospecc_schema::topology::{builtins, catalog, type_names, Builtin, FaultLayer, Method, Param};

use super::bodies::{self, Callee};
use super::hash::HashSet;
use super::syntax::{CallSite, Syntax};
use super::values::{Arg, Recorded};
use super::Evaluated;
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::vfs::FileSystem;

/// Where a call happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// It ran when the file loaded (module top level, or a helper called from there).
    Load,
    /// It is in the body of this function (or `lambda`), which runs only in a test.
    Body(String),
}

/// One call of a builtin or step method in the root file.
#[derive(Debug, Clone)]
pub struct Call {
    pub target: Target,
    /// Name, return type, arguments (as far as known) and span.
    pub record: Arc<Recorded>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub enum Target {
    Builtin(&'static Builtin),
    Step { interface: Arc<Recorded>, method: &'static Method },
}

impl Call {
    /// The callee's parameters.
    pub fn params(&self) -> &'static [Param] {
        match &self.target {
            Target::Builtin(b) => &b.params,
            Target::Step { method, .. } => &method.params,
        }
    }

    /// The callee's name as users write it (`service`, `db.main.query`).
    pub fn display_name(&self) -> String {
        match &self.target {
            Target::Builtin(b) => b.name.clone(),
            Target::Step { interface, method } => match super::attrs::parts(interface) {
                Some((service, iface)) => {
                    format!("{}.{}.{}", service.name().unwrap_or("?"), iface.name().unwrap_or("?"), method.name)
                }
                None => method.name.clone(),
            },
        }
    }

    pub fn builtin(&self) -> Option<&'static Builtin> {
        match &self.target {
            Target::Builtin(b) => Some(b),
            Target::Step { .. } => None,
        }
    }

    /// Whether this is a call of the builtin `name` (a `builtins::` constant: a name the
    /// catalog lacks would never match, so debug builds refuse it).
    pub fn is(&self, name: &str) -> bool {
        debug_assert!(builtins::is_builtin(name), "`{name}` is not a builtin of the catalog");
        self.builtin().is_some_and(|b| b.name == name)
    }
}

/// The layer a fault value acts on, from the catalog's `fault_layer` of the types its builtin
/// returns. A builtin of two layers (`delay`: a syscall or a protocol delay) makes the syscall
/// form exactly when it is given a positional argument (reference §1.4).
pub(crate) fn fault_layer(record: &Recorded) -> Option<FaultLayer> {
    let layers: Vec<FaultLayer> =
        type_names(&record.ty).filter_map(|t| catalog().value_type(t).and_then(|t| t.fault_layer)).collect();
    match layers.as_slice() {
        [] => None,
        [one] => Some(*one),
        many if record.positional.is_empty() => many.iter().copied().find(|l| *l != FaultLayer::Syscall),
        many => many.iter().copied().find(|l| *l == FaultLayer::Syscall).or(many.first().copied()),
    }
}

/// Which of a file's findings one run of the checks makes. The database checks a topology in
/// two parts whose findings together are the whole run's: the load-time part (memoised with
/// the evaluation of the file's skeleton, so an edit inside a stubbed body does not redo it)
/// and the stubbed bodies' part (redone on every edit).
///
/// Each check is one of three kinds: a *call* check's findings about a call depend on that
/// call, its function and load-time state; a *load-time* check reads only load-time state and
/// top-level syntax; a *cross* check follows functions or calls across the file (reachability,
/// recursion, a rule applied in several places), so it runs where every body is at hand.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part<'a> {
    /// Everything (a run outside the database).
    Whole,
    /// Over the skeleton: call checks of the calls outside the stubbed bodies (all of the
    /// skeleton's), and the load-time checks.
    LoadTime,
    /// Over the file: call checks of the calls inside these stubbed bodies (file offsets),
    /// and the cross checks.
    Bodies(&'a [Span]),
    /// Over one stubbed `def` read alone: the call checks of the calls inside these spans
    /// (its body), and nothing else (the database memoises them per `def`).
    Calls(&'a [Span]),
}

impl Part<'_> {
    /// Whether the load-time checks run.
    pub(crate) fn load_time(self) -> bool {
        matches!(self, Part::Whole | Part::LoadTime)
    }

    /// Whether the cross checks run.
    pub(crate) fn cross(self) -> bool {
        matches!(self, Part::Whole | Part::Bodies(_))
    }

    /// Whether a statement at `at` may hold calls this part checks.
    pub(crate) fn reaches(self, at: Span) -> bool {
        match self {
            Part::Whole | Part::LoadTime => true,
            Part::Bodies(bodies) | Part::Calls(bodies) => {
                let i = bodies.partition_point(|b| b.end <= at.start);
                bodies.get(i).is_some_and(|b| b.start < at.end)
            }
        }
    }

    /// Whether this part makes the call checks' findings at `at` (a call's span, or a span
    /// inside a body).
    pub(crate) fn owns(self, at: Span) -> bool {
        match self {
            Part::Whole | Part::LoadTime => true,
            Part::Bodies(bodies) | Part::Calls(bodies) => {
                let i = bodies.partition_point(|b| b.start <= at.start);
                i.checked_sub(1).and_then(|i| bodies.get(i)).is_some_and(|b| at.end <= b.end)
            }
        }
    }
}

/// What every check sees.
pub struct Model<'a> {
    pub evaluated: &'a Evaluated,
    pub syntax: Option<&'a Syntax>,
    /// Builtin and step calls of the root file: recorded ones first (evaluation order), then
    /// body calls (source order). The call checks read [`Model::calls`], this part's share.
    every: Vec<Call>,
    /// Where `every` holds this part's calls (the call checks').
    own: Vec<usize>,
    pub(crate) part: Part<'a>,
    /// The data files a check may read (none when checking without a file system).
    pub files: Option<Files<'a>>,
    /// The root file's functions, indexed once for every check that follows them.
    functions: std::sync::OnceLock<Option<crate::topology::functions::Functions>>,
}

/// The files checks may read: data files a call names (`descriptors=`, `openapi=`), relative
/// to the spec's directory, through the injected file system.
#[derive(Clone, Copy)]
pub(crate) struct Files<'a> {
    pub fs: &'a dyn FileSystem,
    pub spec_dir: &'a Path,
}

impl<'a> Model<'a> {
    pub(crate) fn new(
        evaluated: &'a Evaluated,
        syntax: &'a Syntax,
        body_calls: Vec<bodies::BodyCall>,
        files: Option<Files<'a>>,
        part: Part<'a>,
    ) -> Model<'a> {
        let syntax = Some(syntax);
        // A `def` read alone holds no call that ran at load.
        let ran_at_load = if matches!(part, Part::Calls(_)) { &[][..] } else { &evaluated.calls[..] };
        let mut calls: Vec<Call> = ran_at_load
            .iter()
            .filter(|r| r.file == evaluated.root)
            .filter_map(|r| {
                let builtin = catalog().builtin(&r.builtin)?;
                Some(Call { target: Target::Builtin(builtin), record: r.clone(), origin: Origin::Load })
            })
            .collect();
        // A body call site that also ran at load (a helper called from top level) is checked from
        // its recorded arguments, which are complete.
        let ran: HashSet<Span> = calls.iter().map(|c| c.record.span).collect();
        for body in body_calls {
            if ran.contains(&body.record.span) {
                continue;
            }
            let target = match body.callee {
                Callee::Builtin(b) => Target::Builtin(b),
                Callee::Step { interface, method } => Target::Step { interface, method },
            };
            calls.push(Call { target, record: body.record, origin: Origin::Body(body.function) });
        }
        let own = (0..calls.len()).filter(|&i| part.owns(calls[i].record.span)).collect();
        Model { evaluated, syntax, every: calls, own, part, files, functions: Default::default() }
    }

    /// The calls this part checks one by one (every call outside the database).
    pub fn calls(&self) -> impl Iterator<Item = &Call> + '_ {
        self.own.iter().filter_map(|&i| self.every.get(i))
    }

    /// Every call of the root file, for the cross checks.
    pub fn every_call(&self) -> &[Call] {
        &self.every
    }

    /// The root file's functions (none without a syntax tree).
    pub(crate) fn functions(&self) -> Option<&crate::topology::functions::Functions> {
        self.functions.get_or_init(|| self.syntax.map(|s| crate::topology::functions::Functions::new(&s.tree))).as_ref()
    }

    /// The call site (argument spans) of a call.
    pub fn site(&self, call: &Call) -> Option<&'a CallSite> {
        self.syntax?.call(call.record.span)
    }

    /// The span of keyword argument `name` (`name=value`), else the whole call.
    pub fn keyword_span(&self, call: &Call, name: &str) -> Span {
        self.site(call).and_then(|s| s.keyword(name)).unwrap_or(call.record.span)
    }

    /// The span of the value of keyword `name`, else the whole call.
    pub fn value_span(&self, call: &Call, name: &str) -> Span {
        self.site(call).and_then(|s| s.keyword_value(name)).unwrap_or(call.record.span)
    }

    /// The span of positional argument `index`, else the whole call.
    pub fn positional_span(&self, call: &Call, index: usize) -> Span {
        self.site(call).and_then(|s| s.positional.get(index).copied()).unwrap_or(call.record.span)
    }

    /// The span of the callee expression (`service` in `service(...)`), else the whole call.
    pub fn callee_span(&self, call: &Call) -> Span {
        self.site(call).map_or(call.record.span, |s| s.callee)
    }

    /// Whether the call's argument list has `*args`/`**kwargs` splats (then its shape is unknown).
    pub fn has_splat(&self, call: &Call) -> bool {
        self.site(call).is_some_and(|s| s.splat)
    }

    /// This part's calls of the builtin `name`.
    pub fn calls_of<'m>(&'m self, name: &'m str) -> impl Iterator<Item = &'m Call> + 'm {
        self.calls().filter(move |c| c.is(name))
    }

    /// Every call of the builtin `name`, for the cross checks.
    pub fn every_call_of<'m>(&'m self, name: &'m str) -> impl Iterator<Item = &'m Call> + 'm {
        self.every.iter().filter(move |c| c.is(name))
    }

    /// A global of the root module by name.
    pub fn global(&self, name: &str) -> Option<&'a Arg> {
        self.evaluated.globals.iter().find(|g| g.name == name).map(|g| &g.value)
    }
}

/// Every static-check diagnostic for an evaluated file whose syntax tree is `syntax` (the
/// evaluation's own, or the file's when the evaluation was of its skeleton).
/// `scope`: the module's, when `syntax` is not the whole module's (a `def` read alone).
pub(crate) fn run(
    evaluated: &Evaluated,
    syntax: Option<&Syntax>,
    files: Option<Files>,
    part: Part,
    scope: Option<&bodies::ModuleScope>,
) -> Vec<Diagnostic> {
    let Some(syntax) = syntax else { return Vec::new() };
    let bodies = match scope {
        Some(scope) => bodies::analyse_with(syntax, &evaluated.globals, scope, &evaluated.root),
        None => bodies::analyse(syntax, &evaluated.globals, &evaluated.root),
    };
    // What reading a body finds lies in that body: its part's.
    let mut out: Vec<Diagnostic> = bodies.diagnostics.into_iter().filter(|d| part.owns(d.span)).collect();
    let model = Model::new(evaluated, syntax, bodies.calls, files, part);
    // The bodies' part runs on every keystroke in an editor, and is small: starting a thread
    // for it costs more than the thread saves.
    let parallel = model.every.len() >= PARALLEL_CALLS && part.load_time();
    let (mut first, mut second) = if parallel {
        super::threads::join(|| first_half(&model), || second_half(&model))
    } else {
        (first_half(&model), second_half(&model))
    };
    // The order is the sequential one, whichever thread ran a check.
    out.append(&mut first);
    out.append(&mut second);
    out
}

/// From this many calls on, the checks run on two threads: the two halves below cost about the
/// same, and below this a second thread costs more than it saves.
const PARALLEL_CALLS: usize = 256;

/// Signatures, arguments, services, faults, mocks: the checks that read every call's arguments.
fn first_half(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    signature::check(model, &mut out);
    arguments::check(model, &mut out);
    services::check(model, &mut out);
    faults::check(model, &mut out);
    mocks::check(model, &mut out);
    out
}

/// Tests, placement, dialect, loads: the checks that follow the file's functions.
fn second_half(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    tests::check(model, &mut out);
    placement::check(model, &mut out);
    dialect::check(model, &mut out);
    loads::check(model, &mut out);
    out
}
