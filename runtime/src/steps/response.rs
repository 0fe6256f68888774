//! The value a step returns: `status`, `body`, `data` (the body decoded as JSON, else the raw
//! string), `ok`, `error`, `duration_ms`; its truthiness is `ok`.

use std::fmt;

use allocative::Allocative;
use starlark::starlark_simple_value;
use starlark::values::{
    starlark_value, Heap, NoSerialize, ProvidesStaticType, StarlarkPagablePanic, StarlarkValue, Value,
};

/// A step's outcome, as plain data until a test reads it.
#[derive(Debug, Clone, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub struct Response {
    pub status: i32,
    pub body: String,
    /// The decoded body (JSON), when it decodes.
    #[allocative(skip)]
    pub data: Option<serde_json::Value>,
    pub ok: bool,
    pub error: String,
    pub duration_ms: i32,
}
starlark_simple_value!(Response);

impl Response {
    /// A step that failed before any reply (connection refused, timeout).
    pub fn failed(error: String, duration_ms: i32) -> Response {
        Response { status: 0, body: String::new(), data: None, ok: false, error, duration_ms }
    }

    /// A reply: `body` as text, decoded as JSON when it is JSON.
    pub fn reply(status: i32, body: String, ok: bool, duration_ms: i32) -> Response {
        let data = serde_json::from_str(&body).ok();
        Response { status, body, data, ok, error: String::new(), duration_ms }
    }

    /// A reply whose data is already structured (rows, a Redis value).
    pub fn data(data: serde_json::Value, duration_ms: i32) -> Response {
        Response { status: 0, body: data.to_string(), data: Some(data), ok: true, error: String::new(), duration_ms }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ok {
            write!(f, "<response status={} {}ms>", self.status, self.duration_ms)
        } else {
            write!(f, "<response error={:?} {}ms>", self.error, self.duration_ms)
        }
    }
}

const ATTRIBUTES: &[&str] = &["status", "body", "data", "ok", "error", "duration_ms"];

#[starlark_value(type = "response")]
impl<'v> StarlarkValue<'v> for Response {
    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        Some(match attribute {
            "status" => heap.alloc(self.status),
            "body" => heap.alloc(self.body.as_str()),
            "data" => match &self.data {
                Some(data) => heap.alloc(data.clone()),
                None => heap.alloc(self.body.as_str()),
            },
            "ok" => Value::new_bool(self.ok),
            "error" => heap.alloc(self.error.as_str()),
            "duration_ms" => heap.alloc(self.duration_ms),
            _ => return None,
        })
    }

    fn has_attr(&self, attribute: &str, _heap: Heap<'v>) -> bool {
        ATTRIBUTES.contains(&attribute)
    }

    fn dir_attr(&self) -> Vec<String> {
        ATTRIBUTES.iter().map(|a| (*a).to_owned()).collect()
    }

    fn to_bool(&self) -> bool {
        self.ok
    }
}
