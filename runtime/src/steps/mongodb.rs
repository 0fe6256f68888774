//! MongoDB steps: `find`, `insert`, `insert_many`, `update`, `delete`, `count` and `command`,
//! with Faultbox's parameters (`collection=`, `filter=`, `limit=`, `document=`, `documents=`,
//! `update=`, `cmd=`, `database=` ("test"), `auth_source=` ("admin"), `user=`, `password=`)
//! and result shapes: `find` → the list of documents, `insert` → `{inserted_id}`,
//! `insert_many` → `{inserted_count}`, `update` (every match) → `{matched, modified}`,
//! `delete` (every match) → `{deleted}`, `count` → `{count}`, `command` → the reply. Documents
//! come back as plain JSON (ObjectIds as hex text). Dict arguments may also be JSON text.
//!
//! The client is the official async driver on a current-thread runtime per step, under the
//! test's remaining time: a step against a silent server fails at the deadline instead of
//! blocking the test, and the runtime's end takes the driver's background tasks with it.
//! Credentials default from the service's env (`MONGO_INITDB_ROOT_USERNAME`/`_PASSWORD`).

use std::future::Future;
use std::time::{Duration, Instant};

use bson::{Bson, Document};
use mongodb::options::{ClientOptions, Credential, ServerAddress};
use mongodb::Client;
use serde_json::{json, Value};

use super::response::Response;
use super::{text_arg, Target};
use crate::mock::mongodb::json::{document_json, to_bson, to_json};
use ospecc_compiler::topology::run::Args;

/// The longest connect and server selection (as Faultbox's client), within the test's time.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// What a method does with a database handle, given its arguments.
type Operation = fn(mongodb::Database, Parsed) -> std::pin::Pin<Box<dyn Future<Output = Result<Value, String>> + Send>>;

/// The arguments of a step, parsed before connecting.
struct Parsed {
    collection: String,
    filter: Document,
    limit: Option<i64>,
    document: Document,
    documents: Vec<Document>,
}

/// Each method, whether it needs `collection=`, the dict arguments it requires, and what it does.
const METHODS: &[(&str, bool, &[&str], Operation)] = &[
    ("find", true, &[], |db, p| Box::pin(find(db, p))),
    ("insert", true, &["document"], |db, p| Box::pin(insert(db, p))),
    ("insert_many", true, &["documents"], |db, p| Box::pin(insert_many(db, p))),
    ("update", true, &["update"], |db, p| Box::pin(update(db, p))),
    ("delete", true, &[], |db, p| Box::pin(delete(db, p))),
    ("count", true, &[], |db, p| Box::pin(count(db, p))),
    ("command", false, &["cmd"], |db, p| Box::pin(command(db, p))),
];

pub fn call(target: &Target, method: &str, args: &Args) -> Option<Response> {
    let (_, needs_collection, required, operation) = METHODS.iter().find(|(name, ..)| *name == method)?;
    let started = Instant::now();
    let ms = || started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    let parsed = match parse(method, args, *needs_collection, required) {
        Ok(parsed) => parsed,
        Err(error) => return Some(Response::failed(error, ms())),
    };
    Some(match run(target, args, parsed, *operation) {
        Ok(data) => Response::data(data, ms()),
        Err(error) => Response::failed(error, ms()),
    })
}

fn parse(method: &str, args: &Args, needs_collection: bool, required: &[&str]) -> Result<Parsed, String> {
    let collection = text_arg(args, "collection").unwrap_or_default();
    if needs_collection && collection.is_empty() {
        return Err(format!("`{method}` needs `collection=`"));
    }
    for name in required {
        if args.named(name).is_none() {
            return Err(format!("`{method}` needs `{name}=`"));
        }
    }
    let limit = match args.named("limit") {
        None => None,
        Some(value) => Some(value.unpack_i32().map(i64::from).ok_or("`limit=` must be an int")?),
    };
    // `document` carries whichever single document the method takes.
    let document_name = ["document", "update", "cmd"].into_iter().find(|name| required.contains(name));
    Ok(Parsed {
        collection,
        filter: document_arg(args, "filter")?.unwrap_or_default(),
        limit,
        document: match document_name {
            Some(name) => document_arg(args, name)?.ok_or_else(|| format!("`{name}=` is empty"))?,
            None => Document::new(),
        },
        documents: match required.contains(&"documents") {
            true => documents_arg(args)?,
            false => Vec::new(),
        },
    })
}

/// An argument as JSON: a dict or list as is, a string parsed as JSON text.
fn json_arg(args: &Args, name: &str) -> Result<Option<Value>, String> {
    let Some(value) = args.named(name) else { return Ok(None) };
    if let Some(text) = value.unpack_str() {
        if text.trim().is_empty() {
            return Ok(None);
        }
        return serde_json::from_str(text).map(Some).map_err(|e| format!("{name}: invalid JSON: {e}"));
    }
    if value.is_none() {
        return Ok(None);
    }
    value.to_json_value().map(Some).map_err(|e| format!("{name}: cannot be sent as a document: {e}"))
}

