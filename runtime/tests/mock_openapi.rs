//! OpenAPI-driven HTTP mocks (`mock_service(..., openapi=...)`), over real sockets with reqwest,
//! curl as an independent client, and a spec run end to end through the `ospecc` binary.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::ospecc_binary;
use ospecc_runtime::events::{Event, EventLog};
use ospecc_runtime::mock::{self, DynamicHandler, MockHandle, MockReply, MockRequest};
use ospecc_schema::plan::Service;
use serde_json::{json, Value};

/// A petstore with an inline example, named examples, schema-only operations, `$ref`
/// components, path, query and header parameters and a request body schema.
const PETSTORE: &str = r##"openapi: 3.0.3
info: {title: Petstore, version: "1.0"}
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - {name: limit, in: query, required: true, schema: {type: integer, minimum: 1}}
        - {name: X-Tenant, in: header, required: false, schema: {type: string, enum: [a, b]}}
      responses:
        "200":
          description: list
          content:
            application/json:
              example:
                - {id: 1, name: fluffy}
                - {id: 2, name: scruffy}
    post:
      operationId: createPet
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewPet"}
      responses:
        "400": {description: bad}
        "201":
          description: created
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
  /pets/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
    get:
      operationId: getPet
      responses:
        "404": {description: missing}
        "200":
          description: one
          content:
            application/json:
              examples:
                scruffy: {value: {id: 2, name: scruffy}}
                fluffy: {$ref: "#/components/examples/Fluffy"}
    delete:
      responses:
        "204": {description: gone}
  /pets/mine:
    get:
      operationId: myPet
      responses:
        default:
          description: mine
          content:
            application/json:
              example: {id: 9, name: mine}
  /status:
    get:
      responses:
        "200":
          description: health
          content:
            text/plain:
              example: all good
components:
  examples:
    Fluffy:
      value: {id: 1, name: fluffy}
  schemas:
    NewPet:
      type: object
      required: [name, kind]
      properties:
        name: {type: string}
        kind: {type: string, enum: [cat, dog]}
        tag: {type: string, nullable: true}
    Pet:
      allOf:
        - {$ref: "#/components/schemas/NewPet"}
        - type: object
          required: [id, born]
          properties:
            id: {type: integer, format: int64}
            born: {type: string, format: date}
"##;

/// A small document in JSON, with one operation whose example breaks its own schema.
const INVENTORY_JSON: &str = r##"{
  "openapi": "3.0.3",
  "info": {"title": "Inventory", "version": "1"},
  "paths": {
    "/items/{sku}": {
      "get": {
        "operationId": "getItem",
        "parameters": [{"name": "sku", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "item", "content": {"application/json": {
          "schema": {"$ref": "#/components/schemas/Item"},
          "example": {"sku": "A1", "count": "many"}
        }}}}
      }
    },
    "/items": {
      "get": {
        "responses": {"200": {"description": "items", "content": {"application/json": {
          "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
        }}}}
      }
    }
  },
  "components": {"schemas": {"Item": {"type": "object", "required": ["sku", "count"],
    "properties": {"sku": {"type": "string"}, "count": {"type": "integer"}}}}}
}"##;

/// Answers every dynamic route with the request's body echoed.
struct Echo;

impl DynamicHandler for Echo {
    fn respond(&self, _: &str, request: &MockRequest) -> MockReply {
        MockReply { status: 202, headers: Vec::new(), body: format!("echo:{}", request.body).into_bytes() }
    }
}

/// A served document: the mock, its events and the temporary directory holding the file.
struct Served {
    handle: MockHandle,
    events: EventLog,
    _dir: tempfile::TempDir,
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.handle.address())
    }

    fn requests(&self) -> Vec<Event> {
        self.events.since(0).into_iter().filter(|e| e.kind == "mock_request").collect()
    }
}

