//! Redis steps: `get`, `set`, `del`, `ping`, `keys`, `lpush`, `rpush`, `lrange`, `incr`, and
//! `command(cmd=, args=[...])`, with Faultbox's result shape: `status` 0, `body` the JSON
//! `{"value": <reply>}` and `data` that object, so `cache.main.get(key="k").data["value"]` is
//! the value and `len(cache.redis.keys(pattern="user:*").data["value"])` counts keys. A server
//! error is `ok=False` with `error` = `redis error: <the error line>`. Credentials default from
//! the service's env (`REDIS_USER`, `REDIS_PASSWORD`).

use std::time::Instant;

use super::response::Response;
use super::{as_text, text_arg, Target};
use ospecc_compiler::topology::run::Args;

/// A keyword argument that becomes a command argument, with its default (`None`: required).
type Param = (&'static str, Option<&'static str>);

/// Each method: the command and the keyword arguments that become its arguments, in order.
const METHODS: &[(&str, &str, &[Param])] = &[
    ("get", "GET", &[("key", None)]),
    ("set", "SET", &[("key", None), ("value", None)]),
    ("del", "DEL", &[("key", None)]),
    ("ping", "PING", &[]),
    ("keys", "KEYS", &[("pattern", Some("*"))]),
    ("lpush", "LPUSH", &[("key", None), ("value", None)]),
    ("rpush", "RPUSH", &[("key", None), ("value", None)]),
    ("lrange", "LRANGE", &[("key", None), ("start", Some("0")), ("stop", Some("-1"))]),
    ("incr", "INCR", &[("key", None)]),
];

pub fn call(target: &Target, method: &str, args: &Args) -> Option<Response> {
    let started = Instant::now();
    let ms = || started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    let command = match build(method, args)? {
        Ok(command) => command,
        Err(missing) => return Some(Response::failed(format!("`{method}` needs `{missing}=`"), 0)),
    };
    let reply = connect(target, args).and_then(|mut connection| command.query::<redis::Value>(&mut connection));
    Some(match reply {
        Ok(value) => Response::data(serde_json::json!({ "value": json(value) }), ms()),
        Err(e) => Response::failed(describe(&e), ms()),
    })
}

/// The command for a method, or the name of a missing argument; `None` for an unknown method.
fn build(method: &str, args: &Args) -> Option<Result<redis::Cmd, &'static str>> {
    if method == "command" {
        let Some(name) = text_arg(args, "cmd") else { return Some(Err("cmd")) };
        let mut command = redis::cmd(&name.to_ascii_uppercase());
        if let Some(list) = args.named("args").and_then(starlark::values::list::ListRef::from_value) {
            for item in list.iter() {
                command.arg(as_text(item));
            }
        }
        return Some(Ok(command));
    }
    let (_, name, params) = METHODS.iter().find(|(m, _, _)| *m == method)?;
    let mut command = redis::cmd(name);
    for (param, default) in params.iter() {
        match args.named(param).map(as_text).or_else(|| default.map(str::to_owned)) {
            Some(value) => command.arg(value),
            None => return Some(Err(param)),
        };
    }
    Some(Ok(command))
}

fn connect(target: &Target, args: &Args) -> redis::RedisResult<redis::Connection> {
    let user = text_arg(args, "user").or_else(|| target.env("REDIS_USER"));
    let password = text_arg(args, "password").or_else(|| target.env("REDIS_PASSWORD"));
    let client = redis::Client::open(format!("redis://{}/", target.address))?;
    let mut connection = client.get_connection_with_timeout(target.timeout)?;
    connection.set_read_timeout(Some(target.timeout))?;
    connection.set_write_timeout(Some(target.timeout))?;
    // AUTH as its own command: credentials never go through a URL (no escaping to get wrong).
    if let Some(password) = password {
        let mut auth = redis::cmd("AUTH");
        if let Some(user) = user {
            auth.arg(user);
        }
        auth.arg(password).query::<()>(&mut connection)?;
    }
    Ok(connection)
}

/// A server's error reply as Faultbox words it (`redis error: OOM command not allowed ...`);
/// other failures (refused, timed out) as the client says them.
fn describe(error: &redis::RedisError) -> String {
    match (error.code(), error.detail()) {
        (Some(code), Some(detail)) => format!("redis error: {code} {detail}"),
        (Some(code), None) => format!("redis error: {code}"),
        _ => error.to_string(),
    }
}

/// A reply as JSON: bulk strings as text, arrays as lists, nil as null.
fn json(value: redis::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        redis::Value::Nil => Value::Null,
        redis::Value::Int(n) => Value::from(n),
        redis::Value::BulkString(bytes) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        redis::Value::SimpleString(s) => Value::String(s),
        redis::Value::Okay => Value::String("OK".into()),
        redis::Value::Array(items) | redis::Value::Set(items) => Value::Array(items.into_iter().map(json).collect()),
        redis::Value::Boolean(b) => Value::Bool(b),
        redis::Value::Double(d) => serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number),
        other => Value::String(format!("{other:?}")),
    }
}
