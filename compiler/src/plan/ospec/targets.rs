//! Targets: where probes are sent. One target per service (in dependency order, ties by name),
//! plus `default` for probes that name no service when that is unambiguous.
//!
//! A base URL comes from the first source that has one (ospec-format.md §5.2): `--base-url` >
//! `environments.<env>.url` (with `--env`) > `services.<svc>.base_url` or the first host port
//! (`"H:C"` → `http://127.0.0.1:H`) > the origin of `monitoring.health_check_url` or
//! `${APP_URL}` > `http://127.0.0.1:3000` (with a warning). `${VAR}` references expand from
//! the environment the plan is built in; an unset one leaves the target unresolved, and every
//! probe of it is skipped with the reason.

use std::collections::{BTreeMap, BTreeSet};

use ospecc_schema::plan::acceptance::Target;
use ospecc_schema::plan::topology::Service;

use crate::diagnostics::Diagnostic;
use crate::ospec::checks::graph::GRAPHS;
use crate::ospec::checks::services::host_port;
use crate::span::Span;
use crate::syntax::yaml::Node;

/// The base URL when nothing else gives one.
pub(crate) const DEFAULT_BASE: &str = "http://127.0.0.1:3000";
/// The target of probes that name no service.
pub(crate) const DEFAULT_TARGET: &str = "default";
/// How a skip reason for a probe that names no service (among several) starts.
pub(crate) const AMBIGUOUS: &str = "ambiguous service";
/// The variable read when the spec names no other base URL source.
const APP_URL: &str = "APP_URL";

/// A URL as written, where, and the name of its source for `base_source`.
#[derive(Clone, Debug)]
pub(crate) struct UrlSource {
    pub text: String,
    pub span: Span,
    pub source: String,
}

/// A resolved (or unresolvable) base URL.
#[derive(Clone, Debug)]
struct Base {
    url: String,
    source: String,
    /// Why probes against it cannot run (an unset variable, not an http(s) URL).
    problem: Option<String>,
}

struct ServiceTarget {
    name: String,
    depends_on: Vec<String>,
    base: Base,
}

/// Where a probe goes: its target, full URL, and why it cannot run, if it cannot.
pub(crate) struct Located {
    pub target: String,
    pub url: String,
    pub skip: Option<String>,
}

/// The targets of one spec.
pub(crate) struct Targets {
    services: Vec<ServiceTarget>,
    /// `--base-url` or the `--env` URL: every target's base when set.
    global: Option<Base>,
    /// `monitoring.health_check_url`, for the fallback base.
    health_url: Option<UrlSource>,
    /// Where the "no base URL" warning points.
    anchor: Span,
    environment: BTreeMap<String, String>,
    /// The fallback base, computed on first use (it may warn).
    fallback: Option<Base>,
    default_used: bool,
    diagnostics: Vec<Diagnostic>,
    warned: BTreeSet<String>,
}

impl Targets {
    /// The targets of the services of `root` (or, when it declares none, of the topology's).
    pub fn new(
        root: &Node,
        env_url: Option<UrlSource>,
        base_url: Option<&str>,
        environment: &BTreeMap<String, String>,
        topology: &[Service],
    ) -> Targets {
        let anchor = root.get("services").or_else(|| root.get("acceptance")).map_or(Span::at(0), |e| e.key.span);
        let health_url = root.field("monitoring").and_then(|m| m.field("health_check_url")).and_then(|node| {
            Some(UrlSource {
                text: node.as_str()?.to_owned(),
                span: node.span,
                source: "monitoring.health_check_url".to_owned(),
            })
        });
        let mut targets = Targets {
            services: Vec::new(),
            global: None,
            health_url,
            anchor,
            environment: environment.clone(),
            fallback: None,
            default_used: false,
            diagnostics: Vec::new(),
            warned: BTreeSet::new(),
        };
        let cli =
            base_url.map(|url| UrlSource { text: url.to_owned(), span: Span::at(0), source: "--base-url".into() });
        targets.global = cli.or(env_url).map(|source| targets.resolve(&source, false));
        let declared = declared_services(root);
        let services = if declared.is_empty() { topology_services(topology) } else { declared };
        for (name, depends_on, own) in topological(services) {
            let base = match (&targets.global, own) {
                (Some(global), _) => global.clone(),
                (None, Some(Ok(source))) => targets.resolve(&source, false),
                (None, Some(Err(problem))) => {
                    Base { url: String::new(), source: "ports".into(), problem: Some(problem) }
                }
                (None, None) => targets.fallback(),
            };
            targets.services.push(ServiceTarget { name, depends_on, base });
        }
        targets
    }

    /// The services, in dependency order (ties by name).
    pub fn service_names(&self) -> Vec<&str> {
        self.services.iter().map(|s| s.name.as_str()).collect()
    }

