//! HTTP mocks served from an OpenAPI document (`mock_service(..., openapi=...)`, as
//! `http.server(openapi=...)` of `@faultbox/mocks/http.star` lowers): one operation per
//! `paths` × method, each answering its success response (lowest 2xx, else `default`, else the
//! first) with an example picked by the `examples=` strategy, or a minimal value synthesized
//! from the schema. `overrides=` replace derived responses; `validate=` checks requests against
//! the document (parameters and JSON bodies) and, at start, the mock's own responses against
//! their schemas. The document is YAML or JSON, read with the compiler's YAML front end.
//!
//! Everything is resolved once, in [`Api::load`]: a document that does not parse, has no
//! `paths`, or holds a `$ref` that does not resolve refuses to start, as does an override that
//! matches no operation or (when responses are validated) an example that breaks its schema.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use jsonschema::{Draft, Validator};
use ospecc_compiler::syntax::yaml;
use ospecc_schema::plan::topology::{MockOpenApi, MockResponse};
use serde_json::{Map, Value};

use super::routes::Pattern;

/// The longest `$ref` chain followed before giving up (a cycle of references).
const MAX_REF_CHAIN: usize = 32;
/// How deep synthesis descends into nested (possibly recursive) schemas.
const MAX_SYNTH_DEPTH: usize = 8;
/// Validation failures reported per request or response.
const MAX_FAILURES: usize = 5;
/// The largest document read.
const MAX_DOCUMENT_BYTES: u64 = 32 * 1024 * 1024;
/// The operation keys of a path item, in OpenAPI's order.
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// What `validate=` checks: requests (and whether a failure is refused with 400 or only
/// recorded), and the mock's own responses.
#[derive(Debug, Clone, Copy)]
struct Checks {
    requests: bool,
    reject: bool,
    responses: bool,
}

/// `validate=` values: `warn` is Faultbox's record-only mode.
const MODES: &[(&str, Checks)] = &[
    ("off", Checks { requests: false, reject: false, responses: false }),
    ("warn", Checks { requests: true, reject: false, responses: false }),
    ("request", Checks { requests: true, reject: true, responses: false }),
    ("response", Checks { requests: false, reject: false, responses: true }),
    ("strict", Checks { requests: true, reject: true, responses: true }),
];

/// How an operation's response body is chosen (`examples=`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Strategy {
    First,
    Random,
    Synthesize,
    Named(String),
}

impl Strategy {
    fn parse(text: &str) -> Strategy {
        match text {
            "first" | "" => Strategy::First,
            "random" => Strategy::Random,
            "synthesize" => Strategy::Synthesize,
            name => Strategy::Named(name.to_owned()),
        }
    }
}

/// A served OpenAPI document: its operations and what is checked.
pub(super) struct Api {
    operations: Vec<Operation>,
    checks: Checks,
}

/// One `paths` × method of the document.
pub(super) struct Operation {
    /// `"METHOD /template"`, the key events and overrides use.
    pub key: String,
    method: String,
    segments: Vec<Segment>,
    pub operation_id: Option<String>,
    /// The derived response, or the override that replaced it.
    pub response: MockResponse,
    request: RequestCheck,
}

/// A segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`, possibly with literal text around it (`{name}.json`).
    Param {
        name: String,
        prefix: String,
        suffix: String,
    },
}

/// What a request to an operation must satisfy (empty unless requests are validated).
#[derive(Default)]
struct RequestCheck {
    params: Vec<Param>,
    body: Option<BodyCheck>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Path,
    Query,
    Header,
}

const LOCATIONS: &[(&str, Location)] =
    &[("path", Location::Path), ("query", Location::Query), ("header", Location::Header)];

struct Param {
    name: String,
    location: Location,
    required: bool,
    /// The JSON type text is coerced to before validation (`integer`, `array`, ...).
    kind: Option<String>,
    /// For arrays, the items' type.
    item_kind: Option<String>,
    validator: Option<Arc<Validator>>,
}

struct BodyCheck {
    required: bool,
    /// Declared content types (lower-case) with the validator of their schema, if any.
    media: Vec<(String, Option<Arc<Validator>>)>,
}

