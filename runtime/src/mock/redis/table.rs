//! The command table (name, arity as Redis counts it, whether the first argument is a key, the
//! handler) and what a handler works with: the call's arguments, the databases, the
//! connection's session and the server's settings. Handlers return `Err` with the error reply
//! so that `?` carries `WRONGTYPE` and parse errors out of them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use super::resp::Reply;
use super::store::{Bytes, Db, Value};
use super::{collections, keys, server, strings};

/// A handler's answer; `Err` is an error reply.
pub(super) type Outcome = Result<Reply, Reply>;

type Handler = fn(&mut Call<'_>) -> Outcome;

pub(super) struct Spec {
    pub name: &'static str,
    /// Redis's arity: `n` exactly n words (the name included), `-n` at least n.
    pub arity: i32,
    /// The first argument is a key (the `key` of its event).
    pub keyed: bool,
    pub run: Handler,
}

const fn spec(name: &'static str, arity: i32, keyed: bool, run: Handler) -> Spec {
    Spec { name, arity, keyed, run }
}

/// Every command served, upper-case.
pub(super) const COMMANDS: &[Spec] = &[
    // Strings and counters.
    spec("GET", 2, true, strings::get),
    spec("SET", -3, true, strings::set),
    spec("SETNX", 3, true, strings::setnx),
    spec("SETEX", 4, true, strings::setex),
    spec("PSETEX", 4, true, strings::psetex),
    spec("GETSET", 3, true, strings::getset),
    spec("GETDEL", 2, true, strings::getdel),
    spec("APPEND", 3, true, strings::append),
    spec("STRLEN", 2, true, strings::strlen),
    spec("MGET", -2, true, strings::mget),
    spec("MSET", -3, true, strings::mset),
    spec("INCR", 2, true, strings::incr),
    spec("DECR", 2, true, strings::decr),
    spec("INCRBY", 3, true, strings::incrby),
    spec("DECRBY", 3, true, strings::decrby),
    spec("INCRBYFLOAT", 3, true, strings::incrbyfloat),
    // Expiry and the keyspace.
    spec("EXPIRE", -3, true, keys::expire),
    spec("PEXPIRE", -3, true, keys::pexpire),
    spec("TTL", 2, true, keys::ttl),
    spec("PTTL", 2, true, keys::pttl),
    spec("PERSIST", 2, true, keys::persist),
    spec("DEL", -2, true, keys::del),
    spec("UNLINK", -2, true, keys::del),
    spec("EXISTS", -2, true, keys::exists),
    spec("TYPE", 2, true, keys::type_of),
    spec("KEYS", 2, false, keys::keys),
    spec("SCAN", -2, false, keys::scan),
    spec("RENAME", 3, true, keys::rename),
    spec("DBSIZE", 1, false, keys::dbsize),
    spec("FLUSHDB", -1, false, keys::flushdb),
    spec("FLUSHALL", -1, false, keys::flushall),
    // Hashes, lists, sets.
    spec("HSET", -4, true, collections::hset),
    spec("HMSET", -4, true, collections::hmset),
    spec("HGET", 3, true, collections::hget),
    spec("HMGET", -3, true, collections::hmget),
    spec("HGETALL", 2, true, collections::hgetall),
    spec("HDEL", -3, true, collections::hdel),
    spec("HEXISTS", 3, true, collections::hexists),
    spec("HKEYS", 2, true, collections::hkeys),
    spec("HVALS", 2, true, collections::hvals),
    spec("HLEN", 2, true, collections::hlen),
    spec("HINCRBY", 4, true, collections::hincrby),
    spec("LPUSH", -3, true, collections::lpush),
    spec("RPUSH", -3, true, collections::rpush),
    spec("LPOP", -2, true, collections::lpop),
    spec("RPOP", -2, true, collections::rpop),
    spec("LRANGE", 4, true, collections::lrange),
    spec("LLEN", 2, true, collections::llen),
    spec("LINDEX", 3, true, collections::lindex),
    spec("SADD", -3, true, collections::sadd),
    spec("SREM", -3, true, collections::srem),
    spec("SMEMBERS", 2, true, collections::smembers),
    spec("SISMEMBER", 3, true, collections::sismember),
    spec("SCARD", 2, true, collections::scard),
    // The connection and the server.
    spec("PING", -1, false, server::ping),
    spec("ECHO", 2, false, server::echo),
    spec("INFO", -1, false, server::info),
    spec("SELECT", 2, false, server::select),
    spec("AUTH", -2, false, server::auth),
    spec("HELLO", -1, false, server::hello),
    spec("CLIENT", -2, false, server::client),
    spec("COMMAND", -1, false, server::command),
    spec("CONFIG", -2, false, server::config),
    spec("QUIT", -1, false, server::quit),
];

/// Commands a connection may send before `AUTH` when the mock has a password.
pub(super) const BEFORE_AUTH: &[&str] = &["AUTH", "HELLO", "QUIT"];

/// One connection's state.
#[derive(Debug)]
pub(super) struct Session {
    pub id: u64,
    pub db: usize,
    pub resp3: bool,
    pub name: Option<Bytes>,
    pub authenticated: bool,
    /// `QUIT` was answered: close after writing the replies.
    pub quit: bool,
    pub port: u16,
}

/// What every connection of one mock shares besides the data.
#[derive(Debug)]
pub(super) struct Server {
    pub password: Option<String>,
    pub started: Instant,
}

pub(super) struct Call<'a> {
    /// The command's words, the name first.
    pub args: &'a [Bytes],
    pub dbs: &'a mut [Db],
    pub session: &'a mut Session,
    pub server: &'a Server,
}

