//! The mock's data: collections of documents (in insertion order) and open cursors. One
//! namespace serves every database name (`app.users` and `test.users` are the same
//! collection), as the seed config names collections only. Writes follow the server's rules
//! for `_id` (generated when absent, unique per collection: a duplicate is an E11000 write
//! error).

use std::collections::{BTreeMap, HashSet, VecDeque};

use bson::oid::ObjectId;
use bson::{doc, Bson, Document};

use super::query::{self, QueryError};
use super::update;

/// The most cursors kept open; past it the oldest is closed (a client that never exhausts or
/// kills its cursors must not grow the mock without bound).
const MAX_CURSORS: usize = 10_000;

type Outcome<T> = Result<T, QueryError>;

#[derive(Default)]
pub struct Store {
    collections: BTreeMap<String, Collection>,
    cursors: BTreeMap<i64, Cursor>,
    last_cursor: i64,
}

/// A collection's documents in insertion order, and the keys of their `_id`s (uniqueness is
/// checked by a lookup, so seeding or inserting n documents is not quadratic).
#[derive(Default)]
struct Collection {
    documents: Vec<Document>,
    ids: HashSet<String>,
}

struct Cursor {
    namespace: String,
    remaining: VecDeque<Document>,
}

impl Store {
    /// The store seeded from `config.collections` (collection → list of JSON objects).
    pub fn seeded(config: &serde_json::Value) -> Result<Store, String> {
        let mut store = Store::default();
        let collections = match config {
            serde_json::Value::Null => return Ok(store),
            serde_json::Value::Object(config) => match config.get("collections") {
                None | Some(serde_json::Value::Null) => return Ok(store),
                Some(serde_json::Value::Object(collections)) => collections,
                Some(other) => {
                    return Err(format!(
                        "`config.collections` must be a dict of collection name to a list of documents, not {}",
                        kind(other)
                    ))
                }
            },
            other => return Err(format!("`config` must be a dict, not {}", kind(other))),
        };
        for (name, documents) in collections {
            let serde_json::Value::Array(documents) = documents else {
                return Err(format!("collection `{name}`: its documents must be a list, not {}", kind(documents)));
            };
            store.collections.entry(name.clone()).or_default();
            for (index, document) in documents.iter().enumerate() {
                let serde_json::Value::Object(document) = document else {
                    return Err(format!(
                        "collection `{name}`, document {index}: a document must be a dict, not {}",
                        kind(document)
                    ));
                };
                store
                    .insert_one(name, super::json::to_document(document))
                    .map_err(|e| format!("collection `{name}`, document {index}: {}", e.message))?;
            }
        }
        Ok(store)
    }

    pub fn collection_names(&self) -> impl Iterator<Item = (&String, usize)> {
        self.collections.iter().map(|(name, collection)| (name, collection.documents.len()))
    }

    pub fn exists(&self, collection: &str) -> bool {
        self.collections.contains_key(collection)
    }

    /// Creates an empty collection; `false` when it already exists.
    pub fn create(&mut self, collection: &str) -> bool {
        if self.exists(collection) {
            return false;
        }
        self.collections.insert(collection.to_owned(), Collection::default());
        true
    }

    /// Drops a collection; `false` when there was none.
    pub fn drop_collection(&mut self, collection: &str) -> bool {
        self.collections.remove(collection).is_some()
    }

    pub fn drop_all(&mut self) {
        self.collections.clear();
        self.cursors.clear();
    }

    /// Every document of `collection` matching `filter`, cloned, in insertion order.
    pub fn find(&self, collection: &str, filter: &Document) -> Outcome<Vec<Document>> {
        let mut found = Vec::new();
        for document in self.collections.get(collection).into_iter().flat_map(|c| &c.documents) {
            if query::matches(document, filter)? {
                found.push(document.clone());
            }
        }
        Ok(found)
    }

    /// Inserts one document (an ObjectId `_id` first when it has none); returns its `_id`.
    pub fn insert_one(&mut self, collection: &str, mut document: Document) -> Outcome<Bson> {
        if !document.contains_key("_id") {
            let mut with_id = doc! { "_id": ObjectId::new() };
            with_id.extend(document);
            document = with_id;
        }
        let id = document.get("_id").cloned().unwrap_or(Bson::Null);
        if matches!(id, Bson::Array(_)) {
            return Err(QueryError { code: 2, message: "can't use an array for _id".into() });
        }
        let stored = self.collections.entry(collection.to_owned()).or_default();
        if !stored.ids.insert(id_key(&id)) {
            return Err(duplicate(collection, &id));
        }
        stored.documents.push(document);
        Ok(id)
    }