impl Api {
    /// Reads, resolves and prepares the document at `path` for mock `service`.
    pub(super) fn load(path: &Path, config: &MockOpenApi, service: &str) -> Result<Api, String> {
        let shown = config.path.as_str();
        let doc = read_document(path).map_err(|why| format!("the OpenAPI document `{shown}` {why}"))?;
        let checks =
            MODES.iter().find(|(name, _)| *name == config.validate).map(|(_, checks)| *checks).ok_or_else(|| {
                let known: Vec<&str> = MODES.iter().map(|(name, _)| *name).collect();
                format!("validate=`{}` is not one of {}", config.validate, known.join(", "))
            })?;
        let doc = Document::new(doc).map_err(|why| format!("the OpenAPI document `{shown}`: {why}"))?;
        let strategy = Strategy::parse(&config.examples);
        let mut operations = Vec::new();
        for (template, item) in doc.paths()? {
            for &method in METHODS {
                let Some(node) = item.get(method) else { continue };
                let key = format!("{} {template}", method.to_ascii_uppercase());
                let operation = doc
                    .operation(&key, template, item, node, &strategy, service, checks)
                    .map_err(|why| format!("operation `{key}` of `{shown}`: {why}"))?;
                operations.push(operation);
            }
        }
        apply_overrides(&mut operations, config)?;
        Ok(Api { operations, checks })
    }

    pub(super) fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// Whether requests are checked, and whether a failing one is refused.
    pub(super) fn checks_requests(&self) -> (bool, bool) {
        (self.checks.requests, self.checks.reject)
    }

    /// The operation serving `method path` (a literal path beats a template; then the one with
    /// the most literal segments), with its path parameters.
    pub(super) fn find(&self, method: &str, path: &str) -> Option<(usize, BTreeMap<String, String>)> {
        let target: Vec<&str> = split(path).collect();
        self.operations
            .iter()
            .enumerate()
            .filter(|(_, op)| op.method.eq_ignore_ascii_case(method))
            .filter_map(|(index, op)| op.capture(&target).map(|params| (index, op, params)))
            .max_by_key(|(index, op, _)| (op.literals(), std::cmp::Reverse(*index)))
            .map(|(index, _, params)| (index, params))
    }

    /// Why a request breaks the operation's contract (empty when it does not).
    pub(super) fn check(
        &self,
        index: usize,
        params: &BTreeMap<String, String>,
        request: &super::MockRequest,
    ) -> Vec<String> {
        let Some(op) = self.operations.get(index) else { return Vec::new() };
        let mut failures = Vec::new();
        let query: Vec<(String, String)> =
            form_urlencoded::parse(request.query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        for param in &op.request.params {
            let values: Vec<&str> = match param.location {
                Location::Path => params.get(&param.name).map(String::as_str).into_iter().collect(),
                Location::Query => query.iter().filter(|(k, _)| *k == param.name).map(|(_, v)| v.as_str()).collect(),
                Location::Header => request
                    .headers
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(&param.name))
                    .map(|(_, v)| v.as_str())
                    .collect(),
            };
            failures.extend(param.check(&values));
        }
        if let Some(body) = &op.request.body {
            failures.extend(body.check(request));
        }
        failures.truncate(MAX_FAILURES);
        failures
    }
}

impl Operation {
    fn literals(&self) -> usize {
        self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count()
    }

    /// The path parameters when `target` matches the template.
    fn capture(&self, target: &[&str]) -> Option<BTreeMap<String, String>> {
        if target.len() != self.segments.len() {
            return None;
        }
        let mut params = BTreeMap::new();
        for (segment, text) in self.segments.iter().zip(target) {
            match segment {
                Segment::Literal(literal) if literal == text => {}
                Segment::Literal(_) => return None,
                Segment::Param { name, prefix, suffix } => {
                    let value = text.strip_prefix(prefix.as_str())?.strip_suffix(suffix.as_str())?;
                    if value.is_empty() {
                        return None;
                    }
                    params.insert(name.clone(), percent_decode(value));
                }
            }
        }
        Some(params)
    }
}

