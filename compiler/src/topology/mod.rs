//! Topology files (`*.star`, Faultbox's Starlark dialect): parsing and sandboxed evaluation.
//!
//! [`check`] parses a file with the `starlark` crate and evaluates it in a hermetic sandbox:
//! the predeclared globals are the builtins of the catalog (`ospecc_schema::topology`), each
//! bound to one generic native function that records the call ([`values::Recorded`]);
//! `load()` reaches workspace files (through the injected [`FileSystem`]) and the embedded
//! stdlib; `load_file`/`load_yaml`/`load_json` read only below the spec's directory; nothing
//! reaches the network; evaluation is bounded in steps, wall time, memory and call depth.
//! [`evaluate`] returns the evaluated model (recorded calls, module globals) for the static
//! checks, which analyse function bodies against it.

pub mod attrs;
pub mod bodies;
pub(crate) mod checks;
mod eval;
pub mod eval_limits;
pub(crate) mod functions;
pub(crate) mod hash;
pub mod modules;
mod native;
pub use native::is_native;
pub(crate) mod quantities;
pub mod run;
mod session;
pub mod skeleton;
pub mod syntax;
mod threads;
pub mod values;

use std::path::Path;
use std::sync::Arc;

pub use attrs::Addresses;
pub use eval::{evaluate_module, imports_of, Limits, LoadFailure, ModuleRequest};
pub(crate) use eval::{syntax_error, DIALECT};
pub use modules::{LoadedModule, ModuleLoader};
pub use session::{normalize, MAX_READ_BYTES};
pub(crate) use threads::drop_later;
pub use values::{Arg, Recorded};

use crate::diagnostics::{self, Diagnostic};
use crate::vfs::FileSystem;

/// One topology file to check.
pub struct TopologyInput<'a> {
    /// The file's path: `load()` resolves relative to its directory, and `load_file` reads
    /// only below it.
    pub path: &'a Path,
    pub text: &'a str,
    pub fs: &'a dyn FileSystem,
    /// The workspace root: `load()` never reaches outside it.
    pub root: &'a Path,
    pub limits: Limits,
}

/// The evaluated module, for the static checks.
#[derive(Debug, Default)]
pub struct Evaluated {
    /// Every builtin call, in evaluation order (calls in loaded files included; each carries
    /// its file).
    pub calls: Vec<Arc<Recorded>>,
    /// The root module's globals (defined or loaded), in definition order.
    pub globals: Vec<Global>,
    /// The root file's syntax tree (absent when it does not parse).
    pub syntax: Option<syntax::Syntax>,
    /// The root file's name, as recorded calls name it.
    pub root: String,
    /// Whether evaluation ran to the end (if not, the model is partial).
    pub complete: bool,
    pub diagnostics: Vec<Diagnostic>,
    /// Every file read, root first, as (name as calls name it, text): Starlark modules in
    /// evaluation order, then data files of `load_file`/`load_yaml`/`load_json`.
    pub sources: Vec<(String, String)>,
}

/// One global of the root module.
#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    pub name: String,
    pub value: Arg,
}

