//! The commands the mock answers, one handler each in [`COMMANDS`]: the handshake and the
//! chatter drivers and shells send (`hello`/`isMaster`, `buildInfo`, `ping`, `getParameter`,
//! `getLog`, `whatsmyuri`, `endSessions`, `listDatabases`, `listCollections`, ...), reads with
//! cursors (`find`, `aggregate`, `getMore`, `killCursors`, `count`) and writes (`insert`,
//! `update`, `delete`, `findAndModify`, `drop`, `dropDatabase`, `create`, `createIndexes`). Indexes are
//! acknowledged, not kept: only `_id` is unique. An unknown command is `CommandNotFound`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use bson::{doc, Bson, DateTime, Document};

use super::aggregate;
use super::query::{number, truthy, Projection, QueryError};
use super::store::Store;
use super::wire::{Command, MAX_MESSAGE};

/// The wire version the mock claims (MongoDB 6.0): every current driver speaks it.
const MAX_WIRE_VERSION: i32 = 17;
const VERSION: &str = "7.0.0";
/// The first batch when the client gives no `batchSize` (the server's default).
const DEFAULT_FIRST_BATCH: usize = 101;
const MAX_BSON_OBJECT: i32 = 16 * 1024 * 1024;

type Reply = Result<Document, QueryError>;

/// What a handler knows besides the command.
pub struct Session<'a> {
    pub store: &'a Mutex<Store>,
    /// The client's address (`whatsmyuri`).
    pub peer: String,
    /// The mock's address (`serverStatus.host`).
    pub local: String,
    pub connection_id: i64,
    pub started: Instant,
}

impl Session<'_> {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A handler never panics while holding the lock; if one did, the data is still usable.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

type Handler = fn(&Session, &Command) -> Reply;

/// Every command served, by its name on the wire.
const COMMANDS: &[(&str, Handler)] = &[
    ("hello", hello),
    ("isMaster", hello),
    ("ismaster", hello),
    ("buildInfo", build_info),
    ("buildinfo", build_info),
    ("ping", |_, _| Ok(Document::new())),
    ("endSessions", |_, _| Ok(Document::new())),
    ("getParameter", get_parameter),
    ("getLog", |_, _| Ok(doc! { "totalLinesWritten": 0, "log": [] })),
    ("whatsmyuri", |session, _| Ok(doc! { "you": session.peer.clone() })),
    ("connectionStatus", |_, _| Ok(doc! { "authInfo": { "authenticatedUsers": [], "authenticatedUserRoles": [] } })),
    ("hostInfo", host_info),
    ("serverStatus", server_status),
    ("listDatabases", list_databases),
    ("listCollections", list_collections),
    ("listIndexes", list_indexes),
    ("find", find),
    ("aggregate", aggregate),
    ("getMore", get_more),
    ("killCursors", kill_cursors),
    ("count", count),
    ("findAndModify", find_and_modify),
    ("findandmodify", find_and_modify),
    ("insert", insert),
    ("update", update),
    ("delete", delete),
    ("drop", drop),
    ("dropDatabase", |session, command| {
        session.store().drop_all();
        Ok(doc! { "dropped": command.database() })
    }),
    ("create", create),
    ("createIndexes", create_indexes),
];

/// The reply to one command: the handler's document with `ok: 1`, or an error document.
pub fn answer(session: &Session, command: &Command) -> Document {
    let name = command.name();
    let result = match COMMANDS.iter().find(|(known, _)| *known == name) {
        Some((_, handler)) => handler(session, command),
        None => Err(QueryError { code: 59, message: format!("no such command: '{name}'") }),
    };
    match result {
        Ok(mut reply) => {
            reply.insert("ok", 1.0);
            reply
        }
        Err(error) => error_document(&error),
    }
}

/// `{ok: 0, errmsg, code, codeName}`.
pub fn error_document(error: &QueryError) -> Document {
    doc! { "ok": 0.0, "errmsg": error.message.clone(), "code": error.code, "codeName": code_name(error.code) }
}

