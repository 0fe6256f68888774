//! The in-process Redis mock (`runtime::mock`, protocol `redis`), driven over real sockets by
//! real clients: the `redis` crate (every command group, RESP3 via `HELLO 3`, pipelining,
//! expiry), `redis-cli` (skipped, saying why, when it is not installed), raw bytes (garbage and
//! half commands), and `ospecc run` on a spec that seeds a mock and reads it back.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ospecc_runtime::events::{Event, EventLog};
use ospecc_runtime::mock::{self, DynamicHandler, MockHandle, MockReply, MockRequest};
use ospecc_schema::plan::Service;
use redis::{Connection, Value as R};
use serde_json::{json, Value};

struct NoHandler;

impl DynamicHandler for NoHandler {
    fn respond(&self, _: &str, _: &MockRequest) -> MockReply {
        MockReply { status: 500, headers: Vec::new(), body: Vec::new() }
    }
}

fn service(config: Value) -> Service {
    service_on(0, config)
}

fn service_on(port: u16, config: Value) -> Service {
    serde_json::from_value(json!({
        "name": "cache",
        "origin": { "file": "mocks.star", "line": 1, "column": 1 },
        "launch": { "kind": "mock", "routes": [], "default": null, "config": config },
        "interfaces": [{ "name": "main", "protocol": "redis", "port": port }],
        "env": [], "ports": [], "depends_on": [], "observe": [], "ops": [],
        "seccomp": true, "intercept": []
    }))
    .expect("a valid plan service")
}

/// A mock served on its own runtime, for blocking clients on the test's thread.
struct Running {
    runtime: tokio::runtime::Runtime,
    handle: Option<MockHandle>,
    events: EventLog,
    address: SocketAddr,
}

impl Running {
    fn start(config: Value) -> Running {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let events = EventLog::default();
        let handle = runtime
            .block_on(mock::serve(&service(config), Arc::new(NoHandler), events.clone(), None))
            .expect("the mock starts");
        let address = handle.address();
        Running { runtime, handle: Some(handle), events, address }
    }

    fn seeded() -> Running {
        Running::start(json!({"state": {
            "user:1": "alice", "user:2": "bob", "counter:hits": 0, "ratio": 1.5, "flag": true,
            "queue": ["a", "b", 3], "profile": {"name": "carol", "age": 41}
        }}))
    }

    fn client(&self, query: &str) -> Connection {
        let client = redis::Client::open(format!("redis://{}/{query}", self.address)).unwrap();
        let connection = client.get_connection_with_timeout(Duration::from_secs(5)).unwrap();
        connection.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        connection
    }

    fn events(&self, kind: &str) -> Vec<Event> {
        self.events.since(0).into_iter().filter(|e| e.kind == kind).collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.stop());
        }
    }
}

/// Runs a command given as words; the reply, or the error's text.
fn run(con: &mut Connection, words: &[&str]) -> Result<R, String> {
    let mut command = redis::cmd(words[0]);
    for word in &words[1..] {
        command.arg(*word);
    }
    // The crate prints a code apart from its message (`"WRONGTYPE": Operation ...`): put the
    // reply's text back together.
    command.query::<R>(con).map_err(|e| e.to_string().replacen("\": ", " ", 1).replace('"', ""))
}

fn ok(con: &mut Connection, words: &[&str]) -> R {
    run(con, words).unwrap_or_else(|e| panic!("{words:?}: {e}"))
}

fn fails(con: &mut Connection, words: &[&str], expected: &str) {
    match run(con, words) {
        Err(e) => assert!(e.contains(expected), "{words:?}: {e:?} lacks {expected:?}"),
        Ok(reply) => panic!("{words:?} answered {reply:?}, not an error"),
    }
}

fn bulk(text: &str) -> R {
    R::BulkString(text.as_bytes().to_vec())
}

fn bulks(items: &[&str]) -> R {
    R::Array(items.iter().map(|t| bulk(t)).collect())
}

