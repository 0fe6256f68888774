//! A built plan checked before it runs (`ospecc run plan.json`): a plan is a file anyone can
//! edit, and it names the binaries to start and the code to call, so the runtime trusts only
//! what its own sources say.
//!
//! 1. Every bundled source's SHA-256 matches its text, and no path is bundled twice.
//! 2. The IR's invariants hold: unique service and test names, dependencies on services that
//!    exist (and not on themselves), probabilities in [0, 1], errno names that exist.
//! 3. The plan is what its sources lower to: the bundle is lowered again (in memory, with the
//!    plan's recorded options) and must give the same plan, so an edited launch entry, rule,
//!    monitor or callable is refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ospecc_schema::plan::topology::SyscallAction;
use ospecc_schema::plan::Plan;
use sha2::{Digest, Sha256};

use super::{build, PlanInput, PlanOptions};
use crate::diagnostics::Severity;
use crate::vfs::MemoryFs;

/// Where the bundle is laid out for the second lowering (any absolute path would do).
const BUNDLE_ROOT: &str = "/ospecc-bundle";

/// Every way `plan` disagrees with its sources or the IR's rules (empty: it may run).
/// `environment` is what `${VAR}` references resolve against, as when the plan was built.
pub fn verify(plan: &Plan, environment: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    let mut problems = sources(plan);
    problems.extend(invariants(plan));
    if problems.is_empty() {
        problems.extend(rederived(plan, environment));
    }
    problems
}

fn sources(plan: &Plan) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for source in &plan.sources {
        if !seen.insert(source.path.as_str()) {
            problems.push(format!("source `{}` is bundled twice", source.path));
        }
        let digest: String = Sha256::digest(source.text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        if digest != source.sha256 {
            problems.push(format!(
                "source `{}` does not match its sha256 (the text was edited after the plan was built)",
                source.path
            ));
        }
    }
    if !plan.sources.iter().any(|s| s.path == plan.root) {
        problems.push(format!("the root file `{}` is not in the source bundle", plan.root));
    }
    problems
}

fn invariants(plan: &Plan) -> Vec<String> {
    let mut problems = Vec::new();
    let names: BTreeSet<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
    problems.extend(duplicates("service", plan.services.iter().map(|s| s.name.as_str())));
    problems.extend(duplicates("test", plan.tests.iter().map(|t| t.name.as_str())));
    for service in &plan.services {
        for dependency in &service.depends_on {
            if dependency == &service.name {
                problems.push(format!("service `{}` depends on itself", service.name));
            } else if !names.contains(dependency.as_str()) {
                problems.push(format!("service `{}` depends on `{dependency}`, which is not a service", service.name));
            }
        }
    }
    let errnos = ospecc_schema::topology::catalog().vocabulary("errno");
    let known_errno = |name: &str| errnos.is_none_or(|v| v.values.iter().any(|e| e.value.eq_ignore_ascii_case(name)));
    for test in &plan.tests {
        for rule in &test.syscall_rules {
            if !(0.0..=1.0).contains(&rule.probability) {
                problems
                    .push(format!("test `{}`: rule `{}` has probability {}", test.name, rule.key, rule.probability));
            }
            if let SyscallAction::Deny { errno } = &rule.action {
                if !known_errno(errno) {
                    problems
                        .push(format!("test `{}`: rule `{}` denies with unknown errno `{errno}`", test.name, rule.key));
                }
            }
        }
        for rule in &test.proxy_rules {
            if !(0.0..=1.0).contains(&rule.probability) {
                problems.push(format!(
                    "test `{}`: a rule on `{}.{}` has probability {}",
                    test.name, rule.service, rule.interface, rule.probability
                ));
            }
        }
    }
    problems
}

fn duplicates<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut reported = BTreeSet::new();
    names
        .filter(|name| !seen.insert(*name) && reported.insert(*name))
        .map(|name| format!("two {what}s are named `{name}`"))
        .collect()
}

/// Lowers the bundle again and names the first parts that differ.
fn rederived(plan: &Plan, environment: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    let root = PathBuf::from(BUNDLE_ROOT);
    let mut fs = MemoryFs::default();
    for source in plan.sources.iter().filter(|s| !s.path.starts_with('@')) {
        fs = fs.with_file(root.join(&source.path), source.text.clone());
    }
    let Some(root_source) = plan.sources.iter().find(|s| s.path == plan.root) else { return Vec::new() };
    let options = PlanOptions {
        env: plan.options.env.clone(),
        phase: plan.options.phase.clone(),
        base_url: plan.options.base_url.clone(),
        allow_shell: plan.options.allow_shell,
        secret_env: references(plan),
        profile: Default::default(),
        limits: Default::default(),
        environment: environment.clone(),
    };
    let path = root.join(&plan.root);
    let input =
        PlanInput { path: &path, text: &root_source.text, fs: &fs, root: Path::new(BUNDLE_ROOT), options: &options };
    let built = build(&input);
    let Some(derived) = built.plan else {
        let first = built.diagnostics.iter().find(|d| d.severity == Severity::Error).map(|d| d.message.clone());
        return vec![format!(
            "the bundled sources no longer lower to a plan ({})",
            first.unwrap_or_else(|| "errors in the bundled files".to_owned())
        )];
    };
    differences(plan, &derived)
}

/// The `${NAME}` references the plan kept (secrets stay references; `--secret-env` names are
/// not recorded, so the references themselves say which they were).
fn references(plan: &Plan) -> Vec<String> {
    let mut shown = plan.clone();
    shown.sources.clear();
    let text = serde_json::to_string(&shown).unwrap_or_default();
    let mut names = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("${") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find('}') else { break };
        let name = &rest[..end];
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            names.insert(name.to_owned());
        }
    }
    names.into_iter().collect()
}

/// The parts of `given` that differ from what its sources lower to.
fn differences(given: &Plan, derived: &Plan) -> Vec<String> {
    let mut problems = Vec::new();
    let mut differ = |what: &str, same: bool| {
        if !same {
            problems.push(format!("{what} differ from what the bundled sources lower to"));
        }
    };
    differ("the services (launch entries, env, interfaces, healthchecks)", given.services == derived.services);
    differ("the tests (callables, fault rules, expectations)", given.tests == derived.tests);
    differ("the monitors", given.monitors == derived.monitors);
    differ("the acceptance probes", given.acceptance == derived.acceptance);
    differ("the root and topology", given.root == derived.root && given.topology == derived.topology);
    differ("the totals", given.totals == derived.totals);
    differ("the sources", given.sources == derived.sources);
    problems
}
