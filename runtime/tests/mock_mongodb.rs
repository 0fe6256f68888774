//! The MongoDB mock (`runtime::mock::mongodb`) against real clients: the official Rust driver
//! (reads with filters, projections, sorts, limits and cursors past one batch; every write;
//! counts; aggregation), pymongo when installed (`tests/deps/mongodb.sh`), garbage input, the
//! fault proxy's rules in front of it, and a `.star` spec run by the `ospecc` binary.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{mock_service, ospecc_binary, NoHandler};
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::ClientOptions;
use mongodb::Client;
use ospecc_runtime::events::{Event, EventLog};
use ospecc_runtime::faults::rules::Install;
use ospecc_runtime::mock::{self, MockHandle};
use ospecc_runtime::proxy::{Edge, Proxy, ProxyRules};
use ospecc_schema::plan::topology::{Matcher, ProxyAction, ProxyRule};
use ospecc_schema::plan::{Origin, Service};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The port of the `.star` spec's mock (this file's range is 21200-21299).
const SPEC_PORT: u16 = 21250;

fn service(name: &str, port: u16, config: Value) -> Service {
    mock_service(name, "mongodb", port, config)
}

fn seed() -> Value {
    json!({ "collections": {
        "users": [
            { "_id": "1", "name": "alice", "role": "admin", "age": 34, "address": { "city": "Oslo" } },
            { "_id": "2", "name": "bob", "role": "user", "age": 27, "address": { "city": "Bergen" } },
            { "_id": "3", "name": "carol", "role": "user", "age": 45, "address": { "city": "Oslo" } },
        ],
        "audit": [{ "_id": "a1", "event": "login", "user": "alice" }],
    }})
}

async fn start(config: Value) -> (MockHandle, EventLog) {
    let events = EventLog::default();
    let handle = mock::serve(&service("users", 0, config), Arc::new(NoHandler), events.clone(), None)
        .await
        .expect("the mock starts");
    (handle, events)
}

async fn client(address: SocketAddr) -> Client {
    let uri = format!("mongodb://{address}/?directConnection=true&serverSelectionTimeoutMS=5000&connectTimeoutMS=5000");
    let options = ClientOptions::parse(uri).await.unwrap();
    Client::with_options(options).unwrap()
}

fn of_kind(events: &EventLog, kind: &str) -> Vec<Event> {
    events.since(0).into_iter().filter(|e| e.kind == kind).collect()
}

fn ops(events: &EventLog) -> Vec<String> {
    of_kind(events, "mock_request").iter().map(|e| e.fields["op"].as_str().unwrap_or_default().to_owned()).collect()
}

/// A cursor's documents, every batch of them.
trait All {
    async fn all(self) -> Vec<Document>;
}

impl All for mongodb::Cursor<Document> {
    async fn all(mut self) -> Vec<Document> {
        let mut documents = Vec::new();
        while self.advance().await.unwrap() {
            documents.push(self.deserialize_current().unwrap());
        }
        documents
    }
}

