//! Update documents applied to a stored document: operators (`$set`, `$unset`, `$inc`,
//! `$push` with `$each`, `$setOnInsert`; dotted paths create nested documents) or a
//! replacement, which keeps `_id`. Changing `_id` is refused, as the server refuses it.

use bson::{Bson, Document};

use super::query::{lookup, number, remove_path, QueryError};

type Outcome<T> = Result<T, QueryError>;

/// An operator's application to one path.
type Apply = fn(&mut Document, &str, &Bson) -> Outcome<()>;

/// The update operators served, and what each does; `$setOnInsert` applies only to upserts.
const OPERATORS: &[(&str, Apply)] =
    &[("$set", set), ("$unset", unset), ("$inc", inc), ("$push", push), ("$setOnInsert", set)];

/// Whether an update document is operator-style (`{$set: ...}`) rather than a replacement.
pub fn is_operator_update(update: &Document) -> bool {
    update.keys().next().is_some_and(|k| k.starts_with('$'))
}

/// Checks an update document before it touches anything (so a bad update changes nothing).
pub fn check(update: &Document) -> Outcome<()> {
    if !is_operator_update(update) {
        return match update.keys().find(|k| k.starts_with('$')) {
            Some(key) => Err(QueryError { code: 9, message: format!("Unknown modifier: {key}") }),
            None => Ok(()),
        };
    }
    for (operator, fields) in update {
        if !OPERATORS.iter().any(|(name, _)| name == operator) {
            return Err(QueryError { code: 9, message: format!("Unknown modifier: {operator}. Expected a valid update modifier or pipeline-style update specified as an array") });
        }
        if !matches!(fields, Bson::Document(_)) {
            return Err(QueryError {
                code: 9,
                message: format!(
                    "Modifiers operate on fields but we found type {} instead ({operator})",
                    type_name(fields)
                ),
            });
        }
    }
    Ok(())
}

/// Applies `update` to `document`. `inserting` applies `$setOnInsert` too.
pub fn apply(document: &mut Document, update: &Document, inserting: bool) -> Outcome<()> {
    check(update)?;
    let id = document.get("_id").cloned();
    if !is_operator_update(update) {
        let mut replaced = Document::new();
        if let Some(id) = &id {
            replaced.insert("_id", id.clone());
        }
        for (key, value) in update {
            if key != "_id" {
                replaced.insert(key.clone(), value.clone());
            }
        }
        if let (Some(id), Some(new_id)) = (&id, update.get("_id")) {
            if !super::query::equal(id, new_id) {
                return Err(immutable_id());
            }
        }
        if id.is_none() {
            if let Some(new_id) = update.get("_id") {
                replaced.insert("_id", new_id.clone());
            }
        }
        *document = replaced;
        return Ok(());
    }
    for (operator, fields) in update {
        if operator == "$setOnInsert" && !inserting {
            continue;
        }
        let Some((_, apply)) = OPERATORS.iter().find(|(name, _)| name == operator) else { continue };
        let Bson::Document(fields) = fields else { continue };
        for (path, operand) in fields {
            let touches_id = path == "_id" || path.starts_with("_id.");
            if touches_id
                && !(inserting && id.is_none())
                && lookup(document, path).first().is_none_or(|old| !super::query::equal(old, operand))
            {
                return Err(immutable_id());
            }
            apply(document, path, operand)?;
        }
    }
    Ok(())
}

fn immutable_id() -> QueryError {
    QueryError {
        code: 66,
        message: "Performing an update on the path '_id' would modify the immutable field '_id'".into(),
    }
}

fn type_name(value: &Bson) -> &'static str {
    match value {
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::String(_) => "string",
        Bson::Int32(_) => "int",
        Bson::Int64(_) => "long",
        Bson::Double(_) => "double",
        Bson::Boolean(_) => "bool",
        Bson::Null => "null",
        Bson::ObjectId(_) => "objectId",
        _ => "other",
    }
}

/// The document holding the last part of `path`, created as needed, and that last part.
fn parent<'a>(document: &'a mut Document, path: &'a str) -> Outcome<(&'a mut Document, &'a str)> {
    match path.split_once('.') {
        None => Ok((document, path)),
        Some((head, rest)) => {
            if !document.contains_key(head) {
                document.insert(head, Document::new());
            }
            match document.get_mut(head) {
                Some(Bson::Document(inner)) => parent(inner, rest),
                Some(other) => Err(QueryError {
                    code: 28,
                    message: format!(
                        "Cannot create field '{}' in element {{{head}: {other}}}",
                        rest.split('.').next().unwrap_or(rest)
                    ),
                }),
                None => Err(QueryError::bad_value(format!("cannot reach {path}"))),
            }
        }
    }
}

