//! The embedded `@faultbox/...` modules hold to Faultbox's published API
//! (`../shared/data/faultbox-corpus/stdlib-api.tsv`): every row's export exists with exactly
//! those parameters and defaults; calling it with its defaults (placeholders for required
//! parameters) records the named builtin with the named arguments, evaluated through the
//! topology evaluator; and every embedded export has a row (ospecc's own `recipes/tcp.star`
//! aside, listed in `stdlib::EXTENSIONS`). Any drift fails.

use std::collections::BTreeSet;
use std::path::Path;

use ospecc_compiler::ide::stdlib_modules::{reference_markdown, stdlib_api, stdlib_apis};
use ospecc_compiler::topology::{self, Arg, Evaluated, Limits, Recorded, TopologyInput};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_schema::stdlib;

/// `grpc.retryable`'s default weights (the table gives only the formula; these are Faultbox's
/// defaults in `recipes/grpc.star`, v0.18.1).
const RETRYABLE_WEIGHTS: &str = "{\"unavailable\": 0.60, \"deadline_exceeded\": 0.25, \"aborted\": 0.15}";

/// A minimal OpenAPI document for the HTTP mock's required `openapi=`.
const OPENAPI: &str = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n";

struct Row {
    module: String,
    structure: String,
    member: String,
    /// (name, default source) as the table writes them.
    params: Vec<(String, Option<String>)>,
    builtin: String,
    args: String,
}

fn table() -> Option<Vec<Row>> {
    // `../shared` beside the clone; `OSPECC_SHARED_DIR` names it elsewhere (a git worktree).
    let shared = std::env::var_os("OSPECC_SHARED_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"), std::path::PathBuf::from);
    let path = shared.join("data/faultbox-corpus/stdlib-api.tsv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("SKIP: {} is absent (the Faultbox corpus lives in ../shared beside the clone)", path.display());
        return None;
    };
    let rows = text.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|line| {
        let cells: Vec<&str> = line.split('\t').collect();
        let cell = |i: usize| cells.get(i).copied().unwrap_or_default().to_string();
        let (structure, member) = cell(1).split_once('.').map(|(s, m)| (s.to_string(), m.to_string())).unwrap();
        let params = split_top(&cell(2), ',')
            .into_iter()
            .map(|p| match p.split_once('=') {
                Some((name, default)) => (name.trim().to_string(), Some(default.trim().to_string())),
                None => (p.trim().to_string(), None),
            })
            .collect();
        Row { module: cell(0), structure, member, params, builtin: cell(3), args: cell(4) }
    });
    Some(rows.collect())
}