impl Param {
    fn check(&self, values: &[&str]) -> Vec<String> {
        let what = format!("{} parameter `{}`", location_name(self.location), self.name);
        if values.is_empty() {
            return if self.required { vec![format!("{what} is required")] } else { Vec::new() };
        }
        let Some(validator) = &self.validator else { return Vec::new() };
        let value = if self.kind.as_deref() == Some("array") {
            Value::Array(
                values.iter().flat_map(|v| v.split(',')).map(|v| coerce(v, self.item_kind.as_deref())).collect(),
            )
        } else {
            coerce(values[0], self.kind.as_deref())
        };
        errors(validator, &value).into_iter().map(|error| format!("{what}: {error}")).collect()
    }
}

impl BodyCheck {
    fn check(&self, request: &super::MockRequest) -> Vec<String> {
        if request.body.trim().is_empty() {
            return if self.required { vec!["the request body is required".to_owned()] } else { Vec::new() };
        }
        let declared = request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v);
        let content_type = declared
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "application/json".to_owned());
        // Only JSON bodies are checked (as Faultbox); other declared types pass unchecked.
        let Some((_, Some(validator))) = self.media.iter().find(|(t, _)| media_matches(t, &content_type)) else {
            return Vec::new();
        };
        if !content_type.contains("json") {
            return Vec::new();
        }
        match serde_json::from_str::<Value>(&request.body) {
            Err(e) => vec![format!("the request body is not JSON: {e}")],
            Ok(value) => errors(validator, &value).into_iter().map(|e| format!("request body: {e}")).collect(),
        }
    }
}

fn location_name(location: Location) -> &'static str {
    LOCATIONS.iter().find(|(_, l)| *l == location).map_or("", |(name, _)| name)
}

/// `application/*` and `*/*` ranges in the document match any subtype / type.
fn media_matches(declared: &str, actual: &str) -> bool {
    declared == actual
        || declared == "*/*"
        || declared.strip_suffix("/*").is_some_and(|kind| actual.split('/').next() == Some(kind))
}

/// A parameter's text as the JSON value its schema type describes (left a string when it
/// does not parse, so the schema reports the mismatch).
fn coerce(text: &str, kind: Option<&str>) -> Value {
    let parsed = match kind {
        Some("integer") => text.parse::<i64>().ok().map(Value::from),
        Some("number") => text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number),
        Some("boolean") => text.parse::<bool>().ok().map(Value::Bool),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}

fn errors(validator: &Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .take(MAX_FAILURES)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{e} at `{at}`")
            }
        })
        .collect()
}

/// Replaces derived responses with `overrides=` (a key may be a pattern covering several
/// operations; one that covers none is an error).
fn apply_overrides(operations: &mut [Operation], config: &MockOpenApi) -> Result<(), String> {
    for route in &config.overrides {
        let pattern = Pattern::parse(&route.key)
            .map_err(|why| format!("override `{}` is not an HTTP route: {why}", route.key))?;
        // A key naming an operation's template replaces that operation only (`GET /pets/{id}`
        // leaves `GET /pets/mine` alone); any other key is a pattern over the templates.
        let exact = exact_template(&route.key);
        let names = |op: &Operation| {
            exact.as_ref().is_some_and(|(m, s)| op.method.eq_ignore_ascii_case(m) && same_template(s, &op.segments))
        };
        let exact_hit = operations.iter().any(names);
        let mut matched = false;
        for op in operations.iter_mut() {
            let template = op.key.split_once(' ').map_or("", |(_, t)| t);
            if (exact_hit && names(op)) || (!exact_hit && pattern.matches(&op.method, template)) {
                op.response = route.response.clone();
                matched = true;
            }
        }
        if !matched {
            return Err(format!("override `{}` matches no operation of `{}`", route.key, config.path));
        }
    }
    Ok(())
}

/// An override key as a method and template segments.
fn exact_template(key: &str) -> Option<(String, Vec<Segment>)> {
    let (method, path) = key.trim().split_once(' ')?;
    Some((method.to_owned(), split(path.trim()).map(segment).collect()))
}

/// Templates equal but for their parameters' names.
fn same_template(a: &[Segment], b: &[Segment]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|pair| match pair {
            (Segment::Literal(x), Segment::Literal(y)) => x == y,
            (Segment::Param { prefix: p1, suffix: s1, .. }, Segment::Param { prefix: p2, suffix: s2, .. }) => {
                p1 == p2 && s1 == s2
            }
            _ => false,
        })
}

