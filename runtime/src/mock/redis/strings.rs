//! String and counter commands: `GET`, `SET` (with `EX`/`PX`/`EXAT`/`PXAT`/`KEEPTTL`,
//! `NX`/`XX`, `GET`), `SETNX`, `SETEX`, `PSETEX`, `GETSET`, `GETDEL`, `APPEND`, `STRLEN`,
//! `MGET`, `MSET`, `INCR`, `INCRBY`, `DECR`, `DECRBY`, `INCRBYFLOAT`. Counters keep the key's
//! time to live, as in Redis; `SET` and `GETSET` clear it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::resp::Reply;
use super::store::Value;
use super::table::{format_float, not_an_integer, parse_float, parse_int, string, syntax_error, Call, Outcome};

pub(super) fn get(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    Ok(call.typed(&key, string)?.map_or(Reply::Nil, |bytes| Reply::bulk(bytes)))
}

/// What `SET` does with the key's time to live.
enum Expiry {
    Clear,
    Keep,
    At(Instant),
}

#[derive(PartialEq)]
enum Condition {
    Always,
    Missing,
    Present,
}

pub(super) fn set(call: &mut Call<'_>) -> Outcome {
    let (mut condition, mut get, mut expiry) = (Condition::Always, false, Expiry::Clear);
    let mut i = 3;
    while i < call.args.len() {
        let option = call.option(i);
        match option.as_str() {
            "NX" if condition == Condition::Always => condition = Condition::Missing,
            "XX" if condition == Condition::Always => condition = Condition::Present,
            "GET" => get = true,
            "KEEPTTL" if matches!(expiry, Expiry::Clear) => expiry = Expiry::Keep,
            "EX" | "PX" | "EXAT" | "PXAT" if matches!(expiry, Expiry::Clear) && i + 1 < call.args.len() => {
                i += 1;
                expiry = Expiry::At(deadline(&option, call.int(i)?).ok_or_else(|| invalid_expire("set"))?);
            }
            _ => return Err(syntax_error()),
        }
        i += 1;
    }
    let key = call.arg(1).to_vec();
    let old = match get {
        true => call.typed(&key, string)?.map(|bytes| bytes.clone()),
        false => None,
    };
    let entry = call.db().entry(&key).map(|entry| entry.expires);
    let blocked = match condition {
        Condition::Always => false,
        Condition::Missing => entry.is_some(),
        Condition::Present => entry.is_none(),
    };
    if !blocked {
        let expires = match expiry {
            Expiry::Clear => None,
            Expiry::Keep => entry.flatten(),
            Expiry::At(at) => Some(at),
        };
        let value = Value::Str(call.arg(2).to_vec());
        call.db().insert(&key, value, expires);
    }
    Ok(match (get, old, blocked) {
        (true, Some(old), _) => Reply::Bulk(old),
        (true, None, _) | (false, _, true) => Reply::Nil,
        (false, _, false) => Reply::ok(),
    })
}

/// The instant an `EX`/`PX`/`EXAT`/`PXAT` amount names; `None` when it is not positive or
/// overflows.
fn deadline(unit: &str, amount: i64) -> Option<Instant> {
    if amount <= 0 {
        return None;
    }
    let now = Instant::now();
    match unit {
        "EX" => now.checked_add(Duration::from_secs(amount as u64)),
        "PX" => now.checked_add(Duration::from_millis(amount as u64)),
        absolute => {
            let ms = if absolute == "EXAT" { amount.checked_mul(1000)? } else { amount };
            let wall = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_millis() as i64;
            let ahead = ms - wall;
            match ahead > 0 {
                true => now.checked_add(Duration::from_millis(ahead as u64)),
                // Already past: the key is stored expired, so it is gone at the next access.
                false => Some(now),
            }
        }
    }
}

fn invalid_expire(command: &str) -> Reply {
    Reply::error(format!("ERR invalid expire time in '{command}' command"))
}

pub(super) fn setnx(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    if call.db().get(&key).is_some() {
        return Ok(Reply::Int(0));
    }
    let value = Value::Str(call.arg(2).to_vec());
    call.db().insert(&key, value, None);
    Ok(Reply::Int(1))
}

pub(super) fn setex(call: &mut Call<'_>) -> Outcome {
    set_expiring(call, "EX")
}