/// Splits at `sep` outside quotes and brackets (the table's cells are Python expressions).
fn split_top(text: &str, sep: char) -> Vec<String> {
    let (mut parts, mut current, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None);
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if "([{".contains(c) => depth += 1,
            None if ")]}".contains(c) => depth -= 1,
            None if c == sep && depth == 0 => {
                parts.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            None => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

/// A default's value for comparison: string literals by content (either quote style).
fn literal(source: &str) -> String {
    let quoted = source.len() >= 2 && (source.starts_with('\'') || source.starts_with('"'));
    if quoted && source.ends_with(&source[..1]) {
        source[1..source.len() - 1].replace("\\'", "'").replace("\\\"", "\"")
    } else {
        source.to_string()
    }
}

/// A placeholder for a required parameter (by name; `code` differs between gRPC and HTTP).
fn placeholder(row: &Row, name: &str) -> String {
    let protocol = match row.module.rsplit('/').next().unwrap_or_default() {
        "jwt.star" => "http",
        file => file.trim_end_matches(".star"),
    };
    match name {
        "interface" => format!("interface(\"main\", \"{protocol}\", 9090)"),
        "port" => "8080".into(),
        "code" if row.builtin == "status_only" => "404".into(),
        "code" => "\"NOT_FOUND\"".into(),
        "fn" => "_handler".into(),
        "keypair" => "jwt_keypair()".into(),
        "openapi" => "\"api.yaml\"".into(),
        "descriptors" => "\"api.pb\"".into(),
        other => format!("\"placeholder-{other}\""),
    }
}

/// The program: the export called with its defaults as `result`, and `expected` as the table
/// says, computed by a function with the table's own parameter list.
fn program(row: &Row) -> String {
    let signature: Vec<String> = row
        .params
        .iter()
        .map(|(name, default)| default.as_ref().map_or_else(|| name.clone(), |d| format!("{name} = {d}")))
        .collect();
    let required: Vec<String> =
        row.params.iter().filter(|(_, d)| d.is_none()).map(|(name, _)| placeholder(row, name)).collect();
    let mut text = format!("load(\"{}\", _s = \"{}\")\n", row.module, row.structure);
    text.push_str("def _handler(request):\n    return None\n");
    text.push_str(&format!("def _expected({}):\n", signature.join(", ")));
    if row.args.contains("routes: routes") && !row.params.iter().any(|(n, _)| n == "routes") {
        // The gRPC mock derives `routes` from `services` (each answer converted; see
        // `grpc_services_become_routes`): with the default `services={}`, no routes.
        text.push_str(
            "    if services:\n        fail(\"only the default services={} is modelled\")\n    routes = {}\n",
        );
    }
    text.push_str(&format!("    return {}\n", expected_expression(row)));
    let args = required.join(", ");
    text.push_str(&format!("result = _s.{}({args})\nexpected = _expected({args})\n", row.member));
    text
}

/// What `_expected` returns: for a builtin, `([positional], {named})`; for a value, the value.
fn expected_expression(row: &Row) -> String {
    match row.builtin.as_str() {
        "(value)" if row.args.contains("total") => format!(
            "(lambda w: (lambda total: {})(w.get(\"unavailable\", 0) + w.get(\"deadline_exceeded\", 0) + \
             w.get(\"aborted\", 0)))(weights if weights else {RETRYABLE_WEIGHTS})",
            row.args
        ),
        "(value)" => row.args.clone(),
        "struct" => "None".into(),
        // A builtin that computes its value (the JWT helpers): called for real with the
        // table's arguments, so the export must give the very same value.
        native if ospecc_compiler::topology::is_native(native) => {
            let named: Vec<String> = split_top(&row.args, ',')
                .iter()
                .filter_map(|arg| arg.split_once(':').map(|(k, v)| format!("{} = {}", k.trim(), v.trim())))
                .collect();
            format!("{native}({})", named.join(", "))
        }
        _ => {
            let (positional, named) = match split_top(&row.args, ';').as_slice() {
                [positional, named] => (positional.clone(), named.clone()),
                [named] => (String::new(), named.clone()),
                _ => (String::new(), String::new()),
            };
            let named = if named == "None: kwargs" {
                // Every keyword parameter the wrapper passes on, the unset (None) ones left out.
                let keywords: Vec<String> = row
                    .params
                    .iter()
                    .filter(|(n, _)| !positional.split(',').any(|p| p.trim() == n))
                    .map(|(n, _)| format!("(\"{n}\", {n})"))
                    .collect();
                format!("{{k: v for k, v in [{}] if v != None}}", keywords.join(", "))
            } else {
                let entries: Vec<String> = split_top(&named, ',')
                    .iter()
                    .filter_map(|e| e.split_once(':').map(|(k, v)| format!("\"{}\": {}", k.trim(), v.trim())))
                    .collect();
                format!("{{{}}}", entries.join(", "))
            };
            format!("([{positional}], {named})")
        }
    }
}

fn evaluate(text: &str) -> Evaluated {
    let fs = MemoryFs::default().with_file("/ws/api.yaml", OPENAPI).with_file("/ws/api.pb", "");
    let input = TopologyInput {
        path: Path::new("/ws/main.star"),
        text,
        fs: &fs,
        root: Path::new("/ws"),
        limits: Limits::default(),
    };
    topology::evaluate(&input)
}

fn global<'a>(evaluated: &'a Evaluated, name: &str) -> Option<&'a Arg> {
    evaluated.globals.iter().find(|g| g.name == name).map(|g| &g.value)
}