const CODE_NAMES: &[(i32, &str)] = &[
    (2, "BadValue"),
    (9, "FailedToParse"),
    (14, "TypeMismatch"),
    (26, "NamespaceNotFound"),
    (28, "PathNotViable"),
    (43, "CursorNotFound"),
    (48, "NamespaceExists"),
    (59, "CommandNotFound"),
    (66, "ImmutableField"),
    (73, "InvalidNamespace"),
    (11000, "DuplicateKey"),
];

fn code_name(code: i32) -> String {
    CODE_NAMES.iter().find(|(c, _)| *c == code).map_or_else(|| format!("Location{code}"), |(_, n)| (*n).to_owned())
}

fn hello(session: &Session, command: &Command) -> Reply {
    let mut reply = match command.name() {
        "hello" => doc! { "isWritablePrimary": true },
        _ => doc! { "ismaster": true },
    };
    if command.body.get("helloOk").is_some_and(truthy) {
        reply.insert("helloOk", true);
    }
    reply.extend(doc! {
        "maxBsonObjectSize": MAX_BSON_OBJECT,
        "maxMessageSizeBytes": MAX_MESSAGE as i32,
        "maxWriteBatchSize": 100_000,
        "localTime": DateTime::now(),
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": session.connection_id,
        "minWireVersion": 0,
        "maxWireVersion": MAX_WIRE_VERSION,
        "readOnly": false,
    });
    Ok(reply)
}

fn build_info(_: &Session, _: &Command) -> Reply {
    Ok(doc! {
        "version": VERSION,
        "gitVersion": "ospecc-mock",
        "versionArray": [7, 0, 0, 0],
        "bits": 64,
        "debug": false,
        "maxBsonObjectSize": MAX_BSON_OBJECT,
        "storageEngines": ["inMemory"],
        "modules": [],
    })
}

fn get_parameter(_: &Session, command: &Command) -> Reply {
    let mut reply = Document::new();
    if command.body.contains_key("featureCompatibilityVersion") {
        reply.insert("featureCompatibilityVersion", doc! { "version": "7.0" });
    }
    Ok(reply)
}

fn host_info(session: &Session, _: &Command) -> Reply {
    Ok(doc! { "system": { "hostname": session.local.clone(), "numCores": 1 }, "os": { "type": "Linux" }, "extra": {} })
}

fn server_status(session: &Session, _: &Command) -> Reply {
    Ok(doc! {
        "host": session.local.clone(),
        "version": VERSION,
        "process": "mongod",
        "uptime": session.started.elapsed().as_secs_f64(),
        "localTime": DateTime::now(),
    })
}

fn list_databases(session: &Session, command: &Command) -> Reply {
    let store = session.store();
    let documents: usize = store.collection_names().map(|(_, n)| n).sum();
    let database = match command.body.get_bool("nameOnly").unwrap_or(false) {
        true => doc! { "name": "test" },
        false => doc! { "name": "test", "sizeOnDisk": (documents * 64) as i64, "empty": documents == 0 },
    };
    Ok(doc! { "databases": [database], "totalSize": (documents * 64) as i64 })
}

fn list_collections(session: &Session, command: &Command) -> Reply {
    let filter = document_arg(command, "filter")?.unwrap_or_default();
    let name_only = command.body.get("nameOnly").is_some_and(truthy);
    let mut infos = Vec::new();
    for (name, _) in session.store().collection_names() {
        let info = match name_only {
            true => doc! { "name": name.clone(), "type": "collection" },
            false => doc! {
                "name": name.clone(),
                "type": "collection",
                "options": {},
                "info": { "readOnly": false },
                "idIndex": { "v": 2, "key": { "_id": 1 }, "name": "_id_" },
            },
        };
        if super::query::matches(&info, &filter)? {
            infos.push(info);
        }
    }
    let namespace = format!("{}.$cmd.listCollections", command.database());
    Ok(cursor_reply(session, namespace, infos, batch_size(command.body.get_document("cursor").ok())?, false))
}

fn list_indexes(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    if !session.store().exists(&collection) {
        return Err(QueryError {
            code: 26,
            message: format!("ns does not exist: {}.{collection}", command.database()),
        });
    }
    let indexes = vec![doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }];
    let namespace = format!("{}.{collection}", command.database());
    Ok(cursor_reply(session, namespace, indexes, None, false))
}

