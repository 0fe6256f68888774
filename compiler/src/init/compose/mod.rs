//! A Compose file read into `init`'s model, with the project's YAML front end.
//!
//! The Compose specification's service keys that shape a spec are read (`image`, `build`,
//! `ports`, `expose`, `environment`, `depends_on`, `healthcheck`, `command`, `profiles`,
//! host names); extension fields (`x-*`) are skipped, and their anchors arrive already merged
//! by the YAML tree. What cannot be carried over is a located warning, or a comment in the
//! generated file; what makes the file unusable (not YAML, not Compose, a dependency cycle) is
//! a located error and no files.

mod env;
mod health;
mod order;
mod ports;
mod values;

use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::syntax::yaml::{self, Node, Value};

use super::{names, protocols, ComposeInput, Interface, Launch, Project, Service};
use values::{interpolate, scalar, Reader};

/// The Compose specification's top-level keys (anything else is not Compose, unless `x-`).
const TOP_LEVEL: &[&str] =
    &["version", "name", "services", "networks", "volumes", "configs", "secrets", "include", "models"];

/// Service keys a spec cannot express that change how a service behaves: the generated
/// declaration says they were not carried over.
const NOT_CARRIED: &[&str] = &["volumes", "network_mode", "extra_hosts", "user", "working_dir"];

/// One Compose service as written, before it becomes a [`Service`].
pub(super) struct Raw<'n> {
    pub name: String,
    pub name_span: Span,
    pub node: &'n Node,
    pub image: Option<String>,
    /// `(container port, udp, published, span)`.
    pub ports: Vec<ports::Port>,
    /// Every name other services may reach it by (its name, `hostname`, `container_name`,
    /// network aliases).
    pub hosts: Vec<String>,
}

/// Reads a Compose file; `None` when there is nothing to generate (the diagnostics say why).
pub(crate) fn read(input: &ComposeInput) -> (Option<Project>, Vec<Diagnostic>) {
    let parsed = yaml::parse(input.text);
    let mut diagnostics = parsed.diagnostics;
    if diagnostics.iter().any(|d| d.severity == crate::Severity::Error) {
        return (None, diagnostics);
    }
    let mut reader = Reader::new(input.text, &mut diagnostics);
    let project = project(&parsed.documents, input, &mut reader);
    (project, diagnostics)
}

fn project(documents: &[yaml::Document], input: &ComposeInput, reader: &mut Reader) -> Option<Project> {
    let Some(root) = documents.iter().find_map(|d| d.root.as_ref()) else {
        reader.error("INI001", Span::at(0), "the file is empty: a Compose file is a mapping with `services`");
        return None;
    };
    let Some(entries) = root.as_map() else {
        reader.error(
            "INI001",
            root.span,
            format!("a Compose file is a mapping with `services`, not {}", values::described(root)),
        );
        return None;
    };
    for entry in entries {
        let key = entry.key_text();
        if !key.starts_with("x-") && !TOP_LEVEL.contains(&key.as_str()) {
            reader.warning("INI003", entry.key.span, format!("`{key}` is not a Compose top-level key; it is ignored"));
        }
        if key == "include" {
            reader.warning("INI003", entry.key.span, "`include` is not followed: the included files are not read");
        }
    }
    let Some(services) = root.get("services") else {
        let span = entries.first().map_or(root.span, |e| e.key.span);
        reader.error("INI001", span, "not a Compose file: there is no `services` mapping");
        return None;
    };
    let Some(service_entries) = services.value.as_map().filter(|m| !m.is_empty()) else {
        reader.error(
            "INI001",
            services.value.span,
            format!("`services` must be a mapping of service names, not {}", values::described(&services.value)),
        );
        return None;
    };
    let name = root
        .field("name")
        .and_then(|n| scalar(n, reader.text))
        .map(|n| interpolate(&n, root.field("name").map_or(root.span, |n| n.span), reader))
        .unwrap_or_else(|| input.default_name.to_owned());
    let id = input.spec_name.and_then(names::spec_id).or_else(|| names::spec_id(&name)).unwrap_or_else(|| "app".into());
    let mut skipped = Vec::new();
    let mut raws = Vec::new();
    for entry in service_entries {
        let service_name = entry.key_text();
        if service_name.starts_with("x-") {
            continue;
        }
        if let Some(why) = disabled_by_profiles(&entry.value, input.profiles, reader.text) {
            skipped.push(format!("{service_name} ({why})"));
            continue;
        }
        if let Some(raw) = raw_service(service_name, entry.key.span, &entry.value, reader) {
            raws.push(raw);
        }
    }
    if raws.is_empty() {
        reader.error("INI001", services.key.span, "no service to generate: every service was left out");
        return None;
    }
    let mut built: Vec<Service> = raws.iter().map(|raw| service(raw, input.base, reader)).collect();
    env::resolve(&raws, &mut built, reader);
    let order = order::start_order(&raws, &mut built, reader)?;
    let mut services: Vec<Service> = order.into_iter().map(|i| std::mem::take(&mut built[i])).collect();
    mark_public(&mut services);
    let mut vars = names::Variables::default();
    for service in &mut services {
        service.var = vars.claim(&service.name);
    }
    Some(Project { id, origin: format!("init --from-compose {}", input.file_name), services, skipped })
}