    /// Applies `update` to the documents matching `filter` (the first only unless `multi`);
    /// with `upsert` and no match, inserts the filter's equalities updated. Returns (matched,
    /// modified, upserted `_id`).
    pub fn update(
        &mut self,
        collection: &str,
        filter: &Document,
        change: &Document,
        multi: bool,
        upsert: bool,
    ) -> Outcome<(usize, usize, Option<Bson>)> {
        update::check(change)?;
        if multi && !update::is_operator_update(change) {
            return Err(QueryError {
                code: 9,
                message: "multi update is not supported for replacement-style update".into(),
            });
        }
        let mut matched = 0;
        let mut modified = 0;
        if let Some(stored) = self.collections.get_mut(collection) {
            for document in stored.documents.iter_mut() {
                if !query::matches(document, filter)? {
                    continue;
                }
                matched += 1;
                let mut changed = document.clone();
                update::apply(&mut changed, change, false)?;
                if changed != *document {
                    *document = changed;
                    modified += 1;
                }
                if !multi {
                    break;
                }
            }
        }
        if matched > 0 || !upsert {
            return Ok((matched, modified, None));
        }
        let mut document = equalities(filter)?;
        update::apply(&mut document, change, true)?;
        let id = self.insert_one(collection, document)?;
        Ok((0, 0, Some(id)))
    }

    /// Deletes the documents matching `filter` (the first only when `one`); returns how many.
    pub fn delete(&mut self, collection: &str, filter: &Document, one: bool) -> Outcome<usize> {
        let Some(stored) = self.collections.get_mut(collection) else { return Ok(0) };
        // Matched first, removed after: a filter error leaves the collection as it was.
        let mut gone = Vec::new();
        for (index, document) in stored.documents.iter().enumerate() {
            if query::matches(document, filter)? {
                gone.push(index);
                if one {
                    break;
                }
            }
        }
        let mut index = 0;
        let ids = &mut stored.ids;
        stored.documents.retain(|document| {
            let keep = gone.binary_search(&index).is_err();
            index += 1;
            if !keep {
                ids.remove(&id_key(document.get("_id").unwrap_or(&Bson::Null)));
            }
            keep
        });
        Ok(gone.len())
    }

    /// Opens a cursor over `rest` (none when it is empty); its id, `0` for none.
    pub fn open_cursor(&mut self, namespace: String, rest: VecDeque<Document>) -> i64 {
        if rest.is_empty() {
            return 0;
        }
        while self.cursors.len() >= MAX_CURSORS {
            self.cursors.pop_first();
        }
        self.last_cursor += 1;
        self.cursors.insert(self.last_cursor, Cursor { namespace, remaining: rest });
        self.last_cursor
    }

    /// The next batch of a cursor (`None` for an unknown one) and its namespace; an exhausted
    /// cursor is closed (the reply says id 0).
    pub fn next_batch(&mut self, id: i64, size: Option<usize>) -> Option<(String, Vec<Document>, i64)> {
        let cursor = self.cursors.get_mut(&id)?;
        let take = size.filter(|n| *n > 0).unwrap_or(usize::MAX).min(cursor.remaining.len());
        let batch: Vec<Document> = cursor.remaining.drain(..take).collect();
        let namespace = cursor.namespace.clone();
        if cursor.remaining.is_empty() {
            self.cursors.remove(&id);
            return Some((namespace, batch, 0));
        }
        Some((namespace, batch, id))
    }

    /// Closes a cursor; `false` when it was not open.
    pub fn kill_cursor(&mut self, id: i64) -> bool {
        self.cursors.remove(&id).is_some()
    }
}

/// A key equal for `_id`s the server deems equal: numbers by value across types (1 = 1.0),
/// everything else by type and content, length-prefixed so that nested keys cannot collide.
fn id_key(id: &Bson) -> String {
    let mut key = String::new();
    write_key(id, &mut key);
    key
}

fn write_key(value: &Bson, key: &mut String) {
    use std::fmt::Write;
    let _ = match value {
        Bson::Null | Bson::Undefined => write!(key, "null;"),
        Bson::String(text) | Bson::Symbol(text) => write!(key, "s{}:{text}", text.len()),
        Bson::ObjectId(id) => write!(key, "o{};", id.to_hex()),
        Bson::Boolean(b) => write!(key, "b{b};"),
        Bson::Document(document) => {
            key.push('{');
            for (name, inner) in document {
                let _ = write!(key, "{}:{name}", name.len());
                write_key(inner, key);
            }
            write!(key, "}}")
        }
        Bson::Array(items) => {
            key.push('[');
            items.iter().for_each(|item| write_key(item, key));
            write!(key, "]")
        }
        Bson::Int32(n) => write!(key, "n{n};"),
        Bson::Int64(n) => write!(key, "n{n};"),
        Bson::Double(n) if n.fract() == 0.0 && n.abs() < 9.0e18 => write!(key, "n{};", *n as i64),
        Bson::Double(n) => write!(key, "f{};", n.to_bits()),
        other => write!(key, "x{other:?};"),
    };
}

