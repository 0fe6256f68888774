//! Lowering a topology file (reference `topology-language.md` §4–§5): the evaluated model
//! becomes services in start order ([`services`]), tests from every source with their
//! resolved fault rules ([`tests`], [`faults`]), monitors ([`monitors`]), the intercept set of
//! each service computed from the lowered rules and every fault site ([`intercept`]), and
//! instance counts ([`instances`]).

pub mod faults;
mod instances;
mod intercept;
mod monitors;
mod services;
mod tests;

use std::path::Path;
use std::sync::Arc;

use ospecc_schema::plan::topology::Callable;
use ospecc_schema::plan::{Origin, Plan};

use super::{Bundle, PlanInput};
use crate::diagnostics::{Diagnostic, Severity};
use crate::topology::bodies::{self, BodyCall};
use crate::topology::functions::Functions;
use crate::topology::values::Function;
use crate::topology::{self, Evaluated, Recorded, TopologyInput};

/// Evaluates the topology file at `path`, checks it, and lowers it into `plan`.
pub(crate) fn lower_file(
    path: &Path,
    text: &str,
    input: &PlanInput,
    bundle: &mut Bundle,
    plan: &mut Plan,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let topology_input = TopologyInput { path, text, fs: input.fs, root: input.root, limits: input.options.limits };
    let evaluated = topology::evaluate_for_plan(&topology_input);
    for (name, source) in &evaluated.sources {
        bundle.add(name, source);
    }
    plan.topology = Some(bundle.path_of(&path.display().to_string()));
    let mut found = evaluated.diagnostics.clone();
    if evaluated.complete && !found.iter().any(|d| d.severity == Severity::Error) {
        let cx = Cx::new(&evaluated, bundle);
        let assumptions = faults::Assumptions::of(&cx);
        let monitors = monitors::lower(&cx);
        plan.services = services::lower(&cx);
        plan.tests = tests::lower(&cx, &assumptions, &monitors);
        plan.monitors = monitors.into_plan();
        intercept::compute(&cx, &assumptions, &mut plan.services, &plan.tests, &mut found);
    }
    // A root topology's diagnostics are the plan's own; an OSpec's topology has its own file.
    if input.path == path {
        diagnostics.append(&mut found);
    } else {
        bundle.report(path, text, found);
    }
}

/// What every lowering step reads: the evaluated model, the functions of the root file, the
/// calls in function bodies, and the bundle for origins and callable ids.
pub(crate) struct Cx<'a> {
    pub evaluated: &'a Evaluated,
    pub bundle: &'a Bundle,
    pub functions: Option<Functions>,
    pub body_calls: Vec<BodyCall>,
}

impl<'a> Cx<'a> {
    fn new(evaluated: &'a Evaluated, bundle: &'a Bundle) -> Cx<'a> {
        let (functions, body_calls) = match &evaluated.syntax {
            Some(syntax) => {
                (Some(Functions::new(&syntax.tree)), bodies::analyse(syntax, &evaluated.globals, &evaluated.root).calls)
            }
            None => (None, Vec::new()),
        };
        Cx { evaluated, bundle, functions, body_calls }
    }

    /// Where a recorded call is.
    pub fn origin(&self, record: &Recorded) -> Origin {
        self.bundle.origin(&record.file, record.span)
    }

    /// Where a span of the root file is.
    pub fn root_origin(&self, span: crate::span::Span) -> Origin {
        self.bundle.origin(&self.evaluated.root, span)
    }

    /// The plan's name for a function value.
    pub fn callable(&self, function: &Function) -> Callable {
        let file = if function.file.is_empty() { self.evaluated.root.as_str() } else { function.file.as_str() };
        Callable { id: format!("{}#{}", self.bundle.path_of(file), function.local_id()), name: function.name.clone() }
    }

    /// Recorded calls of `builtin`, any file, in evaluation order.
    pub fn calls_of<'s>(&'s self, builtin: &'s str) -> impl Iterator<Item = &'s Arc<Recorded>> + 's {
        self.evaluated.calls_of(builtin)
    }
}