/// The document as JSON: JSON text directly, anything else through the YAML front end.
fn read_document(path: &Path) -> Result<Value, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read: {e}"))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_DOCUMENT_BYTES), &mut text)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        return Ok(value);
    }
    let parsed = yaml::parse(&text);
    if let Some(error) = parsed.diagnostics.iter().find(|d| d.severity == ospecc_compiler::Severity::Error) {
        let at = ospecc_compiler::LineIndex::new(&text).line_col(&text, error.span.start);
        return Err(format!("does not parse as YAML or JSON (line {}: {})", at.line, error.message));
    }
    parsed.documents.first().and_then(|d| d.root.as_ref()).map(yaml::Node::to_json).ok_or_else(|| "is empty".to_owned())
}

/// The parsed document with what its schemas are validated under.
struct Document {
    root: Value,
    /// `root` with OpenAPI 3.0's `nullable` rewritten as JSON Schema, for validators.
    normalized: Value,
    draft: Draft,
    /// Validators by their schema's text: operations share schemas (a `$ref`, `{type:
    /// integer}`), and each compile copies the document's components.
    validators: RefCell<HashMap<String, Arc<Validator>>>,
}

impl Document {
    fn new(root: Value) -> Result<Document, String> {
        if !root.is_object() {
            return Err("its top level is not a mapping".to_owned());
        }
        match root.get("paths") {
            Some(Value::Object(_)) => {}
            Some(_) => return Err("its `paths` is not a mapping".to_owned()),
            None => return Err("it has no `paths`".to_owned()),
        }
        check_refs(&root, &root, &mut String::new())?;
        let version = root.get("openapi").and_then(Value::as_str).unwrap_or("3.0");
        // 3.0's schemas are an extended draft-4 subset; 3.1's are JSON Schema 2020-12.
        let (draft, normalized) = if version.starts_with("3.1") {
            (Draft::Draft202012, root.clone())
        } else {
            (Draft::Draft4, nullable_to_types(root.clone()))
        };
        Ok(Document { root, normalized, draft, validators: RefCell::default() })
    }

    fn paths(&self) -> Result<impl Iterator<Item = (&String, &Value)>, String> {
        let paths = self.root.get("paths").and_then(Value::as_object).ok_or("the document has no `paths`")?;
        Ok(paths.iter().filter(|(template, _)| template.starts_with('/')))
    }

    /// Follows `$ref`s from `node` to the value they name.
    fn deref<'a>(&'a self, mut node: &'a Value) -> Result<&'a Value, String> {
        for _ in 0..MAX_REF_CHAIN {
            let Some(reference) = node.get("$ref").and_then(Value::as_str) else { return Ok(node) };
            node = resolve(&self.root, reference).ok_or_else(|| format!("`$ref` `{reference}` does not resolve"))?;
        }
        Err("a `$ref` chain is too long (a cycle?)".to_owned())
    }

    /// A validator for `schema` (a node of the document), its `$ref`s resolved in the document.
    fn validator(&self, schema: &Value) -> Result<Arc<Validator>, String> {
        let text = schema.to_string();
        if let Some(known) = self.validators.borrow().get(&text) {
            return Ok(Arc::clone(known));
        }
        let compiled = Arc::new(self.compile(schema)?);
        self.validators.borrow_mut().insert(text, Arc::clone(&compiled));
        Ok(compiled)
    }

    fn compile(&self, schema: &Value) -> Result<Validator, String> {
        let schema = if self.draft == Draft::Draft4 { nullable_to_types(schema.clone()) } else { schema.clone() };
        let mut wrapper = Map::new();
        // Only a schema with a `$ref` needs the document's components beside it.
        let refers = schema.to_string().contains("\"$ref\"");
        wrapper.insert("allOf".to_owned(), Value::Array(vec![schema]));
        if let Some(components) = self.normalized.get("components").filter(|_| refers) {
            wrapper.insert("components".to_owned(), components.clone());
        }
        jsonschema::options()
            .with_draft(self.draft)
            .build(&Value::Object(wrapper))
            .map_err(|e| format!("a schema does not compile: {e}"))
    }

