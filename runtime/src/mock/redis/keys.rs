//! Keyspace and expiry commands: `EXPIRE`/`PEXPIRE` (with `NX`/`XX`/`GT`/`LT`), `TTL`, `PTTL`,
//! `PERSIST`, `DEL`/`UNLINK`, `EXISTS`, `TYPE`, `KEYS`, `SCAN` (`MATCH`, `COUNT`, `TYPE`),
//! `RENAME`, `DBSIZE`, `FLUSHDB`, `FLUSHALL`.

use std::time::{Duration, Instant};

use super::resp::Reply;
use super::table::{glob, syntax_error, Call, Outcome};

pub(super) fn expire(call: &mut Call<'_>) -> Outcome {
    expire_in(call, 1000)
}

pub(super) fn pexpire(call: &mut Call<'_>) -> Outcome {
    expire_in(call, 1)
}

/// `EXPIRE key amount [NX|XX|GT|LT]` with the amount in units of `unit_ms`.
fn expire_in(call: &mut Call<'_>, unit_ms: i64) -> Outcome {
    let invalid = || Reply::error(format!("ERR invalid expire time in '{}' command", call.name()));
    let ms = call.int(2)?.checked_mul(unit_ms).ok_or_else(invalid)?;
    let option = match call.args.len() {
        3 => String::new(),
        4 => call.option(3),
        _ => return Err(syntax_error()),
    };
    if !["", "NX", "XX", "GT", "LT"].contains(&option.as_str()) {
        return Err(Reply::error(format!("ERR Unsupported option {}", String::from_utf8_lossy(call.arg(3)))));
    }
    let key = call.arg(1).to_vec();
    let now = Instant::now();
    let Some(entry) = call.db().entry(&key) else { return Ok(Reply::Int(0)) };
    // Past deadlines are "now": the key is deleted below.
    let at = now + Duration::from_millis(ms.max(0) as u64);
    let allowed = match (option.as_str(), entry.expires) {
        ("NX", current) => current.is_none(),
        ("XX", current) => current.is_some(),
        // No time to live counts as infinite.
        ("GT", current) => current.is_some_and(|current| at > current),
        ("LT", current) => current.is_none_or(|current| at < current),
        _ => true,
    };
    if !allowed {
        return Ok(Reply::Int(0));
    }
    entry.expires = Some(at);
    if ms <= 0 {
        call.db().remove(&key);
    }
    Ok(Reply::Int(1))
}

pub(super) fn ttl(call: &mut Call<'_>) -> Outcome {
    // Redis rounds the remaining milliseconds to the nearest second.
    Ok(Reply::Int(remaining_ms(call).map_or_else(|code| code, |ms| (ms + 500) / 1000)))
}

pub(super) fn pttl(call: &mut Call<'_>) -> Outcome {
    Ok(Reply::Int(remaining_ms(call).unwrap_or_else(|code| code)))
}

/// The key's remaining time to live, or the code for none: -2 no key, -1 no expiry.
fn remaining_ms(call: &mut Call<'_>) -> Result<i64, i64> {
    let key = call.arg(1).to_vec();
    let entry = call.db().entry(&key).ok_or(-2)?;
    let at = entry.expires.ok_or(-1)?;
    Ok(at.saturating_duration_since(Instant::now()).as_millis() as i64)
}

pub(super) fn persist(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    let removed = call.db().entry(&key).and_then(|entry| entry.expires.take()).is_some();
    Ok(Reply::Int(i64::from(removed)))
}

pub(super) fn del(call: &mut Call<'_>) -> Outcome {
    let keys = call.args[1..].to_vec();
    let db = call.db();
    let removed = keys.iter().filter(|key| db.entry(key).is_some() && db.remove(key).is_some()).count();
    Ok(Reply::Int(removed as i64))
}

pub(super) fn exists(call: &mut Call<'_>) -> Outcome {
    let keys = call.args[1..].to_vec();
    let db = call.db();
    Ok(Reply::Int(keys.iter().filter(|key| db.entry(key).is_some()).count() as i64))
}

pub(super) fn type_of(call: &mut Call<'_>) -> Outcome {
    let key = call.arg(1).to_vec();
    Ok(Reply::Simple(call.db().get(&key).map_or("none", |value| value.type_name())))
}

pub(super) fn keys(call: &mut Call<'_>) -> Outcome {
    let pattern = call.arg(1).to_vec();
    let keys = call.db().keys();
    Ok(Reply::bulks(keys.iter().filter(|key| glob(&pattern, key))))
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: `count` keys visited per call.
pub(super) fn scan(call: &mut Call<'_>) -> Outcome {
    let cursor = std::str::from_utf8(call.arg(1))
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(|| Reply::error("ERR invalid cursor"))?;
    let (mut pattern, mut count, mut kind) = (None, 10, None);
    let mut i = 2;
    while i < call.args.len() {
        if i + 1 >= call.args.len() {
            return Err(syntax_error());
        }
        match call.option(i).as_str() {
            "MATCH" => pattern = Some(call.arg(i + 1).to_vec()),
            "COUNT" => count = call.int(i + 1).ok().filter(|n| *n >= 1).ok_or_else(syntax_error)?,
            "TYPE" => kind = Some(String::from_utf8_lossy(call.arg(i + 1)).to_ascii_lowercase()),
            _ => return Err(syntax_error()),
        }
        i += 2;
    }
    let (next, visited) = call.db().scan(cursor, count.min(1 << 20) as usize);
    let found = visited
        .into_iter()
        .filter(|(key, type_name)| {
            pattern.as_ref().is_none_or(|p| glob(p, key)) && kind.as_ref().is_none_or(|k| k == type_name)
        })
        .map(|(key, _)| Reply::Bulk(key))
        .collect();
    Ok(Reply::Array(vec![Reply::text(&next.to_string()), Reply::Array(found)]))
}

pub(super) fn rename(call: &mut Call<'_>) -> Outcome {
    let (from, to) = (call.arg(1).to_vec(), call.arg(2).to_vec());
    let db = call.db();
    if db.entry(&from).is_none() {
        return Err(Reply::error("ERR no such key"));
    }
    if from != to {
        if let Some(entry) = db.remove(&from) {
            db.remove(&to);
            db.insert(&to, entry.value, entry.expires);
        }
    }
    Ok(Reply::ok())
}

pub(super) fn dbsize(call: &mut Call<'_>) -> Outcome {
    Ok(Reply::Int(call.db().len() as i64))
}

pub(super) fn flushdb(call: &mut Call<'_>) -> Outcome {
    flush_mode(call)?;
    call.db().clear();
    Ok(Reply::ok())
}

pub(super) fn flushall(call: &mut Call<'_>) -> Outcome {
    flush_mode(call)?;
    call.dbs.iter_mut().for_each(|db| db.clear());
    Ok(Reply::ok())
}

/// `ASYNC` and `SYNC` are accepted (a mock's flush is immediate either way).
fn flush_mode(call: &Call<'_>) -> Result<(), Reply> {
    match call.args.len() {
        1 => Ok(()),
        2 if ["ASYNC", "SYNC"].contains(&call.option(1).as_str()) => Ok(()),
        _ => Err(syntax_error()),
    }
}