impl Call<'_> {
    pub(super) fn db(&mut self) -> &mut Db {
        &mut self.dbs[self.session.db]
    }

    /// The `i`th word (the name is 0); arity checks guarantee the ones handlers ask for.
    pub(super) fn arg(&self, i: usize) -> &[u8] {
        self.args.get(i).map_or(&[][..], Vec::as_slice)
    }

    pub(super) fn int(&self, i: usize) -> Result<i64, Reply> {
        parse_int(self.arg(i)).ok_or_else(not_an_integer)
    }

    pub(super) fn float(&self, i: usize) -> Result<f64, Reply> {
        parse_float(self.arg(i)).ok_or_else(|| Reply::error("ERR value is not a valid float"))
    }

    /// The command's name as Redis quotes it in errors (lower-case).
    pub(super) fn name(&self) -> String {
        String::from_utf8_lossy(self.arg(0)).to_ascii_lowercase()
    }

    /// The `i`th word upper-cased, for options and subcommands.
    pub(super) fn option(&self, i: usize) -> String {
        String::from_utf8_lossy(self.arg(i)).to_ascii_uppercase()
    }

    /// The value at `key` as the type `pick` accepts; `WRONGTYPE` for another type.
    pub(super) fn typed<T>(&mut self, key: &[u8], pick: Pick<T>) -> Result<Option<&mut T>, Reply> {
        match self.db().get(key) {
            None => Ok(None),
            Some(value) => pick(value).map(Some).ok_or_else(wrong_type),
        }
    }

    /// Like [`Call::typed`], creating an empty value when the key is missing.
    pub(super) fn typed_or_new<T>(&mut self, key: &[u8], pick: Pick<T>, empty: fn() -> Value) -> Result<&mut T, Reply> {
        if self.db().get(key).is_none() {
            self.db().insert(key, empty(), None);
        }
        self.typed(key, pick)?.ok_or_else(wrong_type)
    }
}

/// Picks one type out of a value.
pub(super) type Pick<T> = fn(&mut Value) -> Option<&mut T>;

pub(super) fn string(value: &mut Value) -> Option<&mut Bytes> {
    match value {
        Value::Str(bytes) => Some(bytes),
        _ => None,
    }
}

