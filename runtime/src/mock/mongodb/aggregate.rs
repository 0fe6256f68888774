//! Aggregation pipelines over a collection's documents: `$match`, `$sort`, `$skip`, `$limit`,
//! `$project`, `$count`, and `$group` (an `_id` of a constant or a `$field` path, with `$sum`,
//! `$avg`, `$min`, `$max`, `$first`, `$last`, `$push`, `$count`), which drivers use for
//! `countDocuments`. Any other stage is refused with the server's error.

use std::cmp::Ordering;

use bson::{doc, Bson, Document};

use super::query::{self, number, total_cmp, Projection, QueryError};

type Outcome<T> = Result<T, QueryError>;

/// A stage's effect on the documents flowing through it.
type Stage = fn(Vec<Document>, &Bson) -> Outcome<Vec<Document>>;

const STAGES: &[(&str, Stage)] = &[
    ("$match", match_stage),
    ("$sort", sort_stage),
    ("$skip", skip_stage),
    ("$limit", limit_stage),
    ("$project", project_stage),
    ("$count", count_stage),
    ("$group", group_stage),
];

/// Runs `pipeline` over `documents`.
pub fn run(mut documents: Vec<Document>, pipeline: &[Bson]) -> Outcome<Vec<Document>> {
    for stage in pipeline {
        let Bson::Document(stage) = stage else {
            return Err(QueryError {
                code: 14,
                message: "Each element of the 'pipeline' array must be an object".into(),
            });
        };
        let (name, spec) = match (stage.len(), stage.iter().next()) {
            (1, Some(only)) => only,
            _ => {
                return Err(QueryError {
                    code: 40323,
                    message: "A pipeline stage specification object must contain exactly one field.".into(),
                })
            }
        };
        let Some((_, apply)) = STAGES.iter().find(|(stage, _)| stage == name) else {
            return Err(QueryError { code: 40324, message: format!("Unrecognized pipeline stage name: '{name}'") });
        };
        documents = apply(documents, spec)?;
    }
    Ok(documents)
}

fn spec_document<'a>(spec: &'a Bson, stage: &str) -> Outcome<&'a Document> {
    match spec {
        Bson::Document(document) => Ok(document),
        _ => Err(QueryError { code: 15959, message: format!("the {stage} specification must be an object") }),
    }
}

fn count_of(spec: &Bson, stage: &str) -> Outcome<usize> {
    match number(spec) {
        Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(n as usize),
        _ => Err(QueryError { code: 15956, message: format!("the {stage} must be a non-negative integer") }),
    }
}

fn match_stage(documents: Vec<Document>, spec: &Bson) -> Outcome<Vec<Document>> {
    let filter = spec_document(spec, "$match")?;
    let mut kept = Vec::new();
    for document in documents {
        if query::matches(&document, filter)? {
            kept.push(document);
        }
    }
    Ok(kept)
}

fn sort_stage(mut documents: Vec<Document>, spec: &Bson) -> Outcome<Vec<Document>> {
    query::sort(&mut documents, spec_document(spec, "$sort")?)?;
    Ok(documents)
}

fn skip_stage(documents: Vec<Document>, spec: &Bson) -> Outcome<Vec<Document>> {
    let skip = count_of(spec, "$skip")?;
    Ok(documents.into_iter().skip(skip).collect())
}

fn limit_stage(mut documents: Vec<Document>, spec: &Bson) -> Outcome<Vec<Document>> {
    let limit = count_of(spec, "$limit")?;
    if limit == 0 {
        return Err(QueryError { code: 15958, message: "the limit must be positive".into() });
    }
    documents.truncate(limit);
    Ok(documents)
}

fn project_stage(documents: Vec<Document>, spec: &Bson) -> Outcome<Vec<Document>> {
    let projection = Projection::parse(spec_document(spec, "$project")?)?;
    Ok(documents.iter().map(|d| projection.apply(d)).collect())
}