#[test]
fn strings_and_the_seeded_state() {
    let mock = Running::seeded();
    let con = &mut mock.client("");
    assert_eq!(ok(con, &["GET", "user:1"]), bulk("alice"));
    assert_eq!(ok(con, &["GET", "counter:hits"]), bulk("0"));
    assert_eq!(ok(con, &["GET", "ratio"]), bulk("1.5"));
    assert_eq!(ok(con, &["GET", "flag"]), bulk("true"));
    assert_eq!(ok(con, &["GET", "missing"]), R::Nil);
    assert_eq!(ok(con, &["SET", "k", "v"]), R::Okay);
    assert_eq!(ok(con, &["SET", "k", "w", "NX"]), R::Nil);
    assert_eq!(ok(con, &["SET", "k", "w", "XX", "GET"]), bulk("v"));
    assert_eq!(ok(con, &["SET", "new", "x", "XX"]), R::Nil);
    assert_eq!(ok(con, &["EXISTS", "new"]), R::Int(0));
    fails(con, &["SET", "k", "v", "NX", "XX"], "syntax error");
    fails(con, &["SET", "k", "v", "EX", "0"], "invalid expire time in 'set' command");
    fails(con, &["SET", "k", "v", "EX", "soon"], "not an integer");
    assert_eq!(ok(con, &["SETNX", "k", "z"]), R::Int(0));
    assert_eq!(ok(con, &["SETNX", "k2", "z"]), R::Int(1));
    assert_eq!(ok(con, &["GETSET", "k2", "y"]), bulk("z"));
    assert_eq!(ok(con, &["APPEND", "k2", "yy"]), R::Int(3));
    assert_eq!(ok(con, &["APPEND", "fresh", "ab"]), R::Int(2));
    assert_eq!(ok(con, &["STRLEN", "k2"]), R::Int(3));
    assert_eq!(ok(con, &["STRLEN", "nothing"]), R::Int(0));
    assert_eq!(ok(con, &["MSET", "a", "1", "b", "2"]), R::Okay);
    fails(con, &["MSET", "a", "1", "b"], "wrong number of arguments for 'mset'");
    assert_eq!(ok(con, &["MGET", "a", "nope", "b", "queue"]), R::Array(vec![bulk("1"), R::Nil, bulk("2"), R::Nil]));
    assert_eq!(ok(con, &["GETDEL", "a"]), bulk("1"));
    assert_eq!(ok(con, &["GETDEL", "a"]), R::Nil);
    assert_eq!(ok(con, &["SETEX", "s", "100", "v"]), R::Okay);
    assert!(matches!(ok(con, &["TTL", "s"]), R::Int(99..=100)));
    fails(con, &["SETEX", "s", "-1", "v"], "invalid expire time in 'setex' command");
    let big = "x".repeat(3 << 20);
    assert_eq!(ok(con, &["SET", "big", &big]), R::Okay);
    assert_eq!(ok(con, &["STRLEN", "big"]), R::Int(3 << 20));
    assert_eq!(ok(con, &["GET", "big"]), bulk(&big));
    // The state is the mock's: another connection sees it.
    let other = &mut mock.client("");
    assert_eq!(ok(other, &["GET", "k"]), bulk("w"));
    assert_eq!(ok(other, &["STRLEN", "big"]), R::Int(3 << 20));
}

#[test]
fn counters() {
    let mock = Running::seeded();
    let con = &mut mock.client("");
    assert_eq!(ok(con, &["INCR", "counter:hits"]), R::Int(1));
    assert_eq!(ok(con, &["INCRBY", "counter:hits", "10"]), R::Int(11));
    assert_eq!(ok(con, &["DECR", "counter:hits"]), R::Int(10));
    assert_eq!(ok(con, &["DECRBY", "counter:hits", "20"]), R::Int(-10));
    assert_eq!(ok(con, &["INCR", "fresh"]), R::Int(1));
    assert_eq!(ok(con, &["INCRBYFLOAT", "ratio", "0.1"]), bulk("1.6"));
    assert_eq!(ok(con, &["INCRBYFLOAT", "f", "3"]), bulk("3"));
    fails(con, &["INCR", "user:1"], "value is not an integer or out of range");
    fails(con, &["INCRBY", "counter:hits", "1.5"], "value is not an integer or out of range");
    fails(con, &["INCRBYFLOAT", "user:1", "1"], "value is not a valid float");
    ok(con, &["SET", "max", &i64::MAX.to_string()]);
    fails(con, &["INCR", "max"], "increment or decrement would overflow");
    fails(con, &["INCR", "queue"], "WRONGTYPE Operation against a key holding the wrong kind of value");
    // Counters keep the time to live.
    ok(con, &["SET", "ttl", "1", "EX", "100"]);
    ok(con, &["INCR", "ttl"]);
    assert!(matches!(ok(con, &["TTL", "ttl"]), R::Int(99..=100)));
}