    /// The position of a target in start order (`default` last).
    pub fn rank(&self, target: &str) -> usize {
        self.services.iter().position(|s| s.name == target).unwrap_or(self.services.len())
    }

    /// The target and URL of `path` on `service` (or on the one obvious target when `None`).
    pub fn locate(&mut self, service: Option<&str>, path: &str) -> Located {
        match self.pick(service) {
            Ok((target, base)) => {
                let url = join(&base.url, path);
                Located { target, url, skip: base.problem }
            }
            Err(reason) => Located { target: String::new(), url: path.to_owned(), skip: Some(reason) },
        }
    }

    /// The target a probe with its own full URL belongs to.
    pub fn owner(&mut self, service: Option<&str>) -> String {
        match service.filter(|s| self.services.iter().any(|t| t.name == *s)) {
            Some(name) => name.to_owned(),
            None if self.services.len() == 1 => self.services[0].name.clone(),
            None => {
                self.default_used = true;
                DEFAULT_TARGET.to_owned()
            }
        }
    }

    /// Expands a URL written in the spec (a health check's `url:`), with the skip reason of an
    /// unset variable.
    pub fn expand_url(&mut self, source: &UrlSource) -> (String, Option<String>) {
        let base = self.resolve(source, true);
        (base.url, base.problem)
    }

    /// The targets for the plan, and the diagnostics of resolving them.
    pub fn finish(mut self) -> (Vec<Target>, Vec<Diagnostic>) {
        let mut out: Vec<Target> = self
            .services
            .iter()
            .map(|s| Target {
                name: s.name.clone(),
                base_url: s.base.url.clone(),
                base_source: s.base.source.clone(),
                depends_on: s.depends_on.clone(),
            })
            .collect();
        if self.default_used && !self.services.iter().any(|s| s.name == DEFAULT_TARGET) {
            let base = self.default_base();
            out.push(Target {
                name: DEFAULT_TARGET.to_owned(),
                base_url: base.url,
                base_source: base.source,
                depends_on: Vec::new(),
            });
        }
        (out, self.diagnostics)
    }

    fn pick(&mut self, service: Option<&str>) -> Result<(String, Base), String> {
        if let Some(name) = service {
            return match self.services.iter().find(|s| s.name == name) {
                Some(target) => Ok((target.name.clone(), target.base.clone())),
                None => Err(format!("unknown service `{name}`")),
            };
        }
        match self.services.as_slice() {
            [only] => Ok((only.name.clone(), only.base.clone())),
            // With one base URL for everything (a gateway), the service does not matter.
            _ if self.global.is_some() || self.services.is_empty() => {
                self.default_used = true;
                Ok((DEFAULT_TARGET.to_owned(), self.default_base()))
            }
            many => Err(format!(
                "{AMBIGUOUS}: the spec declares {} services and this names none (add `service:`)",
                many.len()
            )),
        }
    }

    fn default_base(&mut self) -> Base {
        match &self.global {
            Some(global) => global.clone(),
            None => self.fallback(),
        }
    }

    /// The base when a service has no URL of its own: the health check URL's origin, then
    /// `${APP_URL}`, then [`DEFAULT_BASE`] with a warning.
    fn fallback(&mut self) -> Base {
        if let Some(base) = &self.fallback {
            return base.clone();
        }
        let base = if let Some(source) = self.health_url.clone() {
            let mut base = self.resolve(&source, true);
            base.url = origin_of(&base.url).to_owned();
            if let Some(variable) = leading_variable(&source.text) {
                base.source = format!("${{{variable}}}");
            }
            base
        } else if let Some(url) = self.environment.get(APP_URL).cloned() {
            let source = UrlSource { text: url, span: self.anchor, source: format!("${{{APP_URL}}}") };
            let mut base = self.resolve(&source, false);
            base.url = origin_of(&base.url).to_owned();
            base
        } else {
            self.diagnostics.push(
                Diagnostic::warning("PLN103", self.anchor, format!("no base URL is given: probes go to {DEFAULT_BASE}"))
                    .with_help("pass --base-url, give the services ports or `base_url`, or set `environments.<env>.url` and pass --env"),
            );
            Base { url: DEFAULT_BASE.to_owned(), source: "default".to_owned(), problem: None }
        };
        self.fallback = Some(base.clone());
        base
    }

