//! HTTP steps: `get`, `post`, `put`, `delete`, `patch` with `path`, `body`, `headers` (over
//! h2c with prior knowledge on `http2` interfaces). The body is kept up to 64 KiB (as Faultbox
//! does); a transport failure is `ok=False` with the error.

use std::time::Instant;

use reqwest::blocking::Client;
use reqwest::Method;

use super::response::Response;
use super::{string_map, text_arg, Target};
use ospecc_compiler::topology::run::Args;

/// The largest body a response keeps.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The methods and their HTTP verbs.
const METHODS: &[(&str, Method)] = &[
    ("get", Method::GET),
    ("post", Method::POST),
    ("put", Method::PUT),
    ("delete", Method::DELETE),
    ("patch", Method::PATCH),
];

/// Performs one request; `None` when `method` is not an HTTP step.
pub fn call(client: &Client, target: &Target, method: &str, args: &Args) -> Option<Response> {
    let verb = METHODS.iter().find(|(name, _)| *name == method).map(|(_, verb)| verb.clone())?;
    let path = text_arg(args, "path").unwrap_or_else(|| "/".to_owned());
    let path = if path.starts_with('/') { path } else { format!("/{path}") };
    let url = format!("http://{}{path}", target.address);
    // `http2` interfaces speak cleartext HTTP/2 with prior knowledge, as Faultbox's h2c client does.
    let h2c = if target.protocol == "http2" { h2c_client() } else { None };
    let client = h2c.as_ref().unwrap_or(client);
    let mut request = client.request(verb, &url).timeout(target.timeout);
    for (name, value) in string_map(args, "headers") {
        request = request.header(name, value);
    }
    if let Some(body) = text_arg(args, "body").filter(|b| !b.is_empty()) {
        let json = body.trim_start().starts_with(['{', '[']);
        if json && !string_map(args, "headers").keys().any(|k| k.eq_ignore_ascii_case("content-type")) {
            request = request.header("content-type", "application/json");
        }
        request = request.body(body);
    }
    let started = Instant::now();
    let ms = || started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    Some(match request.send() {
        Ok(response) => {
            let status = i32::from(response.status().as_u16());
            match response.bytes() {
                Ok(bytes) => {
                    let kept = &bytes[..bytes.len().min(MAX_BODY_BYTES)];
                    let body = String::from_utf8_lossy(kept).trim().to_owned();
                    Response::reply(status, body, true, ms())
                }
                Err(e) => Response { status, ..Response::failed(format!("reading the body: {e}"), ms()) },
            }
        }
        Err(e) => Response::failed(describe(&e), ms()),
    })
}

/// The h2c (prior knowledge) client of the calling thread's network namespace (a parallel job
/// has its own, and a client connects from the namespace it was built in); `None` if it cannot
/// be built.
fn h2c_client() -> Option<Client> {
    type Clients = std::sync::Mutex<std::collections::HashMap<Option<u64>, Client>>;
    static H2C: std::sync::OnceLock<Clients> = std::sync::OnceLock::new();
    let mut clients = H2C.get_or_init(Clients::default).lock().unwrap_or_else(|p| p.into_inner());
    let namespace = crate::jobs::namespaces::current();
    if let Some(client) = clients.get(&namespace) {
        return Some(client.clone());
    }
    let client = Client::builder().http2_prior_knowledge().build().ok()?;
    clients.insert(namespace, client.clone());
    Some(client)
}

/// A transport error in a sentence (reqwest's display nests its causes).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