    #[allow(clippy::too_many_arguments)]
    fn operation(
        &self,
        key: &str,
        template: &str,
        item: &Value,
        node: &Value,
        strategy: &Strategy,
        service: &str,
        checks: Checks,
    ) -> Result<Operation, String> {
        let item = self.deref(item)?;
        let node = self.deref(node)?;
        let (response, chosen) = self.response(node, strategy, &format!("{service}\0{key}"))?;
        if checks.responses {
            if let Some((value, schema)) = chosen {
                let failures = errors(&*self.validator(schema)?, &value);
                if !failures.is_empty() {
                    return Err(format!("its response does not match its schema: {}", failures.join("; ")));
                }
            }
        }
        let request = if checks.requests { self.request_check(item, node)? } else { RequestCheck::default() };
        Ok(Operation {
            key: key.to_owned(),
            method: key.split(' ').next().unwrap_or_default().to_owned(),
            segments: split(template).map(segment).collect(),
            operation_id: node.get("operationId").and_then(Value::as_str).map(str::to_owned),
            response,
            request,
        })
    }

    /// The operation's response, and (for a JSON body with a schema) the value and its schema.
    fn response<'a>(
        &'a self,
        op: &'a Value,
        strategy: &Strategy,
        seed: &str,
    ) -> Result<(MockResponse, Option<Checked<'a>>), String> {
        let responses = op.get("responses").and_then(Value::as_object).ok_or("it has no `responses`")?;
        let (status_key, response) = primary_response(responses).ok_or("it declares no response")?;
        let status = status_of(status_key);
        let response = self.deref(response)?;
        let Some((content_type, media)) = response.get("content").and_then(Value::as_object).and_then(pick_media)
        else {
            return Ok((MockResponse::Status { status }, None));
        };
        let media = self.deref(media)?;
        let schema = media.get("schema");
        let Some(value) = self.example(media, strategy, seed)?.or_else(|| schema.map(|s| self.synthesize(s, 0))) else {
            return Ok((MockResponse::Status { status }, None));
        };
        let headers = vec![("content-type".to_owned(), content_type.clone())];
        if content_type.contains("json") {
            let checked = schema.map(|s| (value.clone(), s));
            return Ok((MockResponse::Json { status, body: value, headers }, checked));
        }
        let body = match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        Ok((MockResponse::Text { status, body, headers }, None))
    }

    /// The example `strategy` picks from a media type (`None` when it declares none).
    fn example(&self, media: &Value, strategy: &Strategy, seed: &str) -> Result<Option<Value>, String> {
        let mut named = Vec::new();
        if let Some(examples) = media.get("examples").and_then(Value::as_object) {
            for (name, example) in examples {
                // An example with only an `externalValue` has nothing to serve here.
                if let Some(value) = self.deref(example)?.get("value") {
                    named.push((name.as_str(), value));
                }
            }
        }
        named.sort_by(|a, b| a.0.cmp(b.0));
        let picked = match strategy {
            Strategy::Named(name) => named.iter().find(|(n, _)| n == name).map(|(_, v)| *v),
            Strategy::Random if !named.is_empty() => {
                let index = usize::try_from(fnv1a(seed.as_bytes()) % named.len() as u64).unwrap_or(0);
                named.get(index).map(|(_, v)| *v)
            }
            _ => None,
        };
        Ok(picked.or_else(|| media.get("example")).or_else(|| named.first().map(|(_, v)| *v)).cloned())
    }

    /// A minimal value of `schema`'s type (Faultbox's synthesis: examples and defaults first).
    fn synthesize(&self, schema: &Value, depth: usize) -> Value {
        let Ok(schema) = self.deref(schema) else { return Value::Null };
        if depth > MAX_SYNTH_DEPTH {
            return Value::Null;
        }
        if let Some(value) = ["example", "default", "const"].iter().find_map(|k| schema.get(*k)) {
            return value.clone();
        }
        if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
            return first.clone();
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            return merge(parts.iter().map(|p| self.synthesize(p, depth + 1)));
        }
        if let Some(first) = ["oneOf", "anyOf"].iter().find_map(|k| schema.get(*k)?.as_array()?.first()) {
            return self.synthesize(first, depth + 1);
        }
        match schema_type(schema).as_deref() {
            Some("string") => synth_string(schema),
            Some("integer") => Value::from(bounded(schema).round() as i64),
            Some("number") => serde_json::Number::from_f64(bounded(schema)).map_or(Value::from(0), Value::Number),
            Some("boolean") => Value::Bool(false),
            Some("null") => Value::Null,
            Some("array") => {
                let Some(items) = schema.get("items") else { return Value::Array(Vec::new()) };
                let count = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1).clamp(1, 16);
                Value::Array((0..count).map(|_| self.synthesize(items, depth + 1)).collect())
            }
            _ => self.synth_object(schema, depth),
        }
    }

    /// An object with its required properties.
    fn synth_object(&self, schema: &Value, depth: usize) -> Value {
        let required = schema.get("required").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let properties = schema.get("properties").and_then(Value::as_object);
        let mut object = Map::new();
        for name in required.iter().filter_map(Value::as_str) {
            let value = properties.and_then(|p| p.get(name)).map_or(Value::Null, |s| self.synthesize(s, depth + 1));
            object.insert(name.to_owned(), value);
        }
        Value::Object(object)
    }

    /// Parameter and body checks (path-level parameters, overridden by the operation's own).
    fn request_check(&self, item: &Value, op: &Value) -> Result<RequestCheck, String> {
        let mut declared: Vec<&Value> = Vec::new();
        for list in [item.get("parameters"), op.get("parameters")].into_iter().flatten() {
            for param in list.as_array().map(Vec::as_slice).unwrap_or_default() {
                let param = self.deref(param)?;
                let same =
                    |other: &&Value| other.get("name") == param.get("name") && other.get("in") == param.get("in");
                declared.retain(|other| !same(other));
                declared.push(param);
            }
        }
        let mut params = Vec::new();
        for param in declared {
            let location = param.get("in").and_then(Value::as_str);
            let Some(&(_, location)) = LOCATIONS.iter().find(|(name, _)| Some(*name) == location) else { continue };
            let name = param.get("name").and_then(Value::as_str).ok_or("a parameter has no `name`")?;
            let schema = param.get("schema");
            let resolved = schema.map(|s| self.deref(s)).transpose()?;
            let item_kind = resolved.and_then(|s| s.get("items")).map(|i| self.deref(i)).transpose()?;
            params.push(Param {
                // Header names are case-insensitive; the lookup compares them so.
                name: name.to_owned(),
                location,
                required: location == Location::Path || param.get("required") == Some(&Value::Bool(true)),
                kind: resolved.and_then(schema_type),
                item_kind: item_kind.and_then(schema_type),
                validator: schema.map(|s| self.validator(s)).transpose()?,
            });
        }
        let body = match op.get("requestBody") {
            None => None,
            Some(body) => {
                let body = self.deref(body)?;
                let mut media = Vec::new();
                for (content_type, entry) in body.get("content").and_then(Value::as_object).into_iter().flatten() {
                    let schema = self.deref(entry)?.get("schema");
                    media.push((content_type.to_ascii_lowercase(), schema.map(|s| self.validator(s)).transpose()?));
                }
                Some(BodyCheck { required: body.get("required") == Some(&Value::Bool(true)), media })
            }
        };
        Ok(RequestCheck { params, body })
    }
}

