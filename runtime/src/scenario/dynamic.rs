//! `dynamic(fn)` mock routes: the function of the bundle is called with the request (a dict
//! of `method`, `path`, `query`, `headers`, `body`) and its answer (`json_response(...)`,
//! `text_response(...)`, `status_only(...)`, `redirect(...)`, and for gRPC mocks `grpc_response`,
//! `grpc_typed_response`, `grpc_raw_response`, `grpc_error`) becomes the reply.
//!
//! The request has Faultbox's shape: `query` is a dict of the decoded query parameters and
//! `headers` a dict keyed by canonical header names (`Content-Type`), each with its first
//! value, as Go's `net/http` gives them; `body` is the body as text (a gRPC mock's message
//! decoded to a dict).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ospecc_compiler::topology::run::{Args, CallLimits, Loaded, Runner};
use ospecc_compiler::topology::{Arg, Recorded};
use ospecc_schema::plan::Plan;
use ospecc_schema::topology::Builtin;
use starlark::eval::Evaluator;
use starlark::values::Value;

use crate::events::EventLog;
use crate::mock::{DynamicHandler, MockReply, MockRequest};

/// How long a dynamic handler may take.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(10);

/// Dynamic mock routes answered by the bundle's functions.
pub struct StarlarkMocks {
    loaded: Arc<Loaded>,
    events: EventLog,
}

impl StarlarkMocks {
    pub fn new(_plan: &Plan, loaded: Arc<Loaded>, events: EventLog) -> StarlarkMocks {
        StarlarkMocks { loaded, events }
    }
}

/// A handler may build responses but run no steps or assertions.
struct NoSteps;

impl Runner for NoSteps {
    fn builtin<'v>(
        &self,
        _: &'static Builtin,
        _: &Args<'v>,
        _: &mut Evaluator<'v, '_, '_>,
    ) -> Option<anyhow::Result<Value<'v>>> {
        None
    }

    fn step<'v>(
        &self,
        _: &Recorded,
        method: &str,
        _: &Args<'v>,
        _: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        anyhow::bail!("a mock's dynamic handler cannot run steps (`{method}`)")
    }
}

impl DynamicHandler for StarlarkMocks {
    fn respond(&self, callable_id: &str, request: &MockRequest) -> MockReply {
        let limits = CallLimits { deadline: Instant::now() + HANDLER_TIMEOUT, max_call_depth: 100 };
        let answer = self.loaded.with_evaluator(&NoSteps, limits, |eval| {
            let function = self.loaded.callable(callable_id).ok_or_else(|| format!("no callable `{callable_id}`"))?;
            let req = request_dict(request);
            let req = eval.heap().alloc(req);
            let value = eval.eval_function(function.to_value(), &[req], &[]).map_err(|e| e.to_string())?;
            ospecc_compiler::topology::values::recorded_of(value).ok_or_else(|| {
                format!("the handler returned {}, not a response (json_response, text_response, ...)", value.get_type())
            })
        });
        match answer {
            Ok(record) => reply(&record),
            Err(why) => {
                self.events.push("mock", "mock_error", crate::events::fields([("message", why.clone().into())]));
                MockReply {
                    status: 500,
                    headers: vec![("content-type".into(), "text/plain".into())],
                    body: why.into_bytes(),
                }
            }
        }
    }
}

/// The request as a handler sees it (see the module doc).
fn request_dict(request: &MockRequest) -> serde_json::Value {
    serde_json::json!({
        "method": request.method,
        "path": request.path,
        "query": first_values(form_urlencoded::parse(request.query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))),
        "headers": first_values(request.headers.iter().map(|(name, value)| (canonical_header(name), value.clone()))),
        "body": body_value(request),
    })
}

/// Pairs as a dict where the first of repeated names wins.
fn first_values(pairs: impl Iterator<Item = (String, String)>) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    for (name, value) in pairs {
        map.entry(name).or_insert(serde_json::Value::String(value));
    }
    map
}

