//! The exports of the embedded `@faultbox/...` modules (`redis.oom(key = "*")`), read from
//! the modules' own text: the struct the module exports, each member's `def` with its
//! parameters, defaults and docstring. Completion, hover and signature help answer from
//! these, so the docs users see are the modules' docstrings and cannot drift from the code.

use std::sync::LazyLock;

use ospecc_schema::stdlib;
use ospecc_schema::topology::ParamKind;

use super::index::{declares_service, Def, Index, Load};
use super::lex::{self, Kind};

/// One embedded module's API.
#[derive(Debug)]
pub struct ModuleApi {
    /// The path `load()` names (`@faultbox/recipes/redis.star`).
    pub path: &'static str,
    /// The struct it exports (`redis`; `mongo` for the MongoDB mock).
    pub name: &'static str,
    pub exports: Vec<Export>,
}

/// One member of the exported struct.
#[derive(Debug)]
pub struct Export {
    pub name: String,
    pub params: Vec<ExportParam>,
    /// The member's docstring, whitespace collapsed.
    pub doc: String,
    /// The parameter that names the service the member declares: a mock's `server(name, …)`
    /// passes it on as the name of the `mock_service` it returns.
    pub names_service: Option<String>,
}

/// One parameter of an export, as written in its `def`.
#[derive(Debug, PartialEq, Eq)]
pub struct ExportParam {
    pub name: String,
    pub kind: ParamKind,
    /// The default's source text (`"*"`, `{}`, `None`).
    pub default: Option<String>,
}

static APIS: LazyLock<Vec<ModuleApi>> = LazyLock::new(|| {
    stdlib::MODULES.iter().filter_map(|(path, text)| Some(read(path, stdlib::export_name(path)?, text))).collect()
});

/// The API of every embedded module, in [`stdlib::MODULES`] order.
pub fn stdlib_apis() -> &'static [ModuleApi] {
    &APIS
}

/// The API of the embedded module at `path`.
pub fn stdlib_api(path: &str) -> Option<&'static ModuleApi> {
    APIS.iter().find(|m| m.path == path)
}

impl ModuleApi {
    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|e| e.name == name)
    }
}

/// The embedded module a local name of this file is loaded from (`redis` after
/// `load("@faultbox/recipes/redis.star", "redis")`), if it is that module's struct.
pub(crate) fn loaded_module<'i>(index: &'i Index, local: &str) -> Option<(&'i Load, &'static ModuleApi)> {
    index.loads.iter().rev().find_map(|load| {
        let (_, _, exported) = load.symbols.iter().find(|(name, _, _)| name == local)?;
        let api = stdlib_api(&load.path)?;
        (api.name == exported).then_some((load, api))
    })
}

/// `docs/stdlib.md`: every embedded module with its exports' signatures and docs, generated
/// from the modules (a test keeps the committed file current).
pub fn reference_markdown() -> String {
    let mut out = String::from(STDLIB_DOC_HEAD);
    for api in stdlib_apis() {
        let extension = if stdlib::EXTENSIONS.contains(&api.path) { " (ospecc only)" } else { "" };
        out.push_str(&format!("\n## `{}`{extension}\n\n", api.path));
        out.push_str(&format!("```python\nload(\"{}\", \"{}\")\n```\n\n", api.path, api.name));
        out.push_str("| Export | Description |\n|---|---|\n");
        for export in &api.exports {
            let params: Vec<String> = export.params.iter().map(ExportParam::label).collect();
            let signature = format!("{}.{}({})", api.name, export.name, params.join(", "));
            out.push_str(&format!("| `{}` | {} |\n", signature.replace('|', "\\|"), export.doc.replace('|', "\\|")));
        }
    }
    out
}

const STDLIB_DOC_HEAD: &str = "# The embedded stdlib (`@faultbox/...`)

<!-- Generated from schema/topology/stdlib/ by `OSPECC_BLESS=1 cargo test -p ospecc-compiler --test stdlib_api`; do not edit. -->

