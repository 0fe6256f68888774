//! Step methods (`api.http.post(path=...)`, `db.pg.query(sql=...)`, `cache.redis.get(key=...)`,
//! `svc.tcp.send(data=...)`): each protocol's client, run on the test's thread with blocking
//! IO bounded by the test's remaining time. Every step is a `step` event in the log, and its
//! result is a [`response::Response`] (a failed step is `ok=False`, not an exception, as in
//! Faultbox), except `tcp.send`, which returns the first reply line and raises on failure.

pub mod grpc;
pub mod http;
pub mod kafka;
pub mod mongodb;
pub mod postgres;
pub mod redis;
pub mod response;
pub mod tcp;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use ospecc_schema::plan::topology::Service;
use starlark::values::Value;

use ospecc_compiler::topology::run::Args;

/// Where a step goes and what it knows about the service it calls.
pub struct Target<'a> {
    pub service: &'a Service,
    pub interface: &'a str,
    pub protocol: &'a str,
    pub address: SocketAddr,
    /// Time left before the test's deadline (each client's timeout).
    pub timeout: Duration,
}

impl Target<'_> {
    /// A variable of the target service's `env` (credentials default from it).
    pub fn env(&self, name: &str) -> Option<String> {
        self.service.env.iter().find(|v| v.name == name).map(|v| v.rendered.clone())
    }
}

/// A string keyword argument.
pub fn text_arg(args: &Args, name: &str) -> Option<String> {
    args.named(name).and_then(|v| v.unpack_str().map(str::to_owned))
}

/// A dict keyword argument of strings (`headers=`).
pub fn string_map(args: &Args, name: &str) -> BTreeMap<String, String> {
    let Some(value) = args.named(name) else { return BTreeMap::new() };
    let Some(dict) = starlark::values::dict::DictRef::from_value(value) else { return BTreeMap::new() };
    dict.iter().map(|(k, v)| (k.to_str(), v.unpack_str().map_or_else(|| v.to_str(), str::to_owned))).collect()
}

/// Any value as text (`value=` of redis set, `args=` items).
pub fn as_text(value: Value) -> String {
    value.unpack_str().map_or_else(|| value.to_str(), str::to_owned)
}