/// `content-type` → `Content-Type`: each dash-separated word capitalised, the rest lower case.
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The request body as the handler sees it: a gRPC mock passes the message decoded to JSON
/// (content-type `application/grpc`), which becomes a dict; any other body stays text.
fn body_value(request: &MockRequest) -> serde_json::Value {
    let grpc = request.headers.iter().any(|(n, v)| n == "content-type" && v.starts_with("application/grpc"));
    grpc.then(|| serde_json::from_str(&request.body).ok())
        .flatten()
        .unwrap_or_else(|| serde_json::Value::String(request.body.clone()))
}

/// A recorded mock response as an HTTP reply (gRPC replies in the form the gRPC mock reads:
/// JSON bodies, raw bytes marked by their content type, `grpc_error` as `grpc-status`).
fn reply(record: &Recorded) -> MockReply {
    let status = |default: u16| match record.named("status").or(record.positional.first()) {
        Some(Arg::Int(s)) => u16::try_from(*s).unwrap_or(default),
        _ => default,
    };
    let text = |key: &str| record.named(key).and_then(Arg::as_str).unwrap_or_default().to_owned();
    match record.builtin.as_str() {
        "json_response" => MockReply {
            status: status(200),
            headers: vec![("content-type".into(), "application/json".into())],
            body: record.named("body").map(Arg::to_json).unwrap_or(serde_json::Value::Null).to_string().into_bytes(),
        },
        "text_response" => MockReply {
            status: status(200),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: text("body").into_bytes(),
        },
        "status_only" => MockReply { status: status(200), headers: Vec::new(), body: Vec::new() },
        "redirect" => {
            let location = record.positional.first().or(record.named("location")).and_then(Arg::as_str).unwrap_or("/");
            let status = match record.named("status") {
                Some(Arg::Int(s)) => u16::try_from(*s).unwrap_or(302),
                _ => 302,
            };
            MockReply { status, headers: vec![("location".into(), location.to_owned())], body: Vec::new() }
        }
        "bytes_response" => MockReply { status: status(200), headers: Vec::new(), body: text("data").into_bytes() },
        "grpc_response" | "grpc_typed_response" => MockReply {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: record.named("body").map(Arg::to_json).unwrap_or(serde_json::json!({})).to_string().into_bytes(),
        },
        "grpc_raw_response" => MockReply {
            status: 200,
            headers: vec![("content-type".into(), crate::mock::grpc::RAW_CONTENT_TYPE.into())],
            body: record.named("body").or(record.positional.first()).and_then(Arg::as_str).unwrap_or_default().into(),
        },
        "grpc_error" => {
            let code = match record.named("code").or(record.positional.first()) {
                Some(Arg::Int(n)) => n.to_string(),
                Some(Arg::Str(name)) => name.clone(),
                _ => "UNKNOWN".into(),
            };
            let message =
                record.named("message").or(record.positional.get(1)).and_then(Arg::as_str).unwrap_or_default();
            let headers = vec![("grpc-status".into(), code), ("grpc-message".into(), message.to_owned())];
            MockReply { status: 200, headers, body: Vec::new() }
        }
        other => MockReply {
            status: 501,
            headers: Vec::new(),
            body: format!("`{other}` replies are not supported").into_bytes(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_has_faultbox_shape() {
        let request = MockRequest {
            method: "POST".into(),
            path: "/echo".into(),
            query: "msg=hello%20world&msg=second&empty=&plus=a+b".into(),
            headers: vec![("content-type".into(), "text/plain".into()), ("x-req-id".into(), "7".into())],
            body: "{}".into(),
        };
        let dict = request_dict(&request);
        assert_eq!(dict["query"], serde_json::json!({"msg": "hello world", "empty": "", "plus": "a b"}));
        assert_eq!(dict["headers"], serde_json::json!({"Content-Type": "text/plain", "X-Req-Id": "7"}));
        assert_eq!(dict["method"], "POST");
        assert_eq!(dict["body"], "{}");
    }
}
