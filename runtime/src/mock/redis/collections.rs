//! Hash, list and set commands. A container emptied by a command is deleted with its key, as
//! Redis does, so `EXISTS` and `TYPE` see no empty hashes, lists or sets.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::resp::Reply;
use super::store::Value;
use super::table::{hash, list, parse_int, set, Call, Outcome};

fn new_hash() -> Value {
    Value::Hash(BTreeMap::new())
}

fn new_list() -> Value {
    Value::List(VecDeque::new())
}

fn new_set() -> Value {
    Value::Set(BTreeSet::new())
}

fn wrong_arguments(call: &Call<'_>) -> Reply {
    Reply::error(format!("ERR wrong number of arguments for '{}' command", call.name()))
}

/// `HSET key field value [field value ...]`: the number of fields added.
pub(super) fn hset(call: &mut Call<'_>) -> Outcome {
    if !call.args[2..].chunks_exact(2).remainder().is_empty() {
        return Err(wrong_arguments(call));
    }
    let (key, pairs) = (call.arg(1).to_vec(), call.args[2..].to_vec());
    let hash = call.typed_or_new(&key, hash, new_hash)?;
    let added = pairs.chunks(2).filter(|pair| hash.insert(pair[0].clone(), pair[1].clone()).is_none()).count();
    Ok(Reply::Int(added as i64))
}

pub(super) fn hmset(call: &mut Call<'_>) -> Outcome {
    hset(call).map(|_| Reply::ok())
}

pub(super) fn hget(call: &mut Call<'_>) -> Outcome {
    let (key, field) = (call.arg(1).to_vec(), call.arg(2).to_vec());
    let value = call.typed(&key, hash)?.and_then(|hash| hash.get(&field));
    Ok(value.map_or(Reply::Nil, |value| Reply::bulk(value)))
}

pub(super) fn hmget(call: &mut Call<'_>) -> Outcome {
    let (key, fields) = (call.arg(1).to_vec(), call.args[2..].to_vec());
    let hash = call.typed(&key, hash)?;
    let value = |field: &Vec<u8>| hash.as_ref().and_then(|hash| hash.get(field));
    Ok(Reply::Array(fields.iter().map(|field| value(field).map_or(Reply::Nil, |v| Reply::bulk(v))).collect()))
}

pub(super) fn hgetall(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    let pairs =
        call.typed(&key, hash)?.map(|hash| hash.iter().map(|(f, v)| (Reply::bulk(f), Reply::bulk(v))).collect());
    Ok(Reply::Map(pairs.unwrap_or_default()))
}

pub(super) fn hdel(call: &mut Call<'_>) -> Outcome {
    let (key, fields) = (call.arg(1).to_vec(), call.args[2..].to_vec());
    let Some(hash) = call.typed(&key, hash)? else { return Ok(Reply::Int(0)) };
    let removed = fields.iter().filter(|field| hash.remove(*field).is_some()).count();
    call.db().drop_if_empty(&key);
    Ok(Reply::Int(removed as i64))
}

pub(super) fn hexists(call: &mut Call<'_>) -> Outcome {
    let (key, field) = (call.arg(1).to_vec(), call.arg(2).to_vec());
    Ok(Reply::Int(i64::from(call.typed(&key, hash)?.is_some_and(|hash| hash.contains_key(&field)))))
}

pub(super) fn hkeys(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    Ok(call.typed(&key, hash)?.map_or(Reply::Array(Vec::new()), |hash| Reply::bulks(hash.keys())))
}

pub(super) fn hvals(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    Ok(call.typed(&key, hash)?.map_or(Reply::Array(Vec::new()), |hash| Reply::bulks(hash.values())))
}

pub(super) fn hlen(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    Ok(Reply::Int(call.typed(&key, hash)?.map_or(0, |hash| hash.len() as i64)))
}

pub(super) fn hincrby(call: &mut Call<'_>) -> Outcome {
    let (key, field) = (call.arg(1).to_vec(), call.arg(2).to_vec());
    let delta = call.int(3)?;
    let hash = call.typed_or_new(&key, hash, new_hash)?;
    let current = match hash.get(&field) {
        Some(value) => parse_int(value).ok_or_else(|| Reply::error("ERR hash value is not an integer"))?,
        None => 0,
    };
    let next = current.checked_add(delta).ok_or_else(|| Reply::error("ERR increment or decrement would overflow"))?;
    hash.insert(field, next.to_string().into_bytes());
    Ok(Reply::Int(next))
}

pub(super) fn lpush(call: &mut Call<'_>) -> Outcome {
    push(call, true)
}

