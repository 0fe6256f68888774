//! Lowering an OSpec file (reference `ospec-format.md` §5): its acceptance criteria become
//! targets, a preflight, stages of probes and unverifiable items; a `topology:` it names lowers
//! into the same plan.
//!
//! The parts: [`overrides`] merges `--phase`/`--env` into the acceptance criteria,
//! [`targets`] resolves base URLs, then [`preflight`], [`health`], [`endpoints`], [`flows`],
//! [`performance`] and [`commands`] make the probes of their stages, and [`unverifiable`]
//! lists what none of them checks. [`request`] reads the HTTP parts they share, [`context`]
//! holds what they share while lowering.

mod commands;
mod context;
mod endpoints;
mod flows;
mod health;
mod overrides;
mod performance;
mod preflight;
mod request;
pub mod secrets;
mod targets;
mod unverifiable;

use std::path::Path;

use ospecc_schema::plan::acceptance::{Acceptance, Probe, Stage};
use ospecc_schema::plan::topology::Service;
use ospecc_schema::plan::Plan;

use super::{Bundle, PlanInput};
use crate::diagnostics::Diagnostic;
use crate::syntax::yaml::{self, Node};
use context::Lowering;
use targets::Targets;

/// The stages, in order, with the stages each needs (those present in the plan): health
/// gates everything that talks to services; load runs last so it does not disturb the checks.
const STAGES: &[(&str, &[&str])] = &[
    ("health", &[]),
    ("endpoints", &["health"]),
    ("flows", &["health"]),
    ("performance", &["health", "endpoints", "flows"]),
    ("commands", &[]),
];

/// Checks the OSpec file (and the topology it names), then lowers both into `plan`.
pub(crate) fn lower_file(input: &PlanInput, bundle: &mut Bundle, plan: &mut Plan, diagnostics: &mut Vec<Diagnostic>) {
    let options = crate::ospec::CheckOptions { profile: input.options.profile, ..Default::default() };
    let check = crate::ospec::CheckInput { path: input.path, text: input.text, fs: input.fs, options: &options };
    diagnostics.extend(crate::ospec::check(&check));
    let parsed = yaml::parse(input.text);
    let Some(root) = parsed.documents.iter().find_map(|d| d.root.as_ref()) else { return };
    if let Some(topology) = root.field("topology").and_then(|t| t.as_str()).filter(|t| !t.trim().is_empty()) {
        let path = input.path.parent().unwrap_or(Path::new("")).join(topology.trim());
        // Unreadable: the cross-file check below reports it (XSP001).
        if let Ok(text) = input.fs.read_to_string(&path, input.options.limits.max_file_bytes as u64) {
            super::topology::lower_file(&path, &text, input, bundle, plan, diagnostics);
        }
        let cross = crate::crossfile::CrossInput {
            path: input.path,
            text: input.text,
            fs: input.fs,
            root: input.root,
            limits: input.options.limits,
        };
        diagnostics.extend(crate::crossfile::check_document(root, &cross));
    }
    plan.acceptance = Some(lower_acceptance(input, root, bundle, &plan.services, diagnostics));
}

/// The acceptance section of the plan.
fn lower_acceptance(
    input: &PlanInput,
    root: &Node,
    bundle: &mut Bundle,
    topology: &[Service],
    diagnostics: &mut Vec<Diagnostic>,
) -> Acceptance {
    let options = input.options;
    let merged = overrides::merge(root, options, diagnostics);
    // Secrets stay `${NAME}` references in the plan (docs/plan-ir.md): the runtime reads them.
    let mut secret_names = secrets::declared(root);
    secret_names.extend(options.secret_env.iter().cloned());
    let environment = secrets::public_environment(&options.environment, &secret_names);
    let targets = Targets::new(root, merged.env_url, options.base_url.as_deref(), &environment, topology);
    let mut cx = Lowering::new(options, input.path, input.fs, root, bundle, targets);
    let acceptance = &merged.acceptance;
    let preflight = preflight::lower(&mut cx);
    let health = health::lower(&mut cx, acceptance);
    let (endpoint_probes, endpoints) = endpoints::lower(&mut cx, acceptance);
    let flows = flows::lower(&mut cx, acceptance);
    let performance = performance::lower(&mut cx, acceptance, &endpoints);
    let commands = commands::lower(&mut cx, acceptance, performance.command_max_ms);
    unverifiable::lower(&mut cx, acceptance);
    let stages = stages(vec![health, endpoint_probes, flows, performance.probes, commands]);
    let Lowering { targets, diagnostics: found, unverifiable, .. } = cx;
    let (targets, resolving) = targets.finish();
    diagnostics.extend(resolving);
    diagnostics.extend(found);
    Acceptance {
        spec: bundle.path_of(&input.path.display().to_string()),
        id: root.field("id").and_then(Node::scalar_text),
        profile: options.profile.name().to_owned(),
        targets,
        preflight,
        stages,
        unverifiable,
    }
}