fn find(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    let filter = document_arg(command, "filter")?.unwrap_or_default();
    let mut documents = session.store().find(&collection, &filter)?;
    if let Some(sort) = document_arg(command, "sort")? {
        super::query::sort(&mut documents, &sort)?;
    }
    let skip = count_arg(command, "skip")?.unwrap_or(0);
    let limit = integer_arg(command, "limit")?.unwrap_or(0);
    // A negative limit is the legacy "one batch of this many".
    let single_batch = limit < 0 || command.body.get("singleBatch").is_some_and(truthy);
    let mut documents: Vec<Document> = documents.into_iter().skip(skip as usize).collect();
    if limit != 0 {
        documents.truncate(limit.unsigned_abs() as usize);
    }
    if let Some(projection) = document_arg(command, "projection")? {
        let projection = Projection::parse(&projection)?;
        documents = documents.iter().map(|d| projection.apply(d)).collect();
    }
    let batch = count_arg(command, "batchSize")?.map(|n| n as usize);
    let namespace = format!("{}.{collection}", command.database());
    Ok(cursor_reply(session, namespace, documents, batch, single_batch))
}

fn aggregate(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    let Ok(pipeline) = command.body.get_array("pipeline") else {
        return Err(QueryError { code: 9, message: "'pipeline' option must be specified as an array".into() });
    };
    let documents = session.store().find(&collection, &Document::new())?;
    let documents = aggregate::run(documents, pipeline)?;
    let cursor = command.body.get_document("cursor").ok();
    let namespace = format!("{}.{collection}", command.database());
    Ok(cursor_reply(session, namespace, documents, batch_size(cursor)?, false))
}

/// `cursor: {batchSize: n}`.
fn batch_size(cursor: Option<&Document>) -> Result<Option<usize>, QueryError> {
    match cursor.and_then(|c| c.get("batchSize")) {
        None => Ok(None),
        Some(value) => match number(value) {
            Some(n) if n >= 0.0 => Ok(Some(n as usize)),
            _ => Err(QueryError { code: 2, message: "batchSize must be a non-negative number".into() }),
        },
    }
}

/// The first batch in `cursor.firstBatch`, the rest kept as an open cursor.
fn cursor_reply(
    session: &Session,
    namespace: String,
    documents: Vec<Document>,
    batch: Option<usize>,
    single: bool,
) -> Document {
    let mut rest: VecDeque<Document> = documents.into();
    let take = batch.unwrap_or(DEFAULT_FIRST_BATCH).min(rest.len());
    let first: Vec<Bson> = rest.drain(..take).map(Bson::Document).collect();
    let id = match single {
        true => 0,
        false => session.store().open_cursor(namespace.clone(), rest),
    };
    doc! { "cursor": { "firstBatch": first, "id": id, "ns": namespace } }
}

fn get_more(session: &Session, command: &Command) -> Reply {
    let id = match command.body.iter().next() {
        Some((_, Bson::Int64(id))) => *id,
        Some((_, Bson::Int32(id))) => i64::from(*id),
        _ => return Err(QueryError { code: 14, message: "getMore's cursor id must be a long".into() }),
    };
    let size = count_arg(command, "batchSize")?.map(|n| n as usize);
    let Some((namespace, batch, id)) = session.store().next_batch(id, size) else {
        return Err(QueryError { code: 43, message: format!("cursor id {id} not found") });
    };
    let batch: Vec<Bson> = batch.into_iter().map(Bson::Document).collect();
    Ok(doc! { "cursor": { "nextBatch": batch, "id": id, "ns": namespace } })
}

fn kill_cursors(session: &Session, command: &Command) -> Reply {
    let ids = command
        .body
        .get_array("cursors")
        .map_err(|_| QueryError { code: 14, message: "killCursors needs a 'cursors' array".into() })?;
    let (mut killed, mut missing) = (Vec::new(), Vec::new());
    let mut store = session.store();
    for id in ids {
        let Some(n) = number(id) else { continue };
        match store.kill_cursor(n as i64) {
            true => killed.push(id.clone()),
            false => missing.push(id.clone()),
        }
    }
    Ok(doc! { "cursorsKilled": killed, "cursorsNotFound": missing, "cursorsAlive": [], "cursorsUnknown": [] })
}