#[test]
fn expiry_is_lazy_and_exact() {
    let mock = Running::seeded();
    let con = &mut mock.client("");
    ok(con, &["SET", "short", "v", "PX", "80"]);
    ok(con, &["SET", "long", "v"]);
    assert!(matches!(ok(con, &["PTTL", "short"]), R::Int(1..=80)));
    assert_eq!(ok(con, &["TTL", "long"]), R::Int(-1));
    assert_eq!(ok(con, &["TTL", "missing"]), R::Int(-2));
    assert_eq!(ok(con, &["EXPIRE", "long", "100"]), R::Int(1));
    assert!(matches!(ok(con, &["TTL", "long"]), R::Int(99..=100)));
    assert_eq!(ok(con, &["EXPIRE", "long", "50", "GT"]), R::Int(0));
    assert_eq!(ok(con, &["EXPIRE", "long", "50", "LT"]), R::Int(1));
    assert_eq!(ok(con, &["EXPIRE", "long", "10", "NX"]), R::Int(0));
    assert_eq!(ok(con, &["PERSIST", "long"]), R::Int(1));
    assert_eq!(ok(con, &["PERSIST", "long"]), R::Int(0));
    assert_eq!(ok(con, &["PEXPIRE", "long", "60000"]), R::Int(1));
    assert!(matches!(ok(con, &["PTTL", "long"]), R::Int(59_000..=60_000)));
    assert_eq!(ok(con, &["EXPIRE", "missing", "10"]), R::Int(0));
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(ok(con, &["GET", "short"]), R::Nil);
    assert_eq!(ok(con, &["EXISTS", "short"]), R::Int(0));
    assert_eq!(ok(con, &["TTL", "short"]), R::Int(-2));
    // A deadline in the past deletes at once.
    assert_eq!(ok(con, &["EXPIRE", "user:2", "-1"]), R::Int(1));
    assert_eq!(ok(con, &["EXISTS", "user:2"]), R::Int(0));
    ok(con, &["SET", "gone", "v", "PX", "30"]);
    std::thread::sleep(Duration::from_millis(80));
    let keys = ok(con, &["KEYS", "*"]);
    assert!(!format!("{keys:?}").contains("gone"), "{keys:?}");
}

#[test]
fn keyspace_commands_and_databases() {
    let mock = Running::seeded();
    let con = &mut mock.client("");
    assert_eq!(ok(con, &["DBSIZE"]), R::Int(7));
    assert_eq!(ok(con, &["KEYS", "user:*"]), bulks(&["user:1", "user:2"]));
    assert_eq!(ok(con, &["KEYS", "user:[^1]"]), bulks(&["user:2"]));
    assert_eq!(ok(con, &["TYPE", "user:1"]), R::SimpleString("string".into()));
    assert_eq!(ok(con, &["TYPE", "queue"]), R::SimpleString("list".into()));
    assert_eq!(ok(con, &["TYPE", "profile"]), R::SimpleString("hash".into()));
    assert_eq!(ok(con, &["TYPE", "nope"]), R::SimpleString("none".into()));
    assert_eq!(ok(con, &["EXISTS", "user:1", "user:1", "nope"]), R::Int(2));
    assert_eq!(ok(con, &["RENAME", "user:2", "user:3"]), R::Okay);
    assert_eq!(ok(con, &["GET", "user:3"]), bulk("bob"));
    fails(con, &["RENAME", "user:2", "x"], "no such key");
    for i in 0..25 {
        ok(con, &["SET", &format!("scan:{i}"), "v"]);
    }
    let mut seen = Vec::new();
    let mut cursor = "0".to_owned();
    for round in 0.. {
        assert!(round < 50, "SCAN ends");
        let R::Array(reply) = ok(con, &["SCAN", &cursor, "MATCH", "scan:*", "COUNT", "7"]) else { panic!() };
        let (R::BulkString(next), R::Array(keys)) = (&reply[0], &reply[1]) else { panic!("{reply:?}") };
        seen.extend(keys.iter().map(|k| format!("{k:?}")));
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 25, "{seen:?}");
    let R::Array(typed) = ok(con, &["SCAN", "0", "TYPE", "hash", "COUNT", "1000"]) else { panic!() };
    assert_eq!(typed[1], bulks(&["profile"]));
    fails(con, &["SCAN", "x"], "invalid cursor");
    assert_eq!(ok(con, &["DEL", "user:1", "user:3", "nope"]), R::Int(2));
    // Databases are separate; FLUSHDB empties one, FLUSHALL all.
    assert_eq!(ok(con, &["SELECT", "3"]), R::Okay);
    assert_eq!(ok(con, &["DBSIZE"]), R::Int(0));
    ok(con, &["SET", "in3", "v"]);
    fails(con, &["SELECT", "16"], "DB index is out of range");
    assert_eq!(ok(con, &["FLUSHDB"]), R::Okay);
    assert_eq!(ok(con, &["DBSIZE"]), R::Int(0));
    ok(con, &["SET", "in3", "v"]);
    ok(con, &["SELECT", "0"]);
    assert!(matches!(ok(con, &["DBSIZE"]), R::Int(n) if n > 20));
    assert_eq!(ok(con, &["FLUSHALL"]), R::Okay);
    assert_eq!(ok(con, &["DBSIZE"]), R::Int(0));
    ok(con, &["SELECT", "3"]);
    assert_eq!(ok(con, &["DBSIZE"]), R::Int(0));
}