pub(super) fn list(value: &mut Value) -> Option<&mut VecDeque<Bytes>> {
    match value {
        Value::List(list) => Some(list),
        _ => None,
    }
}

pub(super) fn hash(value: &mut Value) -> Option<&mut BTreeMap<Bytes, Bytes>> {
    match value {
        Value::Hash(hash) => Some(hash),
        _ => None,
    }
}

pub(super) fn set(value: &mut Value) -> Option<&mut BTreeSet<Bytes>> {
    match value {
        Value::Set(set) => Some(set),
        _ => None,
    }
}

pub(super) fn wrong_type() -> Reply {
    Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value")
}

pub(super) fn not_an_integer() -> Reply {
    Reply::error("ERR value is not an integer or out of range")
}

pub(super) fn syntax_error() -> Reply {
    Reply::error("ERR syntax error")
}

/// An integer as Redis reads one: optional `-`, digits, no leading zeros, no spaces.
pub(super) fn parse_int(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text != "-0";
    canonical.then(|| text.parse().ok()).flatten()
}

/// A float as Redis reads one: no spaces, not NaN.
pub(super) fn parse_float(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty() || text.starts_with(|c: char| c.is_whitespace()) || text.ends_with(|c: char| c.is_whitespace()) {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| !f.is_nan())
}

/// A float as Redis prints one: the shortest exact decimal, no exponent, no trailing zeros.
pub(super) fn format_float(value: f64) -> String {
    format!("{value}")
}

/// Redis's glob (`KEYS`, `SCAN MATCH`): `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
pub(super) fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it currently covers up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p, t));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => class(pattern, p, text[t]),
            Some(b'\\') if p + 1 < pattern.len() => (pattern[p + 1] == text[t]).then_some(p + 2),
            Some(&c) => (c == text[t]).then_some(p + 1),
            None => None,
        };
        match (step, backtrack) {
            (Some(next), _) => {
                p = next;
                t += 1;
            }
            (None, Some((star, covered))) => {
                backtrack = Some((star, covered + 1));
                p = star + 1;
                t = covered + 1;
            }
            (None, None) => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|c| *c == b'*')
}

/// Matches `c` against the class opening at `pattern[open]`; the position after it if it
/// matches. An unclosed class runs to the end of the pattern, as in Redis.
fn class(pattern: &[u8], open: usize, c: u8) -> Option<usize> {
    let mut i = open + 1;
    let negated = pattern.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    while i < pattern.len() && pattern[i] != b']' {
        if pattern[i] == b'\\' && i + 1 < pattern.len() {
            matched |= pattern[i + 1] == c;
            i += 2;
        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let (low, high) = (pattern[i].min(pattern[i + 2]), pattern[i].max(pattern[i + 2]));
            matched |= (low..=high).contains(&c);
            i += 3;
        } else {
            matched |= pattern[i] == c;
            i += 1;
        }
    }
    (matched != negated).then_some((i + 1).min(pattern.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_floats_as_redis_reads_them() {
        assert_eq!(parse_int(b"-12"), Some(-12));
        assert_eq!(parse_int(b"0"), Some(0));
        for bad in [&b"+1"[..], b"01", b" 1", b"", b"-", b"1.0", b"-0", b"99999999999999999999"] {
            assert_eq!(parse_int(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"nan"), None);
        assert_eq!(parse_float(b" 1"), None);
        assert_eq!(format_float(10.5 + 0.1), "10.6");
        assert_eq!(format_float(3.0), "3");
    }

    #[test]
    fn globs_as_redis_matches_them() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "anything", true),
            ("user:*", "user:1", true),
            ("user:*", "users", false),
            ("h?llo", "hello", true),
            ("h[ae]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-c]llo", "hbllo", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("", "", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob(pattern.as_bytes(), text.as_bytes()), *expected, "{pattern} ~ {text}");
        }
    }
}