/// Why a service's profiles keep it out, if they do (no `profiles:` means always on).
fn disabled_by_profiles(node: &Node, enabled: &[String], text: &str) -> Option<String> {
    let profiles: Vec<String> = node.field("profiles")?.as_seq()?.iter().filter_map(|p| scalar(p, text)).collect();
    if profiles.is_empty() || profiles.iter().any(|p| enabled.contains(p)) {
        return None;
    }
    Some(format!("profile {}: enable it with --profile {}", profiles.join(", "), profiles[0]))
}

fn raw_service<'n>(name: String, name_span: Span, node: &'n Node, reader: &mut Reader) -> Option<Raw<'n>> {
    if node.as_map().is_none() {
        reader.warning(
            "INI002",
            name_span,
            format!("service `{name}` is left out: it is {}, not a mapping", values::described(node)),
        );
        return None;
    }
    for entry in node.as_map().unwrap_or_default() {
        let key = entry.key_text();
        if matches!(key.as_str(), "entrypoint" | "env_file" | "extends") {
            let why = match key.as_str() {
                "entrypoint" => "topology services have no entrypoint (only `args=`, from `command`)",
                "env_file" => "its variables are not read (secrets stay out of generated files); add them to env=",
                _ => "`extends` is not followed; the extended service's keys are not merged",
            };
            reader.warning("INI003", entry.key.span, format!("`{key}` is ignored: {why}"));
        }
    }
    let image = node.field("image").and_then(|n| scalar(n, reader.text).map(|s| interpolate(&s, n.span, reader)));
    if image.is_none() && node.field("build").is_none() {
        reader.warning(
            "INI002",
            name_span,
            format!("service `{name}` is left out: it has neither `image` nor `build`"),
        );
        return None;
    }
    let ports = ports::read(node, reader);
    let hosts = host_names(&name, node, reader.text);
    Some(Raw { name, name_span, node, image, ports, hosts })
}

/// The names a service is reached by on the Compose network.
fn host_names(name: &str, node: &Node, text: &str) -> Vec<String> {
    let mut hosts = vec![name.to_owned()];
    for key in ["hostname", "container_name"] {
        hosts.extend(node.field(key).and_then(|n| scalar(n, text)));
    }
    if let Some(networks) = node.field("networks").and_then(Node::as_map) {
        for network in networks {
            let aliases = network.value.field("aliases").and_then(Node::as_seq).unwrap_or_default();
            hosts.extend(aliases.iter().filter_map(|a| scalar(a, text)));
        }
    }
    hosts.retain(|h| !h.is_empty());
    hosts.dedup();
    hosts
}

/// A service's launch, interfaces, arguments and healthcheck (environment and order later).
fn service(raw: &Raw, base: &str, reader: &mut Reader) -> Service {
    let mut comments = Vec::new();
    let launch = launch(raw, base, reader, &mut comments);
    let interfaces = interfaces(raw);
    let args = command(raw.node, reader);
    let (ports, remapped) = published(raw);
    if !remapped.is_empty() {
        comments.push(format!(
            "compose publishes {}; on ospecc's host network a container listens on its own port",
            remapped.join(", ")
        ));
    }
    let mut service =
        Service { name: raw.name.clone(), launch, interfaces, args, ports, comments, ..Service::default() };
    service.healthcheck = health::read(raw.node, &service.interfaces, reader, &mut service.comments);
    for entry in raw.node.as_map().unwrap_or_default() {
        let key = entry.key_text();
        if NOT_CARRIED.contains(&key.as_str()) {
            service.comments.push(format!("compose `{key}` is not carried over"));
        }
    }
    service
}

fn launch(raw: &Raw, base: &str, reader: &mut Reader, comments: &mut Vec<String>) -> Launch {
    let Some(build) = raw.node.field("build") else {
        return Launch::Image(raw.image.clone().unwrap_or_default());
    };
    let (context, dockerfile) = match &build.value {
        Value::Map(_) => {
            let context = build.field("context").and_then(|n| scalar(n, reader.text)).unwrap_or_else(|| ".".into());
            (context, build.field("dockerfile").and_then(|n| scalar(n, reader.text)))
        }
        _ => (scalar(build, reader.text).unwrap_or_else(|| ".".into()), None),
    };
    let context = interpolate(&context, build.span, reader);
    if let Some(dockerfile) = dockerfile.filter(|d| d != "Dockerfile") {
        comments
            .push(format!("compose builds it with dockerfile `{dockerfile}`; build= uses the context's Dockerfile"));
    }
    if raw.image.is_some() {
        comments.push("compose also tags the build as an image; the spec builds it".to_owned());
    }
    Launch::Build(join_context(base, &context))
}