fn names(documents: &[Document]) -> Vec<&str> {
    documents.iter().map(|d| d.get_str("name").unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_finds_with_filter_projection_sort_and_limit() {
    let (mock, events) = start(seed()).await;
    let users = client(mock.address()).await.database("app").collection::<Document>("users");

    let found: Vec<Document> = users.find(doc! { "role": "user" }).sort(doc! { "age": -1 }).await.unwrap().all().await;
    assert_eq!(names(&found), ["carol", "bob"]);
    let found: Vec<Document> = users
        .find(doc! { "$or": [{ "age": { "$gte": 40 } }, { "address.city": "Bergen" }] })
        .projection(doc! { "name": 1, "_id": 0 })
        .sort(doc! { "name": 1 })
        .await
        .unwrap()
        .all()
        .await;
    assert_eq!(found, vec![doc! { "name": "bob" }, doc! { "name": "carol" }]);
    let found: Vec<Document> = users.find(doc! {}).sort(doc! { "age": 1 }).skip(1).limit(1).await.unwrap().all().await;
    assert_eq!(names(&found), ["alice"]);
    let without_address = users.find_one(doc! { "_id": "2" }).projection(doc! { "address": 0 }).await.unwrap().unwrap();
    assert_eq!(without_address, doc! { "_id": "2", "name": "bob", "role": "user", "age": 27 });
    let found: Vec<Document> = users.find(doc! { "name": { "$in": ["bob", "zed"] }, "age": { "$lt": 30, "$ne": 1 }, "role": { "$nin": ["admin"] }, "address": { "$exists": true } }).await.unwrap().all().await;
    assert_eq!(names(&found), ["bob"]);
    let none: Vec<Document> =
        users.find(doc! { "$and": [{ "role": "admin" }, { "age": { "$gt": 40 } }] }).await.unwrap().all().await;
    assert!(none.is_empty());
    let bad = users.find(doc! { "age": { "$near": 3 } }).await.unwrap_err();
    assert!(bad.to_string().contains("unknown operator: $near"), "{bad}");

    let recorded = of_kind(&events, "mock_request");
    let find = recorded.iter().find(|e| e.fields["op"] == "find").expect("a find event");
    assert_eq!(
        (find.service.as_str(), &find.fields["interface"], &find.fields["collection"]),
        ("users", &json!("main"), &json!("users"))
    );
    assert!(ops(&events).iter().any(|op| op == "hello" || op.eq_ignore_ascii_case("ismaster")), "{:?}", ops(&events));
    mock.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_page_through_more_than_a_batch() {
    let (mock, events) = start(json!(null)).await;
    let items = client(mock.address()).await.database("test").collection::<Document>("items");
    let documents: Vec<Document> = (0..250).map(|n| doc! { "n": n }).collect();
    assert_eq!(items.insert_many(documents).await.unwrap().inserted_ids.len(), 250);

    let all: Vec<Document> = items.find(doc! {}).sort(doc! { "n": 1 }).await.unwrap().all().await;
    assert_eq!(all.len(), 250);
    assert!(all.iter().enumerate().all(|(i, d)| d.get_i32("n") == Ok(i as i32)));
    assert!(all.iter().all(|d| matches!(d.get("_id"), Some(Bson::ObjectId(_)))));
    assert_eq!(ops(&events).iter().filter(|op| *op == "getMore").count(), 1, "101 + 149");

    let batched: Vec<Document> = items.find(doc! { "n": { "$gte": 100 } }).batch_size(40).await.unwrap().all().await;
    assert_eq!(batched.len(), 150);
    assert_eq!(ops(&events).iter().filter(|op| *op == "getMore").count(), 1 + 3);

    // A cursor left open is killed when the driver drops it.
    let mut open = items.find(doc! {}).batch_size(10).await.unwrap();
    assert!(open.advance().await.unwrap());
    drop(open);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ops(&events).iter().any(|op| op == "killCursors") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ops(&events).iter().any(|op| op == "killCursors"));
    mock.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_writes_counts_and_aggregates() {
    let (mock, events) = start(seed()).await;
    let client = client(mock.address()).await;
    let users = client.database("app").collection::<Document>("users");

    let inserted = users.insert_one(doc! { "name": "dave", "role": "user", "age": 19 }).await.unwrap();
    assert!(matches!(inserted.inserted_id, Bson::ObjectId(_)));
    let duplicate = users.insert_one(doc! { "_id": "1", "name": "again" }).await.unwrap_err();
    assert!(duplicate.to_string().contains("E11000"), "{duplicate}");

    let one = users
        .update_one(
            doc! { "name": "bob" },
            doc! { "$set": { "role": "admin", "address.zip": "5003" }, "$inc": { "age": 1 } },
        )
        .await
        .unwrap();
    assert_eq!((one.matched_count, one.modified_count), (1, 1));
    let bob = users.find_one(doc! { "_id": "2" }).await.unwrap().unwrap();
    assert_eq!((bob.get_str("role").unwrap(), bob.get_i32("age").unwrap()), ("admin", 28));
    assert_eq!(bob.get_document("address").unwrap(), &doc! { "city": "Bergen", "zip": "5003" });
    let many = users
        .update_many(doc! { "role": "user" }, doc! { "$push": { "tags": "t" }, "$unset": { "address": "" } })
        .await
        .unwrap();
    assert_eq!((many.matched_count, many.modified_count), (2, 2));
    let upsert = users.update_one(doc! { "name": "erin" }, doc! { "$set": { "age": 50 } }).upsert(true).await.unwrap();
    assert!(upsert.upserted_id.is_some());
    let erin = users.find_one(doc! { "name": "erin" }).await.unwrap().unwrap();
    assert_eq!(erin.get_i32("age"), Ok(50));
    let replaced = users.replace_one(doc! { "_id": "3" }, doc! { "name": "carol", "age": 46 }).await.unwrap();
    assert_eq!(replaced.modified_count, 1);
    assert_eq!(
        users.find_one(doc! { "_id": "3" }).await.unwrap().unwrap(),
        doc! { "_id": "3", "name": "carol", "age": 46 }
    );
    let immutable = users.update_one(doc! { "_id": "3" }, doc! { "$set": { "_id": "9" } }).await.unwrap_err();
    assert!(immutable.to_string().contains("immutable"), "{immutable}");

    assert_eq!(users.count_documents(doc! {}).await.unwrap(), 5);
    assert_eq!(users.count_documents(doc! { "age": { "$gt": 30 } }).await.unwrap(), 3);
    assert_eq!(users.estimated_document_count().await.unwrap(), 5);

    let pipeline = vec![
        doc! { "$match": { "age": { "$gte": 19 } } },
        doc! { "$sort": { "age": -1 } },
        doc! { "$skip": 1 },
        doc! { "$limit": 2 },
        doc! { "$project": { "name": 1, "_id": 0 } },
    ];
    let out: Vec<Document> = users.aggregate(pipeline).await.unwrap().all().await;
    assert_eq!(out, vec![doc! { "name": "carol" }, doc! { "name": "alice" }]);
    let counted: Vec<Document> = users
        .aggregate(vec![doc! { "$match": { "role": "admin" } }, doc! { "$count": "admins" }])
        .await
        .unwrap()
        .all()
        .await;
    assert_eq!(counted, vec![doc! { "admins": 2 }]);

    let before = users.find_one_and_update(doc! { "_id": "1" }, doc! { "$inc": { "age": 1 } }).await.unwrap().unwrap();
    assert_eq!(before.get_i32("age"), Ok(34));
    let after = users
        .find_one_and_update(doc! { "role": "admin" }, doc! { "$set": { "seen": true } })
        .sort(doc! { "age": -1 })
        .return_document(mongodb::options::ReturnDocument::After)
        .projection(doc! { "name": 1, "seen": 1 })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, doc! { "_id": "1", "name": "alice", "seen": true });
    let removed = users.find_one_and_delete(doc! { "name": "erin" }).await.unwrap().unwrap();
    assert_eq!(removed.get_i32("age"), Ok(50));
    assert!(users.find_one_and_delete(doc! { "name": "erin" }).await.unwrap().is_none());
    users.insert_one(doc! { "name": "erin", "age": 50 }).await.unwrap();

    let gone = users.delete_one(doc! { "role": "admin" }).await.unwrap();
    assert_eq!(gone.deleted_count, 1);
    let gone = users.delete_many(doc! { "age": { "$lt": 100 } }).await.unwrap();
    assert_eq!(gone.deleted_count, 4);
    assert_eq!(users.count_documents(doc! {}).await.unwrap(), 0);

    let unknown = client.database("app").run_command(doc! { "frobnicate": 1 }).await.unwrap_err();
    match *unknown.kind {
        mongodb::error::ErrorKind::Command(ref e) => {
            assert_eq!(
                (e.code, e.code_name.as_str(), e.message.as_str()),
                (59, "CommandNotFound", "no such command: 'frobnicate'")
            )
        }
        ref other => panic!("not a command error: {other:?}"),
    }
    let collections = client.database("app").list_collection_names().await.unwrap();
    assert_eq!(collections, ["audit", "users"]);
    let ping = client.database("admin").run_command(doc! { "ping": 1 }).await.unwrap();
    assert_eq!(ping.get_f64("ok"), Ok(1.0));
    let build = client.database("admin").run_command(doc! { "buildInfo": 1 }).await.unwrap();
    assert!(build.get_str("version").is_ok());

    let writes: Vec<Event> =
        of_kind(&events, "mock_request").into_iter().filter(|e| e.fields["op"] == "insert").collect();
    assert_eq!(writes.len(), 3);
    assert_eq!(writes[1].fields["ok"], json!(true), "a write error is still an ok reply");
    mock.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_seeds_are_refused_naming_the_collection_and_index() {
    for (config, expected) in [
        (json!({ "collections": { "users": { "_id": 1 } } }), "collection `users`: its documents must be a list"),
        (
            json!({ "collections": { "users": [{ "_id": 1 }, "bob"] } }),
            "collection `users`, document 1: a document must be a dict",
        ),
        (json!({ "collections": ["users"] }), "`config.collections` must be a dict"),
    ] {
        let error = mock::serve(&service("users", 0, config), Arc::new(NoHandler), EventLog::default(), None)
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains(expected) && text.contains("mock `users`"), "{text}");
    }
}

/// A well-formed OP_MSG `ping` with request id 7.
fn ping_message() -> Vec<u8> {
    let mut body = Vec::new();
    doc! { "ping": 1, "$db": "admin" }.to_writer(&mut body).unwrap();
    let mut message = Vec::new();
    message.extend(((16 + 5 + body.len()) as i32).to_le_bytes());
    message.extend(7i32.to_le_bytes());
    message.extend(0i32.to_le_bytes());
    message.extend(2013i32.to_le_bytes());
    message.extend(0u32.to_le_bytes());
    message.push(0);
    message.extend(body);
    message
}

/// Reads until the peer closes (true) or 5 s pass (false).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut sink = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read).await.unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_half_messages_close_only_their_connection() {
    let (mock, events) = start(seed()).await;
    let driver = client(mock.address()).await;
    driver.database("admin").run_command(doc! { "ping": 1 }).await.unwrap();

    let mut garbage = TcpStream::connect(mock.address()).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert!(closed(&mut garbage).await, "garbage closes the connection");

    let mut half = TcpStream::connect(mock.address()).await.unwrap();
    let ping = ping_message();
    half.write_all(&ping[..ping.len() - 3]).await.unwrap();
    half.shutdown().await.unwrap();
    assert!(closed(&mut half).await);

    let mut bad_bson = TcpStream::connect(mock.address()).await.unwrap();
    let mut broken = ping_message();
    // The type byte of the body's first element (header 16, flags 4, kind 1, size 4): none.
    broken[25] = 0x42;
    bad_bson.write_all(&broken).await.unwrap();
    assert!(closed(&mut bad_bson).await);

    // A raw client that speaks properly gets its answer, and the driver keeps working.
    let mut raw = TcpStream::connect(mock.address()).await.unwrap();
    raw.write_all(&ping).await.unwrap();
    let mut header = [0u8; 16];
    raw.read_exact(&mut header).await.unwrap();
    assert_eq!(i32::from_le_bytes(header[8..12].try_into().unwrap()), 7, "responseTo is the request id");
    let found: Vec<Document> =
        driver.database("app").collection::<Document>("users").find(doc! {}).await.unwrap().all().await;
    assert_eq!(found.len(), 3);

    let errors = of_kind(&events, "mock_error");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors.iter().all(|e| e.fields["interface"] == "main" && e.service == "users"));
    assert!(errors[1].fields["error"].as_str().unwrap().contains("middle of a message"));
    mock.stop().await;
}

