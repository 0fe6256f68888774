//! `init`'s model as files: the topology (`<id>.star`: services in start order, a happy-path
//! test per public interface) and the OSpec file that names it (`<id>.ospec.yml`). The layout
//! follows the repository's examples: keyword arguments as `key = value`, one per line, with
//! trailing commas.

use std::fmt::Write;

use super::names::Variables;
use super::{protocols, GeneratedFile, Health, Healthcheck, Launch, Part, Project, Service};
use crate::syntax::Language;

const INDENT: &str = "    ";
/// How long an acceptance health probe waits for a service to come up.
const HEALTH_WAIT_MS: u64 = 120_000;

pub(super) fn files(project: &Project) -> Vec<GeneratedFile> {
    let star = format!("{}.star", project.id);
    vec![
        GeneratedFile { name: star.clone(), text: formatted(Language::Topology, topology(project)) },
        GeneratedFile {
            name: format!("{}.ospec.yml", project.id),
            text: formatted(Language::OSpec, ospec(project, &star)),
        },
    ]
}

/// The text in `ospecc fmt`'s layout (as written when the formatter leaves it as it is), so a
/// generated file passes `ospecc fmt --check` from the start.
fn formatted(language: Language, text: String) -> String {
    crate::fmt::format(language, &text, &crate::fmt::Options::default()).text.unwrap_or(text)
}

/// A Starlark string literal.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn topology(project: &Project) -> String {
    let mut out = String::new();
    let star = format!("{}.star", project.id);
    let _ = writeln!(out, "# {star}: the topology `ospecc {}` generated.", project.origin);
    out.push_str("#\n");
    let _ = writeln!(out, "# Check it:       ospecc check {star}");
    let _ = writeln!(out, "# Fault coverage: ospecc plan --coverage --suggest {star}");
    let _ = writeln!(out, "# Run it:         ospecc run {star}");
    if !project.skipped.is_empty() {
        out.push_str("#\n# Left out:\n");
        for skipped in &project.skipped {
            let _ = writeln!(out, "#   {skipped}");
        }
    }
    for service in &project.services {
        out.push('\n');
        declaration(&mut out, service, project);
    }
    tests(&mut out, project);
    out
}

fn var_of<'p>(project: &'p Project, name: &'p str) -> &'p str {
    project.services.iter().find(|s| s.name == name).map_or(name, |s| s.var.as_str())
}

fn declaration(out: &mut String, service: &Service, project: &Project) {
    for comment in &service.comments {
        let _ = writeln!(out, "# {comment}");
    }
    let _ = write!(out, "{} = service({}", service.var, string(&service.name));
    if let Launch::Binary(path) = &service.launch {
        let _ = write!(out, ", {}", string(path));
    }
    out.push_str(",\n");
    for interface in &service.interfaces {
        let _ = writeln!(
            out,
            "{INDENT}interface({}, {}, {}),",
            string(&interface.name),
            string(&interface.protocol),
            interface.port
        );
    }
    match &service.launch {
        Launch::Image(image) => {
            let _ = writeln!(out, "{INDENT}image = {},", string(image));
        }
        Launch::Build(context) => {
            let _ = writeln!(out, "{INDENT}build = {},", string(context));
        }
        Launch::Binary(_) => {}
    }
    if !service.args.is_empty() {
        let args: Vec<String> = service.args.iter().map(|a| string(a)).collect();
        let _ = writeln!(out, "{INDENT}args = [{}],", args.join(", "));
    }
    if !service.ports.is_empty() {
        let ports: Vec<String> = service.ports.iter().map(|(host, container)| format!("{host}: {container}")).collect();
        let _ = writeln!(out, "{INDENT}ports = {{{}}},", ports.join(", "));
    }
    if !service.env.is_empty() {
        let _ = writeln!(out, "{INDENT}env = {{");
        for variable in &service.env {
            let value = env_value(&variable.parts, project);
            let _ = writeln!(out, "{INDENT}{INDENT}{}: {value},", string(&variable.name));
        }
        let _ = writeln!(out, "{INDENT}}},");
    }
    if !service.depends_on.is_empty() {
        let vars: Vec<&str> = service.depends_on.iter().map(|d| var_of(project, d)).collect();
        let _ = writeln!(out, "{INDENT}depends_on = [{}],", vars.join(", "));
    }
    if let Some(healthcheck) = &service.healthcheck {
        if let Some(original) = &healthcheck.original {
            let _ = writeln!(out, "{INDENT}# compose healthcheck: {}", one_line(original));
        }
        let _ = writeln!(out, "{INDENT}healthcheck = {},", health(healthcheck));
    }
    out.push_str(")\n");
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An environment value: text and references joined with `+`.
fn env_value(parts: &[Part], project: &Project) -> String {
    let rendered: Vec<String> = parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => string(text),
            Part::Ref { service, interface, attribute } => {
                format!("{}.{interface}.{attribute}", var_of(project, service))
            }
        })
        .collect();
    if rendered.is_empty() {
        "\"\"".to_owned()
    } else {
        rendered.join(" + ")
    }
}

fn health(healthcheck: &Healthcheck) -> String {
    let timeout = healthcheck.timeout.as_deref().map(|t| format!("timeout = {}", string(t)));
    match &healthcheck.kind {
        Health::Ready => format!("ready({})", timeout.unwrap_or_default()),
        Health::Tcp { port } => with_timeout(format!("tcp({}", string(&format!("localhost:{port}"))), timeout),
        Health::Http { port, path } => {
            with_timeout(format!("http({}", string(&format!("localhost:{port}{path}"))), timeout)
        }
    }
}

fn with_timeout(call: String, timeout: Option<String>) -> String {
    match timeout {
        Some(timeout) => format!("{call}, {timeout})"),
        None => format!("{call})"),
    }
}