/// A plan mock service `name` serving `file` (written into a fresh directory as `document`).
fn service(name: &str, document: &str, openapi: Value, routes: Value) -> Service {
    let mut openapi = openapi;
    openapi["path"] = json!(document);
    for (key, default) in [("examples", json!("first")), ("validate", json!("off")), ("overrides", json!([]))] {
        if openapi.get(key).is_none() {
            openapi[key] = default;
        }
    }
    serde_json::from_value(json!({
        "name": name,
        "origin": { "file": "spec.star", "line": 1, "column": 1 },
        "launch": { "kind": "mock", "routes": routes, "default": null, "openapi": openapi },
        "interfaces": [{ "name": "main", "protocol": "http", "port": 0 }],
        "env": [], "ports": [], "depends_on": [], "observe": [], "ops": [],
        "seccomp": true, "intercept": []
    }))
    .expect("a valid plan service")
}

async fn try_serve(name: &str, document: (&str, &str), openapi: Value, routes: Value) -> Result<Served, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(document.0), document.1).unwrap();
    let svc = service(name, document.0, openapi, routes);
    let events = EventLog::default();
    match mock::serve(&svc, Arc::new(Echo), events.clone(), Some(dir.path())).await {
        Ok(handle) => Ok(Served { handle, events, _dir: dir }),
        Err(e) => Err(e.to_string()),
    }
}

async fn serve(openapi: Value) -> Served {
    try_serve("petstore", ("petstore.yaml", PETSTORE), openapi, json!([])).await.expect("the mock starts")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).no_proxy().build().unwrap()
}

async fn get(url: &str) -> (u16, String, String) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