fn set(document: &mut Document, path: &str, value: &Bson) -> Outcome<()> {
    let (target, key) = parent(document, path)?;
    target.insert(key, value.clone());
    Ok(())
}

fn unset(document: &mut Document, path: &str, _: &Bson) -> Outcome<()> {
    remove_path(document, path);
    Ok(())
}

fn inc(document: &mut Document, path: &str, amount: &Bson) -> Outcome<()> {
    if number(amount).is_none() {
        return Err(QueryError {
            code: 14,
            message: format!("Cannot increment with non-numeric argument: {{{path}: {amount}}}"),
        });
    }
    let (target, key) = parent(document, path)?;
    let sum = match target.get(key) {
        None => amount.clone(),
        Some(current) => add(current, amount).ok_or_else(|| QueryError {
            code: 14,
            message: format!("Cannot apply $inc to a value of non-numeric type. {{_id: ...}} has the field '{key}' of non-numeric type {}", type_name(current)),
        })?,
    };
    target.insert(key, sum);
    Ok(())
}

/// Numeric addition keeping the wider integer type, overflowing into the next one.
fn add(a: &Bson, b: &Bson) -> Option<Bson> {
    Some(match (a, b) {
        (Bson::Int32(x), Bson::Int32(y)) => {
            x.checked_add(*y).map_or(Bson::Int64(i64::from(*x) + i64::from(*y)), Bson::Int32)
        }
        (Bson::Int32(_) | Bson::Int64(_), Bson::Int32(_) | Bson::Int64(_)) => {
            let (x, y) = (integer(a)?, integer(b)?);
            x.checked_add(y).map_or(Bson::Double(x as f64 + y as f64), Bson::Int64)
        }
        _ => Bson::Double(number(a)? + number(b)?),
    })
}

fn integer(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        _ => None,
    }
}

fn push(document: &mut Document, path: &str, operand: &Bson) -> Outcome<()> {
    let items = match operand {
        Bson::Document(spec) if spec.contains_key("$each") => match spec.get("$each") {
            Some(Bson::Array(each)) => each.clone(),
            _ => return Err(QueryError::bad_value("The argument to $each in $push must be an array")),
        },
        value => vec![value.clone()],
    };
    let (target, key) = parent(document, path)?;
    match target.get_mut(key) {
        None => {
            target.insert(key, Bson::Array(items));
        }
        Some(Bson::Array(existing)) => existing.extend(items),
        Some(other) => {
            return Err(QueryError {
                code: 2,
                message: format!(
                    "The field '{key}' must be an array but is of type {} in document {{_id: ...}}",
                    type_name(other)
                ),
            })
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn operators_and_replacement() {
        let mut user = doc! { "_id": 1, "name": "a", "n": 1, "tags": ["x"] };
        apply(&mut user, &doc! { "$set": { "name": "b", "address.city": "Oslo" }, "$inc": { "n": 2, "m": 1.5 }, "$push": { "tags": "y" }, "$unset": { "gone": "" } }, false).unwrap();
        assert_eq!(
            user,
            doc! { "_id": 1, "name": "b", "n": 3, "tags": ["x", "y"], "address": { "city": "Oslo" }, "m": 1.5 }
        );
        apply(&mut user, &doc! { "$push": { "tags": { "$each": ["z", "w"] } }, "$unset": { "address": 1 }, "$setOnInsert": { "new": true } }, false).unwrap();
        assert_eq!(user.get_array("tags").unwrap().len(), 4);
        assert!(!user.contains_key("address") && !user.contains_key("new"));
        apply(&mut user, &doc! { "only": 1 }, false).unwrap();
        assert_eq!(user, doc! { "_id": 1, "only": 1 });
        assert_eq!(apply(&mut user, &doc! { "$inc": { "only": "x" } }, false).unwrap_err().code, 14);
        assert_eq!(apply(&mut user, &doc! { "$set": { "_id": 2 } }, false).unwrap_err().code, 66);
        assert_eq!(apply(&mut user, &doc! { "$rename": { "a": "b" } }, false).unwrap_err().code, 9);
        assert_eq!(apply(&mut user, &doc! { "$push": { "only": 1 } }, false).unwrap_err().code, 2);
        let mut big = doc! { "n": i32::MAX };
        apply(&mut big, &doc! { "$inc": { "n": 1 } }, false).unwrap();
        assert_eq!(big.get("n"), Some(&Bson::Int64(i64::from(i32::MAX) + 1)));
    }
}