#[test]
fn hashes_lists_and_sets() {
    let mock = Running::seeded();
    let con = &mut mock.client("");
    assert_eq!(ok(con, &["HGET", "profile", "name"]), bulk("carol"));
    assert_eq!(ok(con, &["HGET", "profile", "age"]), bulk("41"));
    assert_eq!(ok(con, &["HSET", "profile", "city", "Oslo", "name", "dave"]), R::Int(1));
    fails(con, &["HSET", "profile", "city"], "wrong number of arguments for 'hset'");
    assert_eq!(ok(con, &["HMGET", "profile", "name", "nope"]), R::Array(vec![bulk("dave"), R::Nil]));
    assert_eq!(ok(con, &["HGETALL", "profile"]), bulks(&["age", "41", "city", "Oslo", "name", "dave"]));
    assert_eq!(ok(con, &["HKEYS", "profile"]), bulks(&["age", "city", "name"]));
    assert_eq!(ok(con, &["HVALS", "profile"]), bulks(&["41", "Oslo", "dave"]));
    assert_eq!(ok(con, &["HLEN", "profile"]), R::Int(3));
    assert_eq!(ok(con, &["HEXISTS", "profile", "city"]), R::Int(1));
    assert_eq!(ok(con, &["HINCRBY", "profile", "age", "1"]), R::Int(42));
    fails(con, &["HINCRBY", "profile", "name", "1"], "hash value is not an integer");
    assert_eq!(ok(con, &["HDEL", "profile", "city", "name", "age", "x"]), R::Int(3));
    assert_eq!(ok(con, &["EXISTS", "profile"]), R::Int(0), "an emptied hash is deleted");
    assert_eq!(ok(con, &["HGETALL", "profile"]), R::Array(Vec::new()));

    assert_eq!(ok(con, &["LRANGE", "queue", "0", "-1"]), bulks(&["a", "b", "3"]));
    assert_eq!(ok(con, &["LPUSH", "queue", "x", "y"]), R::Int(5));
    assert_eq!(ok(con, &["RPUSH", "queue", "z"]), R::Int(6));
    assert_eq!(ok(con, &["LRANGE", "queue", "0", "1"]), bulks(&["y", "x"]));
    assert_eq!(ok(con, &["LRANGE", "queue", "-2", "100"]), bulks(&["3", "z"]));
    assert_eq!(ok(con, &["LRANGE", "queue", "4", "2"]), R::Array(Vec::new()));
    assert_eq!(ok(con, &["LLEN", "queue"]), R::Int(6));
    assert_eq!(ok(con, &["LINDEX", "queue", "-1"]), bulk("z"));
    assert_eq!(ok(con, &["LINDEX", "queue", "99"]), R::Nil);
    assert_eq!(ok(con, &["LPOP", "queue"]), bulk("y"));
    assert_eq!(ok(con, &["RPOP", "queue", "2"]), bulks(&["z", "3"]));
    assert_eq!(ok(con, &["LPOP", "queue", "10"]), bulks(&["x", "a", "b"]));
    assert_eq!(ok(con, &["EXISTS", "queue"]), R::Int(0));
    assert_eq!(ok(con, &["LPOP", "queue"]), R::Nil);
    assert_eq!(ok(con, &["LPOP", "queue", "2"]), R::Nil);

    assert_eq!(ok(con, &["SADD", "tags", "b", "a", "b"]), R::Int(2));
    assert_eq!(ok(con, &["SMEMBERS", "tags"]), bulks(&["a", "b"]));
    assert_eq!(ok(con, &["SISMEMBER", "tags", "a"]), R::Int(1));
    assert_eq!(ok(con, &["SCARD", "tags"]), R::Int(2));
    assert_eq!(ok(con, &["SREM", "tags", "a", "q"]), R::Int(1));
    assert_eq!(ok(con, &["SMEMBERS", "nope"]), R::Array(Vec::new()));

    let wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for words in [
        &["GET", "tags"][..],
        &["HGET", "user:1", "f"],
        &["LPUSH", "user:1", "x"],
        &["SADD", "user:1", "x"],
        &["LRANGE", "tags", "0", "1"],
        &["APPEND", "tags", "x"],
        &["SET", "tags", "x", "GET"],
    ] {
        fails(con, words, wrong);
    }
    assert_eq!(ok(con, &["GET", "user:1"]), bulk("alice"), "a refused command changes nothing");
}