/// The E11000 error of a duplicate `_id`.
fn duplicate(collection: &str, id: &Bson) -> QueryError {
    QueryError {
        code: 11000,
        message: format!("E11000 duplicate key error collection: {collection} index: _id_ dup key: {{ _id: {id} }}"),
    }
}

/// The document an upsert starts from: the filter's equality conditions.
fn equalities(filter: &Document) -> Outcome<Document> {
    let mut document = Document::new();
    for (path, condition) in filter {
        if path.starts_with('$') {
            continue;
        }
        let value = match condition {
            Bson::Document(ops) if ops.keys().next().is_some_and(|k| k.starts_with('$')) => match ops.get("$eq") {
                Some(value) => value.clone(),
                None => continue,
            },
            value => value.clone(),
        };
        update::apply(&mut document, &doc! { "$set": { path: value } }, true)?;
    }
    Ok(document)
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seeds_and_refuses_bad_seeds() {
        let store =
            Store::seeded(&json!({ "collections": { "users": [{ "_id": "1" }, { "name": "b" }], "empty": [] } }))
                .unwrap();
        assert_eq!(
            store.collection_names().map(|(n, c)| (n.as_str(), c)).collect::<Vec<_>>(),
            vec![("empty", 0), ("users", 2)]
        );
        assert!(Store::seeded(&json!(null)).is_ok());
        let err = |config| Store::seeded(&config).err().unwrap_or_default();
        assert!(err(json!({ "collections": { "users": { "a": 1 } } })).contains("collection `users`"));
        assert!(err(json!({ "collections": { "users": [{}, 3] } })).contains("collection `users`, document 1"));
        assert!(err(json!({ "collections": { "users": [{ "_id": 1 }, { "_id": 1.0 }] } })).contains("E11000"));
        assert!(err(json!({ "collections": [1] })).contains("config.collections"));
    }

    #[test]
    fn writes() {
        let mut store = Store::default();
        store.insert_one("c", doc! { "_id": 1, "n": 1 }).unwrap();
        store.insert_one("c", doc! { "_id": 2, "n": 2 }).unwrap();
        assert_eq!(store.insert_one("c", doc! { "_id": 1 }).unwrap_err().code, 11000);
        assert!(matches!(store.insert_one("c", doc! { "x": 1 }).unwrap(), Bson::ObjectId(_)));
        assert_eq!(
            store.update("c", &doc! { "n": { "$gte": 1 } }, &doc! { "$inc": { "n": 1 } }, true, false).unwrap(),
            (2, 2, None)
        );
        assert_eq!(
            store.update("c", &doc! { "_id": 1 }, &doc! { "$set": { "n": 2 } }, false, false).unwrap(),
            (1, 0, None)
        );
        let (_, _, upserted) = store
            .update("c", &doc! { "name": "z", "k": { "$eq": 3 } }, &doc! { "$set": { "v": 1 } }, false, true)
            .unwrap();
        assert!(upserted.is_some());
        assert_eq!(store.find("c", &doc! { "name": "z", "k": 3, "v": 1 }).unwrap().len(), 1);
        assert!(store.delete("c", &doc! { "$bad": 1 }, false).is_err());
        assert_eq!(store.find("c", &doc! {}).unwrap().len(), 4, "a failed delete removes nothing");
        assert_eq!(store.delete("c", &doc! {}, true).unwrap(), 1);
        assert_eq!(store.delete("c", &doc! {}, false).unwrap(), 3);
        store.insert_one("c", doc! { "_id": 1 }).unwrap();
        assert_eq!(store.insert_one("c", doc! { "_id": 1i64 }).unwrap_err().code, 11000);
        assert_eq!(store.insert_one("c", doc! { "_id": { "a": 1, "b": "x" } }).map(|_| ()), Ok(()));
        assert!(store.insert_one("c", doc! { "_id": { "a": 1.0, "b": "x" } }).is_err());
        assert!(store.insert_one("c", doc! { "_id": { "a": 1, "b": "y" } }).is_ok());
        assert_eq!(store.delete("c", &doc! { "_id": 1.0 }, true).unwrap(), 1);
        assert!(store.insert_one("c", doc! { "_id": 1 }).is_ok(), "a deleted _id is free again");
        let id = store.open_cursor("db.c".into(), (0..5).map(|n| doc! { "n": n }).collect());
        assert_eq!(store.next_batch(id, Some(2)).map(|(_, b, i)| (b.len(), i)), Some((2, id)));
        assert_eq!(store.next_batch(id, None).map(|(_, b, i)| (b.len(), i)), Some((3, 0)));
        assert!(store.next_batch(id, None).is_none());
    }
}