async fn get_json(url: &str) -> (u16, Value) {
    let (status, _, body) = get(url).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn post(url: &str, body: &str) -> (u16, Value) {
    let response =
        client().post(url).header("content-type", "application/json").body(body.to_owned()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_examples_named_examples_and_synthesis() {
    let mock = serve(json!({})).await;
    let (status, content_type, body) = get(&mock.url("/pets?limit=2")).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!([{"id": 1, "name": "fluffy"}, {"id": 2, "name": "scruffy"}])
    );
    // No inline example: the first named one by name (`fluffy`, through a `$ref`).
    assert_eq!(get_json(&mock.url("/pets/7")).await, (200, json!({"id": 1, "name": "fluffy"})));
    // A literal path beats the template.
    assert_eq!(get_json(&mock.url("/pets/mine")).await, (200, json!({"id": 9, "name": "mine"})));
    // Schema only: the required properties, through `$ref` and `allOf`, typed.
    let (status, created) = post(&mock.url("/pets"), "{}").await;
    assert_eq!((status, created), (201, json!({"name": "string", "kind": "cat", "id": 0, "born": "1970-01-01"})));
    let (status, _, body) = get(&mock.url("/pets/3")).await;
    assert_eq!(status, 200, "{body}");
    let deleted = client().delete(mock.url("/pets/3")).send().await.unwrap();
    assert_eq!((deleted.status().as_u16(), deleted.text().await.unwrap()), (204, String::new()));
    assert_eq!(get(&mock.url("/status")).await, (200, "text/plain".to_owned(), "all good".to_owned()));

    let requests = mock.requests();
    let get_pet = requests.iter().find(|e| e.fields["path"] == "/pets/7").unwrap();
    assert_eq!(get_pet.service, "petstore");
    assert_eq!(get_pet.fields["route"], "GET /pets/{id}");
    assert_eq!(get_pet.fields["operation"], "getPet");
    assert_eq!(get_pet.fields["interface"], "main");
    let delete = requests.iter().find(|e| e.fields["method"] == "DELETE").unwrap();
    assert_eq!(
        (delete.fields["route"].clone(), delete.fields["operation"].clone()),
        (json!("DELETE /pets/{id}"), Value::Null)
    );
    mock.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_are_json_404s() {
    let mock = serve(json!({})).await;
    let (status, body) = get_json(&mock.url("/owners")).await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("GET /owners"), "{body}");
    // A path the document has, with a method it does not declare: 404, as Faultbox answers.
    let response = client().put(mock.url("/pets")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let events = mock.requests();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.fields["route"].is_null() && e.fields["operation"].is_null()));
    mock.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_example_falls_back_to_the_first() {
    let mock = serve(json!({"examples": "scruffy"})).await;
    assert_eq!(get_json(&mock.url("/pets/7")).await, (200, json!({"id": 2, "name": "scruffy"})));
    // `listPets` has no `scruffy`: its inline example.
    assert_eq!(get_json(&mock.url("/pets?limit=1")).await.1[0]["name"], "fluffy");
    mock.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_picks_are_per_mock_and_operation_and_reproducible() {
    let mut picks = Vec::new();
    for index in 0..12 {
        let name = format!("pets-{index}");
        let mut seen = Vec::new();
        for _ in 0..2 {
            let mock =
                try_serve(&name, ("petstore.yaml", PETSTORE), json!({"examples": "random"}), json!([])).await.unwrap();
            seen.push(get_json(&mock.url("/pets/7")).await.1["name"].as_str().unwrap().to_owned());
            mock.handle.stop().await;
        }
        assert_eq!(seen[0], seen[1], "the same mock picks the same example on every run");
        picks.push(seen[0].clone());
    }
    assert!(picks.contains(&"fluffy".to_owned()) && picks.contains(&"scruffy".to_owned()), "{picks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthesize_keeps_examples_and_fills_schema_only_operations() {
    let mock = serve(json!({"examples": "synthesize"})).await;
    assert_eq!(get_json(&mock.url("/pets/7")).await.1["name"], "fluffy");
    assert_eq!(post(&mock.url("/pets"), "{}").await.1["born"], "1970-01-01");
    mock.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_document_is_served_and_routes_come_first() {
    let routes = json!([{ "key": "GET /items/special", "response":
        { "kind": "text", "status": 200, "body": "special", "headers": [] } }]);
    let mock = try_serve("inventory", ("inventory.json", INVENTORY_JSON), json!({}), routes).await.unwrap();
    assert_eq!(get_json(&mock.url("/items/A1")).await, (200, json!({"sku": "A1", "count": "many"})));
    assert_eq!(get_json(&mock.url("/items")).await, (200, json!([{"sku": "string", "count": 0}])));
    assert_eq!(get(&mock.url("/items/special")).await.2, "special");
    let special = mock.requests().into_iter().find(|e| e.fields["path"] == "/items/special").unwrap();
    assert_eq!(special.fields["route"], "GET /items/special");
    mock.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_replace_operations_and_must_match_one() {
    let overrides = json!([
        { "key": "GET /pets/{id}", "response": { "kind": "json", "status": 503, "body": {"down": true}, "headers": [] } },
        { "key": "POST /pets", "response": { "kind": "dynamic", "callable": { "id": "spec.star#echo", "name": "echo" } } },
    ]);
    let mock = serve(json!({"overrides": overrides})).await;
    assert_eq!(get_json(&mock.url("/pets/7")).await, (503, json!({"down": true})));
    let response = client().post(mock.url("/pets")).body("hi").send().await.unwrap();
    assert_eq!((response.status().as_u16(), response.text().await.unwrap()), (202, "echo:hi".to_owned()));
    // Not overridden: still from the document.
    assert_eq!(get_json(&mock.url("/pets/mine")).await.0, 200);
    let overridden = mock.requests().into_iter().find(|e| e.fields["path"] == "/pets/7").unwrap();
    assert_eq!(
        (overridden.fields["route"].clone(), overridden.fields["operation"].clone()),
        (json!("GET /pets/{id}"), json!("getPet"))
    );
    mock.handle.stop().await;

    let stray = json!([{ "key": "GET /owners", "response": { "kind": "status", "status": 200 } }]);
    let error =
        try_serve("petstore", ("petstore.yaml", PETSTORE), json!({"overrides": stray}), json!([])).await.err().unwrap();
    assert!(error.contains("override `GET /owners` matches no operation"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_override_replaces_every_operation_it_matches() {
    let overrides = json!([{ "key": "GET /pets/*", "response": { "kind": "status", "status": 410 } }]);
    let mock = serve(json!({"overrides": overrides})).await;
    assert_eq!(get(&mock.url("/pets/7")).await.0, 410);
    assert_eq!(get(&mock.url("/pets/mine")).await.0, 410);
    assert_eq!(get(&mock.url("/pets?limit=1")).await.0, 200, "`/pets` has no second segment");
    mock.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_validation_answers_400_naming_the_failures() {
    let mock = serve(json!({"validate": "request"})).await;
    let (status, problem) = get_json(&mock.url("/pets")).await;
    assert_eq!(status, 400);
    assert_eq!(problem["operation"], "GET /pets");
    assert!(problem["errors"][0].as_str().unwrap().contains("query parameter `limit` is required"), "{problem}");
    let (status, problem) = get_json(&mock.url("/pets?limit=abc")).await;
    assert_eq!(status, 400);
    assert!(problem["errors"][0].as_str().unwrap().contains("`limit`"), "{problem}");
    assert_eq!(get_json(&mock.url("/pets?limit=0")).await.0, 400, "below the minimum");
    let bad_header = client().get(mock.url("/pets?limit=1")).header("x-tenant", "z").send().await.unwrap();
    assert_eq!(bad_header.status().as_u16(), 400);
    assert_eq!(get_json(&mock.url("/pets/seven")).await.0, 400, "a path parameter of the wrong type");
    let (status, problem) = post(&mock.url("/pets"), r#"{"name": 3, "kind": "cat"}"#).await;
    assert_eq!(status, 400);
    assert!(problem["error"].as_str().unwrap().contains("request body"), "{problem}");
    assert_eq!(post(&mock.url("/pets"), r#"{"name": "rex""#).await.0, 400, "malformed JSON");
    assert_eq!(post(&mock.url("/pets"), "").await.0, 400, "the body is required");
    assert_eq!(post(&mock.url("/pets"), r#"{"name": "rex"}"#).await.0, 400, "`kind` is required");
    // Good requests pass.
    assert_eq!(get_json(&mock.url("/pets?limit=2")).await.0, 200);
    assert_eq!(get_json(&mock.url("/pets/7")).await.0, 200);
    assert_eq!(post(&mock.url("/pets"), r#"{"name": "rex", "kind": "dog", "tag": null}"#).await.0, 201);
    let refused = mock.requests().into_iter().find(|e| e.fields["query"] == "limit=abc").unwrap();
    assert_eq!(refused.fields["status"], 400);
    assert!(refused.fields["validate_error"].as_str().unwrap().contains("limit"));
    mock.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_request_validation_bad_requests_are_served() {
    let off = serve(json!({"validate": "off"})).await;
    assert_eq!(get_json(&off.url("/pets")).await.0, 200);
    assert!(!off.requests()[0].fields.contains_key("validate_error"));
    off.handle.stop().await;
    // `warn` records the failure and serves anyway.
    let warn = serve(json!({"validate": "warn"})).await;
    assert_eq!(post(&warn.url("/pets"), r#"{"name": 3}"#).await.0, 201);
    assert!(warn.requests()[0].fields["validate_error"].as_str().unwrap().contains("request body"));
    warn.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_validation_refuses_a_bad_example() {
    for mode in ["response", "strict"] {
        let error = try_serve("inventory", ("inventory.json", INVENTORY_JSON), json!({"validate": mode}), json!([]))
            .await
            .err()
            .unwrap();
        assert!(
            error.contains("operation `GET /items/{sku}`") && error.contains("does not match its schema"),
            "{error}"
        );
        assert!(error.contains("count"), "{error}");
    }
    // The petstore's own responses are valid: strict starts.
    serve(json!({"validate": "strict"})).await.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_that_cannot_be_served_are_errors() {
    let cases = [
        ("paths: [\n  - a\n", "does not parse"),
        ("openapi: 3.0.0\ninfo: {title: x}\n", "has no `paths`"),
        (
            "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          $ref: '#/components/responses/Nope'\n",
            "`#/components/responses/Nope`",
        ),
    ];
    for (text, expected) in cases {
        let error = try_serve("bad", ("bad.yaml", text), json!({}), json!([])).await.err().unwrap();
        assert!(error.contains(expected) && error.contains("mock `bad`"), "{expected}: {error}");
    }
    let error = try_serve("bad", ("bad.yaml", PETSTORE), json!({"validate": "loud"}), json!([])).await.err().unwrap();
    assert!(error.contains("validate=`loud`"), "{error}");
    let svc = service("missing", "nowhere.yaml", json!({}), json!([]));
    let dir = tempfile::tempdir().unwrap();
    let error = mock::serve(&svc, Arc::new(Echo), EventLog::default(), Some(dir.path())).await.unwrap_err();
    assert!(error.to_string().contains("`nowhere.yaml` cannot be read"), "{error}");
}

fn curl_present() -> bool {
    let found = Command::new("curl").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIP: curl is not installed");
    }
    found
}

fn curl(address: SocketAddr, args: &[&str]) -> String {
    let output = Command::new("timeout")
        .args(["20", "curl", "-s", "--noproxy", "*", "-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("http://{address}/pets?limit=1"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_gets_the_example_and_a_validation_problem() {
    if !curl_present() {
        return;
    }
    let mock = serve(json!({"validate": "strict"})).await;
    let address = mock.handle.address();
    let listed = tokio::task::spawn_blocking(move || curl(address, &[])).await.unwrap();
    let (body, code) = listed.rsplit_once('\n').unwrap();
    assert_eq!(code, "200");
    assert_eq!(serde_json::from_str::<Value>(body).unwrap()[1]["name"], "scruffy");
    let refused = tokio::task::spawn_blocking(move || curl(address, &["-H", "X-Tenant: nobody"])).await.unwrap();
    let (body, code) = refused.rsplit_once('\n').unwrap();
    assert_eq!(code, "400");
    assert!(body.contains("header parameter `X-Tenant`"), "{body}");
    mock.handle.stop().await;
}

/// A spec through `@faultbox/mocks/http.star`, with strict validation.
const SPEC: &str = r#"
load("@faultbox/mocks/http.star", "http")

petstore = http.server(
    name = "petstore",
    interface = interface("main", "http", 21650),
    openapi = "petstore.yaml",
    validate = "strict",
    overrides = {"GET /pets/mine": json_response(status = 200, body = {"id": 42, "name": "override"})},
)

def test_list_pets():
    r = petstore.main.get(path = "/pets?limit=2")
    assert_eq(r.status, 200)
    assert_true(r.body.startswith("[{"))
    assert_true("scruffy" in r.body)

def test_get_pet_by_id():
    r = petstore.main.get(path = "/pets/42")
    assert_eq(r.status, 200)
    assert_true("fluffy" in r.body)

def test_override_wins():
    r = petstore.main.get(path = "/pets/mine")
    assert_true("override" in r.body)

def test_create_pet():
    r = petstore.main.post(path = "/pets", body = '{"name": "rex", "kind": "dog"}', headers = {"Content-Type": "application/json"})
    assert_eq(r.status, 201)

def test_malformed_body_is_refused():
    r = petstore.main.post(path = "/pets", body = '{"name": 7}', headers = {"Content-Type": "application/json"})
    assert_eq(r.status, 400)

def test_missing_query_is_refused():
    r = petstore.main.get(path = "/pets")
    assert_eq(r.status, 400)

def test_unknown_path():
    r = petstore.main.get(path = "/owners")
    assert_eq(r.status, 404)
"#;

fn run_spec(binary: &Path, dir: &Path) -> (bool, String) {
    let output =
        Command::new("timeout").arg("120").arg(binary).args(["run", "spec.star"]).current_dir(dir).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn an_openapi_spec_runs_end_to_end_through_the_binary() {
    let Some(binary) = ospecc_binary() else {
        eprintln!("SKIP: the ospecc binary is not built (cargo build, or cargo test --workspace, builds it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("petstore.yaml"), PETSTORE).unwrap();
    std::fs::write(dir.path().join("spec.star"), SPEC).unwrap();
    let (ok, text) = run_spec(&binary, dir.path());
    assert!(ok, "{text}");
    assert!(text.contains("7 passed, 0 failed, 0 errored"), "{text}");
    for test in
        ["list_pets", "get_pet_by_id", "override_wins", "create_pet", "malformed_body", "missing_query", "unknown_path"]
    {
        assert!(text.lines().any(|l| l.starts_with("PASS") && l.contains(test)), "{test}: {text}");
    }
    // A document whose `$ref` does not resolve: the run does not pass (the mock refuses to start).
    std::fs::write(dir.path().join("petstore.yaml"), PETSTORE.replace("#/components/examples/Fluffy", "#/nowhere"))
        .unwrap();
    let (ok, text) = run_spec(&binary, dir.path());
    assert!(!ok, "{text}");
    assert!(text.contains("#/nowhere"), "{text}");
}