#[test]
fn server_and_connection_commands() {
    let mock = Running::seeded();
    let con = &mut mock.client("");
    assert_eq!(ok(con, &["PING"]), R::SimpleString("PONG".into()));
    assert_eq!(ok(con, &["PING", "hi"]), bulk("hi"));
    assert_eq!(ok(con, &["ECHO", "hello"]), bulk("hello"));
    let R::BulkString(info) = ok(con, &["INFO", "server"]) else { panic!() };
    let info = String::from_utf8(info).unwrap();
    assert!(info.starts_with("# Server\r\nredis_version:7.") && !info.contains("# Keyspace"), "{info}");
    let R::BulkString(all) = ok(con, &["INFO"]) else { panic!() };
    assert!(String::from_utf8(all).unwrap().contains("db0:keys=7,expires=0"));
    assert_eq!(ok(con, &["AUTH", "anything"]), R::Okay, "no password configured: AUTH is accepted");
    assert_eq!(ok(con, &["CLIENT", "SETNAME", "tester"]), R::Okay);
    assert_eq!(ok(con, &["CLIENT", "GETNAME"]), bulk("tester"));
    fails(con, &["CLIENT", "SETNAME", "a b"], "Client names cannot contain spaces");
    assert_eq!(ok(con, &["CLIENT", "SETINFO", "LIB-NAME", "x"]), R::Okay);
    assert!(matches!(ok(con, &["CLIENT", "ID"]), R::Int(n) if n > 0));
    fails(con, &["CLIENT", "FROB"], "unknown subcommand 'FROB'");
    assert!(matches!(ok(con, &["COMMAND", "COUNT"]), R::Int(n) if n > 60));
    assert_eq!(ok(con, &["COMMAND", "DOCS"]), R::Array(Vec::new()));
    let R::Array(info) = ok(con, &["COMMAND", "INFO", "get", "nope"]) else { panic!() };
    assert_eq!(info[1], R::Nil);
    assert!(matches!(&info[0], R::Array(fields) if fields[0] == bulk("get") && fields[1] == R::Int(2)));
    assert!(matches!(ok(con, &["CONFIG", "GET", "save"]), R::Array(pair) if pair.len() == 2));
    fails(con, &["FROBNICATE", "a", "b"], "unknown command 'FROBNICATE', with args beginning with: 'a' 'b'");
    fails(con, &["GET"], "wrong number of arguments for 'get' command");
    fails(con, &["GET", "a", "b"], "wrong number of arguments for 'get' command");
    assert_eq!(ok(con, &["QUIT"]), R::Okay);
}

#[test]
fn a_configured_password_is_required() {
    let mock = Running::start(json!({"state": {"k": "v"}, "password": "s3cret"}));
    let con = &mut mock.client("");
    fails(con, &["GET", "k"], "NOAUTH Authentication required");
    fails(con, &["AUTH", "wrong"], "WRONGPASS");
    fails(con, &["HELLO", "3"], "NOAUTH");
    assert_eq!(ok(con, &["AUTH", "default", "s3cret"]), R::Okay);
    assert_eq!(ok(con, &["GET", "k"]), bulk("v"));
    // The crate authenticates from the URL (HELLO 3 AUTH with RESP3).
    let client = redis::Client::open(format!("redis://:s3cret@{}/?protocol=resp3", mock.address)).unwrap();
    let mut authed = client.get_connection_with_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(ok(&mut authed, &["GET", "k"]), bulk("v"));
}

#[test]
fn resp3_after_hello() {
    let mock = Running::seeded();
    let con = &mut mock.client("?protocol=resp3");
    assert_eq!(
        ok(con, &["HGETALL", "profile"]),
        R::Map(vec![(bulk("age"), bulk("41")), (bulk("name"), bulk("carol"))])
    );
    ok(con, &["SADD", "s", "x"]);
    assert_eq!(ok(con, &["SMEMBERS", "s"]), R::Set(vec![bulk("x")]));
    assert_eq!(ok(con, &["GET", "missing"]), R::Nil);
    assert!(matches!(ok(con, &["INFO", "server"]), R::VerbatimString { text, .. } if text.contains("redis_version")));
    let R::Map(hello) = ok(con, &["HELLO", "3"]) else { panic!("HELLO answers a map") };
    assert!(hello.contains(&(bulk("proto"), R::Int(3))) && hello.contains(&(bulk("server"), bulk("redis"))));
    fails(con, &["HELLO", "4"], "NOPROTO");

    // The bytes themselves, on a raw connection that switches protocol mid-way.
    let mut raw = raw(mock.address);
    let replies = exchange(&mut raw, b"GET missing\r\nHELLO 3\r\nGET missing\r\nHGETALL profile\r\nLPOP nope 2\r\n");
    let text = String::from_utf8_lossy(&replies);
    assert!(text.starts_with("$-1\r\n%7\r\n"), "{text}");
    assert!(text.ends_with("_\r\n%2\r\n$3\r\nage\r\n$2\r\n41\r\n$4\r\nname\r\n$5\r\ncarol\r\n_\r\n"), "{text}");
}