fn count(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    let filter = document_arg(command, "query")?.unwrap_or_default();
    let found = session.store().find(&collection, &filter)?.len();
    let skip = count_arg(command, "skip")?.unwrap_or(0) as usize;
    let limit = integer_arg(command, "limit")?.unwrap_or(0).unsigned_abs() as usize;
    let mut n = found.saturating_sub(skip);
    if limit > 0 {
        n = n.min(limit);
    }
    Ok(doc! { "n": n as i64 })
}

/// Runs a write command's statements (`documents`, `updates`, `deletes`), stopping at the first
/// error when `ordered` (the default); failed statements go into `writeErrors`.
fn statements(
    command: &Command,
    field: &str,
    mut run: impl FnMut(usize, &Document) -> Result<(), QueryError>,
) -> Reply {
    let Ok(items) = command.body.get_array(field) else {
        return Err(QueryError {
            code: 9,
            message: format!("BSON field '{}.{field}' is missing but a required field", command.name()),
        });
    };
    let ordered = command.body.get("ordered").is_none_or(truthy);
    let mut errors = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let outcome = match item {
            Bson::Document(statement) => run(index, statement),
            _ => Err(QueryError { code: 14, message: format!("{field}[{index}] is not a document") }),
        };
        if let Err(error) = outcome {
            errors.push(doc! { "index": index as i32, "code": error.code, "errmsg": error.message });
            if ordered {
                break;
            }
        }
    }
    let mut reply = Document::new();
    if !errors.is_empty() {
        reply.insert("writeErrors", errors);
    }
    Ok(reply)
}

fn insert(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    let mut n = 0i32;
    let mut store = session.store();
    let mut reply = statements(command, "documents", |_, document| {
        store.insert_one(&collection, document.clone())?;
        n += 1;
        Ok(())
    })?;
    reply.insert("n", n);
    Ok(reply)
}

fn update(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    let (mut matched, mut modified, mut upserted) = (0i64, 0i64, Vec::new());
    let mut store = session.store();
    let mut reply = statements(command, "updates", |index, statement| {
        let filter = statement.get_document("q").cloned().unwrap_or_default();
        let change = match statement.get("u") {
            Some(Bson::Document(change)) => change,
            Some(Bson::Array(_)) => {
                return Err(QueryError {
                    code: 9,
                    message: "pipeline-style updates are not supported by this mock".into(),
                })
            }
            _ => return Err(QueryError { code: 9, message: "an update statement needs a 'u' document".into() }),
        };
        let multi = statement.get("multi").is_some_and(truthy);
        let upsert = statement.get("upsert").is_some_and(truthy);
        let (m, changed, inserted) = store.update(&collection, &filter, change, multi, upsert)?;
        matched += m as i64;
        modified += changed as i64;
        if let Some(id) = inserted {
            upserted.push(doc! { "index": index as i32, "_id": id });
        }
        Ok(())
    })?;
    reply.insert("n", matched + upserted.len() as i64);
    reply.insert("nModified", modified);
    if !upserted.is_empty() {
        reply.insert("upserted", upserted);
    }
    Ok(reply)
}

fn delete(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    let mut n = 0i64;
    let mut store = session.store();
    let mut reply = statements(command, "deletes", |_, statement| {
        let filter = statement.get_document("q").cloned().unwrap_or_default();
        let one = match statement.get("limit").and_then(number) {
            Some(1.0) => true,
            Some(0.0) => false,
            _ => {
                return Err(QueryError { code: 9, message: "The limit field in delete objects must be 0 or 1".into() })
            }
        };
        n += store.delete(&collection, &filter, one)? as i64;
        Ok(())
    })?;
    reply.insert("n", n);
    Ok(reply)
}