/// One happy-path test per public interface whose protocol has a step client; when none has,
/// one per interface that has; when no interface has, a start-up test (the runtime runs a
/// test only after every healthcheck passed, so the topology coming up is what it checks,
/// with one assertion per service that it started).
fn tests(out: &mut String, project: &Project) {
    let mut names = Variables::default();
    for service in &project.services {
        names.reserve(&service.var);
    }
    let steppable = |public: bool| -> Vec<(&Service, &super::Interface, &protocols::Step)> {
        let interfaces = project.services.iter().flat_map(|s| s.interfaces.iter().map(move |i| (s, i)));
        interfaces
            .filter(|(_, i)| i.public || !public)
            .filter_map(|(s, i)| Some((s, i, protocols::step(&i.protocol)?)))
            .collect()
    };
    let (cases, heading) = match steppable(true) {
        cases if !cases.is_empty() => (cases, "one test per published interface"),
        _ => (steppable(false), "one test per interface (none is published)"),
    };
    if cases.is_empty() {
        let name = names.claim("test_topology_starts");
        let services: Vec<String> = project.services.iter().map(|s| string(&s.name)).collect();
        let _ = write!(
            out,
            "\n# No interface speaks a protocol `ospecc run` has a step client for, so this test checks\n\
             # that the topology comes up (a test body runs once every healthcheck passed). Add steps\n\
             # (`svc.iface.method(...)`) and assertions.\n\n\
             def {name}():\n\
             {INDENT}for name in [{}]:\n\
             {INDENT}{INDENT}assert_eventually(where = lambda e: e.type == \"service_started\" and e.service == name)\n",
            services.join(", ")
        );
        return;
    }
    let _ = writeln!(out, "\n# Happy paths: {heading}. Each fault test is a variation of one.");
    for (service, interface, step) in cases {
        let name = names.claim(&format!("test_{}_{}", service.var, interface.name));
        let _ = write!(
            out,
            "\ndef {name}():\n{INDENT}resp = {}.{}.{}\n{INDENT}assert_true({}, {})\n",
            service.var,
            interface.name,
            step.call,
            step.check,
            string(&format!("{} answers on {}", service.name, interface.name)),
        );
    }
}

/// The OSpec file: the project's identity, the topology, and acceptance criteria from the
/// public HTTP interfaces (their health paths when the source names them).
fn ospec(project: &Project, star: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {}.ospec.yml: generated by `ospecc {}`; the services run from {star}.",
        project.id, project.origin
    );
    out.push_str("ospec_version: \"1.0.0\"\n");
    let _ = writeln!(out, "id: {}", project.id);
    let _ = writeln!(out, "name: {}", yaml_string(&title(&project.id)));
    let _ = writeln!(out, "description: {}", yaml_string(&description(project)));
    let http = public_http(project);
    let _ = writeln!(out, "outcome_type: {}", if http.is_empty() { "infrastructure" } else { "api" });
    let _ = writeln!(out, "topology: {star}");
    out.push_str("\nacceptance:\n");
    if http.is_empty() {
        out.push_str("  ux_flows:\n    - name: happy paths\n      steps:\n");
        let _ = writeln!(out, "        - {}", yaml_string(&format!("every test of {star} passes (ospecc run {star})")));
        return out;
    }
    out.push_str("  service_health:\n");
    for (service, path, known) in http {
        let _ = writeln!(out, "    - service: {}", yaml_string(&service.name));
        let _ = writeln!(out, "      endpoint: {}", yaml_string(&path));
        if known {
            out.push_str("      expected_status: \"2xx\"\n");
        } else {
            out.push_str("      # The path the service answers 200 on (its health endpoint, if it has one).\n");
        }
        let _ = writeln!(out, "      timeout_ms: {HEALTH_WAIT_MS}");
    }
    out
}

/// Services with a public HTTP interface and a host port to reach, with the health path
/// (and whether the source named it).
fn public_http(project: &Project) -> Vec<(&Service, String, bool)> {
    project
        .services
        .iter()
        .filter(|s| s.interfaces.iter().any(|i| i.public && matches!(i.protocol.as_str(), "http" | "http2")))
        .map(|service| match &service.healthcheck {
            Some(Healthcheck { kind: Health::Http { path, .. }, .. }) => (service, path.clone(), true),
            _ => (service, "/".to_owned(), false),
        })
        .collect()
}

fn title(id: &str) -> String {
    let words: Vec<String> = id
        .split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    let title = words.join(" ");
    // OSpec names are 3 to 100 characters.
    let title = if title.chars().count() < 3 { format!("{title} system") } else { title };
    title.chars().take(100).collect()
}

fn description(project: &Project) -> String {
    let names: Vec<&str> = project.services.iter().map(|s| s.name.as_str()).collect();
    let services = match names.len() {
        1 => "service".to_owned(),
        n => format!("{n} services"),
    };
    let text = format!(
        "The {services} of {} ({}), as their topology starts them; generated by ospecc init.",
        project.id,
        names.join(", ")
    );
    if text.chars().count() <= 500 {
        return text;
    }
    let cut: String = text.chars().take(496).collect();
    format!("{cut}...")
}

/// A YAML scalar: plain when it cannot be misread, else double-quoted (JSON's escaping is
/// valid YAML).
fn yaml_string(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '/' | ','))
        && text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
        && !text.ends_with(' ')
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        text.to_owned()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
        assert_eq!(yaml_string("Shop"), "Shop");
        assert_eq!(yaml_string("yes"), "\"yes\"");
        assert_eq!(yaml_string("a: b"), "\"a: b\"");
        assert_eq!(title("db"), "Db system");
        assert_eq!(title("my-shop"), "My Shop");
    }
}