/// The non-empty stages, in [`STAGES`] order, each needing the present stages it depends on.
fn stages(probes: Vec<Vec<Probe>>) -> Vec<Stage> {
    let present: Vec<&str> =
        STAGES.iter().zip(&probes).filter(|(_, p)| !p.is_empty()).map(|((name, _), _)| *name).collect();
    STAGES
        .iter()
        .zip(probes)
        .filter(|(_, p)| !p.is_empty())
        .map(|(&(name, needs), probes)| Stage {
            name: name.to_owned(),
            needs: needs.iter().filter(|n| present.contains(n)).map(|n| (*n).to_owned()).collect(),
            probes,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanOptions;
    use crate::vfs::MemoryFs;

    /// Lowers `text` without the checks in front (as if they had let everything through), so
    /// shapes the schema rejects reach the lowering.
    fn lower(text: &str) -> (Acceptance, Vec<Diagnostic>) {
        let path = Path::new("/ws/bad.ospec.yml");
        let fs = MemoryFs::default();
        let options = PlanOptions::default();
        let input = PlanInput { path, text, fs: &fs, root: Path::new("/ws"), options: &options };
        let parsed = yaml::parse(text);
        let root = parsed.documents.iter().find_map(|d| d.root.as_ref()).unwrap();
        let mut bundle = Bundle::new(path, text);
        let mut diagnostics = Vec::new();
        let acceptance = lower_acceptance(&input, root, &mut bundle, &[], &mut diagnostics);
        (acceptance, diagnostics)
    }

    fn skips(acceptance: &Acceptance) -> Vec<(String, String)> {
        let probes = acceptance.preflight.iter().chain(acceptance.stages.iter().flat_map(|s| &s.probes));
        probes.map(|p| (p.id.clone(), p.skip.clone().unwrap_or_default())).collect()
    }

    const BAD: &str = "\
services:
  a: {ports: [\"http:80\"]}
  b: {ports: [70000], dependencies: [a, a, missing]}
  c: 42
  d: {base_url: 12}
secrets:
  required: [{}, 12, \"\", OK_NAME]
acceptance:
  service_health:
    - endpoint: /health
    - service: a
      expected_status: ok
    - 12
  http_endpoints:
    - path: 12
      method: FETCH
      status: [999]
    - \"just text\"
    - {path: /x, service: nobody, status: 200, response_schema: missing.json, body_file: nope.json, method: PUT}
    - {service: a}
  integration_tests:
    - name: empty
      steps: []
    - name: wrong
      steps: \"GET / → 200\"
    - {steps: [12, {action: click}, {path: /p}, {method: GET, path: nope}, {method: GET, path: /q, status: x}]}
    - 7
  ux_flows:
    - {name: n, steps: []}
    - 3
  commands: [42, {run: \"echo 'open\"}, {name: \"\"}, {exit_code: 1}]
  performance: [1, 2]
  inference_performance: {latency_p95_ms: 5}
";

    #[test]
    fn bad_input_becomes_skips_and_items_never_a_panic() {
        let (acceptance, _) = lower(BAD);
        let skips = skips(&acceptance);
        let reason = |id: &str| skips.iter().find(|(i, _)| i == id).map(|(_, r)| r.as_str()).unwrap_or("<none>");
        assert_eq!(reason("secret.OK_NAME"), "");
        assert_eq!(acceptance.preflight.len(), 1);
        assert!(reason("health.a").contains("no usable port for `a`"), "{skips:#?}");
        assert!(reason("health.unknown").starts_with("ambiguous service"), "{skips:#?}");
        assert!(reason("endpoint.GET.12").contains("does not start with `/`"), "{skips:#?}");
        assert!(reason("endpoint.PUT.nobody:/x").contains("unknown service `nobody`"), "{skips:#?}");
        assert!(reason("endpoint.GET.a:").contains("no `path`"), "{skips:#?}");
        assert_eq!(reason("flow.empty"), "no steps");
        assert_eq!(reason("flow.wrong"), "no steps");
        assert!(reason("flow.2").starts_with("no step can run"), "{skips:#?}");
        assert!(reason("command.echo 'open").contains("unbalanced"), "{skips:#?}");
        assert_eq!(reason("command."), "empty command line");
        let targets: Vec<&str> = acceptance.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(targets, ["a", "b", "c", "d"]);
        assert!(acceptance.unverifiable.iter().any(|u| u.path == "acceptance.inference_performance.latency_p95_ms"));
        assert!(acceptance.unverifiable.iter().any(|u| u.path == "acceptance.http_endpoints[1]"));
        assert!(acceptance.unverifiable.iter().any(|u| u.path == "acceptance.commands[0]"));
    }

    #[test]
    fn an_empty_or_odd_document_lowers_to_nothing() {
        for text in ["id: x", "acceptance: null", "acceptance: [1]", "acceptance: {http_endpoints: 5}", "services: []"]
        {
            let (acceptance, _) = lower(text);
            assert!(acceptance.stages.is_empty(), "{text}: {acceptance:#?}");
        }
    }
}