/// Values equal as Faultbox would see them: recorded calls by builtin and arguments (not by
/// where they were made), keyword arguments in any order.
fn same(a: &Arg, b: &Arg) -> bool {
    match (a, b) {
        (Arg::Record(a), Arg::Record(b)) => same_call(a, b),
        (Arg::List(a), Arg::List(b)) | (Arg::Tuple(a), Arg::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Arg::Dict(a), Arg::Dict(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.iter().any(|(k2, v2)| same(k, k2) && same(v, v2)))
        }
        (Arg::Float(a), Arg::Float(b)) => a == b,
        _ => a == b,
    }
}

fn same_call(a: &Recorded, b: &Recorded) -> bool {
    let named = |r: &Recorded| Arg::Dict(r.named.iter().map(|(k, v)| (Arg::Str(k.clone()), v.clone())).collect());
    a.builtin == b.builtin
        && same(&Arg::List(a.positional.clone()), &Arg::List(b.positional.clone()))
        && same(&named(a), &named(b))
}

/// The export's parameters, as the module's `def` writes them, against the table.
fn check_signature(row: &Row, problems: &mut Vec<String>) {
    let label = format!("{} {}.{}", row.module, row.structure, row.member);
    let Some(api) = stdlib_api(&row.module) else {
        problems.push(format!("{label}: the module is not embedded"));
        return;
    };
    if api.name != row.structure {
        problems.push(format!("{label}: the module exports `{}`", api.name));
    }
    let Some(export) = api.export(&row.member) else {
        problems.push(format!("{label}: no such export"));
        return;
    };
    let got: Vec<(String, Option<String>)> =
        export.params.iter().map(|p| (p.name.clone(), p.default.as_deref().map(literal))).collect();
    let want: Vec<(String, Option<String>)> =
        row.params.iter().map(|(n, d)| (n.clone(), d.as_deref().map(literal))).collect();
    if got != want {
        problems.push(format!("{label}: parameters {got:?}, Faultbox has {want:?}"));
    }
}

/// The call the export makes with its defaults, against the table's builtin and arguments.
fn check_call(row: &Row, problems: &mut Vec<String>) {
    let label = format!("{} {}.{}", row.module, row.structure, row.member);
    let text = program(row);
    let evaluated = evaluate(&text);
    if !evaluated.complete {
        problems.push(format!("{label}: evaluation stopped: {:?}\n{text}", evaluated.diagnostics));
        return;
    }
    let (Some(result), Some(expected)) = (global(&evaluated, "result"), global(&evaluated, "expected")) else {
        problems.push(format!("{label}: no result\n{text}"));
        return;
    };
    match row.builtin.as_str() {
        "(value)" => {
            if !same(result, expected) {
                problems.push(format!("{label}: returns {result:?}, Faultbox {expected:?}"));
            }
        }
        "struct" => check_jwt_server(row, &label, &evaluated, result, problems),
        native if ospecc_compiler::topology::is_native(native) => {
            if !same(result, expected) {
                problems
                    .push(format!("{label}: returns {result:?}, `{native}` with Faultbox's arguments {expected:?}"));
            }
        }
        builtin => {
            let Arg::Record(call) = result else {
                problems.push(format!("{label}: returns {result:?}, not a `{builtin}` call"));
                return;
            };
            let Arg::Tuple(parts) = expected else { unreachable!("_expected returns a pair") };
            let want = Recorded {
                builtin: builtin.to_string(),
                ty: call.ty.clone(),
                file: String::new(),
                span: call.span,
                positional: match &parts[0] {
                    Arg::List(items) => items.clone(),
                    _ => Vec::new(),
                },
                named: match &parts[1] {
                    Arg::Dict(entries) => {
                        entries.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.clone())).collect()
                    }
                    _ => Vec::new(),
                },
            };
            if !same_call(call, &want) || call.file != row.module {
                problems.push(format!(
                    "{label}: calls {}({:?}, {:?}) in {}, Faultbox {builtin}({:?}, {:?})",
                    call.builtin, call.positional, call.named, call.file, want.positional, want.named
                ));
            }
        }
    }
}

