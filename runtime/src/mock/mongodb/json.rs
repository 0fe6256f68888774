//! BSON as specs write it and read it: seed documents and step arguments arrive as JSON
//! (integers become Int32 when they fit, else Int64; `{"$oid": "<24 hex>"}` is an ObjectId),
//! and documents go back to tests as plain JSON (ObjectIds as their hex text, dates as RFC 3339
//! text, as Faultbox normalises them).

use bson::oid::ObjectId;
use bson::{Bson, Document};
use serde_json::{Map, Number, Value};

/// A JSON value as BSON.
pub fn to_bson(value: &Value) -> Bson {
    match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => number(n),
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(to_bson).collect()),
        Value::Object(map) => object_id(map).map_or_else(|| Bson::Document(to_document(map)), Bson::ObjectId),
    }
}

/// A JSON object as a BSON document.
pub fn to_document(map: &Map<String, Value>) -> Document {
    map.iter().map(|(k, v)| (k.clone(), to_bson(v))).collect()
}

fn number(n: &Number) -> Bson {
    match n.as_i64() {
        Some(i) => i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32),
        None => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// `{"$oid": "<24 hex digits>"}`.
fn object_id(map: &Map<String, Value>) -> Option<ObjectId> {
    if map.len() != 1 {
        return None;
    }
    map.get("$oid").and_then(Value::as_str).and_then(|hex| ObjectId::parse_str(hex).ok())
}

/// A BSON value as the JSON a test reads.
pub fn to_json(value: &Bson) -> Value {
    match value {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Int32(n) => Value::from(*n),
        Bson::Int64(n) => Value::from(*n),
        Bson::Double(n) => Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Bson::String(s) | Bson::Symbol(s) => Value::String(s.clone()),
        Bson::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Bson::Document(document) => document_json(document),
        Bson::ObjectId(id) => Value::String(id.to_hex()),
        Bson::DateTime(date) => {
            date.try_to_rfc3339_string().map_or_else(|_| Value::from(date.timestamp_millis()), Value::String)
        }
        other => other.clone().into_relaxed_extjson(),
    }
}

/// A document as a JSON object.
pub fn document_json(document: &Document) -> Value {
    Value::Object(document.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_as_specs_expect() {
        let value = json!({ "n": 1, "big": 5_000_000_000i64, "f": 1.5, "id": { "$oid": "65a000000000000000000001" }, "l": [true, null], "d": { "$oid": 1 } });
        let Bson::Document(document) = to_bson(&value) else { panic!("a document") };
        assert_eq!(document.get("n"), Some(&Bson::Int32(1)));
        assert_eq!(document.get("big"), Some(&Bson::Int64(5_000_000_000)));
        assert!(matches!(document.get("id"), Some(Bson::ObjectId(_))));
        assert!(matches!(document.get("d"), Some(Bson::Document(_))));
        assert_eq!(
            document_json(&document),
            json!({ "n": 1, "big": 5_000_000_000i64, "f": 1.5, "id": "65a000000000000000000001", "l": [true, null], "d": { "$oid": 1 } })
        );
    }
}