/// A derived JSON body with the schema it must match.
type Checked<'a> = (Value, &'a Value);

/// The success response: the lowest 2xx, else `2XX`, else `default`, else the lowest key.
fn primary_response(responses: &Map<String, Value>) -> Option<(&String, &Value)> {
    let lowest_2xx = responses.iter().filter(|(k, _)| k.len() == 3 && k.starts_with('2')).min_by_key(|(k, _)| *k);
    lowest_2xx
        .or_else(|| responses.iter().find(|(k, _)| k.eq_ignore_ascii_case("2xx")))
        .or_else(|| responses.iter().find(|(k, _)| *k == "default"))
        .or_else(|| responses.iter().min_by_key(|(k, _)| *k))
}

/// `default` answers 200 (as Faultbox); `4XX` its class's first status.
fn status_of(key: &str) -> u16 {
    let digits = key.to_ascii_lowercase().replace('x', "0");
    digits.parse::<u16>().ok().filter(|s| (100..600).contains(s)).unwrap_or(200)
}

/// `application/json`, else another JSON type, else the first (by name) declared.
fn pick_media(content: &Map<String, Value>) -> Option<(&String, &Value)> {
    content
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("application/json"))
        .or_else(|| content.iter().filter(|(k, _)| k.contains("json")).min_by_key(|(k, _)| *k))
        .or_else(|| content.iter().min_by_key(|(k, _)| *k))
}