const PYMONGO_SCRIPT: &str = r#"
import json, sys
from pymongo import MongoClient, errors
client = MongoClient(sys.argv[1], directConnection=True, serverSelectionTimeoutMS=5000)
db = client["shop"]
out = {}
out["seeded"] = sorted(d["name"] for d in db.users.find({"role": "user"}, {"name": 1}))
db.items.insert_many([{"n": i} for i in range(150)])
out["paged"] = len(list(db.items.find({}).sort("n", -1)))
out["first"] = db.items.find_one({"n": {"$gt": 147}}, sort=[("n", 1)])["n"]
out["updated"] = db.items.update_many({"n": {"$lt": 10}}, {"$set": {"low": True}}).modified_count
out["deleted"] = db.items.delete_many({"low": True}).deleted_count
out["count"] = db.items.count_documents({})
out["agg"] = list(db.items.aggregate([{"$match": {"n": {"$gte": 140}}}, {"$count": "c"}]))
try:
    db.items.insert_one({"_id": 1}); db.items.insert_one({"_id": 1})
except errors.DuplicateKeyError as e:
    out["dup"] = e.code
try:
    db.command("nope")
except errors.OperationFailure as e:
    out["unknown"] = e.code
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_runs_against_the_mock() {
    let import = std::process::Command::new("python3").args(["-c", "import pymongo"]).output();
    if !import.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIP: pymongo is not installed (bash tests/deps/mongodb.sh installs it)");
        return;
    }
    let (mock, events) = start(seed()).await;
    let uri = format!("mongodb://{}/", mock.address());
    let script = tokio::process::Command::new("python3").args(["-c", PYMONGO_SCRIPT, &uri]).kill_on_drop(true).output();
    let output = tokio::time::timeout(Duration::from_secs(60), script).await.expect("pymongo finishes").unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        result,
        json!({
            "seeded": ["bob", "carol"], "paged": 150, "first": 148, "updated": 10, "deleted": 10,
            "count": 140, "agg": [{ "c": 10 }], "dup": 11000, "unknown": 59
        })
    );
    assert!(ops(&events).iter().any(|op| op.eq_ignore_ascii_case("ismaster") || op == "hello"));
    assert!(of_kind(&events, "mock_error").is_empty());
    mock.stop().await;
}

