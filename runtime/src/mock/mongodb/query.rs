//! Query semantics over BSON documents: value comparison (numbers compare across types, other
//! types within their type bracket, sort uses MongoDB's bracket order), dotted paths through
//! documents and arrays, filters (`$eq $ne $gt $gte $lt $lte $in $nin $exists $regex`,
//! `$and $or $nor`), projections and sort specifications.

use std::cmp::Ordering;

use bson::{Bson, Document};

/// A query the mock refuses, with the server's code for it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError {
    pub code: i32,
    pub message: String,
}

impl QueryError {
    pub fn bad_value(message: impl Into<String>) -> QueryError {
        QueryError { code: 2, message: message.into() }
    }
}

type Outcome<T> = Result<T, QueryError>;

/// The rank of a value's type in MongoDB's sort order (numbers share one).
fn bracket(value: &Bson) -> u8 {
    match value {
        Bson::MinKey => 0,
        Bson::Null | Bson::Undefined => 1,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => 2,
        Bson::String(_) | Bson::Symbol(_) => 3,
        Bson::Document(_) => 4,
        Bson::Array(_) => 5,
        Bson::Binary(_) => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Timestamp(_) => 10,
        Bson::RegularExpression(_) => 11,
        Bson::MaxKey => 13,
        _ => 12,
    }
}

/// A number as f64 (`None` for anything else).
pub fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) => Some(*n),
        _ => None,
    }
}

/// MongoDB's total order of values (sort, `$min`).
pub fn total_cmp(a: &Bson, b: &Bson) -> Ordering {
    bracket(a).cmp(&bracket(b)).then_with(|| same_bracket_cmp(a, b))
}

/// The order of two values of one bracket.
fn same_bracket_cmp(a: &Bson, b: &Bson) -> Ordering {
    match (a, b) {
        (Bson::Int32(x), Bson::Int32(y)) => x.cmp(y),
        (Bson::Int64(x), Bson::Int64(y)) => x.cmp(y),
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => x.cmp(y),
        (Bson::Document(x), Bson::Document(y)) => documents_cmp(x, y),
        (Bson::Array(x), Bson::Array(y)) => seq_cmp(x.iter(), y.iter()),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.cmp(y),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => (x.time, x.increment).cmp(&(y.time, y.increment)),
        (Bson::Binary(x), Bson::Binary(y)) => x.bytes.cmp(&y.bytes),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => Ordering::Equal,
        },
    }
}

fn seq_cmp<'a>(mut a: impl Iterator<Item = &'a Bson>, mut b: impl Iterator<Item = &'a Bson>) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match total_cmp(x, y) {
                Ordering::Equal => {}
                other => return other,
            },
        }
    }
}

fn documents_cmp(a: &Document, b: &Document) -> Ordering {
    let mut left = a.iter();
    let mut right = b.iter();
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((ka, va)), Some((kb, vb))) => {
                let order = total_cmp(va, vb).then_with(|| ka.cmp(kb));
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// Equality as queries see it (1 == 1.0; documents field by field, in order).
pub fn equal(a: &Bson, b: &Bson) -> bool {
    bracket(a) == bracket(b) && total_cmp(a, b) == Ordering::Equal
}

/// The values a dotted path reaches: through documents, into array elements by index or (for
/// a non-numeric part) into every element that is a document. Empty when nothing is there.
pub fn lookup<'a>(document: &'a Document, path: &str) -> Vec<&'a Bson> {
    let mut parts = path.split('.');
    let Some(first) = parts.next() else { return Vec::new() };
    let Some(start) = document.get(first) else { return Vec::new() };
    let mut current = vec![start];
    for part in parts {
        let mut next = Vec::new();
        for value in current {
            match value {
                Bson::Document(inner) => next.extend(inner.get(part)),
                Bson::Array(items) => match part.parse::<usize>() {
                    Ok(index) => next.extend(items.get(index)),
                    Err(_) => next.extend(items.iter().filter_map(|item| match item {
                        Bson::Document(inner) => inner.get(part),
                        _ => None,
                    })),
                },
                _ => {}
            }
        }
        current = next;
    }
    current
}

