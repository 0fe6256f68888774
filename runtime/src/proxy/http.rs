//! The HTTP plugin: a hyper HTTP/1.1 server per consumer connection, forwarding over one hyper
//! client connection to the upstream per consumer connection (dialled on the first request
//! that needs it, redialled when the upstream closed it). `http2` interfaces are served the
//! same way, as HTTP/1.1 (prior-knowledge h2 clients are not supported).
//!
//! Requests are forwarded unchanged (streamed bodies, the Host header as sent). Rules match
//! `method`, `path` (without the query) and `query` (the raw query string):
//! * `respond(status=200, body="")` answers without contacting the upstream;
//! * `error(status=500, message)` answers the status with the message (default
//!   `injected fault`) as body;
//! * `delay(ms)` sleeps, then forwards;
//! * `drop` closes the consumer's connection without a response;
//! * `duplicate` forwards the request twice (body buffered) and returns the second response.
//!
//! An unreachable upstream answers 502 and pushes `proxy_error`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1 as client;
use hyper::server::conn::http1 as server;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ospecc_schema::plan::topology::ProxyAction;
use serde_json::Value;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

use super::{Ctx, Fired, Gated};

type Body = BoxBody<Bytes, hyper::Error>;

/// The state of one consumer connection.
struct Conn {
    ctx: Arc<Ctx>,
    /// hyper serves an HTTP/1 connection's requests one at a time, so the lock is uncontended;
    /// it only makes the slot shareable with the service closure.
    upstream: Mutex<Option<Upstream>>,
    /// Signalled by a `drop` rule: the consumer's connection closes without a response.
    dropped: Notify,
}

/// A client connection to the upstream; its driver task ends with it.
struct Upstream {
    sender: client::SendRequest<Body>,
    _driver: AbortOnDrop,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) async fn serve(ctx: Arc<Ctx>, client: Gated) {
    let conn = Arc::new(Conn { ctx, upstream: Mutex::new(None), dropped: Notify::new() });
    let service = {
        let conn = conn.clone();
        service_fn(move |request| {
            let conn = conn.clone();
            async move { conn.handle(request).await }
        })
    };
    let serving = server::Builder::new().serve_connection(TokioIo::new(client), service);
    tokio::select! {
        served = serving => {
            // hyper has answered 400 to garbage already; a consumer that hangs up in the middle
            // of a request is bad input too. Closes between requests are not errors.
            if let Err(error) = served.as_ref() {
                if error.is_parse() || error.is_parse_too_large() || error.is_incomplete_message() {
                    conn.ctx.error(format!("a bad HTTP request: {error}"));
                }
            }
        }
        _ = conn.dropped.notified() => {}
    }
}

impl Conn {
    async fn handle(&self, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let fired = {
            let uri = request.uri();
            let message =
                [("method", request.method().as_str()), ("path", uri.path()), ("query", uri.query().unwrap_or(""))];
            self.ctx.first_firing(&message)
        };
        let request = request.map(BodyExt::boxed);
        let Some(active) = fired else { return Ok(self.forward(request).await) };
        Ok(self.act(active, request).await)
    }

    async fn act(&self, active: Fired, request: Request<Body>) -> Response<Body> {
        let mut data: Vec<(&str, Value)> =
            vec![("method", request.method().as_str().into()), ("path", request.uri().path().into())];
        let local = |status: Option<u16>, default: StatusCode, body: String, data: &mut Vec<(&str, Value)>| {
            let status = status.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(default);
            data.push(("status", status.as_u16().into()));
            respond(status, body)
        };
        match &active.rule.action {
            ProxyAction::Respond { status, body } => {
                let response = local(*status, StatusCode::OK, body.clone().unwrap_or_default(), &mut data);
                self.ctx.fired(&active, data);
                response
            }
            ProxyAction::Error { status, message } => {
                let body = message.clone().unwrap_or_else(|| "injected fault".into());
                let response = local(*status, StatusCode::INTERNAL_SERVER_ERROR, body, &mut data);
                self.ctx.fired(&active, data);
                response
            }
            ProxyAction::Delay { ms } => {
                self.ctx.fired(&active, data);
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                self.forward(request).await
            }
            ProxyAction::Drop => {
                self.ctx.fired(&active, data);
                self.dropped.notify_one();
                // Never answer: the connection task drops this request with the connection.
                std::future::pending().await
            }
            ProxyAction::Duplicate => {
                self.ctx.fired(&active, data);
                self.duplicate(request).await
            }
        }
    }

    /// Forwards the request twice (its body buffered) and answers the second response.
    async fn duplicate(&self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => return respond(StatusCode::BAD_REQUEST, format!("ospecc proxy: reading the request body: {e}")),
        };
        let copy = |body: Bytes| {
            let mut request = Request::new(Full::new(body).map_err(|never| match never {}).boxed());
            *request.method_mut() = parts.method.clone();
            *request.uri_mut() = parts.uri.clone();
            *request.version_mut() = parts.version;
            *request.headers_mut() = parts.headers.clone();
            request
        };
        let first = self.forward(copy(body.clone())).await;
        // The first response is read to its end (its connection is reused for the second).
        let _ = first.into_body().collect().await;
        self.forward(copy(body)).await
    }

    async fn forward(&self, request: Request<Body>) -> Response<Body> {
        let mut slot = self.upstream.lock().await;
        match self.send(&mut slot, request).await {
            Ok(response) => response.map(BodyExt::boxed),
            Err(error) => respond(StatusCode::BAD_GATEWAY, format!("ospecc proxy: {error}")),
        }
    }

    async fn send(&self, slot: &mut Option<Upstream>, request: Request<Body>) -> Result<Response<Incoming>, String> {
        if slot.as_ref().is_none_or(|upstream| upstream.sender.is_closed()) {
            *slot = Some(self.dial().await?);
        }
        let Some(upstream) = slot.as_mut() else { return Err("no upstream connection".into()) };
        let sent = async {
            upstream.sender.ready().await?;
            upstream.sender.send_request(request).await
        };
        sent.await.map_err(|e| {
            *slot = None;
            let error = format!("upstream {}: {e}", self.ctx.edge.upstream);
            self.ctx.error(&error);
            error
        })
    }

    async fn dial(&self) -> Result<Upstream, String> {
        let stream = self.ctx.connect_upstream().await.map_err(|e| e.to_string())?;
        let (sender, connection) = client::handshake(TokioIo::new(stream)).await.map_err(|e| {
            let error = format!("upstream {}: {e}", self.ctx.edge.upstream);
            self.ctx.error(&error);
            error
        })?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Upstream { sender, _driver: AbortOnDrop(driver) })
    }
}

/// A local response.
fn respond(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
}