#[test]
fn pipelines_are_answered_in_order() {
    let mock = Running::seeded();
    let con = &mut mock.client("");
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("INCR").arg("p").cmd("GET").arg("p").cmd("SET").arg(format!("k{i}")).arg(i);
    }
    let replies: Vec<R> = pipe.query(con).unwrap();
    assert_eq!(replies.len(), 1500);
    for (i, chunk) in replies.chunks(3).enumerate() {
        assert_eq!(chunk[0], R::Int(i as i64 + 1));
        assert_eq!(chunk[1], bulk(&(i + 1).to_string()));
        assert_eq!(chunk[2], R::Okay);
    }
    // Many commands in one write, mixed framings, answered in one go and in order.
    let mut raw = raw(mock.address);
    let replies = exchange(
        &mut raw,
        b"*2\r\n$3\r\nGET\r\n$6\r\nuser:1\r\nPING\r\n\r\n*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$1\r\n1\r\nGET q\r\n",
    );
    assert_eq!(String::from_utf8_lossy(&replies), "$5\r\nalice\r\n+PONG\r\n+OK\r\n$1\r\n1\r\n");
}

#[test]
fn every_command_is_one_event() {
    let mock = Running::seeded();
    let con = &mut mock.client("");
    let before = mock.events("mock_request").len();
    ok(con, &["GET", "user:1"]);
    ok(con, &["PING"]);
    let _ = run(con, &["NOPE", "x"]);
    let events = mock.events("mock_request");
    let last: Vec<_> = events[before..].iter().map(|e| (e.service.clone(), e.fields.clone())).collect();
    let fields = |command: &str, key: Value| {
        (
            "cache".to_owned(),
            [("command", json!(command)), ("interface", json!("main")), ("key", key)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    };
    assert_eq!(last, vec![fields("GET", json!("user:1")), fields("PING", Value::Null), fields("NOPE", Value::Null)]);
}

#[test]
fn garbage_and_half_commands_close_only_their_connection() {
    let mock = Running::seeded();
    let con = &mut mock.client("");
    ok(con, &["SET", "still", "here"]);
    for garbage in [
        &b"*abc\r\n"[..],
        b"*1\r\n$999999999999\r\n",
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        b"\x00\x01\x02\xff\r\n",
        b"POST / HTTP/1.1\r\n",
        b"PING \"unbalanced\r\n",
    ] {
        let mut socket = raw(mock.address);
        socket.write_all(garbage).unwrap();
        let answer = read_to_close(&mut socket);
        assert!(
            String::from_utf8_lossy(&answer).starts_with("-ERR Protocol error: "),
            "{:?} answered {:?}",
            String::from_utf8_lossy(garbage),
            String::from_utf8_lossy(&answer)
        );
        assert_eq!(ok(con, &["GET", "still"]), bulk("here"), "other connections are served");
    }
    // A command cut off by the peer closing.
    let mut half = raw(mock.address);
    half.write_all(b"*2\r\n$3\r\nGET\r\n$10\r\nuser").unwrap();
    half.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(read_to_close(&mut half).is_empty());
    let deadline = Instant::now() + Duration::from_secs(5);
    while mock.events("mock_error").len() < 7 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let errors = mock.events("mock_error");
    assert_eq!(errors.len(), 7, "one event per bad connection: {errors:?}");
    assert!(errors.iter().all(|e| e.fields["interface"] == "main" && e.fields["error"].is_string()));
    assert!(errors[6].fields["error"].as_str().unwrap().contains("middle of a command"));
    assert_eq!(ok(con, &["GET", "still"]), bulk("here"));
    // An inline command over Redis's 64 KiB limit is refused.
    let mut long = raw(mock.address);
    // Exactly one byte over, so the mock has read everything sent when it closes.
    long.write_all(&vec![b'a'; (64 << 10) + 1]).unwrap();
    assert!(String::from_utf8_lossy(&read_to_close(&mut long)).contains("too big inline request"));
}

#[test]
fn a_state_redis_cannot_hold_is_refused_naming_the_key() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (state, words) in [
        (json!({"state": {"bad": null}}), ["`bad`", "None"]),
        (json!({"state": {"nested": [[1]]}}), ["`nested`", "a list"]),
        (json!({"state": {"h": {"f": {"g": 1}}}}), ["`h`", "a dict"]),
    ] {
        let error = runtime
            .block_on(mock::serve(&service(state), Arc::new(NoHandler), EventLog::default(), None))
            .expect_err("refused");
        let text = error.to_string();
        assert!(words.iter().all(|w| text.contains(w)) && text.contains("cache"), "{text}");
    }
}

fn raw(address: SocketAddr) -> TcpStream {
    let socket = TcpStream::connect(address).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    socket
}

/// Writes `request` in one write and reads until the mock has been quiet for a moment.
fn exchange(socket: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    socket.write_all(request).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut got = Vec::new();
    let mut chunk = [0; 4096];
    while let Ok(n) = socket.read(&mut chunk) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
    }
    got
}

