//! Mock inputs and what this runtime cannot run, found at `check` rather than as a failed run:
//! seed state of the wrong shape (`config=` of redis, kafka and mongodb mocks, TOP127), a
//! `descriptors=` file that is not a protobuf FileDescriptorSet (TOP128), an `openapi=` file
//! that does not parse or has no `paths` (TOP129), a mock interface whose protocol `ospecc run`
//! serves no in-process mock for (TOP130), and a step over a protocol it has no client for
//! (TOP131). What the runtime serves is catalog data (`mock_served`, `steps_run`): the compiler
//! cannot see the runtime, whose tests hold the two to each other.
//!
//! Data files are read through the injected file system, only below the spec's directory.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ospecc_schema::topology::{builtins, catalog};
use prost::Message;

use super::services::literal::Literals;
use super::{Call, Files, Model, Origin, Target};
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::syntax::yaml;
use crate::topology::attrs;
use crate::topology::session::{normalize, MAX_READ_BYTES};
use crate::topology::values::{Arg, Recorded};

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    // Load-time checks: the mocks the file declared.
    if model.part.load_time() {
        let literals = OnceLock::new();
        for call in model.calls_of(builtins::MOCK_SERVICE).filter(|c| c.origin == Origin::Load) {
            seeds(model, call, &literals, out);
            if let Some(files) = model.files {
                descriptors(model, call, files, out);
                openapi(model, call, files, out);
            }
        }
        unserved_mocks(model, out);
    }
    unrun_steps(model, out);
}

// ---- seed state (TOP127) ----