/// `findAndModify` (the drivers' `findOneAndUpdate/Replace/Delete`): the first match in
/// `sort` order, removed or updated, answered before or (`new`) after the change.
fn find_and_modify(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    let filter = document_arg(command, "query")?.unwrap_or_default();
    let remove = command.body.get("remove").is_some_and(truthy);
    let change = document_arg(command, "update")?;
    let (return_new, upsert) =
        (command.body.get("new").is_some_and(truthy), command.body.get("upsert").is_some_and(truthy));
    if remove == change.is_some() {
        return Err(QueryError { code: 9, message: "Either an update or remove=true must be specified".into() });
    }
    let projection = document_arg(command, "fields")?.map(|spec| Projection::parse(&spec)).transpose()?;
    let mut store = session.store();
    let mut matching = store.find(&collection, &filter)?;
    if let Some(sort) = document_arg(command, "sort")? {
        super::query::sort(&mut matching, &sort)?;
    }
    let old = matching.into_iter().next();
    let by_id = |id: &Bson| doc! { "_id": { "$eq": id.clone() } };
    let (value, last) = match (old, change) {
        (Some(old), None) => {
            store.delete(&collection, &by_id(old.get("_id").unwrap_or(&Bson::Null)), true)?;
            (Some(old), doc! { "n": 1 })
        }
        (Some(old), Some(change)) => {
            let id = old.get("_id").cloned().unwrap_or(Bson::Null);
            store.update(&collection, &by_id(&id), &change, false, false)?;
            let new = store.find(&collection, &by_id(&id))?.into_iter().next();
            (if return_new { new } else { Some(old) }, doc! { "n": 1, "updatedExisting": true })
        }
        (None, Some(change)) if upsert => {
            let (_, _, id) = store.update(&collection, &filter, &change, false, true)?;
            let id = id.unwrap_or(Bson::Null);
            let new = if return_new { store.find(&collection, &by_id(&id))?.into_iter().next() } else { None };
            (new, doc! { "n": 1, "updatedExisting": false, "upserted": id })
        }
        (None, _) => (None, doc! { "n": 0, "updatedExisting": false }),
    };
    let value = match (value, projection) {
        (Some(document), Some(projection)) => Bson::Document(projection.apply(&document)),
        (Some(document), None) => Bson::Document(document),
        (None, _) => Bson::Null,
    };
    Ok(doc! { "lastErrorObject": last, "value": value })
}

fn drop(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    session.store().drop_collection(&collection);
    Ok(doc! { "ns": format!("{}.{collection}", command.database()), "nIndexesWas": 1 })
}

fn create(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    match session.store().create(&collection) {
        true => Ok(Document::new()),
        false => Err(QueryError {
            code: 48,
            message: format!("Collection {}.{collection} already exists.", command.database()),
        }),
    }
}

fn create_indexes(session: &Session, command: &Command) -> Reply {
    let collection = collection_arg(command)?;
    let requested = command.body.get_array("indexes").map_or(0, Vec::len) as i32;
    let created = session.store().create(&collection);
    Ok(doc! { "numIndexesBefore": 1, "numIndexesAfter": 1 + requested, "createdCollectionAutomatically": created })
}

/// The collection a command names (its first value).
fn collection_arg(command: &Command) -> Result<String, QueryError> {
    match command.body.iter().next() {
        Some((_, Bson::String(name))) if !name.is_empty() => Ok(name.clone()),
        _ => Err(QueryError {
            code: 73,
            message: format!("the collection name of '{}' must be a non-empty string", command.name()),
        }),
    }
}

fn document_arg(command: &Command, field: &str) -> Result<Option<Document>, QueryError> {
    match command.body.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Document(document)) => Ok(Some(document.clone())),
        Some(_) => {
            Err(QueryError { code: 14, message: format!("BSON field '{}.{field}' must be an object", command.name()) })
        }
    }
}

fn integer_arg(command: &Command, field: &str) -> Result<Option<i64>, QueryError> {
    match command.body.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(value) => match number(value) {
            Some(n) if n.fract() == 0.0 => Ok(Some(n as i64)),
            _ => Err(QueryError {
                code: 14,
                message: format!("BSON field '{}.{field}' must be a number", command.name()),
            }),
        },
    }
}

/// A non-negative integer argument.
fn count_arg(command: &Command, field: &str) -> Result<Option<u64>, QueryError> {
    match integer_arg(command, field)? {
        Some(n) if n < 0 => Err(QueryError { code: 2, message: format!("{field} must be non-negative, not {n}") }),
        other => Ok(other.map(|n| n as u64)),
    }
}
