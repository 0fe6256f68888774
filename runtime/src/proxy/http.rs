//! The HTTP plugin: a hyper server per consumer connection (HTTP/1.1, or h2c with prior
//! knowledge), forwarding over one hyper HTTP/1.1 client connection to the upstream per
//! consumer connection (dialled on the first request that needs it, redialled when the
//! upstream closed it). `http2` interfaces are served the same way.
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
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use ospecc_schema::plan::topology::ProxyAction;
use serde_json::Value;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

use super::{Ctx, Fired, Gated};

type Body = BoxBody<Bytes, hyper::Error>;

/// The state of one consumer connection.
struct Conn {
    ctx: Arc<Ctx>,
    /// hyper serves an HTTP/1 connection's requests one at a time, so the lock is uncontended
    /// (an h2c connection's concurrent requests take turns on the one upstream connection).
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
    // HTTP/1.1, or h2c with prior knowledge (what `http2` steps and clients speak).
    let builder = auto::Builder::new(TokioExecutor::new());
    let serving = builder.serve_connection(TokioIo::new(client), service);
    tokio::select! {
        served = serving => {
            // hyper has answered 400 to garbage already; a consumer that hangs up in the middle
            // of a request is bad input too. Closes between requests are not errors.
            if let Some(error) = served.as_ref().err().and_then(|e| e.downcast_ref::<hyper::Error>()) {
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
        let request = http1_form(request.map(BodyExt::boxed));
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

/// A request as the HTTP/1.1 upstream connection sends it: an h2c request's absolute URI and
/// `:authority` become the path and a Host header.
fn http1_form(mut request: Request<Body>) -> Request<Body> {
    if request.version() == hyper::Version::HTTP_2 {
        *request.version_mut() = hyper::Version::HTTP_11;
        if let Some(authority) = request.uri().authority().map(|a| a.as_str().to_owned()) {
            if let Ok(host) = hyper::header::HeaderValue::from_str(&authority) {
                request.headers_mut().entry(hyper::header::HOST).or_insert(host);
            }
        }
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        if let Ok(uri) = path.parse() {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// A local response.
fn respond(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
}