/// `jwt.server` returns struct(service=, sign=, jwks=): the mock service, a signer bound to the
/// server's key pair, and the key pair's JWKS.
fn check_jwt_server(row: &Row, label: &str, evaluated: &Evaluated, result: &Arg, problems: &mut Vec<String>) {
    if result.type_name() != Some("struct") {
        problems.push(format!("{label}: returns {result:?}, not a struct"));
        return;
    }
    let text = format!("{}service = result.service\njwks = result.jwks\ntoken = result.sign()\n", program(row));
    let evaluated_fields = evaluate(&text);
    let in_module = |e: &'_ Evaluated, builtin: &str| -> Vec<Recorded> {
        e.calls_of(builtin).filter(|c| c.file == row.module).map(|c| (**c).clone()).collect()
    };
    let service = global(&evaluated_fields, "service");
    let mocks = in_module(evaluated, "mock_service");
    let keypairs = in_module(&evaluated_fields, "jwt_keypair");
    let jwks = in_module(&evaluated_fields, "jwt_jwks");
    let signs = in_module(&evaluated_fields, "jwt_sign");
    let ok = matches!(service, Some(Arg::Record(s)) if s.builtin == "mock_service")
        && mocks.len() == 1
        && mocks[0].named("depends_on") == Some(&Arg::List(Vec::new()))
        && keypairs.len() == 1
        && keypairs[0].named("kid") == Some(&Arg::Str("k1".into()))
        && jwks.len() == 1
        && signs.len() == 1
        && signs[0].named("claims") == Some(&Arg::Dict(Vec::new()))
        && jwks[0].named("keypair").is_some()
        && signs[0].named("keypair") == jwks[0].named("keypair")
        && global(&evaluated_fields, "jwks").is_some();
    if !ok {
        problems.push(format!(
            "{label}: struct fields {service:?}; mock_service {mocks:?}; jwt_keypair {keypairs:?}; jwt_jwks {jwks:?}; \
             jwt_sign {signs:?}"
        ));
    }
}