fn install(rules: &ProxyRules, action: ProxyAction, matchers: &[(&str, &str)]) -> u64 {
    let rule = ProxyRule {
        service: "users".into(),
        interface: "main".into(),
        protocol: "mongodb".into(),
        action,
        matchers: matchers
            .iter()
            .map(|(field, glob)| Matcher { field: (*field).into(), glob: (*glob).into() })
            .collect(),
        probability: 1.0,
        assumption: "test".into(),
        origin: Origin { file: "t.star".into(), line: 1, column: 1 },
    };
    rules.install(Install { rule, scope: "scope-1".into(), probability: 1.0, max_fires: None }).id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_applies_rules_on_command_and_collection() {
    let (mock, mock_events) = start(seed()).await;
    let (rules, events) = (ProxyRules::new(1), EventLog::default());
    let edge = Edge {
        consumer: "api".into(),
        service: "users".into(),
        interface: "main".into(),
        protocol: "mongodb".into(),
        upstream: mock.address(),
    };
    let proxy = Proxy::start(edge, rules.clone(), events.clone()).await.unwrap();
    let db = client(proxy.addr()).await.database("app");
    let users = db.collection::<Document>("users");
    let audit = db.collection::<Document>("audit");

    // No rule: relayed.
    assert_eq!(users.count_documents(doc! {}).await.unwrap(), 3);

    let error = install(
        &rules,
        ProxyAction::Error { message: Some("disk full".into()), status: None },
        &[("method", "FIND"), ("key", "us*")],
    );
    let failed = users.find(doc! {}).await.unwrap_err();
    match *failed.kind {
        mongodb::error::ErrorKind::Command(ref e) => assert_eq!((e.code, e.message.as_str()), (8000, "disk full")),
        ref other => panic!("not a command error: {other:?}"),
    }
    assert_eq!(audit.find(doc! {}).await.unwrap().all().await.len(), 1, "another collection passes");
    rules.remove(error);

    let write =
        install(&rules, ProxyAction::Error { message: Some("no space".into()), status: None }, &[("method", "insert")]);
    let failed = users.insert_one(doc! { "name": "x" }).await.unwrap_err();
    assert!(matches!(*failed.kind, mongodb::error::ErrorKind::Write(_)), "{failed:?}");
    assert!(failed.to_string().contains("no space"), "{failed}");
    rules.remove(write);
    assert_eq!(users.count_documents(doc! { "name": "x" }).await.unwrap(), 0, "the faulted write never arrived");

    let delay = install(&rules, ProxyAction::Delay { ms: 300 }, &[("method", "find")]);
    let started = Instant::now();
    assert_eq!(users.find(doc! { "_id": "1" }).await.unwrap().all().await.len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    rules.remove(delay);

    let duplicate = install(&rules, ProxyAction::Duplicate, &[("method", "insert"), ("key", "audit")]);
    // The consumer sees the first reply; the copy reaches the mock and hits the unique `_id`.
    audit.insert_one(doc! { "event": "twice" }).await.unwrap();
    rules.remove(duplicate);
    assert_eq!(audit.count_documents(doc! { "event": "twice" }).await.unwrap(), 1);
    let audit_inserts = of_kind(&mock_events, "mock_request")
        .into_iter()
        .filter(|e| e.fields["op"] == "insert" && e.fields["collection"] == "audit")
        .count();
    assert_eq!(audit_inserts, 2);

    let drop = install(&rules, ProxyAction::Drop, &[("method", "delete")]);
    assert!(users.delete_many(doc! {}).await.is_err());
    rules.remove(drop);
    assert_eq!(users.count_documents(doc! {}).await.unwrap(), 3, "the dropped delete never arrived");

    let fired: Vec<(String, String, String)> = of_kind(&events, "proxy")
        .iter()
        .map(|e| {
            let text = |k: &str| e.fields[k].as_str().unwrap_or_default().to_owned();
            (text("action"), text("op"), text("collection"))
        })
        .collect();
    assert_eq!(fired.first(), Some(&("error".to_owned(), "find".to_owned(), "users".to_owned())));
    for action in ["error", "delay", "duplicate", "drop"] {
        assert!(fired.iter().any(|(a, _, _)| a == action), "{action} fired: {fired:?}");
    }
    proxy.stop().await;
    mock.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_closes_on_a_garbage_header() {
    let (mock, _) = start(seed()).await;
    let (rules, events) = (ProxyRules::new(1), EventLog::default());
    let edge = Edge {
        consumer: "api".into(),
        service: "users".into(),
        interface: "main".into(),
        protocol: "mongodb".into(),
        upstream: mock.address(),
    };
    let proxy = Proxy::start(edge, rules, events.clone()).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream.write_all(&[3, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]).await.unwrap();
    assert!(closed(&mut stream).await);
    let errors = of_kind(&events, "proxy_error");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].fields["error"].as_str().unwrap().contains("message length"));
    proxy.stop().await;
    mock.stop().await;
}

const SPEC: &str = r#"
users_db = mock_service(
    "users",
    interface("main", "mongodb", PORT),
    config = {"collections": {
        "users": [
            {"_id": "1", "name": "alice", "role": "admin", "age": 34},
            {"_id": "2", "name": "bob", "role": "user", "age": 27},
        ],
        "audit": [{"_id": "a1", "event": "login", "user": "alice"}],
    }},
)

def test_find_returns_seeded_users():
    resp = users_db.main.find(collection = "users", filter = {})
    assert_eq(resp.status, 0)
    assert_true(resp.ok)
    assert_eq(len(resp.data), 2)
    assert_eq(resp.data[0]["name"], "alice")

def test_find_on_second_collection():
    resp = users_db.main.find(collection = "audit", filter = {"user": "alice"}, limit = 1)
    assert_eq(resp.status, 0)
    assert_eq(resp.data, [{"_id": "a1", "event": "login", "user": "alice"}])

def test_writes_and_counts():
    ins = users_db.main.insert(collection = "users", document = {"name": "carol", "role": "user", "age": 45})
    assert_true(ins.ok)
    assert_eq(len(ins.data["inserted_id"]), 24)
    many = users_db.main.insert_many(collection = "users", documents = [{"name": "d", "role": "user"}, {"name": "e"}])
    assert_eq(many.data, {"inserted_count": 2})
    upd = users_db.main.update(collection = "users", filter = {"role": "user"}, update = {"$set": {"active": True}})
    assert_eq(upd.data, {"matched": 3, "modified": 3})
    cnt = users_db.main.count(collection = "users", filter = '{"active": true}')
    assert_eq(cnt.data["count"], 3)
    dele = users_db.main.delete(collection = "users", filter = {"age": {"$gt": 40}})
    assert_eq(dele.data, {"deleted": 1})
    dup = users_db.main.insert(collection = "users", document = {"_id": "1"})
    assert_eq(dup.ok, False)
    assert_true("E11000" in dup.error)
    cmd = users_db.main.command(cmd = {"ping": 1})
    assert_eq(cmd.data["ok"], 1.0)
    bad = users_db.main.command(cmd = {"nope": 1})
    assert_eq(bad.ok, False)
    garbled = users_db.main.find(collection = "users", filter = "{not json")
    assert_eq(garbled.ok, False)
    assert_true("invalid JSON" in garbled.error)
"#;

#[test]
fn a_star_spec_with_a_mongodb_mock_runs_through_the_binary() {
    let Some(binary) = ospecc_binary() else {
        eprintln!("SKIP: the ospecc binary is not built (cargo build --bin ospecc)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("mongo_mock.star");
    std::fs::write(&spec, SPEC.replace("PORT", &SPEC_PORT.to_string())).unwrap();
    let mut child = std::process::Command::new(binary)
        .args(["run", spec.to_str().unwrap(), "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ospecc run did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let text = report.to_string();
    for test in ["test_find_returns_seeded_users", "test_find_on_second_collection", "test_writes_and_counts"] {
        assert!(text.contains(test), "{test} is reported: {text}");
    }
    assert_eq!(report["status"], "passed", "{text}");
}