/// A build context as seen from the output directory (URLs and absolute paths as written).
fn join_context(base: &str, context: &str) -> String {
    if base.is_empty() || context.contains("://") || context.starts_with('/') || context.starts_with("git@") {
        return context.to_owned();
    }
    let context = context.trim_start_matches("./");
    let base = base.trim_end_matches('/');
    match context {
        "" | "." => base.to_owned(),
        _ => format!("{base}/{context}"),
    }
}

/// One interface per distinct container port: published ports, then exposed ones, else the
/// image's protocol on its default port. Names come from protocols (`pg`, `http`), with the
/// port appended when two interfaces would share one.
fn interfaces(raw: &Raw) -> Vec<Interface> {
    let mut found: Vec<(u16, bool, bool)> = Vec::new();
    for port in &raw.ports {
        if let Some(existing) = found.iter_mut().find(|(p, udp, _)| *p == port.container && *udp == port.udp) {
            existing.2 |= port.published;
        } else {
            found.push((port.container, port.udp, port.published));
        }
    }
    if found.is_empty() {
        let default = raw.image.as_deref().and_then(protocols::image_port);
        found.extend(default.map(|port| (port, false, false)));
    }
    let mut interfaces: Vec<Interface> = found
        .into_iter()
        .map(|(port, udp, public)| {
            let protocol = protocols::detect(raw.image.as_deref(), port, udp);
            Interface {
                name: protocols::interface_name(protocol).to_owned(),
                protocol: protocol.to_owned(),
                port,
                public,
            }
        })
        .collect();
    let names: Vec<String> = interfaces.iter().map(|i| i.name.clone()).collect();
    for (i, interface) in interfaces.iter_mut().enumerate() {
        let shared = names.iter().filter(|n| **n == names[i]).count() > 1;
        let first = names.iter().position(|n| *n == names[i]) == Some(i);
        if shared && !first {
            interface.name = format!("{}_{}", interface.name, interface.port);
        }
    }
    interfaces
}

/// The published ports as `ports=`: ospecc runs containers on the host's network, where a
/// container's port is the host's, so each is `{port: port}` (the OSpec's probes find the
/// service there); and the Compose mappings to another host port, for a comment.
fn published(raw: &Raw) -> (Vec<(u16, u16)>, Vec<String>) {
    let mut ports: Vec<(u16, u16)> = Vec::new();
    let mut remapped = Vec::new();
    for port in raw.ports.iter().filter(|p| p.published && !p.udp) {
        if !ports.contains(&(port.container, port.container)) {
            ports.push((port.container, port.container));
        }
        if let Some(host) = port.host.filter(|h| *h != port.container) {
            remapped.push(format!("container port {} on host port {host}", port.container));
        }
    }
    ports.sort_unstable();
    (ports, remapped)
}

/// `command:` as `args=` (a string is split like a shell would split plain words and quotes).
fn command(node: &Node, reader: &mut Reader) -> Vec<String> {
    let Some(command) = node.field("command") else { return Vec::new() };
    match &command.value {
        Value::Seq(items) => items
            .iter()
            .filter_map(|item| scalar(item, reader.text).map(|s| interpolate(&s, item.span, reader)))
            .collect(),
        Value::String(text) => {
            let text = interpolate(text, command.span, reader);
            values::split_words(&text)
        }
        Value::Null => Vec::new(),
        _ => {
            reader.warning("INI003", command.span, "`command` should be a string or a list; it is ignored");
            Vec::new()
        }
    }
}

/// Public interfaces get a happy-path test. When nothing is published, the services no other
/// service depends on are the entry points: their interfaces are.
fn mark_public(services: &mut [Service]) {
    if services.iter().any(|s| s.interfaces.iter().any(|i| i.public)) {
        return;
    }
    let used: Vec<String> = services
        .iter()
        .flat_map(|s| {
            let referenced = s.env.iter().flat_map(|e| &e.parts).filter_map(|p| match p {
                super::Part::Ref { service, .. } => Some(service.clone()),
                super::Part::Text(_) => None,
            });
            s.depends_on.iter().cloned().chain(referenced).collect::<Vec<_>>()
        })
        .collect();
    for service in services.iter_mut().filter(|s| !used.contains(&s.name)) {
        for interface in &mut service.interfaces {
            interface.public = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_contexts_are_joined_to_the_compose_directory() {
        assert_eq!(join_context("", "./web"), "./web");
        assert_eq!(join_context("../app", "./web"), "../app/web");
        assert_eq!(join_context("../app/", "."), "../app");
        assert_eq!(join_context("../app", "/abs"), "/abs");
        assert_eq!(join_context("x", "https://github.com/a/b.git#main"), "https://github.com/a/b.git#main");
    }
}