fn document_arg(args: &Args, name: &str) -> Result<Option<Document>, String> {
    match json_arg(args, name)? {
        None => Ok(None),
        Some(Value::Object(map)) => Ok(Some(crate::mock::mongodb::json::to_document(&map))),
        Some(other) => Err(format!("{name}: expected a dict or JSON text of an object, got {}", kind(&other))),
    }
}

fn documents_arg(args: &Args) -> Result<Vec<Document>, String> {
    let Some(Value::Array(items)) = json_arg(args, "documents")? else {
        return Err("documents: expected a list of dicts".into());
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match to_bson(item) {
            Bson::Document(document) => Ok(document),
            _ => Err(format!("documents[{index}]: expected a dict, got {}", kind(item))),
        })
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "None",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dict",
    }
}

/// Connects and runs the operation, all within the test's remaining time.
fn run(target: &Target, args: &Args, parsed: Parsed, operation: Operation) -> Result<Value, String> {
    let options = client_options(target, args);
    let database = text_arg(args, "database").unwrap_or_else(|| "test".to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the client's runtime: {e}"))?;
    let deadline = target.timeout;
    runtime.block_on(async move {
        let client = Client::with_options(options).map_err(|e| format!("connect: {e}"))?;
        let outcome = tokio::time::timeout(deadline, operation(client.database(&database), parsed)).await;
        // Pending cleanup (killCursors, endSessions) is not worth waiting for past a moment.
        let _ = tokio::time::timeout(Duration::from_secs(1), client.shutdown().immediate(true)).await;
        outcome.unwrap_or_else(|_| Err(format!("no reply within the test's remaining time ({deadline:?})")))
    })
}

fn client_options(target: &Target, args: &Args) -> ClientOptions {
    let mut options = ClientOptions::default();
    options.hosts =
        vec![ServerAddress::Tcp { host: target.address.ip().to_string(), port: Some(target.address.port()) }];
    options.direct_connection = Some(true);
    options.connect_timeout = Some(CONNECT_LIMIT.min(target.timeout));
    options.server_selection_timeout = Some(CONNECT_LIMIT.min(target.timeout));
    options.app_name = Some("ospecc".to_owned());
    let user = text_arg(args, "user").or_else(|| target.env("MONGO_INITDB_ROOT_USERNAME"));
    let password = text_arg(args, "password").or_else(|| target.env("MONGO_INITDB_ROOT_PASSWORD"));
    if let Some(user) = user {
        let mut credential = Credential::default();
        credential.username = Some(user);
        credential.password = password;
        credential.source = Some(text_arg(args, "auth_source").unwrap_or_else(|| "admin".to_owned()));
        options.credential = Some(credential);
    }
    options
}

fn error(e: mongodb::error::Error) -> String {
    e.to_string()
}

async fn find(db: mongodb::Database, p: Parsed) -> Result<Value, String> {
    let collection = db.collection::<Document>(&p.collection);
    let mut find = collection.find(p.filter);
    if let Some(limit) = p.limit.filter(|n| *n > 0) {
        find = find.limit(limit);
    }
    let mut cursor = find.await.map_err(error)?;
    let mut documents = Vec::new();
    while cursor.advance().await.map_err(error)? {
        let document = cursor.deserialize_current().map_err(|e| format!("cursor: {e}"))?;
        documents.push(document_json(&document));
    }
    Ok(Value::Array(documents))
}

async fn insert(db: mongodb::Database, p: Parsed) -> Result<Value, String> {
    let result = db.collection::<Document>(&p.collection).insert_one(p.document).await.map_err(error)?;
    Ok(json!({ "inserted_id": id_text(&result.inserted_id) }))
}

/// An inserted `_id` as text (ObjectIds as hex), as Faultbox reports it.
fn id_text(id: &Bson) -> String {
    match to_json(id) {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

async fn insert_many(db: mongodb::Database, p: Parsed) -> Result<Value, String> {
    if p.documents.is_empty() {
        return Ok(json!({ "inserted_count": 0 }));
    }
    let result = db.collection::<Document>(&p.collection).insert_many(p.documents).await.map_err(error)?;
    Ok(json!({ "inserted_count": result.inserted_ids.len() }))
}

async fn update(db: mongodb::Database, p: Parsed) -> Result<Value, String> {
    let result = db.collection::<Document>(&p.collection).update_many(p.filter, p.document).await.map_err(error)?;
    Ok(json!({ "matched": result.matched_count, "modified": result.modified_count }))
}

async fn delete(db: mongodb::Database, p: Parsed) -> Result<Value, String> {
    let result = db.collection::<Document>(&p.collection).delete_many(p.filter).await.map_err(error)?;
    Ok(json!({ "deleted": result.deleted_count }))
}

async fn count(db: mongodb::Database, p: Parsed) -> Result<Value, String> {
    let count = db.collection::<Document>(&p.collection).count_documents(p.filter).await.map_err(error)?;
    Ok(json!({ "count": count }))
}

async fn command(db: mongodb::Database, p: Parsed) -> Result<Value, String> {
    let reply = db.run_command(p.document).await.map_err(error)?;
    Ok(document_json(&reply))
}