    /// Expands and checks one URL source; `full` keeps the path (a health check URL).
    fn resolve(&mut self, source: &UrlSource, full: bool) -> Base {
        let text = source.text.trim();
        match expand(text, &self.environment) {
            Ok(url) if is_http(&url) => {
                let url = if full { url } else { url.trim_end_matches('/').to_owned() };
                Base { url, source: source.source.clone(), problem: None }
            }
            Ok(url) => {
                self.diagnostics.push(
                    Diagnostic::warning(
                        "PLN105",
                        source.span,
                        format!("`{url}` ({}) is not an http(s) URL", source.source),
                    )
                    .with_help("write the URL with its scheme, e.g. `https://staging.example.com`"),
                );
                Base { url, source: source.source.clone(), problem: Some(format!("base URL `{text}` is not http(s)")) }
            }
            Err(missing) => {
                let names = missing.iter().map(|m| format!("${{{m}}}")).collect::<Vec<_>>().join(", ");
                if missing.iter().any(|m| self.warned.insert(m.clone())) {
                    self.diagnostics.push(
                        Diagnostic::warning(
                            "PLN102",
                            source.span,
                            format!("{names} is not set: the probes that need it are skipped"),
                        )
                        .with_help(format!("set {} in the environment, or pass --base-url", missing.join(", "))),
                    );
                }
                Base {
                    url: if full { text } else { text.trim_end_matches('/') }.to_owned(),
                    source: source.source.clone(),
                    problem: Some(format!("base URL needs {names}, which is not set")),
                }
            }
        }
    }
}

/// `(name, depends_on, own base URL source)` of each declared service; the own source is
/// `Err` when the service has ports but none is usable.
type ServiceEntry = (String, Vec<String>, Option<Result<UrlSource, String>>);

fn declared_services(root: &Node) -> Vec<ServiceEntry> {
    let ref_keys = GRAPHS.iter().find(|g| g.root_key == "services").map_or(&[][..], |g| g.ref_keys);
    let entries = root.field("services").and_then(Node::as_map).unwrap_or_default();
    entries
        .iter()
        .filter_map(|entry| {
            let name = entry.key.as_str()?.to_owned();
            let service = &entry.value;
            let mut depends_on: Vec<String> = ref_keys
                .iter()
                .filter_map(|k| service.field(k))
                .flat_map(|list| list.as_seq().unwrap_or_default())
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect();
            depends_on.sort();
            depends_on.dedup();
            let own = own_base(&name, service);
            Some((name, depends_on, own))
        })
        .collect()
}

/// `services.<svc>.base_url` (or `url`), else the first host port.
fn own_base(name: &str, service: &Node) -> Option<Result<UrlSource, String>> {
    for key in ["base_url", "url"] {
        if let Some(node) = service.field(key) {
            if let Some(text) = node.as_str() {
                let source = format!("services.{name}.{key}");
                return Some(Ok(UrlSource { text: text.to_owned(), span: node.span, source }));
            }
        }
    }
    let ports = service.field("ports")?;
    let items = ports.as_seq().unwrap_or_default();
    let mut problem = None;
    for item in items {
        match host_port(item) {
            Ok(Some(port)) => {
                let source = format!("services.{name}.ports");
                return Some(Ok(UrlSource { text: format!("http://127.0.0.1:{port}"), span: item.span, source }));
            }
            Ok(None) => {}
            Err(reason) => {
                problem.get_or_insert(format!("no usable port for `{name}`: {reason}"));
            }
        }
    }
    problem.map(Err)
}

/// Services from the topology the spec names, when the spec declares none itself.
fn topology_services(topology: &[Service]) -> Vec<ServiceEntry> {
    topology
        .iter()
        .map(|service| {
            let own = service.ports.first().map(|p| {
                let source = format!("topology.{}.ports", service.name);
                Ok(UrlSource { text: format!("http://127.0.0.1:{}", p.host), span: Span::at(0), source })
            });
            (service.name.clone(), service.depends_on.clone(), own)
        })
        .collect()
}

/// Kahn's algorithm, the ready set ordered by name; members of a cycle (reported by the
/// checks) follow in name order.
fn topological(mut services: Vec<ServiceEntry>) -> Vec<ServiceEntry> {
    services.sort_by(|a, b| a.0.cmp(&b.0));
    services.dedup_by(|a, b| a.0 == b.0);
    let known: BTreeSet<String> = services.iter().map(|s| s.0.clone()).collect();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(services.len());
    loop {
        let ready =
            services.iter().position(|(_, deps, _)| deps.iter().all(|d| placed.contains(d) || !known.contains(d)));
        let Some(at) = ready else { break };
        let service = services.remove(at);
        placed.insert(service.0.clone());
        out.push(service);
    }
    out.extend(services);
    out
}