ospecc embeds the modules Faultbox embeds, under the same paths, so a spec that `load()`s them
checks and runs under both tools. Each module exports one struct named after its file (the
MongoDB mock's is `mongo`); load it under another name when it would shadow a builtin
(`load(\"@faultbox/recipes/http.star\", http_recipes = \"http\")` keeps the `http()`
healthcheck usable, see TOP340).

- **Recipes** (`@faultbox/recipes/<protocol>.star`) return proxy faults (`error`, `delay`,
  `drop`, `response`) for `fault_assumption(rules=[...])` and `fault(svc.iface, ...)`; their
  error messages are the ones real servers send, so clients take their real error paths.
  `grpc.retryable` returns a list of rules. A recipe whose action the protocol's proxy does not
  implement (the NATS proxy only delays and drops) is accepted and does nothing; TOP209 says so.
- **Mocks** (`@faultbox/mocks/<protocol>.star`) declare in-process mock services
  (`mock_service(...)` underneath) with seed data, and build their responses.
- **Discovery** (`@faultbox/discovery/k8s.star`) builds Kubernetes DNS names.

The names, parameters, defaults, the builtin each export calls and its messages follow
Faultbox's published API; `compiler/tests/stdlib_api.rs` holds every module to it. ospecc adds
one module of its own, `@faultbox/recipes/tcp.star` (raw TCP faults); Faultbox does not have
it, so a spec loading it runs only under ospecc. Completion and hover in editors show the same
signatures and docs.
";

/// Reads a module's exported struct: `name = struct(member = _def, ...)`.
fn read(path: &'static str, name: &'static str, text: &str) -> ModuleApi {
    let index = Index::new(text);
    let binding = index.bindings.iter().rev().find(|b| b.name == name);
    let call = binding.and_then(|b| b.call).map(|c| &index.calls[c]).filter(|c| c.callee == "struct");
    let exports = call
        .map(|call| {
            call.args
                .iter()
                .filter_map(|arg| {
                    let (member, _) = arg.name.as_ref()?;
                    let value = index.tokens.get(arg.start + 2).filter(|t| t.kind == Kind::Ident)?;
                    Some(export(&index, text, member, value.text(text)))
                })
                .collect()
        })
        .unwrap_or_default();
    ModuleApi { path, name, exports }
}

/// A member bound to the `def` named `function`.
fn export(index: &Index, text: &str, member: &str, function: &str) -> Export {
    let def = index.defs.iter().rev().find(|d| d.name == function);
    let call = def.and_then(|d| index.calls.iter().find(|c| c.callee_span == d.span));
    let params = call.map(|c| c.args.iter().filter_map(|a| param(index, text, a.start, a.end)).collect());
    let doc = call.and_then(|c| docstring(index, text, c.close?)).unwrap_or_default();
    let names_service = def.and_then(|d| service_name_parameter(index, text, d));
    Export { name: member.to_string(), params: params.unwrap_or_default(), doc, names_service }
}

/// The parameter of `def` that a service-declaring builtin called in its body takes as the
/// service's name (its first argument, the parameter itself).
fn service_name_parameter(index: &Index, text: &str, def: &Def) -> Option<String> {
    index
        .calls
        .iter()
        .filter(|c| def.extent.start <= c.callee_span.start && c.callee_span.end <= def.extent.end)
        .filter(|c| declares_service(&c.callee))
        .find_map(|c| {
            let first = c.args.first().filter(|a| a.name.is_none() && a.end == a.start + 1)?;
            let token = index.tokens.get(first.start).filter(|t| t.kind == Kind::Ident)?;
            def.params.iter().find(|(name, _)| name == token.text(text)).map(|(name, _)| name.clone())
        })
}

/// One `def` parameter from its tokens: `name`, `name = default`, `*name`, `**name`.
fn param(index: &Index, text: &str, start: usize, end: usize) -> Option<ExportParam> {
    let tokens = index.tokens.get(start..end)?;
    let stars = tokens.iter().take_while(|t| t.is_punct(text, "*") || t.is_punct(text, "**")).count();
    let kind = match tokens.first().map(|t| t.text(text)) {
        Some("**") => ParamKind::KeywordVariadic,
        Some("*") => ParamKind::Variadic,
        _ => ParamKind::PositionalOrKeyword,
    };
    let name = tokens.get(stars).filter(|t| t.kind == Kind::Ident)?;
    let default = match tokens.get(stars + 1..) {
        Some([eq, first, .., last]) if eq.is_punct(text, "=") => Some(&text[first.span.start..last.span.end]),
        Some([eq, only]) if eq.is_punct(text, "=") => Some(only.text(text)),
        _ => None,
    };
    Some(ExportParam { name: name.text(text).to_string(), kind, default: default.map(str::to_string) })
}

/// The string right after `def f(...):`, whitespace collapsed.
fn docstring(index: &Index, text: &str, close: usize) -> Option<String> {
    index.tokens.get(close + 1).filter(|t| t.is_punct(text, ":"))?;
    let string =
        index.tokens.get(close + 2..)?.iter().find(|t| t.kind != Kind::Newline).filter(|t| t.kind == Kind::Str)?;
    Some(lex::string_value(text, *string).split_whitespace().collect::<Vec<_>>().join(" "))
}

impl ExportParam {
    /// `name`, `name = default`, `*name`, `**name`.
    pub fn label(&self) -> String {
        let star = match self.kind {
            ParamKind::Variadic => "*",
            ParamKind::KeywordVariadic => "**",
            _ => "",
        };
        match &self.default {
            Some(default) => format!("{star}{} = {default}", self.name),
            None => format!("{star}{}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_exports_documented_members_with_their_signatures() {
        assert_eq!(stdlib_apis().len(), stdlib::MODULES.len());
        for api in stdlib_apis() {
            assert!(!api.exports.is_empty(), "{}", api.path);
            for export in &api.exports {
                assert!(!export.doc.is_empty(), "{}: {} has no docstring", api.path, export.name);
            }
        }
        let redis = stdlib_api("@faultbox/recipes/redis.star").unwrap();
        let slow = redis.export("slow_command").unwrap();
        let params: Vec<(&str, Option<&str>)> =
            slow.params.iter().map(|p| (p.name.as_str(), p.default.as_deref())).collect();
        assert_eq!(params, [("duration", Some("\"3s\"")), ("key", Some("\"*\""))]);
        let server = stdlib_api("@faultbox/mocks/mongodb.star").unwrap().export("server").unwrap();
        assert_eq!(
            server.params[0],
            ExportParam { name: "name".into(), kind: ParamKind::PositionalOrKeyword, default: None }
        );
        assert_eq!(server.params[2].default.as_deref(), Some("{}"));
    }

    #[test]
    fn a_local_name_resolves_to_its_module_only_when_it_is_the_exported_struct() {
        let index = Index::new("load(\"@faultbox/recipes/redis.star\", r = \"redis\")\nload(\"./x.star\", \"y\")\n");
        assert_eq!(loaded_module(&index, "r").map(|(_, api)| api.name), Some("redis"));
        assert!(loaded_module(&index, "redis").is_none());
        assert!(loaded_module(&index, "y").is_none());
    }
}