pub(super) fn psetex(call: &mut Call<'_>) -> Outcome {
    set_expiring(call, "PX")
}

/// `SETEX key seconds value` and `PSETEX key ms value`.
fn set_expiring(call: &mut Call<'_>, unit: &str) -> Outcome {
    let at = deadline(unit, call.int(2)?).ok_or_else(|| invalid_expire(&call.name()))?;
    let (key, value) = (call.arg(1).to_vec(), Value::Str(call.arg(3).to_vec()));
    call.db().insert(&key, value, Some(at));
    Ok(Reply::ok())
}

pub(super) fn getset(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    let old = call.typed(&key, string)?.map(|bytes| bytes.clone());
    let value = Value::Str(call.arg(2).to_vec());
    call.db().insert(&key, value, None);
    Ok(old.map_or(Reply::Nil, Reply::Bulk))
}

pub(super) fn getdel(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    let old = call.typed(&key, string)?.map(|bytes| bytes.clone());
    if old.is_some() {
        call.db().remove(&key);
    }
    Ok(old.map_or(Reply::Nil, Reply::Bulk))
}

pub(super) fn append(call: &mut Call<'_>) -> Outcome {
    let (key, tail) = (call.arg(1).to_vec(), call.arg(2).to_vec());
    let bytes = call.typed_or_new(&key, string, || Value::Str(Vec::new()))?;
    bytes.extend_from_slice(&tail);
    Ok(Reply::Int(bytes.len() as i64))
}

pub(super) fn strlen(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    Ok(Reply::Int(call.typed(&key, string)?.map_or(0, |bytes| bytes.len() as i64)))
}

pub(super) fn mget(call: &mut Call<'_>) -> Outcome {
    let keys = call.args[1..].to_vec();
    // A key of another type reads as nil here, not as an error.
    let db = call.db();
    Ok(Reply::Array(
        keys.iter()
            .map(|key| match db.get(key) {
                Some(Value::Str(bytes)) => Reply::bulk(bytes),
                _ => Reply::Nil,
            })
            .collect(),
    ))
}

pub(super) fn mset(call: &mut Call<'_>) -> Outcome {
    if !call.args[1..].chunks_exact(2).remainder().is_empty() {
        return Err(Reply::error("ERR wrong number of arguments for 'mset' command"));
    }
    let pairs = call.args[1..].to_vec();
    for pair in pairs.chunks(2) {
        call.db().insert(&pair[0], Value::Str(pair[1].clone()), None);
    }
    Ok(Reply::ok())
}

pub(super) fn incr(call: &mut Call<'_>) -> Outcome {
    add(call, 1)
}

pub(super) fn decr(call: &mut Call<'_>) -> Outcome {
    add(call, -1)
}

pub(super) fn incrby(call: &mut Call<'_>) -> Outcome {
    let delta = call.int(2)?;
    add(call, delta)
}

pub(super) fn decrby(call: &mut Call<'_>) -> Outcome {
    let delta = call.int(2)?.checked_neg().ok_or_else(|| Reply::error("ERR decrement would overflow"))?;
    add(call, delta)
}

/// Adds `delta` to the integer at the key (0 when missing), keeping its time to live.
fn add(call: &mut Call<'_>, delta: i64) -> Outcome {
    let key = call.arg(1).to_vec();
    let bytes = call.typed_or_new(&key, string, || Value::Str(b"0".to_vec()))?;
    let current = parse_int(bytes).ok_or_else(not_an_integer)?;
    let next = current.checked_add(delta).ok_or_else(|| Reply::error("ERR increment or decrement would overflow"))?;
    *bytes = next.to_string().into_bytes();
    Ok(Reply::Int(next))
}

pub(super) fn incrbyfloat(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    let delta = call.float(2)?;
    let bytes = call.typed_or_new(&key, string, || Value::Str(b"0".to_vec()))?;
    let current = parse_float(bytes).ok_or_else(|| Reply::error("ERR value is not a valid float"))?;
    let next = current + delta;
    if !next.is_finite() {
        return Err(Reply::error("ERR increment would produce NaN or Infinity"));
    }
    *bytes = format_float(next).into_bytes();
    Ok(Reply::bulk(bytes))
}