fn count_stage(documents: Vec<Document>, spec: &Bson) -> Outcome<Vec<Document>> {
    let Bson::String(field) = spec else {
        return Err(QueryError { code: 40156, message: "the count field must be a non-empty string".into() });
    };
    if field.is_empty() || field.starts_with('$') || field.contains('.') {
        return Err(QueryError {
            code: 40156,
            message: "the count field must be a non-empty string without '$' or '.'".into(),
        });
    }
    // As the server does, no document at all when nothing was counted.
    Ok(match documents.len() {
        0 => Vec::new(),
        n => vec![doc! { field: i32::try_from(n).map_or(Bson::Int64(n as i64), Bson::Int32) }],
    })
}

/// An expression's value for one document: `"$path"` reads a field, anything else is literal.
fn evaluate(expression: &Bson, document: &Document) -> Bson {
    match expression {
        Bson::String(path) if path.starts_with('$') => {
            query::lookup(document, &path[1..]).into_iter().next().cloned().unwrap_or(Bson::Null)
        }
        literal => literal.clone(),
    }
}

/// One accumulator's running state.
type Accumulate = fn(Option<Bson>, Bson) -> Option<Bson>;

const ACCUMULATORS: &[(&str, Accumulate)] = &[
    ("$sum", |acc, v| Some(sum(acc.unwrap_or(Bson::Int32(0)), &v))),
    ("$min", |acc, v| extreme(acc, v, Ordering::Less)),
    ("$max", |acc, v| extreme(acc, v, Ordering::Greater)),
    ("$first", |acc, v| Some(acc.unwrap_or(v))),
    ("$last", |_, v| Some(v)),
    ("$push", |acc, v| {
        let mut items = match acc {
            Some(Bson::Array(items)) => items,
            _ => Vec::new(),
        };
        items.push(v);
        Some(Bson::Array(items))
    }),
    // `$avg` keeps [sum, count] and is finished after the fold.
    ("$avg", |acc, v| {
        let (total, count) = match acc {
            Some(Bson::Array(pair)) if pair.len() == 2 => {
                (number(&pair[0]).unwrap_or(0.0), number(&pair[1]).unwrap_or(0.0))
            }
            _ => (0.0, 0.0),
        };
        let (total, count) = match number(&v) {
            Some(n) => (total + n, count + 1.0),
            None => (total, count),
        };
        Some(Bson::Array(vec![Bson::Double(total), Bson::Double(count)]))
    }),
];

fn sum(acc: Bson, value: &Bson) -> Bson {
    match (number(&acc), number(value)) {
        (_, None) => acc,
        (Some(a), Some(b)) => match (&acc, value) {
            (Bson::Int32(x), Bson::Int32(y)) => {
                x.checked_add(*y).map_or(Bson::Int64(i64::from(*x) + i64::from(*y)), Bson::Int32)
            }
            (Bson::Int32(_) | Bson::Int64(_), Bson::Int32(_) | Bson::Int64(_)) => Bson::Int64(a as i64 + b as i64),
            _ => Bson::Double(a + b),
        },
        (None, Some(_)) => value.clone(),
    }
}

fn extreme(acc: Option<Bson>, value: Bson, keep: Ordering) -> Option<Bson> {
    if matches!(value, Bson::Null) {
        return acc;
    }
    match acc {
        Some(current) if total_cmp(&value, &current) != keep => Some(current),
        _ => Some(value),
    }
}

