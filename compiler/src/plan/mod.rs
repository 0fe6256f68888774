//! Lowering: from checked specs to the plan IR (`ospecc_schema::plan`, DESIGN.md §6).
//!
//! [`build`] takes one root file, a topology file (`*.star`) or an OSpec file (whose
//! `topology:`, if any, lowers into the same plan), refuses it when the checks find errors,
//! and otherwise lowers it: [`topology`] produces services, tests, fault rules and monitors,
//! [`ospec`] the acceptance probes, [`bundle`] the sources with their digests. [`render`]
//! turns a plan into text or Graphviz for people. Like every stage of the compiler, nothing
//! here does IO: files come through the injected [`FileSystem`].

pub mod bundle;
pub mod ospec;
pub mod render;
pub mod runnable;
pub mod topology;
pub mod verify;

use std::collections::BTreeMap;
use std::path::Path;

use ospecc_schema::plan::{Options, Plan, Totals, PLAN_VERSION};
use ospecc_schema::Profile;

use crate::diagnostics::{Diagnostic, Severity};
use crate::topology::Limits;
use crate::vfs::FileSystem;

pub use bundle::{Bundle, FileFindings};

/// The choices that shape a plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PlanOptions {
    /// `--env NAME`: merge `environments.NAME` (its `url` and overrides).
    pub env: Option<String>,
    /// `--phase NAME`: merge `phases.NAME` overrides.
    pub phase: Option<String>,
    /// `--base-url URL`: overrides every other base URL source.
    pub base_url: Option<String>,
    /// `--allow-shell`: command probes run instead of being skipped.
    pub allow_shell: bool,
    pub profile: Profile,
    pub limits: Limits,
    /// The process environment, for `${VAR}` in URLs (passed in: the compiler reads none).
    pub environment: BTreeMap<String, String>,
    /// `--secret-env NAME`: variables that are secret besides `secrets.required` and the name
    /// heuristic; their values never enter the plan.
    pub secret_env: Vec<String>,
}

/// One file to build a plan from.
pub struct PlanInput<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub fs: &'a dyn FileSystem,
    /// The workspace root that topology `load()`s are confined to.
    pub root: &'a Path,
    pub options: &'a PlanOptions,
}

/// A plan, or why there is none; with every diagnostic found on the way (warnings included).
pub struct Built {
    pub plan: Option<Plan>,
    /// The root file's diagnostics.
    pub diagnostics: Vec<Diagnostic>,
    /// Diagnostics of the other files (the topology an OSpec names).
    pub others: Vec<FileFindings>,
}

impl Built {
    /// Whether any file has an error (then there is no plan).
    pub fn has_errors(&self) -> bool {
        let error = |d: &Diagnostic| d.severity == Severity::Error;
        self.diagnostics.iter().any(error) || self.others.iter().any(|f| f.diagnostics.iter().any(error))
    }
}

/// Checks and lowers one file. Errors in the input (or in lowering) leave `plan` empty.
pub fn build(input: &PlanInput) -> Built {
    let mut bundle = Bundle::new(input.path, input.text);
    let mut diagnostics = Vec::new();
    let mut plan = Plan {
        version: PLAN_VERSION,
        root: bundle.root_name().to_owned(),
        topology: None,
        options: Options {
            env: input.options.env.clone(),
            phase: input.options.phase.clone(),
            base_url: input.options.base_url.clone(),
            allow_shell: input.options.allow_shell,
        },
        services: Vec::new(),
        tests: Vec::new(),
        monitors: Vec::new(),
        acceptance: None,
        totals: Totals::default(),
        sources: Vec::new(),
    };
    if is_topology(input.path) {
        topology::lower_file(input.path, input.text, input, &mut bundle, &mut plan, &mut diagnostics);
    } else {
        ospec::lower_file(input, &mut bundle, &mut plan, &mut diagnostics);
    }
    crate::diagnostics::sort(&mut diagnostics);
    diagnostics.dedup();
    let mut built = Built { plan: None, diagnostics, others: bundle.findings().to_vec() };
    if built.has_errors() {
        return built;
    }
    plan.totals = totals(&plan);
    plan.sources = bundle.into_sources();
    built.plan = Some(plan);
    built
}

/// Whether a path is a topology file (everything else is read as OSpec).
pub fn is_topology(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "star")
}

fn totals(plan: &Plan) -> Totals {
    let count = |n: usize| n as u64;
    let mut totals = Totals {
        services: count(plan.services.len()),
        tests: count(plan.tests.len()),
        matrix_cells: count(plan.tests.iter().filter(|t| t.matrix.is_some()).count()),
        syscall_rules: count(plan.tests.iter().map(|t| t.syscall_rules.len()).sum()),
        proxy_rules: count(plan.tests.iter().map(|t| t.proxy_rules.len()).sum()),
        monitors: count(plan.monitors.len()),
        ..Totals::default()
    };
    let test_instances: u64 = plan.tests.iter().map(|t| t.instances).fold(0, u64::saturating_add);
    let mut probe_instances = 0;
    if let Some(acceptance) = &plan.acceptance {
        let probes = acceptance.preflight.iter().chain(acceptance.stages.iter().flat_map(|s| &s.probes));
        for probe in probes {
            totals.probes += 1;
            match probe.skip {
                Some(_) => totals.skipped_probes += 1,
                None => probe_instances += 1,
            }
        }
        totals.unverifiable = count(acceptance.unverifiable.len());
    }
    totals.instances = test_instances.saturating_add(probe_instances);
    totals
}