/// A schema's type (the first non-null one of a list; `object` when it has properties).
fn schema_type(schema: &Value) -> Option<String> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").map(str::to_owned),
        _ => schema.get("properties").map(|_| "object".to_owned()),
    }
}

/// Placeholder strings by `format`; others are `"string"`.
const FORMATS: &[(&str, &str)] = &[
    ("date-time", "1970-01-01T00:00:00Z"),
    ("date", "1970-01-01"),
    ("time", "00:00:00Z"),
    ("uuid", "00000000-0000-0000-0000-000000000000"),
    ("email", "user@example.com"),
    ("uri", "https://example.com/"),
    ("url", "https://example.com/"),
    ("hostname", "example.com"),
    ("ipv4", "127.0.0.1"),
    ("ipv6", "::1"),
    ("byte", ""),
];

fn synth_string(schema: &Value) -> Value {
    let format = schema.get("format").and_then(Value::as_str).unwrap_or_default();
    let mut text = FORMATS.iter().find(|(f, _)| *f == format).map_or("string", |(_, v)| v).to_owned();
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0).min(1024);
    while (text.chars().count() as u64) < min {
        text.push('x');
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        text = text.chars().take(usize::try_from(max).unwrap_or(usize::MAX)).collect();
    }
    Value::String(text)
}

/// 0, moved into `[minimum, maximum]` when the schema bounds it.
fn bounded(schema: &Value) -> f64 {
    let mut value = 0.0_f64;
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        value = value.max(if schema.get("exclusiveMinimum") == Some(&Value::Bool(true)) { min + 1.0 } else { min });
    }
    if let Some(min) = schema.get("exclusiveMinimum").and_then(Value::as_f64) {
        value = value.max(min + 1.0);
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        value = value.min(max);
    }
    value
}

/// `allOf` parts merged: objects' fields together, else the first part.
fn merge(parts: impl Iterator<Item = Value>) -> Value {
    let mut merged: Option<Value> = None;
    for part in parts {
        match (&mut merged, part) {
            (None, part) => merged = Some(part),
            (Some(Value::Object(into)), Value::Object(from)) => into.extend(from),
            _ => {}
        }
    }
    merged.unwrap_or(Value::Object(Map::new()))
}

fn segment(text: &str) -> Segment {
    let (Some(open), Some(close)) = (text.find('{'), text.rfind('}')) else { return Segment::Literal(text.to_owned()) };
    if close < open {
        return Segment::Literal(text.to_owned());
    }
    Segment::Param {
        name: text[open + 1..close].to_owned(),
        prefix: text[..open].to_owned(),
        suffix: text[close + 1..].to_owned(),
    }
}

/// The segments of a path: no leading `/`, a trailing `/` ignored.
fn split(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    trimmed.split('/').filter(move |_| !trimmed.is_empty())
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("v={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(|| text.to_owned(), |(_, v)| v.into_owned())
}

/// A JSON pointer reference within the document (`#/components/schemas/Pet`).
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(&percent_decode(pointer))
}

/// Every `$ref` in the document must resolve within it (`at` is the JSON pointer walked).
fn check_refs(root: &Value, node: &Value, at: &mut String) -> Result<(), String> {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                if !reference.starts_with('#') {
                    return Err(format!(
                        "`$ref` `{reference}` at `{at}` points outside the document (only `#/...` references \
                         are served; inline the referenced content)"
                    ));
                }
                if resolve(root, reference).is_none() {
                    return Err(format!("`$ref` `{reference}` at `{at}` does not resolve"));
                }
            }
            for (key, value) in map {
                // Examples are data: a `$ref` key inside one is not a reference.
                if key == "example" || key.starts_with("x-") {
                    continue;
                }
                let len = at.len();
                at.push('/');
                at.push_str(&key.replace('~', "~0").replace('/', "~1"));
                check_refs(root, value, at)?;
                at.truncate(len);
            }
            Ok(())
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{index}"));
                check_refs(root, item, at)?;
                at.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// OpenAPI 3.0's `nullable: true` as JSON Schema (`type: [T, "null"]`), throughout.