/// Whether `document` matches `filter`.
pub fn matches(document: &Document, filter: &Document) -> Outcome<bool> {
    for (key, condition) in filter {
        let hit = match key.as_str() {
            "$and" => all_of(document, condition, key)?.iter().all(|m| *m),
            "$or" => all_of(document, condition, key)?.iter().any(|m| *m),
            "$nor" => !all_of(document, condition, key)?.iter().any(|m| *m),
            "$comment" => true,
            other if other.starts_with('$') => {
                return Err(QueryError::bad_value(format!("unknown top level operator: {other}")))
            }
            path => field_matches(&lookup(document, path), condition)?,
        };
        if !hit {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Each sub-filter of `$and`/`$or`/`$nor`, evaluated.
fn all_of(document: &Document, list: &Bson, operator: &str) -> Outcome<Vec<bool>> {
    let Bson::Array(filters) = list else {
        return Err(QueryError::bad_value(format!("{operator} must be an array")));
    };
    if filters.is_empty() {
        return Err(QueryError::bad_value(format!("{operator} must be a nonempty array")));
    }
    filters
        .iter()
        .map(|filter| match filter {
            Bson::Document(filter) => matches(document, filter),
            _ => Err(QueryError::bad_value(format!("$or/$and/$nor entries need to be full objects ({operator})"))),
        })
        .collect()
}

/// A field's condition: an operator document (`{$gt: 3}`) or a value to equal.
fn field_matches(values: &[&Bson], condition: &Bson) -> Outcome<bool> {
    match condition {
        Bson::Document(operators) if operators.keys().next().is_some_and(|k| k.starts_with('$')) => {
            for (operator, operand) in operators {
                if !operator_matches(values, operator, operand, operators)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Bson::RegularExpression(regex) => Ok(any_value(values, |v| regex_matches(v, &regex.pattern, &regex.options))),
        value => Ok(equals_any(values, value)),
    }
}

/// Equality with MongoDB's reach: a missing field equals null, an array equals a value when an
/// element does (or when the whole array does).
fn equals_any(values: &[&Bson], value: &Bson) -> bool {
    if values.is_empty() {
        return matches!(value, Bson::Null);
    }
    any_value(values, |v| equal(v, value))
}

/// Whether any reached value, or any element of a reached array, satisfies `test`.
fn any_value(values: &[&Bson], test: impl Fn(&Bson) -> bool) -> bool {
    values.iter().any(|v| {
        test(v)
            || match v {
                Bson::Array(items) => items.iter().any(&test),
                _ => false,
            }
    })
}

/// A comparison: true when some reached value is of the operand's bracket and compares so.
fn compare(values: &[&Bson], operand: &Bson, accept: fn(Ordering) -> bool) -> bool {
    any_value(values, |v| bracket(v) == bracket(operand) && accept(total_cmp(v, operand)))
}

fn operator_matches(values: &[&Bson], operator: &str, operand: &Bson, all: &Document) -> Outcome<bool> {
    Ok(match operator {
        "$eq" => equals_any(values, operand),
        "$ne" => !equals_any(values, operand),
        "$gt" => compare(values, operand, Ordering::is_gt),
        "$gte" => compare(values, operand, Ordering::is_ge),
        "$lt" => compare(values, operand, Ordering::is_lt),
        "$lte" => compare(values, operand, Ordering::is_le),
        "$in" => in_list(values, operand, "$in")?,
        "$nin" => !in_list(values, operand, "$nin")?,
        "$exists" => values.is_empty() != truthy(operand),
        "$regex" => {
            let (pattern, options) = match operand {
                Bson::String(pattern) => (pattern.clone(), all.get_str("$options").unwrap_or_default().to_owned()),
                Bson::RegularExpression(regex) => (regex.pattern.clone(), regex.options.clone()),
                _ => return Err(QueryError::bad_value("$regex has to be a string")),
            };
            check_regex(&pattern, &options)?;
            any_value(values, |v| regex_matches(v, &pattern, &options))
        }
        "$options" => true,
        "$not" => !field_matches(values, operand)?,
        other => return Err(QueryError::bad_value(format!("unknown operator: {other}"))),
    })
}

fn in_list(values: &[&Bson], operand: &Bson, operator: &str) -> Outcome<bool> {
    let Bson::Array(candidates) = operand else {
        return Err(QueryError::bad_value(format!("{operator} needs an array")));
    };
    Ok(candidates.iter().any(|candidate| match candidate {
        Bson::RegularExpression(regex) => any_value(values, |v| regex_matches(v, &regex.pattern, &regex.options)),
        value => equals_any(values, value),
    }))
}

/// A value as a condition's boolean (`$exists: 1`).
pub fn truthy(value: &Bson) -> bool {
    match value {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        other => number(other).is_none_or(|n| n != 0.0),
    }
}

fn regex(pattern: &str, options: &str) -> Result<regex::Regex, regex::Error> {
    let flags: String = options.chars().filter(|c| matches!(c, 'i' | 'm' | 's' | 'x')).collect();
    let pattern = if flags.is_empty() { pattern.to_owned() } else { format!("(?{flags}){pattern}") };
    regex::RegexBuilder::new(&pattern).size_limit(1 << 20).build()
}

fn check_regex(pattern: &str, options: &str) -> Outcome<()> {
    regex(pattern, options)
        .map(|_| ())
        .map_err(|e| QueryError { code: 51091, message: format!("Regular expression is invalid: {e}") })
}

fn regex_matches(value: &Bson, pattern: &str, options: &str) -> bool {
    match value {
        Bson::String(text) => regex(pattern, options).is_ok_and(|re| re.is_match(text)),
        _ => false,
    }
}

/// Sorts documents by a sort specification (`{field: 1 | -1}`, dotted paths allowed; a
/// missing field sorts as null, the stable sort keeps ties in insertion order).
pub fn sort(documents: &mut [Document], spec: &Document) -> Outcome<()> {
    let mut keys = Vec::with_capacity(spec.len());
    for (path, direction) in spec {
        let descending = match number(direction) {
            Some(1.0) => false,
            Some(-1.0) => true,
            _ => {
                return Err(QueryError {
                    code: 15975,
                    message: format!("$sort key ordering must be 1 (for ascending) or -1 (for descending) ({path})"),
                })
            }
        };
        keys.push((path.as_str(), descending));
    }
    documents.sort_by(|a, b| {
        for (path, descending) in &keys {
            let order = total_cmp(sort_key(a, path), sort_key(b, path));
            let order = if *descending { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    });
    Ok(())
}

fn sort_key<'a>(document: &'a Document, path: &str) -> &'a Bson {
    lookup(document, path).into_iter().next().unwrap_or(&Bson::Null)
}

/// A projection: inclusion (`{a: 1}`, `_id` kept unless excluded) or exclusion (`{a: 0}`).
pub struct Projection {
    include: Option<Vec<String>>,
    exclude: Vec<String>,
}

impl Projection {
    pub fn parse(spec: &Document) -> Outcome<Projection> {
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        for (path, flag) in spec {
            if matches!(flag, Bson::Document(_)) || path.starts_with('$') {
                return Err(QueryError::bad_value(format!(
                    "projection operators are not supported by this mock ({path})"
                )));
            }
            if truthy(flag) {
                include.push(path.clone());
            } else {
                exclude.push(path.clone());
            }
        }
        let explicit_exclusions = exclude.iter().any(|p| p != "_id");
        if !include.is_empty() && explicit_exclusions {
            let field = exclude.iter().find(|p| *p != "_id").cloned().unwrap_or_default();
            return Err(QueryError {
                code: 31254,
                message: format!("Cannot do exclusion on field {field} in inclusion projection"),
            });
        }
        Ok(match include.is_empty() {
            true => Projection { include: None, exclude },
            false => {
                if !exclude.iter().any(|p| p == "_id") && !include.iter().any(|p| p == "_id") {
                    include.insert(0, "_id".to_owned());
                }
                Projection { include: Some(include), exclude }
            }
        })
    }

    pub fn apply(&self, document: &Document) -> Document {
        match &self.include {
            Some(paths) => {
                let mut out = Document::new();
                for path in paths {
                    copy_path(document, &mut out, path);
                }
                out
            }
            None => {
                let mut out = document.clone();
                for path in &self.exclude {
                    remove_path(&mut out, path);
                }
                out
            }
        }
    }
}

/// Copies the value at a dotted path (through documents) into `out`, nesting as it goes.
fn copy_path(from: &Document, out: &mut Document, path: &str) {
    match path.split_once('.') {
        None => {
            if let Some(value) = from.get(path) {
                out.insert(path, value.clone());
            }
        }
        Some((head, rest)) => {
            let Ok(inner) = from.get_document(head) else { return };
            if !matches!(out.get(head), Some(Bson::Document(_))) {
                out.insert(head, Document::new());
            }
            if let Ok(target) = out.get_document_mut(head) {
                copy_path(inner, target, rest);
            }
        }
    }
}

/// Removes the value at a dotted path (through documents); `true` when something went.
pub fn remove_path(document: &mut Document, path: &str) -> bool {
    match path.split_once('.') {
        None => document.remove(path).is_some(),
        Some((head, rest)) => match document.get_document_mut(head) {
            Ok(inner) => remove_path(inner, rest),
            Err(_) => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn hit(document: Document, filter: Document) -> bool {
        matches(&document, &filter).unwrap()
    }

    #[test]
    fn filters() {
        let user = doc! { "name": "alice", "age": 30, "tags": ["a", "b"], "address": { "city": "Oslo" }, "items": [{ "sku": 1 }, { "sku": 2 }] };
        assert!(hit(user.clone(), doc! {}));
        assert!(hit(user.clone(), doc! { "name": "alice", "age": 30.0 }));
        assert!(!hit(user.clone(), doc! { "name": "bob" }));
        assert!(hit(user.clone(), doc! { "age": { "$gt": 20, "$lte": 30i64 } }));
        assert!(!hit(user.clone(), doc! { "age": { "$gt": "20" } }));
        assert!(hit(user.clone(), doc! { "tags": "b", "address.city": "Oslo", "items.sku": 2 }));
        assert!(hit(user.clone(), doc! { "tags": ["a", "b"] }));
        assert!(hit(user.clone(), doc! { "name": { "$in": ["x", "alice"] }, "age": { "$nin": [1, 2] } }));
        assert!(hit(user.clone(), doc! { "missing": null, "other": { "$exists": false }, "age": { "$exists": true } }));
        assert!(hit(user.clone(), doc! { "$or": [{ "name": "bob" }, { "age": { "$ne": 3 } }] }));
        assert!(!hit(user.clone(), doc! { "$and": [{ "name": "alice" }, { "age": { "$lt": 30 } }] }));
        assert!(hit(user.clone(), doc! { "$nor": [{ "name": "bob" }] }));
        assert!(hit(user.clone(), doc! { "name": { "$regex": "^AL", "$options": "i" } }));
        assert!(hit(user.clone(), doc! { "age": { "$not": { "$gt": 40 } } }));
        assert_eq!(matches(&user, &doc! { "age": { "$near": 1 } }).unwrap_err().code, 2);
        assert!(matches(&user, &doc! { "$where": "x" }).is_err());
        assert!(matches(&user, &doc! { "$or": [] }).is_err());
    }

    #[test]
    fn sorting_and_projection() {
        let mut docs =
            vec![doc! { "n": 2, "s": "b" }, doc! { "s": "a" }, doc! { "n": 1.5, "s": "c" }, doc! { "n": "x" }];
        sort(&mut docs, &doc! { "n": 1 }).unwrap();
        let order: Vec<_> = docs.iter().map(|d| d.get("n").cloned()).collect();
        assert_eq!(order, vec![None, Some(Bson::Double(1.5)), Some(Bson::Int32(2)), Some(Bson::String("x".into()))]);
        sort(&mut docs, &doc! { "s": -1 }).unwrap();
        assert_eq!(docs[0].get_str("s").unwrap(), "c");
        assert!(sort(&mut docs, &doc! { "s": 2 }).is_err());

        let user = doc! { "_id": 1, "name": "a", "address": { "city": "Oslo", "zip": "1" }, "age": 3 };
        assert_eq!(Projection::parse(&doc! { "name": 1 }).unwrap().apply(&user), doc! { "_id": 1, "name": "a" });
        assert_eq!(
            Projection::parse(&doc! { "address.city": 1, "_id": 0 }).unwrap().apply(&user),
            doc! { "address": { "city": "Oslo" } }
        );
        assert_eq!(
            Projection::parse(&doc! { "address": 0, "age": false }).unwrap().apply(&user),
            doc! { "_id": 1, "name": "a" }
        );
        assert!(Projection::parse(&doc! { "name": 1, "age": 0 }).is_err());
    }
}
