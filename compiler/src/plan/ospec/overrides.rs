//! `--phase NAME` and `--env NAME`: the acceptance criteria they add or override, merged
//! over the spec's own `acceptance`, and the base URL an environment gives.
//!
//! Phases apply cumulatively: `--phase NAME` merges the phases NAME depends on (through
//! `depends_on`, transitively, first) and then NAME itself; when no phase declares
//! `depends_on`, the phases written before NAME count as its predecessors. `--env NAME` merges
//! the environments NAME `extends` first, then NAME (so the environment, applied last, wins
//! over a phase). An environment may also live under `deployment.environments` (a map or a
//! list of `{name, url}`), which gives only a URL. Merging: mappings merge key by key,
//! sequences append (a phase or environment adds criteria), anything else is replaced.

use std::collections::BTreeSet;

use super::targets::UrlSource;
use crate::diagnostics::Diagnostic;
use crate::plan::PlanOptions;
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::syntax::yaml::{Node, Style, Value};

/// The acceptance criteria in force, and the environment's base URL.
pub(crate) struct Merged {
    pub acceptance: Node,
    pub env_url: Option<UrlSource>,
}

/// Keys of an environment holding its URL, in order of preference.
const URL_KEYS: &[&str] = &["url", "base_url"];

/// Merges the `--phase` and `--env` overrides; unknown names are errors.
pub(crate) fn merge(root: &Node, options: &PlanOptions, out: &mut Vec<Diagnostic>) -> Merged {
    let mut acceptance = match root.field("acceptance") {
        Some(node) if node.as_map().is_some() => node.clone(),
        Some(node) => empty_map(node.span),
        None => empty_map(Span::at(0)),
    };
    if let Some(phase) = &options.phase {
        match phase_layers(root, phase) {
            Some(layers) => layers.iter().for_each(|layer| merge_acceptance(&mut acceptance, layer)),
            None => out.push(unknown(root, "phase", phase, "PLN101", &["phases"])),
        }
    }
    let mut env_url = None;
    if let Some(env) = &options.env {
        match environment_layers(root, env) {
            Some(layers) => {
                for (name, layer, group) in &layers {
                    merge_acceptance(&mut acceptance, layer);
                    env_url = url_of(layer, &format!("{group}.{name}")).or(env_url);
                }
            }
            None => out.push(unknown(root, "environment", env, "PLN100", &["environments", "deployment"])),
        }
    }
    Merged { acceptance, env_url }
}

fn empty_map(span: Span) -> Node {
    Node { span, value: Value::Map(Vec::new()), style: Style::Collection, tag: None }
}

fn merge_acceptance(acceptance: &mut Node, layer: &Node) {
    if let Some(overrides) = layer.field("acceptance").filter(|a| a.as_map().is_some()) {
        merge_into(acceptance, overrides);
    }
}

/// Merges `overlay` into `base` (maps by key, sequences appended, scalars replaced).
pub(crate) fn merge_into(base: &mut Node, overlay: &Node) {
    match (&mut base.value, &overlay.value) {
        (Value::Map(entries), Value::Map(more)) => {
            for entry in more {
                let key = entry.key_text();
                match entries.iter_mut().find(|e| e.key_text() == key) {
                    Some(existing) => merge_into(&mut existing.value, &entry.value),
                    None => entries.push(entry.clone()),
                }
            }
        }
        (Value::Seq(items), Value::Seq(more)) => items.extend(more.iter().cloned()),
        _ => *base = overlay.clone(),
    }
}

/// The phases `--phase name` applies, predecessors first; `None` when there is no such phase.
fn phase_layers<'a>(root: &'a Node, name: &str) -> Option<Vec<&'a Node>> {
    let phases = root.field("phases")?.as_map()?;
    phases.iter().find(|e| e.key_text() == name)?;
    let chained = phases.iter().any(|e| e.value.field("depends_on").is_some());
    if !chained {
        let upto = phases.iter().position(|e| e.key_text() == name)?;
        return Some(phases[..=upto].iter().map(|e| &e.value).collect());
    }
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    visit_phase(phases, name, &mut seen, &mut order);
    Some(order)
}

/// Depth-first, dependencies first; `seen` also stops cycles (the checks report them).
fn visit_phase<'a>(
    phases: &'a [crate::syntax::yaml::Entry],
    name: &str,
    seen: &mut BTreeSet<String>,
    order: &mut Vec<&'a Node>,
) {
    if !seen.insert(name.to_owned()) {
        return;
    }
    let Some(phase) = phases.iter().find(|e| e.key_text() == name) else { return };
    let deps = phase.value.field("depends_on").and_then(Node::as_seq).unwrap_or_default();
    for dep in deps.iter().filter_map(Node::as_str) {
        visit_phase(phases, dep, seen, order);
    }
    order.push(&phase.value);
}

/// `(name, environment, group)` for `--env name`, bases first (`extends`); `None` when there
/// is no such environment.
fn environment_layers<'a>(root: &'a Node, name: &str) -> Option<Vec<(String, &'a Node, &'static str)>> {
    let declared = root.field("environments").and_then(Node::as_map).unwrap_or_default();
    if declared.iter().any(|e| e.key_text() == name) {
        let mut chain = Vec::new();
        let mut seen = BTreeSet::new();
        let mut next = Some(name.to_owned());
        while let Some(current) = next.take() {
            if !seen.insert(current.clone()) {
                break;
            }
            let Some(entry) = declared.iter().find(|e| e.key_text() == current) else { break };
            next = entry.value.field("extends").and_then(Node::as_str).map(str::to_owned);
            chain.push((current, &entry.value, "environments"));
        }
        chain.reverse();
        return Some(chain);
    }
    deployment_environments(root)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(n, node)| vec![(n, node, "deployment.environments")])
}