/// What a seed value must look like.
#[derive(Debug)]
enum Shape {
    /// A dict with string keys, each value of the shape.
    Map(&'static Shape),
    /// A list, each item of the shape.
    List(&'static Shape),
    /// Any dict.
    Dict,
    /// What a Redis key can hold: str, int, float, bool, list or dict.
    Stored,
    /// An int above zero.
    Positive,
}

impl Shape {
    /// The shape in words, for messages.
    fn describe(&self) -> String {
        match self {
            Shape::Map(value) => format!("a dict of name → {}", value.describe()),
            Shape::List(item) => format!("a list of {}", item.describe_items()),
            Shape::Dict => "a dict".into(),
            Shape::Stored => "a str, int, float, bool, list or dict".into(),
            Shape::Positive => "a positive int".into(),
        }
    }

    fn describe_items(&self) -> String {
        match self {
            Shape::Dict => "dicts (documents)".into(),
            other => other.describe(),
        }
    }
}

/// One seed a protocol's mock reads from `config=`.
struct Seed {
    protocol: &'static str,
    key: &'static str,
    shape: Shape,
}

const SEEDS: &[Seed] = &[
    Seed { protocol: "redis", key: "state", shape: Shape::Map(&Shape::Stored) },
    Seed { protocol: "kafka", key: "topics", shape: Shape::Map(&Shape::List(&Shape::Stored)) },
    Seed { protocol: "kafka", key: "partitions", shape: Shape::Positive },
    Seed { protocol: "mongodb", key: "collections", shape: Shape::Map(&Shape::List(&Shape::Dict)) },
];

/// A step from a value into one of its parts.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The value of a dict's `n`th entry.
    Value(usize),
    /// The key of a dict's `n`th entry.
    Key(usize),
    /// A list's `n`th item.
    Item(usize),
}

/// A part of a seed that does not fit its shape.
struct Misfit {
    path: Vec<Step>,
    /// `state["k"]`, `topics["orders"][2]`.
    place: String,
    expected: String,
    found: String,
}

/// The first misfit of `value` against `shape` (`None` if it fits or is not known statically).
fn misfit(value: &Arg, shape: &Shape, place: String, path: &mut Vec<Step>) -> Option<Misfit> {
    match (shape, value) {
        (_, Arg::Unknown) => None,
        (Shape::Map(inner), Arg::Dict(entries)) => entries.iter().enumerate().find_map(|(i, (key, item))| {
            let Some(name) = key.as_str() else {
                path.push(Step::Key(i));
                let found = key.type_name().unwrap_or("?").to_owned();
                let place = format!("a key of {place}");
                return Some(Misfit { path: path.clone(), place, expected: "a str".into(), found });
            };
            path.push(Step::Value(i));
            let found = misfit(item, inner, format!("{place}[{name:?}]"), path);
            path.pop();
            found
        }),
        (Shape::List(inner), Arg::List(items) | Arg::Tuple(items)) => items.iter().enumerate().find_map(|(i, item)| {
            path.push(Step::Item(i));
            let found = misfit(item, inner, format!("{place}[{i}]"), path);
            path.pop();
            found
        }),
        (Shape::Dict, Arg::Dict(_)) => None,
        (Shape::Stored, Arg::Str(_) | Arg::Int(_) | Arg::Float(_) | Arg::Bool(_) | Arg::List(_) | Arg::Dict(_)) => None,
        (Shape::Positive, Arg::Int(n)) if *n > 0 => None,
        (Shape::Positive, Arg::Int(n)) => {
            Some(Misfit { path: path.clone(), place, expected: shape.describe(), found: n.to_string() })
        }
        _ => {
            let found = value.type_name().unwrap_or("?").to_owned();
            Some(Misfit { path: path.clone(), place, expected: shape.describe(), found })
        }
    }
}

/// The protocols of a mock's interfaces.
fn protocols(service: &Recorded) -> Vec<&str> {
    attrs::interfaces(service).filter_map(|i| attrs::interface_arg(i, 1, "protocol").and_then(Arg::as_str)).collect()
}

fn seeds(model: &Model, call: &Call, literals: &OnceLock<Option<Literals>>, out: &mut Vec<Diagnostic>) {
    let Some(Arg::Dict(config)) = call.record.named("config") else { return };
    let spoken = protocols(&call.record);
    let own = call.record.name().unwrap_or("?");
    for (index, (key, value)) in config.iter().enumerate() {
        let Some(key) = key.as_str() else { continue };
        for seed in SEEDS.iter().filter(|s| s.key == key && spoken.contains(&s.protocol)) {
            let mut path = vec![Step::Value(index)];
            let Some(found) = misfit(value, &seed.shape, format!("`{key}`"), &mut path) else { continue };
            let literals = literals.get_or_init(|| model.syntax.map(|s| Literals::index(&s.tree)));
            let at = model.value_span(call, "config");
            let at = literals.as_ref().map_or(at, |l| descend(l, at, &Arg::Dict(config.clone()), &found.path));
            out.push(
                Diagnostic::warning(
                    "TOP127",
                    at,
                    format!(
                        "{} in the seed of {} mock `{own}` is {}, not {}",
                        found.place,
                        seed.protocol,
                        article(&found.found),
                        found.expected
                    ),
                )
                .with_help(format!(
                    "`config={{\"{key}\": ...}}` must be {}: Faultbox skips a seed it cannot read (the mock starts \
                     without it) and `ospecc run` refuses to start the mock",
                    seed.shape.describe()
                )),
            );
        }
    }
}

/// A type name with its article (`an int`); a value (`None`, `0`) as it is.
fn article(ty: &str) -> String {
    match ty {
        "None" => "None".into(),
        t if t.starts_with(|c: char| c.is_ascii_digit() || c == '-') => t.into(),
        t if t.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {t}"),
        t => format!("a {t}"),
    }
}

/// The span of the part `path` leads to inside the literal at `at` holding `value`; as deep as
/// the literals go (a variable or computed value stops the descent at its own span).
fn descend(literals: &Literals, mut at: Span, value: &Arg, path: &[Step]) -> Span {
    let mut value = value;
    for step in path {
        match (step, value) {
            (Step::Value(i), Arg::Dict(entries)) => {
                let Some(&(_, span)) = literals.entries(at, entries.len()).get(*i) else { return at };
                at = span;
                value = &entries[*i].1;
            }
            (Step::Key(i), Arg::Dict(entries)) => {
                return literals.entries(at, entries.len()).get(*i).map_or(at, |e| e.0);
            }
            (Step::Item(i), Arg::List(items) | Arg::Tuple(items)) => {
                let Some(&span) = literals.items(at, items.len()).get(*i) else { return at };
                at = span;
                value = &items[*i];
            }
            _ => return at,
        }
    }
    at
}

// ---- data files (TOP128, TOP129) ----

/// A data file a mock names, resolved below the spec's directory (else `None`: a path that
/// leaves it is the sandbox's finding, not this check's).
fn data_path(files: Files, path: &str) -> Option<PathBuf> {
    if path.contains("://") || Path::new(path).is_absolute() {
        return None;
    }
    let dir = normalize(files.spec_dir);
    let joined = normalize(&dir.join(path));
    joined.starts_with(&dir).then_some(joined)
}

/// Why a data file could not be read, when that is worth reporting (a file system that cannot
/// read files, or only text, answers nothing here).
fn unreadable(error: &std::io::Error) -> Option<String> {
    match error.kind() {
        std::io::ErrorKind::Unsupported | std::io::ErrorKind::InvalidData => None,
        _ => Some(crate::vfs::describe_io(error)),
    }
}

fn descriptors(model: &Model, call: &Call, files: Files, out: &mut Vec<Diagnostic>) {
    let Some(Arg::Str(path)) = call.record.named("descriptors") else { return };
    let Some(resolved) = data_path(files, path) else { return };
    let problem = match files.fs.read_bytes(&resolved, MAX_READ_BYTES) {
        Err(e) => unreadable(&e).map(|why| format!("cannot read `{path}`: {why}")),
        Ok(bytes) => {
            descriptor_set_problem(&bytes).map(|why| format!("`{path}` is not a protobuf FileDescriptorSet: {why}"))
        }
    };
    let Some(message) = problem else { return };
    out.push(Diagnostic::error("TOP128", model.value_span(call, "descriptors"), message).with_help(
        "generate it with `protoc --include_imports --descriptor_set_out=FILE.pb your.proto` (or `buf build -o \
             FILE.pb`); the path is relative to the spec's directory",
    ));
}

/// What makes `bytes` unusable as a descriptor set (`None` when it is one).
fn descriptor_set_problem(bytes: &[u8]) -> Option<String> {
    match prost_types::FileDescriptorSet::decode(bytes) {
        Err(e) => Some(format!("it does not decode ({e})")),
        Ok(set) if set.file.is_empty() => Some("it describes no .proto file".into()),
        // protoc names every file it describes; a nameless one means the bytes were not protoc's.
        Ok(set) if set.file.iter().any(|f| f.name().is_empty()) => Some("a file in it has no name".into()),
        Ok(_) => None,
    }
}

fn openapi(model: &Model, call: &Call, files: Files, out: &mut Vec<Diagnostic>) {
    let Some(Arg::Str(path)) = call.record.named("openapi") else { return };
    let Some(resolved) = data_path(files, path) else { return };
    let problem = match files.fs.read_to_string(&resolved, MAX_READ_BYTES) {
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Some(format!("`{path}` is not UTF-8 text")),
        Err(e) => unreadable(&e).map(|why| format!("cannot read `{path}`: {why}")),
        Ok(text) => openapi_problem(&text).map(|why| format!("`{path}` is not an OpenAPI document: {why}")),
    };
    let Some(message) = problem else { return };
    out.push(Diagnostic::error("TOP129", model.value_span(call, "openapi"), message).with_help(
        "pass an OpenAPI 3 document (YAML or JSON) whose `paths` lists the operations to mock; the path is relative \
         to the spec's directory",
    ));
}

/// What makes `text` unusable as an OpenAPI document (`None` when it parses and has `paths`).
fn openapi_problem(text: &str) -> Option<String> {
    let parsed = yaml::parse(text);
    if let Some(error) = parsed.diagnostics.iter().find(|d| d.severity == crate::Severity::Error) {
        let at = crate::span::LineIndex::new(text).line_col(text, error.span.start);
        return Some(format!("it does not parse as YAML or JSON (line {}: {})", at.line, error.message));
    }
    let root = parsed.documents.first().and_then(|d| d.root.as_ref());
    let Some(yaml::Value::Map(entries)) = root.map(|r| &r.value) else {
        return Some("its top level is not a mapping".into());
    };
    match entries.iter().find(|e| e.key_text() == "paths").map(|e| &e.value.value) {
        None => Some("it has no `paths`".into()),
        Some(yaml::Value::Map(_)) => None,
        Some(_) => Some("its `paths` is not a mapping".into()),
    }
}

// ---- what this runtime cannot run (TOP130, TOP131) ----

/// Interfaces of mock services (declared in the root file) whose protocol Faultbox mocks but
/// `ospecc run` serves no in-process mock for.
fn unserved_mocks(model: &Model, out: &mut Vec<Diagnostic>) {
    let served: Vec<&str> = catalog().protocols.iter().filter(|p| p.mock_served).map(|p| p.name.as_str()).collect();
    for service in model.evaluated.services().filter(|s| s.builtin != builtins::SERVICE) {
        for iface in attrs::interfaces(service).filter(|i| i.file == model.evaluated.root) {
            let Some(proto) = attrs::interface_arg(iface, 1, "protocol").and_then(Arg::as_str) else { continue };
            // Protocols no mock exists for at all are TOP121's; unknown ones the vocabulary's.
            if !catalog().protocol(proto).is_some_and(|p| p.mock_capable && !p.mock_served) {
                continue;
            }
            let Some(site) = model.syntax.and_then(|s| s.call(iface.span)) else { continue };
            let at = site.keyword_value("protocol").or_else(|| site.positional.get(1).copied()).unwrap_or(iface.span);
            out.push(
                Diagnostic::warning(
                    "TOP130",
                    at,
                    format!(
                        "`ospecc run` has no in-process `{proto}` mock: mock service `{}` will not start",
                        service.name().unwrap_or("?")
                    ),
                )
                .with_help(format!(
                    "Faultbox serves it; `ospecc run` serves mocks for {}. Run a real `{proto}` server with \
                     `service(...)` to run this spec here",
                    super::services::listing(&served)
                )),
            );
        }
    }
}

/// Steps in test bodies over a protocol `ospecc run` has no client for.
fn unrun_steps(model: &Model, out: &mut Vec<Diagnostic>) {
    let run: Vec<&str> = catalog().protocols.iter().filter(|p| p.steps_run).map(|p| p.name.as_str()).collect();
    for call in model.calls() {
        let Target::Step { interface, method } = &call.target else { continue };
        let Some(proto) = attrs::protocol_of(interface) else { continue };
        if !catalog().protocol(proto).is_some_and(|p| !p.methods.is_empty() && !p.steps_run) {
            continue;
        }
        out.push(
            Diagnostic::warning(
                "TOP131",
                model.callee_span(call),
                format!(
                    "`ospecc run` has no `{proto}` client: the step `{}` fails when the test runs",
                    call.display_name()
                ),
            )
            .with_help(format!(
                "Faultbox runs `{proto}.{}`; `ospecc run` runs steps over {}. Drive this service through one \
                 that speaks those, or run the spec with Faultbox",
                method.name,
                super::services::listing(&run)
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_garbage_descriptor_set_is_refused_and_a_real_one_accepted() {
        assert!(descriptor_set_problem(b"").is_some());
        assert!(descriptor_set_problem(b"syntax = \"proto3\";\nmessage A {}\n").is_some());
        let set = prost_types::FileDescriptorSet {
            file: vec![prost_types::FileDescriptorProto { name: Some("a.proto".into()), ..Default::default() }],
        };
        assert_eq!(descriptor_set_problem(&set.encode_to_vec()), None);
    }

    #[test]
    fn openapi_documents_need_to_parse_and_have_paths() {
        assert_eq!(openapi_problem("openapi: 3.0.0\npaths:\n  /a:\n    get: {}\n"), None);
        assert_eq!(openapi_problem(r#"{"openapi": "3.0.0", "paths": {}}"#), None);
        assert!(openapi_problem("openapi: 3.0.0\ninfo: {}\n").unwrap().contains("no `paths`"));
        assert!(openapi_problem("paths: [\n").unwrap().contains("does not parse"));
        assert!(openapi_problem("- a\n").unwrap().contains("not a mapping"));
    }
}