/// Expands `${NAME}` and `${NAME:-default}`; `Err` lists the names that are not set.
pub(crate) fn expand(text: &str, environment: &BTreeMap<String, String>) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else { break };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + 2 + len];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        match (environment.get(name), default) {
            (Some(value), _) => out.push_str(value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => missing.push(name.to_owned()),
        }
        rest = &rest[start + 2 + len + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

/// `${NAME}` when `text` starts with a variable reference.
fn leading_variable(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("${")?;
    let name = &inner[..inner.find('}')?];
    Some(name.split_once(":-").map_or(name, |(n, _)| n))
}

/// Scheme, host and port of a URL (everything before the path); for text without a scheme
/// (an unexpanded `${APP_URL}/health`), everything before the first `/`.
pub(crate) fn origin_of(url: &str) -> &str {
    let (prefix, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    match rest.find(['/', '?', '#']) {
        Some(end) => &url[..prefix.len() + end],
        None => url,
    }
}

fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// A base URL and a path, with exactly one `/` between them.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::yaml;

    fn root(text: &str) -> Node {
        yaml::parse(text).documents.into_iter().next().and_then(|d| d.root).unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const SERVICES: &str = "services:\n  web: {ports: [\"8080:80\"], dependencies: [api]}\n  api: {ports: [3001]}\n  db: {ports: [\"x:1\"]}\n  zz: {base_url: \"${API_URL}/v1\"}\n";

    #[test]
    fn expansion() {
        let vars = env(&[("HOST", "example.com")]);
        assert_eq!(expand("https://${HOST}/x", &vars), Ok("https://example.com/x".to_owned()));
        assert_eq!(expand("${NOPE:-http://a}", &vars), Ok("http://a".to_owned()));
        assert_eq!(expand("${A}${B}", &vars), Err(vec!["A".to_owned(), "B".to_owned()]));
        assert_eq!(expand("${unclosed", &vars), Ok("${unclosed".to_owned()));
        assert_eq!(origin_of("https://a.b:8/health?x"), "https://a.b:8");
        assert_eq!(origin_of("${APP_URL}/health"), "${APP_URL}");
        assert_eq!(origin_of("http://a"), "http://a");
        assert_eq!(leading_variable("${APP_URL:-x}/health"), Some("APP_URL"));
        assert_eq!(join("http://a/", "/b"), "http://a/b");
    }

    #[test]
    fn services_resolve_in_dependency_order() {
        let mut targets = Targets::new(&root(SERVICES), None, None, &BTreeMap::new(), &[]);
        assert_eq!(targets.service_names(), ["api", "db", "web", "zz"]);
        let web = targets.locate(Some("web"), "/x");
        assert_eq!((web.target.as_str(), web.url.as_str(), web.skip), ("web", "http://127.0.0.1:8080/x", None));
        assert!(targets.locate(Some("db"), "/").skip.unwrap().contains("`x` is not a port number"));
        assert!(targets.locate(Some("zz"), "/").skip.unwrap().contains("${API_URL}"));
        assert!(targets.locate(None, "/").skip.unwrap().starts_with("ambiguous service"));
        assert!(targets.locate(Some("nope"), "/").skip.unwrap().contains("unknown service"));
        let (list, diagnostics) = targets.finish();
        assert_eq!(list[2].depends_on, ["api"]);
        assert_eq!(list[2].base_source, "services.web.ports");
        assert_eq!(diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(), ["PLN102"]);
    }

    #[test]
    fn a_global_base_wins_and_serves_unqualified_probes() {
        let mut targets = Targets::new(&root(SERVICES), None, Some("https://gw.example.com/"), &BTreeMap::new(), &[]);
        let located = targets.locate(None, "/p");
        assert_eq!((located.target.as_str(), located.url.as_str()), ("default", "https://gw.example.com/p"));
        let (list, _) = targets.finish();
        assert!(list.iter().all(|t| t.base_source == "--base-url"));
        assert_eq!(list.len(), 5);
    }

    #[test]
    fn fallbacks() {
        let spec = root("monitoring:\n  health_check_url: ${APP_URL}/health\n");
        let mut targets = Targets::new(&spec, None, None, &env(&[("APP_URL", "https://app.example.com")]), &[]);
        assert_eq!(targets.locate(None, "/a").url, "https://app.example.com/a");
        assert_eq!(targets.finish().0[0].base_source, "${APP_URL}");
        let mut targets = Targets::new(&spec, None, None, &BTreeMap::new(), &[]);
        let located = targets.locate(None, "/a");
        assert_eq!(located.url, "${APP_URL}/a");
        assert!(located.skip.unwrap().contains("not set"));
        let mut targets = Targets::new(&root("id: x"), None, None, &BTreeMap::new(), &[]);
        assert_eq!(targets.locate(None, "/a").url, "http://127.0.0.1:3000/a");
        let (list, diagnostics) = targets.finish();
        assert_eq!((list[0].base_source.as_str(), diagnostics[0].code), ("default", "PLN103"));
    }
}