#[test]
fn every_export_matches_faultbox_table() {
    let Some(rows) = table() else { return };
    assert!(rows.len() > 100, "{} rows", rows.len());
    let mut problems = Vec::new();
    for row in &rows {
        check_signature(row, &mut problems);
        check_call(row, &mut problems);
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_embedded_export_is_in_faultbox_table() {
    let Some(rows) = table() else { return };
    let listed: BTreeSet<(String, String)> =
        rows.iter().map(|r| (r.module.clone(), format!("{}.{}", r.structure, r.member))).collect();
    let modules: BTreeSet<&str> = rows.iter().map(|r| r.module.as_str()).collect();
    let mut problems = Vec::new();
    for api in stdlib_apis() {
        if stdlib::EXTENSIONS.contains(&api.path) {
            assert!(!modules.contains(api.path), "{} is Faultbox's: not an extension", api.path);
            continue;
        }
        // The struct's members at run time are the ones the module's defs describe.
        let evaluated = evaluate(&format!("load(\"{}\", _s = \"{}\")\nmembers = dir(_s)\n", api.path, api.name));
        let members: BTreeSet<String> = match global(&evaluated, "members") {
            Some(Arg::List(items)) => items.iter().filter_map(|a| a.as_str().map(str::to_string)).collect(),
            other => panic!("{}: dir() gave {other:?}", api.path),
        };
        let described: BTreeSet<String> = api.exports.iter().map(|e| e.name.clone()).collect();
        assert_eq!(members, described, "{}: the struct's members and its defs", api.path);
        for export in &api.exports {
            let key = (api.path.to_string(), format!("{}.{}", api.name, export.name));
            if !listed.contains(&key) {
                problems.push(format!("{} exports {}, which Faultbox does not", key.0, key.1));
            }
        }
    }
    for module in &modules {
        if stdlib::module(module).is_none() {
            problems.push(format!("{module} is not embedded"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `grpc.server(services=...)`: a `{"response": ...}` answer becomes a typed response, an
/// `{"error": ...}` one a gRPC error (code INTERNAL and an empty message unless given), any other
/// value is the route's response as is.
#[test]
fn grpc_services_become_routes() {
    let text = "load(\"@faultbox/mocks/grpc.star\", \"grpc\")\n\
        svc = grpc.server(\"g\", interface(\"main\", \"grpc\", 9090), \"api.pb\", services = {\n\
            \"/a.S/Typed\": {\"response\": {\"id\": 1}},\n\
            \"/a.S/Failing\": {\"error\": {\"code\": \"NOT_FOUND\"}},\n\
            \"/a.S/Raw\": grpc.raw_response(\"AAE=\"),\n\
        })\n\
        want = {\n\
            \"/a.S/Typed\": grpc_typed_response(body = {\"id\": 1}),\n\
            \"/a.S/Failing\": grpc_error(code = \"NOT_FOUND\", message = \"\"),\n\
            \"/a.S/Raw\": grpc_raw_response(body = \"AAE=\"),\n\
        }\n";
    let evaluated = evaluate(text);
    assert!(evaluated.complete, "{:?}", evaluated.diagnostics);
    let Some(Arg::Record(svc)) = global(&evaluated, "svc") else { panic!("no service") };
    let routes = svc.named("routes").expect("routes");
    assert!(same(routes, global(&evaluated, "want").unwrap()), "{routes:?}");
    // A dict answer with neither key fails, naming the method.
    let bad = evaluate(&text.replace("{\"code\": \"NOT_FOUND\"}", "{}").replace("\"error\"", "\"oops\""));
    assert!(!bad.complete && format!("{:?}", bad.diagnostics).contains("/a.S/Failing"), "{:?}", bad.diagnostics);
}

/// The test itself catches drift: a renamed parameter, a changed default, a changed message.
#[test]
fn a_drifted_row_is_reported() {
    let Some(rows) = table() else { return };
    let row = rows.iter().find(|r| r.module == "@faultbox/recipes/redis.star" && r.member == "oom").unwrap();
    let drifted = [
        Row { params: vec![("command".into(), Some("'*'".into()))], ..clone(row) },
        Row { args: row.args.replace("OOM", "OOPS"), ..clone(row) },
        Row { builtin: "delay".into(), ..clone(row) },
    ];
    for row in &drifted {
        let mut problems = Vec::new();
        check_signature(row, &mut problems);
        check_call(row, &mut problems);
        assert!(!problems.is_empty(), "{} {} {}", row.member, row.builtin, row.args);
    }
}

fn clone(row: &Row) -> Row {
    Row {
        module: row.module.clone(),
        structure: row.structure.clone(),
        member: row.member.clone(),
        params: row.params.clone(),
        builtin: row.builtin.clone(),
        args: row.args.clone(),
    }
}

/// `docs/stdlib.md` is generated from the modules; `OSPECC_BLESS=1` rewrites it.
#[test]
fn docs_stdlib_md_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/stdlib.md");
    let generated = reference_markdown();
    if std::env::var_os("OSPECC_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/stdlib.md is stale; regenerate it with `OSPECC_BLESS=1 cargo test -p ospecc-compiler --test stdlib_api`"
    );
    for api in stdlib_apis() {
        assert!(committed.contains(&format!("## `{}`", api.path)), "{}", api.path);
    }
}