fn group_stage(documents: Vec<Document>, spec: &Bson) -> Outcome<Vec<Document>> {
    let spec = spec_document(spec, "$group")?;
    let key = spec
        .get("_id")
        .ok_or_else(|| QueryError { code: 15955, message: "a group specification must include an _id".into() })?;
    let mut fields = Vec::new();
    for (name, accumulator) in spec.iter().filter(|(name, _)| *name != "_id") {
        let Bson::Document(accumulator) = accumulator else {
            return Err(QueryError {
                code: 40234,
                message: format!("The field '{name}' must be an accumulator object"),
            });
        };
        let Some((operator, expression)) = accumulator.iter().next() else {
            return Err(QueryError {
                code: 40234,
                message: format!("The field '{name}' must specify one accumulator"),
            });
        };
        // `$count: {}` is `$sum: 1`.
        let (operator, expression) = match operator.as_str() {
            "$count" => ("$sum", Bson::Int32(1)),
            other => (other, expression.clone()),
        };
        let Some((_, fold)) = ACCUMULATORS.iter().find(|(op, _)| *op == operator) else {
            return Err(QueryError { code: 15952, message: format!("unknown group operator '{operator}'") });
        };
        fields.push((name.clone(), operator, expression, *fold));
    }
    let mut groups: Vec<(Bson, Vec<Option<Bson>>)> = Vec::new();
    for document in &documents {
        let id = evaluate(key, document);
        let slot = match groups.iter().position(|(g, _)| query::equal(g, &id)) {
            Some(slot) => slot,
            None => {
                groups.push((id, vec![None; fields.len()]));
                groups.len() - 1
            }
        };
        for (index, (_, _, expression, fold)) in fields.iter().enumerate() {
            let state = groups[slot].1[index].take();
            groups[slot].1[index] = fold(state, evaluate(expression, document));
        }
    }
    Ok(groups.into_iter().map(|(id, states)| finish_group(id, states, &fields)).collect())
}

fn finish_group(id: Bson, states: Vec<Option<Bson>>, fields: &[(String, &str, Bson, Accumulate)]) -> Document {
    let mut out = doc! { "_id": id };
    for ((name, operator, _, _), state) in fields.iter().zip(states) {
        let value = match (*operator, state) {
            ("$avg", Some(Bson::Array(pair))) => match (pair.first().and_then(number), pair.get(1).and_then(number)) {
                (Some(total), Some(count)) if count > 0.0 => Bson::Double(total / count),
                _ => Bson::Null,
            },
            ("$sum", None) => Bson::Int32(0),
            ("$push", None) => Bson::Array(Vec::new()),
            (_, state) => state.unwrap_or(Bson::Null),
        };
        out.insert(name.clone(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(stages: Vec<Document>) -> Vec<Bson> {
        stages.into_iter().map(Bson::Document).collect()
    }

    #[test]
    fn stages() {
        let docs: Vec<Document> = (1..=5).map(|n| doc! { "n": n, "even": n % 2 == 0 }).collect();
        let out = run(
            docs.clone(),
            &pipeline(vec![
                doc! { "$match": { "n": { "$gt": 1 } } },
                doc! { "$sort": { "n": -1 } },
                doc! { "$skip": 1 },
                doc! { "$limit": 2 },
                doc! { "$project": { "n": 1, "_id": 0 } },
            ]),
        )
        .unwrap();
        assert_eq!(out, vec![doc! { "n": 4 }, doc! { "n": 3 }]);
        assert_eq!(run(docs.clone(), &pipeline(vec![doc! { "$count": "total" }])).unwrap(), vec![doc! { "total": 5 }]);
        assert!(run(Vec::new(), &pipeline(vec![doc! { "$count": "total" }])).unwrap().is_empty());
        let counted = run(
            docs.clone(),
            &pipeline(vec![doc! { "$match": {} }, doc! { "$group": { "_id": 1, "n": { "$sum": 1 } } }]),
        )
        .unwrap();
        assert_eq!(counted, vec![doc! { "_id": 1, "n": 5 }]);
        let grouped = run(docs.clone(), &pipeline(vec![doc! { "$group": { "_id": "$even", "total": { "$sum": "$n" }, "avg": { "$avg": "$n" }, "max": { "$max": "$n" }, "all": { "$push": "$n" }, "c": { "$count": {} } } }])).unwrap();
        assert_eq!(grouped[0], doc! { "_id": false, "total": 9, "avg": 3.0, "max": 5, "all": [1, 3, 5], "c": 3 });
        assert_eq!(run(docs.clone(), &pipeline(vec![doc! { "$unwind": "$x" }])).unwrap_err().code, 40324);
        assert!(run(docs, &pipeline(vec![doc! { "$limit": -1 }])).is_err());
    }
}