fn nullable_to_types(mut value: Value) -> Value {
    rewrite_nullable(&mut value);
    value
}

fn rewrite_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(kind)) = map.get("type") {
                    let types = Value::Array(vec![Value::String(kind.clone()), Value::String("null".to_owned())]);
                    map.insert("type".to_owned(), types);
                }
                if let Some(Value::Array(choices)) = map.get_mut("enum") {
                    if !choices.contains(&Value::Null) {
                        choices.push(Value::Null);
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                if key != "example" && key != "examples" {
                    rewrite_nullable(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_nullable),
        _ => {}
    }
}

/// FNV-1a: a hash that is the same in every build, so `examples="random"` picks the same
/// example for an operation on every run.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: Value) -> Document {
        Document::new(value).unwrap()
    }

    #[test]
    fn statuses_and_primary_responses() {
        assert_eq!(status_of("201"), 201);
        assert_eq!(status_of("default"), 200);
        assert_eq!(status_of("4XX"), 400);
        let responses = json!({"404": {}, "default": {}, "204": {}, "201": {}});
        assert_eq!(primary_response(responses.as_object().unwrap()).unwrap().0, "201");
        let responses = json!({"404": {}, "default": {}});
        assert_eq!(primary_response(responses.as_object().unwrap()).unwrap().0, "default");
        let responses = json!({"500": {}, "404": {}});
        assert_eq!(primary_response(responses.as_object().unwrap()).unwrap().0, "404");
    }

    #[test]
    fn synthesis_follows_refs_and_bounds_recursion() {
        let d = doc(json!({
            "paths": {},
            "components": {"schemas": {
                "Node": {"type": "object", "required": ["id", "next", "tags"], "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "next": {"$ref": "#/components/schemas/Node"},
                    "tags": {"type": "array", "items": {"type": "integer", "minimum": 3}},
                    "optional": {"type": "string"}}},
                "Kind": {"type": "string", "enum": ["b", "a"]}
            }}
        }));
        let value = d.synthesize(&json!({"$ref": "#/components/schemas/Node"}), 0);
        assert_eq!(value["id"], "00000000-0000-0000-0000-000000000000");
        assert_eq!(value["tags"], json!([3]));
        assert!(value.get("optional").is_none());
        let mut depth = 0;
        let mut cursor = &value;
        while cursor.is_object() {
            cursor = &cursor["next"];
            depth += 1;
        }
        assert!(depth <= MAX_SYNTH_DEPTH + 1, "{depth}");
        assert_eq!(d.synthesize(&json!({"$ref": "#/components/schemas/Kind"}), 0), json!("b"));
        assert_eq!(d.synthesize(&json!({"type": "string", "minLength": 8}), 0), json!("stringxx"));
    }

    #[test]
    fn bad_refs_are_refused() {
        let err = Document::new(json!({"paths": {"/a": {"$ref": "#/nope"}}})).err().unwrap();
        assert!(err.contains("`#/nope`") && err.contains("/paths/~1a"), "{err}");
        let err = Document::new(json!({"paths": {}, "x": {"$ref": "other.yaml#/a"}})).err().unwrap();
        assert!(err.contains("outside the document"), "{err}");
    }

    #[test]
    fn nullable_validates_as_null_or_type() {
        let d = doc(json!({"openapi": "3.0.3", "paths": {},
            "components": {"schemas": {"N": {"type": "integer", "nullable": true}}}}));
        let v = d.validator(&json!({"$ref": "#/components/schemas/N"})).unwrap();
        assert!(v.is_valid(&Value::Null) && v.is_valid(&json!(3)) && !v.is_valid(&json!("x")));
    }

    #[test]
    fn templates_capture_parameters() {
        let seg: Vec<Segment> = split("/files/{name}.json").map(segment).collect();
        let op = Operation {
            key: "GET /files/{name}.json".into(),
            method: "GET".into(),
            segments: seg,
            operation_id: None,
            response: MockResponse::Status { status: 200 },
            request: RequestCheck::default(),
        };
        assert_eq!(op.capture(&["files", "a%20b.json"]).unwrap()["name"], "a b");
        assert!(op.capture(&["files", "a.txt"]).is_none());
        assert!(op.capture(&["files", ".json"]).is_none());
    }
}