/// `deployment.environments` as (name, node): a map, or a list of objects with `name`.
fn deployment_environments(root: &Node) -> Vec<(String, &Node)> {
    let Some(group) = root.field("deployment").and_then(|d| d.field("environments")) else { return Vec::new() };
    match &group.value {
        Value::Map(entries) => entries.iter().map(|e| (e.key_text(), &e.value)).collect(),
        Value::Seq(items) => {
            items.iter().filter_map(|item| Some((item.field("name")?.as_str()?.to_owned(), item))).collect()
        }
        _ => Vec::new(),
    }
}

fn url_of(layer: &Node, path: &str) -> Option<UrlSource> {
    URL_KEYS.iter().find_map(|key| {
        let node = layer.field(key)?;
        let text = node.as_str()?.to_owned();
        Some(UrlSource { text, span: node.span, source: format!("{path}.{key}") })
    })
}

/// The error for `--env`/`--phase` naming nothing the spec declares, with a did-you-mean.
fn unknown(root: &Node, what: &str, name: &str, code: &'static str, anchors: &[&str]) -> Diagnostic {
    let known: Vec<String> = match what {
        "phase" => {
            root.field("phases").and_then(Node::as_map).unwrap_or_default().iter().map(|e| e.key_text()).collect()
        }
        _ => {
            let declared = root.field("environments").and_then(Node::as_map).unwrap_or_default();
            let mut names: Vec<String> = declared.iter().map(|e| e.key_text()).collect();
            names.extend(deployment_environments(root).into_iter().map(|(n, _)| n));
            names
        }
    };
    let span = anchors.iter().find_map(|a| root.get(a)).map_or(Span::at(0), |e| e.key.span);
    let flag = if what == "phase" { "--phase" } else { "--env" };
    let diagnostic = Diagnostic::error(code, span, format!("{flag} `{name}`: this spec declares no {what} `{name}`"));
    match did_you_mean(name, known.iter().map(String::as_str)) {
        Some(close) => diagnostic.with_help(format!("did you mean `{close}`?")),
        None if known.is_empty() => diagnostic.with_help(format!("this spec declares no {what}s")),
        None => diagnostic.with_help(format!("declared {what}s: {}", known.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::yaml;

    const SPEC: &str = "\
acceptance:
  http_endpoints: [{path: /a}]
  performance: {response_time_ms: 100, throughput_rps: 5}
environments:
  staging:
    url: https://staging.example.com
    acceptance:
      performance: {response_time_ms: 500}
  prod:
    extends: staging
    acceptance:
      http_endpoints: [{path: /p}]
phases:
  mvp:
    acceptance: {http_endpoints: [{path: /m}]}
  later:
    depends_on: [mvp]
    acceptance: {http_endpoints: [{path: /l}]}
  other:
    acceptance: {http_endpoints: [{path: /o}]}
deployment:
  environments:
    - {name: blue, url: https://blue.example.com}
";

    fn root() -> Node {
        yaml::parse(SPEC).documents.into_iter().next().and_then(|d| d.root).unwrap()
    }

    fn paths(acceptance: &Node) -> Vec<String> {
        let endpoints = acceptance.field("http_endpoints").and_then(Node::as_seq).unwrap_or_default();
        endpoints.iter().filter_map(|e| e.field("path")?.scalar_text()).collect()
    }

    fn options(env: Option<&str>, phase: Option<&str>) -> PlanOptions {
        PlanOptions { env: env.map(str::to_owned), phase: phase.map(str::to_owned), ..PlanOptions::default() }
    }

    #[test]
    fn environments_extend_and_override() {
        let mut out = Vec::new();
        let merged = merge(&root(), &options(Some("prod"), Some("later")), &mut out);
        assert!(out.is_empty());
        assert_eq!(paths(&merged.acceptance), ["/a", "/m", "/l", "/p"]);
        let performance = merged.acceptance.field("performance").unwrap();
        assert_eq!(performance.field("response_time_ms").unwrap().scalar_text().unwrap(), "500");
        assert_eq!(performance.field("throughput_rps").unwrap().scalar_text().unwrap(), "5");
        let url = merged.env_url.unwrap();
        assert_eq!(
            (url.text.as_str(), url.source.as_str()),
            ("https://staging.example.com", "environments.staging.url")
        );
        let merged = merge(&root(), &options(Some("blue"), None), &mut out);
        assert_eq!(merged.env_url.unwrap().source, "deployment.environments.blue.url");
    }

    #[test]
    fn unknown_names_are_errors_with_suggestions() {
        let mut out = Vec::new();
        let merged = merge(&root(), &options(Some("stagin"), Some("mpv")), &mut out);
        assert!(merged.env_url.is_none());
        let codes: Vec<_> = out.iter().map(|d| (d.code, d.help.clone().unwrap_or_default())).collect();
        assert_eq!(codes[0], ("PLN101", "did you mean `mvp`?".to_owned()));
        assert_eq!(codes[1], ("PLN100", "did you mean `staging`?".to_owned()));
        let bare = yaml::parse("id: x").documents.into_iter().next().and_then(|d| d.root).unwrap();
        let mut out = Vec::new();
        merge(&bare, &options(Some("qa"), None), &mut out);
        assert_eq!(out[0].help.as_deref(), Some("this spec declares no environments"));
    }
}