fn read_to_close(socket: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    socket.read_to_end(&mut got).expect("the mock closes the connection");
    got
}

fn redis_cli() -> Option<PathBuf> {
    let found = Command::new("redis-cli").arg("--version").output().is_ok_and(|o| o.status.success());
    found.then(|| PathBuf::from("redis-cli"))
}

fn cli(mock: &Running, args: &[&str], stdin: Option<&str>) -> String {
    let port = mock.address.port().to_string();
    let mut command = Command::new("timeout");
    command.args(["20", "redis-cli", "-h", "127.0.0.1", "-p", &port]).args(args);
    command.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    drop(input);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "redis-cli {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn redis_cli_drives_the_mock() {
    if redis_cli().is_none() {
        eprintln!("SKIP: redis-cli is not installed (tests/deps/redis-tools.sh installs redis-tools)");
        return;
    }
    let mock = Running::seeded();
    assert_eq!(cli(&mock, &["GET", "user:1"], None), "alice\n");
    assert_eq!(cli(&mock, &["SET", "cli", "yes", "EX", "100"], None), "OK\n");
    assert_eq!(cli(&mock, &["GET", "cli"], None), "yes\n");
    assert_eq!(cli(&mock, &["INCR", "counter:hits"], None), "1\n");
    assert_eq!(cli(&mock, &["HGETALL", "profile"], None), "age\n41\nname\ncarol\n");
    // A RESP3 map prints a pair per line.
    assert_eq!(cli(&mock, &["-3", "HGETALL", "profile"], None), "age 41\nname carol\n");
    assert_eq!(
        cli(&mock, &["-3", "--no-raw", "HGETALL", "profile"], None),
        "1# \"age\" => \"41\"\n2# \"name\" => \"carol\"\n"
    );
    assert_eq!(cli(&mock, &["--no-raw", "GET", "missing"], None), "(nil)\n");
    assert!(cli(&mock, &["INFO", "server"], None).contains("redis_version:7.2.4"));
    assert!(cli(&mock, &["NOPE"], None).starts_with("ERR unknown command 'NOPE'"));
    assert_eq!(cli(&mock, &["-n", "2", "DBSIZE"], None), "0\n");
    // Commands on stdin, one per line, all over one connection.
    let piped = cli(&mock, &[], Some("SET a 1\nINCRBY a 41\nLPUSH l x y\nLRANGE l 0 -1\nTTL cli\n"));
    let lines: Vec<&str> = piped.lines().collect();
    assert_eq!(&lines[..5], &["OK", "42", "2", "y", "x"], "{piped}");
    assert!(lines[5].parse::<i64>().is_ok_and(|ttl| (90..=100).contains(&ttl)), "{piped}");
    // The mass-insertion mode counts the replies to RESP it pipes.
    let mass = "*3\r\n$3\r\nSET\r\n$2\r\nm1\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$2\r\nm2\r\n$1\r\n2\r\n";
    let report = cli(&mock, &["--pipe"], Some(mass));
    assert!(report.contains("errors: 0, replies: 2"), "{report}");
    assert_eq!(cli(&mock, &["MGET", "m1", "m2"], None), "1\n2\n");
}

