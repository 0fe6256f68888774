//! Run mode: evaluating a plan's bundle so that its functions can be called later, with the
//! builtins a test body calls (steps, assertions, faults, events) bound to a [`Runner`] the
//! runtime implements. Checking and running bind calls through the same catalog: every
//! builtin is the one generic native function of [`super::values`]; in run mode it asks the
//! runner first and falls back to recording the call as a value (so `deny("EIO")` is the same
//! record at run time as at load time). The compiler does no IO here either: the runner does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ospecc_schema::plan::SourceFile;
use ospecc_schema::topology::Builtin;
use starlark::environment::{FrozenModule, Module};
use starlark::eval::Evaluator;
use starlark::values::list::ListRef;
use starlark::values::{FrozenValue, ProvidesStaticType, Value};

use super::attrs::Addresses;
use super::values::Arg;
use super::{Evaluated, Limits, Recorded, TopologyInput};
use crate::diagnostics::{Diagnostic, Severity};
use crate::vfs::{relative_name, MemoryFs};

/// The arguments of a call, as Starlark values.
pub struct Args<'v> {
    pub positional: Vec<Value<'v>>,
    pub named: Vec<(String, Value<'v>)>,
}

impl<'v> Args<'v> {
    /// A keyword argument by name.
    pub fn named(&self, name: &str) -> Option<Value<'v>> {
        self.named.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The call as a record, as load time records calls: what the plan's lowering reads
    /// (`plan::topology::faults::scope_rules` makes a run-time `fault(...)` into rules).
    pub fn to_record(&self, builtin: &Builtin, file: &str) -> Recorded {
        Recorded {
            builtin: builtin.name.clone(),
            ty: builtin.returns.clone(),
            file: file.to_owned(),
            span: crate::span::Span::default(),
            positional: self.positional.iter().map(|v| Arg::from_value(*v, 0)).collect(),
            named: self.named.iter().map(|(k, v)| (k.clone(), Arg::from_value(*v, 0))).collect(),
        }
    }
}

/// What the builtins do while a test runs.
pub trait Runner {
    /// A builtin call. `None` leaves it to its load-time meaning: a recorded value (fault
    /// constructors, matchers, responses are values a test passes on).
    fn builtin<'v>(
        &self,
        builtin: &'static Builtin,
        args: &Args<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> Option<anyhow::Result<Value<'v>>>;

    /// A step method (`db.pg.query(sql=...)`) on the interface reference `svc.iface`.
    fn step<'v>(
        &self,
        interface: &Recorded,
        method: &str,
        args: &Args<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>>;
}

/// The evaluator's `extra` while a test runs.
#[derive(ProvidesStaticType)]
pub struct RunSession<'a> {
    pub runner: &'a dyn Runner,
}

/// The runner of the current evaluation, if it runs a test.
pub(crate) fn runner<'e>(eval: &Evaluator<'_, '_, 'e>) -> Option<&'e dyn Runner> {
    let extra = eval.extra?;
    extra.downcast_ref::<RunSession>().map(|s| s.runner)
}

/// A bundle evaluated for running: the model (as checking sees it) and the callables.
pub struct Loaded {
    pub evaluated: Evaluated,
    module: FrozenModule,
    callables: HashMap<String, FrozenValue>,
    /// The bundle path of the root file (callable ids of its globals start with it).
    root: String,
}

/// The directory the bundle is evaluated in: deep enough that every `../` of a bundle path
/// stays inside it. Nothing is read from the disk; the path only names files.
fn bundle_dir(sources: &[SourceFile]) -> PathBuf {
    let depth = sources.iter().map(|s| s.path.split('/').take_while(|p| *p == "..").count()).max().unwrap_or(0);
    let mut dir = PathBuf::from("/bundle");
    for _ in 0..depth {
        dir.push("_");
    }
    dir
}

/// Evaluates a plan's bundle (`sources`, with `root` its root file's bundle path).
pub fn load(root: &str, sources: &[SourceFile], limits: Limits) -> Result<Loaded, Vec<Diagnostic>> {
    let dir = bundle_dir(sources);
    let mut fs = MemoryFs::default();
    for source in sources.iter().filter(|s| !s.path.starts_with('@')) {
        fs = fs.with_file(crate::vfs::normalize(&dir.join(&source.path)), source.text.clone());
    }
    let path = dir.join(root);
    let Some(text) = sources.iter().find(|s| s.path == root).map(|s| s.text.as_str()) else {
        return Err(vec![Diagnostic::error("TOP010", crate::span::Span::at(0), format!("the bundle has no `{root}`"))]);
    };
    let input = TopologyInput { path: &path, text, fs: &fs, root: Path::new("/bundle"), limits };
    let kept = super::on_analysis_stack(|| super::eval::evaluate_keeping(&input, Addresses::Values, true));
    let errors: Vec<Diagnostic> =
        kept.evaluated.diagnostics.iter().filter(|d| d.severity == Severity::Error).cloned().collect();
    let Some(module) = kept.module.filter(|_| errors.is_empty()) else { return Err(errors) };
    // Callables are named by their file's bundle path, as the plan names them.
    let base = path.parent().unwrap_or(Path::new(""));
    let values: Vec<FrozenValue> = module
        .extra_value()
        .and_then(|v| ListRef::from_value(v.to_value()).map(|t| t.iter().filter_map(|x| x.unpack_frozen()).collect()))
        .unwrap_or_default();
    let callables = kept
        .captured
        .iter()
        .zip(values)
        .map(|((file, local), value)| (format!("{}#{local}", relative_name(base, file)), value))
        .collect();
    Ok(Loaded { evaluated: kept.evaluated, module, callables, root: root.to_owned() })
}

/// Bounds on one call into the bundle.
#[derive(Clone, Copy, Debug)]
pub struct CallLimits {
    pub deadline: Instant,
    pub max_call_depth: usize,
}

impl Loaded {
    /// The function a plan names by `id` (one passed to a builtin, or a function global of
    /// the root module, defined there or loaded).
    pub fn callable(&self, id: &str) -> Option<FrozenValue> {
        self.callables.get(id).copied()
    }

    /// The bundle path of the root file.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Runs `f` with an evaluator whose builtins dispatch to `runner`; evaluation stops
    /// (with an error) at the deadline.
    pub fn with_evaluator<R>(
        &self,
        runner: &dyn Runner,
        limits: CallLimits,
        f: impl FnOnce(&mut Evaluator<'_, '_, '_>) -> R,
    ) -> R {
        let session = RunSession { runner };
        Module::with_temp_heap(|module| {
            module.frozen_heap().add_reference(self.module.frozen_heap());
            let mut eval = Evaluator::new(&module);
            eval.extra = Some(&session);
            let _ = eval.set_max_callstack_size(limits.max_call_depth);
            let deadline = limits.deadline;
            eval.set_check_cancelled(Box::new(move || Instant::now() > deadline));
            f(&mut eval)
        })
    }
}