impl Evaluated {
    /// Recorded calls in the root file whose builtin returns `ty`.
    fn of_type<'a>(&'a self, ty: &'a str, root: &'a str) -> impl Iterator<Item = &'a Arc<Recorded>> {
        self.calls.iter().filter(move |c| c.ty == ty && c.file == root)
    }

    /// Declared services (any file, including loaded ones).
    pub fn services(&self) -> impl Iterator<Item = &Arc<Recorded>> {
        self.calls.iter().filter(|c| c.ty == "service")
    }

    /// Declared interfaces (any file).
    pub fn interfaces(&self) -> impl Iterator<Item = &Arc<Recorded>> {
        self.calls.iter().filter(|c| c.ty == "interface")
    }

    /// Calls of `builtin` (any file).
    pub fn calls_of<'a>(&'a self, builtin: &'a str) -> impl Iterator<Item = &'a Arc<Recorded>> {
        self.calls.iter().filter(move |c| c.builtin == builtin)
    }

    /// Recorded values of type `ty` created in the file named `file`.
    pub fn values_in<'a>(&'a self, ty: &'a str, file: &'a str) -> impl Iterator<Item = &'a Arc<Recorded>> {
        self.of_type(ty, file)
    }

    /// Test names as Faultbox derives them (reference §4.1): global `test_*` functions,
    /// `scenario(fn)`, `fault_scenario("x")`, `fault_matrix` cells, `test("x")`; sorted.
    pub fn tests(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .globals
            .iter()
            .filter(|g| g.name.starts_with("test_") && matches!(g.value, Arg::Function(_)))
            .map(|g| g.name.clone())
            .collect();
        for call in &self.calls {
            match call.builtin.as_str() {
                "scenario" => {
                    if let Some(Arg::Function(f)) = call.positional.first() {
                        names.push(format!("test_{f}"));
                    }
                }
                "fault_scenario" | "test" => {
                    if let Some(name) = call.name() {
                        names.push(format!("test_{name}"));
                    }
                }
                "fault_matrix" => names.extend(matrix_cells(call)),
                _ => {}
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

/// `test_matrix_<scenario>_<fault>` for every non-excluded cell of a `fault_matrix` call.
fn matrix_cells(call: &Recorded) -> Vec<String> {
    let list = |name: &str| match call.named(name) {
        Some(Arg::List(items)) => items.clone(),
        _ => Vec::new(),
    };
    let fault_name = |a: &Arg| match a {
        Arg::Record(r) => r.name().map(str::to_owned),
        _ => None,
    };
    let scenario_name = |a: &Arg| match a {
        Arg::Function(f) => Some(f.name.clone()),
        _ => None,
    };
    let excluded: Vec<(Option<String>, Option<String>)> = list("exclude")
        .iter()
        .filter_map(|e| match e {
            Arg::Tuple(pair) if pair.len() == 2 => Some((scenario_name(&pair[0]), fault_name(&pair[1]))),
            _ => None,
        })
        .collect();
    let mut cells = Vec::new();
    for s in list("scenarios").iter().filter_map(scenario_name) {
        for f in list("faults").iter().filter_map(fault_name) {
            if !excluded.contains(&(Some(s.clone()), Some(f.clone()))) {
                cells.push(format!("test_matrix_{s}_{f}"));
            }
        }
    }
    cells
}

/// Every diagnostic for one topology file, in deterministic order.
pub fn check(input: &TopologyInput) -> Vec<Diagnostic> {
    on_analysis_stack(|| check_here(input, None))
}

/// [`check`] on the caller's thread, which must be an analysis thread
/// ([`on_analysis_stack`]), with loaded modules taken from `loader` when given.
pub fn check_here(input: &TopologyInput, loader: Option<&dyn ModuleLoader>) -> Vec<Diagnostic> {
    let mut evaluated = evaluate_with(input, Addresses::Values, loader);
    let mut diagnostics = run_checks(&evaluated, evaluated.syntax.as_ref(), input, checks::Part::Whole, None);
    diagnostics.append(&mut evaluated.diagnostics);
    // Nothing reads the model any more; freeing it takes about a tenth of a big file's check.
    threads::drop_later(evaluated);
    diagnostics::sort(&mut diagnostics);
    diagnostics.dedup();
    diagnostics
}

/// The load-time part of a file's static checks (see [`checks::Part`]): over an evaluation
/// with its own tree (in the database, the skeleton's), in the evaluation's offsets.
pub fn check_load_time(evaluated: &Evaluated, input: &TopologyInput) -> Vec<Diagnostic> {
    run_checks(evaluated, evaluated.syntax.as_ref(), input, checks::Part::LoadTime, None)
}

/// The call checks of one stubbed `def` read alone (`text`: the `def` statement, at offset 0),
/// with the load-time state of `evaluated` and the names the module binds: its findings in
/// the def's own offsets, and spans of load-time values in `evaluated`'s (the caller moves
/// `evaluated` past every offset of the def, to tell the two apart). `None` when the `def`
/// does not parse alone (the caller checks it with the file's tree).
pub(crate) fn check_stubbed_def(
    evaluated: &Evaluated,
    scope: &bodies::ModuleScope,
    text: &str,
    input: &TopologyInput,
) -> Option<Vec<Diagnostic>> {
    // No precheck: a `def` is stubbed only in a file that passed it, and a part of a text
    // nests no deeper, and has no longer word or statement, than the text.
    let ast = starlark::syntax::AstModule::parse(&evaluated.root, text.to_owned(), &eval::DIALECT).ok()?;
    let (_, tree, _, _) = starlark_syntax::syntax::module::AstModuleFields::into_parts(ast);
    let body = match &tree.node {
        starlark::syntax::ast::StmtP::Def(def) => syntax::span(def.body.span),
        _ => return None,
    };
    let syntax = syntax::Syntax::new(tree);
    let bodies = [body];
    Some(run_checks(evaluated, Some(&syntax), input, checks::Part::Calls(&bodies), Some(scope)))
}

/// The rest of [`check_here`] once the load-time part is done: the static checks of the
/// calls inside `bodies` (the stubbed bodies, file offsets, in order) and the checks that
/// follow functions across the file, over `evaluated` with the file's tree `syntax`; with the
/// evaluation's own diagnostics and the load-time part's findings (file offsets), in
/// deterministic order.
pub fn check_bodies(
    evaluated: &Evaluated,
    syntax: Option<&syntax::Syntax>,
    input: &TopologyInput,
    bodies: &[crate::span::Span],
    load_time: impl IntoIterator<Item = Diagnostic>,
) -> Vec<Diagnostic> {
    let mut diagnostics = run_checks(evaluated, syntax, input, checks::Part::Bodies(bodies), None);
    diagnostics.extend(load_time);
    diagnostics.extend(evaluated.diagnostics.iter().cloned());
    diagnostics::sort(&mut diagnostics);
    diagnostics.dedup();
    diagnostics
}

/// The static checks, contained: a defect in one check must not take the whole run down (or
/// hide the evaluation's own diagnostics), so a panic becomes a finding that asks for a report.
fn run_checks(
    evaluated: &Evaluated,
    syntax: Option<&syntax::Syntax>,
    input: &TopologyInput,
    part: checks::Part,
    scope: Option<&bodies::ModuleScope>,
) -> Vec<Diagnostic> {
    let files = input.path.parent().map(|spec_dir| checks::Files { fs: input.fs, spec_dir });
    let run = || checks::run(evaluated, syntax, files, part, scope);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(found) => found,
        Err(payload) if payload.is::<salsa::Cancelled>() => std::panic::resume_unwind(payload),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            vec![Diagnostic::warning(
                "TOP005",
                crate::span::Span::at(0),
                format!("the static checks of this file stopped early: internal error: {what}"),
            )
            .with_help("this is a defect in ospecc, not in your file; please report it with the file attached")]
        }
    }
}

/// Parses and evaluates one topology file in the sandbox.
pub fn evaluate(input: &TopologyInput) -> Evaluated {
    on_analysis_stack(|| evaluate_here(input, Addresses::Values))
}

/// [`evaluate`] on the caller's analysis thread, with loaded modules taken from `loader`
/// when given (addresses as `addresses` says).
pub fn evaluate_with(input: &TopologyInput, addresses: Addresses, loader: Option<&dyn ModuleLoader>) -> Evaluated {
    catching_evaluation_panics(input, || eval::evaluate_with(input, addresses, false, loader).evaluated)
}

/// Like [`evaluate`], but addresses (`svc.iface.addr`, ...) evaluate to markers that
/// [`attrs::address_parts`] splits back out of strings, so lowering can keep them as
/// references; and with the static checks' diagnostics, which a plan must not ignore.
pub fn evaluate_for_plan(input: &TopologyInput) -> Evaluated {
    on_analysis_stack(|| {
        let mut evaluated = evaluate_here(input, Addresses::Markers);
        let mut found = run_checks(&evaluated, evaluated.syntax.as_ref(), input, checks::Part::Whole, None);
        found.append(&mut evaluated.diagnostics);
        diagnostics::sort(&mut found);
        found.dedup();
        evaluated.diagnostics = found;
        evaluated
    })
}

/// The stack the parser, the evaluator and the checks run on. They all recurse on the syntax
/// tree, and a long expression (`1 + 1 + …` thousands of times) nests thousands deep: on the
/// 8 MiB main stack that aborts the process, which no diagnostic can report. The memory is
/// reserved, not committed, so a large bound costs nothing for ordinary files.
pub const ANALYSIS_STACK_BYTES: usize = 1 << 30;

thread_local! {
    /// Whether this thread is an analysis thread (its stack is [`ANALYSIS_STACK_BYTES`]).
    static ON_ANALYSIS_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Declares the current thread an analysis thread: the caller made it with a stack of
/// [`ANALYSIS_STACK_BYTES`] (a pool's worker threads, say), so work runs on it directly.
pub fn mark_analysis_thread() {
    ON_ANALYSIS_STACK.with(|on| on.set(true));
}

/// Whether this thread is an analysis thread (its stack is as deep as an evaluation needs).
pub fn is_analysis_thread() -> bool {
    ON_ANALYSIS_STACK.with(std::cell::Cell::get)
}

/// Runs `work` on an analysis thread: this one when it is one, else a new one.
pub fn on_analysis_stack<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if ON_ANALYSIS_STACK.with(std::cell::Cell::get) {
        return work();
    }
    let slot = std::sync::Mutex::new(Some(work));
    let take = || slot.lock().ok().and_then(|mut w| w.take());
    let spawned = std::thread::scope(|scope| {
        let thread = std::thread::Builder::new().name("topology".into()).stack_size(ANALYSIS_STACK_BYTES);
        let handle = thread
            .spawn_scoped(scope, || {
                mark_analysis_thread();
                take().map(|work| work())
            })
            .ok()?;
        match handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    match spawned {
        Some(value) => value,
        // No thread to be had (resource limits): run on the caller's stack instead.
        None => match take() {
            Some(work) => work(),
            None => unreachable!("the analysis ran neither on its thread nor here"),
        },
    }
}

fn evaluate_here(input: &TopologyInput, addresses: Addresses) -> Evaluated {
    catching_evaluation_panics(input, || eval::evaluate(input, addresses))
}

fn catching_evaluation_panics(input: &TopologyInput, evaluate: impl FnOnce() -> Evaluated) -> Evaluated {
    // starlark-rust bounds memory only approximately and panics on single allocations above
    // 4 GiB (`"x" * n`, list doubling between two limit checks): a panic in the evaluator is
    // contained here and reported, so one file can never take the whole check down. A
    // cancellation (a newer revision of the database) is not a panic of the evaluator: it
    // goes on up to whoever asked.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(evaluate)) {
        Ok(evaluated) => evaluated,
        Err(payload) if payload.is::<salsa::Cancelled>() => std::panic::resume_unwind(payload),
        Err(_) => Evaluated {
            diagnostics: vec![Diagnostic::error(
                "TOP013",
                eval_limits::last_statement(&input.path.display().to_string()).unwrap_or(crate::span::Span::at(0)),
                "evaluation was aborted: it exceeded the evaluator's memory bounds",
            )
            .with_help("look for a huge list, string repetition or comprehension")],
            ..Evaluated::default()
        },
    }
}