/// `ospecc run` on a spec whose mock is seeded through `config={"state": ...}`, as Faultbox's
/// `redis.server(state=...)` is: every test reads the seeded state through the redis steps.
#[test]
fn a_spec_with_a_seeded_redis_mock_runs_end_to_end() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("redis_seeded.star");
    std::fs::write(&spec, SPEC).unwrap();
    let binary = ospecc_binary(&root);
    let output = Command::new("timeout")
        .arg("240")
        .arg(&binary)
        .args(["run", spec.to_str().unwrap(), "--format", "json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    let results = report["results"].as_array().expect("results");
    let names: Vec<&str> = results.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(results.len(), 4, "{names:?}");
    for result in results {
        assert_eq!(result["outcome"], "passed", "{result}");
    }
    assert!(output.status.success(), "{output:?}");
}

const SPEC: &str = r#"
cache = mock_service("cache",
    interface("main", "redis", 21001),
    config = {"state": {
        "user:1": "alice",
        "user:2": "bob",
        "counter:hits": "0",
        "queue": ["a", "b"],
    }},
)

def test_get_seeded_string():
    resp = cache.main.get(key = "user:1")
    assert_true(resp.ok, "GET answered")
    assert_eq(resp.data["value"], "alice")

def test_get_second_seeded_string():
    resp = cache.main.get(key = "user:2")
    assert_true("bob" in resp.body, "expected seeded value 'bob' for user:2")

def test_counter_counts_from_the_seed():
    assert_eq(cache.main.incr(key = "counter:hits").data["value"], 1)
    assert_eq(cache.main.incr(key = "counter:hits").data["value"], 2)
    assert_eq(cache.main.get(key = "counter:hits").data["value"], "2")

def test_list_and_commands():
    assert_eq(cache.main.lrange(key = "queue").data["value"], ["a", "b"])
    assert_eq(cache.main.command(cmd = "hset", args = ["h", "f", "v"]).data["value"], 1)
    assert_eq(cache.main.command(cmd = "hget", args = ["h", "f"]).data["value"], "v")
"#;

/// The `ospecc` binary of this build (`target/<profile>/ospecc`, beside the test's `deps/`),
/// brought up to date by cargo first (the root package's binary is not this crate's).
fn ospecc_binary(root: &std::path::Path) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().and_then(|deps| deps.parent()).unwrap().join("ospecc");
    let status = Command::new("timeout")
        .arg("900")
        .arg(env!("CARGO"))
        .args(["build", "-q", "--bin", "ospecc", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .status()
        .unwrap();
    assert!(status.success(), "building ospecc");
    assert!(binary.exists(), "no binary at {}", binary.display());
    binary
}

/// The same commands through `redis-cli` against a real `redis-server` and against the mock
/// print the same output (replies and error texts alike). Sets hold one member when listed:
/// Redis orders larger ones by hash.
#[test]
fn the_mock_answers_like_redis_server() {
    if redis_cli().is_none() || Command::new("redis-server").arg("--version").output().is_err() {
        eprintln!("SKIP: redis-cli or redis-server is not installed (tests/deps/redis-tools.sh installs them)");
        return;
    }
    let port = "21010";
    let _server = KillOnDrop(
        Command::new("redis-server")
            .args(["--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let real = |script: &str| {
        let mut child = Command::new("timeout")
            .args(["20", "redis-cli", "-h", "127.0.0.1", "-p", port])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while real("PING\n") != "PONG\n" {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mock = Running::start(Value::Null);
    let expected = real(DIFFERENTIAL);
    let got = cli(&mock, &[], Some(DIFFERENTIAL));
    let (expected, got): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    assert!(expected.len() > 90, "redis-server answered every command: {expected:?}");
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(e, g, "line {i} of the output differs");
    }
    assert_eq!(expected.len(), got.len());
}

/// A child process killed when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const DIFFERENTIAL: &str = "FLUSHALL
SET a 1
GET a
SET a 2 NX
SET a 3 XX GET
INCR a
INCRBY a 10
DECR a
DECRBY a 5
INCRBYFLOAT f 1.5
INCRBYFLOAT f 0.1
INCR f
APPEND s hello
APPEND s \" world\"
GET s
STRLEN s
MSET m1 x m2 y
MGET m1 m2 nope
GETSET m1 z
GETDEL m2
GETDEL m2
SETNX m1 q
EXISTS a s nope a
TYPE a
RENAME m1 m3
RENAME nope x
HSET h a 1 b 2
HGET h a
HMGET h a zz
HINCRBY h a 5
HINCRBY h b x
HINCRBY h b 1
HGETALL h
HKEYS h
HVALS h
HLEN h
HEXISTS h zz
HDEL h a b
EXISTS h
RPUSH l a b c
LPUSH l z
LRANGE l 0 -1
LRANGE l -2 -1
LRANGE l 5 1
LINDEX l 1
LINDEX l -9
LLEN l
LPOP l
RPOP l 2
RPOP nope 2
SADD st a b c a
SISMEMBER st b
SCARD st
SREM st b x
SREM st c
SMEMBERS st
GET l
LPUSH a x
HGET a x
SADD a x
EXPIRE a 100
TTL a
PERSIST a
TTL a
TTL nope
PTTL a
EXPIRE a 100 XX
EXPIRE nope 100
SELECT 2
DBSIZE
SET in2 v
SELECT 0
EXISTS in2
SELECT 99
SELECT x
DEL a s nope
SET k v EX 0
SET k v PX
SET k v NX XX
SETEX k -5 v
FOO bar baz
GET
GET a b
HSET h a
MSET a
PING
PING hi
ECHO hey
TYPE st
TYPE nope
DBSIZE
FLUSHDB
DBSIZE
SELECT 2
DBSIZE
FLUSHALL
DBSIZE
";