pub(super) fn rpush(call: &mut Call<'_>) -> Outcome {
    push(call, false)
}

/// `LPUSH`/`RPUSH key element [element ...]`: the list's new length.
fn push(call: &mut Call<'_>, front: bool) -> Outcome {
    let (key, elements) = (call.arg(1).to_vec(), call.args[2..].to_vec());
    let list = call.typed_or_new(&key, list, new_list)?;
    for element in elements {
        match front {
            true => list.push_front(element),
            false => list.push_back(element),
        }
    }
    Ok(Reply::Int(list.len() as i64))
}

pub(super) fn lpop(call: &mut Call<'_>) -> Outcome {
    pop(call, true)
}

pub(super) fn rpop(call: &mut Call<'_>) -> Outcome {
    pop(call, false)
}

/// `LPOP`/`RPOP key [count]`: one element (or nil), or with a count an array (or a nil array).
fn pop(call: &mut Call<'_>, front: bool) -> Outcome {
    let count = match call.args.len() {
        2 => None,
        3 => Some(
            call.int(2)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| Reply::error("ERR value is out of range, must be positive"))?,
        ),
        _ => return Err(wrong_arguments(call)),
    };
    let key = call.arg(1).to_vec();
    let Some(list) = call.typed(&key, list)? else {
        return Ok(if count.is_some() { Reply::NilArray } else { Reply::Nil });
    };
    let mut popped = Vec::new();
    for _ in 0..count.unwrap_or(1) {
        match if front { list.pop_front() } else { list.pop_back() } {
            Some(element) => popped.push(Reply::Bulk(element)),
            None => break,
        }
    }
    call.db().drop_if_empty(&key);
    Ok(match count {
        Some(_) => Reply::Array(popped),
        None => popped.pop().unwrap_or(Reply::Nil),
    })
}

pub(super) fn lrange(call: &mut Call<'_>) -> Outcome {
    let (start, stop) = (call.int(2)?, call.int(3)?);
    let key = call.arg(1).to_vec();
    let Some(list) = call.typed(&key, list)? else { return Ok(Reply::Array(Vec::new())) };
    let len = list.len() as i64;
    let from = if start < 0 { (start + len).max(0) } else { start };
    let to = if stop < 0 { stop + len } else { stop.min(len - 1) };
    if from > to || from >= len {
        return Ok(Reply::Array(Vec::new()));
    }
    Ok(Reply::bulks(list.range(from as usize..=to as usize)))
}

pub(super) fn llen(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    Ok(Reply::Int(call.typed(&key, list)?.map_or(0, |list| list.len() as i64)))
}

pub(super) fn lindex(call: &mut Call<'_>) -> Outcome {
    let index = call.int(2)?;
    let key = call.arg(1).to_vec();
    let Some(list) = call.typed(&key, list)? else { return Ok(Reply::Nil) };
    let at = if index < 0 { index + list.len() as i64 } else { index };
    let element = usize::try_from(at).ok().and_then(|at| list.get(at));
    Ok(element.map_or(Reply::Nil, |element| Reply::bulk(element)))
}

pub(super) fn sadd(call: &mut Call<'_>) -> Outcome {
    let (key, members) = (call.arg(1).to_vec(), call.args[2..].to_vec());
    let set = call.typed_or_new(&key, set, new_set)?;
    Ok(Reply::Int(members.into_iter().filter(|member| set.insert(member.clone())).count() as i64))
}

pub(super) fn srem(call: &mut Call<'_>) -> Outcome {
    let (key, members) = (call.arg(1).to_vec(), call.args[2..].to_vec());
    let Some(set) = call.typed(&key, set)? else { return Ok(Reply::Int(0)) };
    let removed = members.iter().filter(|member| set.remove(*member)).count();
    call.db().drop_if_empty(&key);
    Ok(Reply::Int(removed as i64))
}

pub(super) fn smembers(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    let members = call.typed(&key, set)?.map(|set| set.iter().map(|m| Reply::bulk(m)).collect());
    Ok(Reply::Set(members.unwrap_or_default()))
}

pub(super) fn sismember(call: &mut Call<'_>) -> Outcome {
    let (key, member) = (call.arg(1).to_vec(), call.arg(2).to_vec());
    Ok(Reply::Int(i64::from(call.typed(&key, set)?.is_some_and(|set| set.contains(&member)))))
}

pub(super) fn scard(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    Ok(Reply::Int(call.typed(&key, set)?.map_or(0, |set| set.len() as i64)))
}
