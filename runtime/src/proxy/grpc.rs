//! The gRPC plugin: an HTTP/2 (h2c, prior knowledge) server per consumer connection, forwarding
//! each call over one HTTP/2 client connection to the upstream per consumer connection (dialled
//! on the first call that needs it, redialled when the upstream closed it). Calls stream through
//! unchanged, trailers included.
//!
//! Rules match `method`, the call's path `/pkg.Service/Method` (a glob: `/pkg.Service/*`):
//! * `error(status=N, message=)` answers status N (1-16, else INTERNAL) with the message
//!   (default `injected fault`) without contacting the upstream;
//! * `respond(status=0, body=)` answers status `status` with `body` as the reply message (a
//!   JSON object as a `google.protobuf.Struct`, other text as its bytes);
//! * `delay(ms)` sleeps, then forwards;
//! * `drop` resets the call's stream (RST_STREAM), as a connection lost mid-call would end it;
//! * `duplicate` forwards the call twice (request buffered) and answers the second reply.
//!
//! An unreachable upstream answers UNAVAILABLE and pushes `proxy_error`; a consumer that does
//! not speak HTTP/2 pushes `proxy_error` and is closed.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http2 as client;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use ospecc_schema::plan::topology::ProxyAction;
use serde_json::Value;
use tokio::sync::Mutex;

use super::{Ctx, Fired, Gated};
use crate::mock::grpc::{codec, wire};

type Body = BoxBody<Bytes, hyper::Error>;

/// Why a call's stream is reset instead of answered (a `drop` rule).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dropped by a fault rule")
    }
}

impl std::error::Error for Dropped {}

/// The state of one consumer connection.
struct Conn {
    ctx: Arc<Ctx>,
    upstream: Mutex<Option<client::SendRequest<Body>>>,
}

pub(super) async fn serve(ctx: Arc<Ctx>, consumer: Gated) {
    let conn = Arc::new(Conn { ctx, upstream: Mutex::new(None) });
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |request| {
            let conn = conn.clone();
            async move { conn.handle(request).await }
        })
    };
    let served = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(consumer), service)
        .await;
    if let Err(error) = served {
        if !crate::mock::grpc::is_hang_up(&error) {
            conn.ctx.error(format!("a bad HTTP/2 (gRPC) connection: {error}"));
        }
    }
}

impl Conn {
    async fn handle(&self, request: Request<Incoming>) -> Result<Response<Body>, Dropped> {
        let method = request.uri().path().to_owned();
        let fired = self.ctx.first_firing(&[("method", method.as_str())]);
        let request = request.map(BodyExt::boxed);
        match fired {
            None => Ok(self.forward(request).await),
            Some(active) => self.act(active, &method, request).await,
        }
    }

    async fn act(&self, active: Fired, method: &str, request: Request<Body>) -> Result<Response<Body>, Dropped> {
        let mut data: Vec<(&str, Value)> = vec![("method", method.into())];
        match &active.rule.action {
            ProxyAction::Error { status, message } => {
                let code = status.map(u32::from).filter(|s| (1..=16).contains(s)).unwrap_or(wire::INTERNAL);
                let message = message.clone().unwrap_or_else(|| "injected fault".into());
                data.push(("code", code.into()));
                self.ctx.fired(&active, data);
                Ok(answer(code, &message, None))
            }
            ProxyAction::Respond { status, body } => {
                let code = status.map(u32::from).filter(|s| *s <= 16).unwrap_or(wire::OK);
                let message = reply_message(body.as_deref().unwrap_or_default());
                data.push(("code", code.into()));
                self.ctx.fired(&active, data);
                Ok(answer(code, "", Some(&message)))
            }
            ProxyAction::Delay { ms } => {
                self.ctx.fired(&active, data);
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                Ok(self.forward(request).await)
            }
            ProxyAction::Drop => {
                self.ctx.fired(&active, data);
                Err(Dropped)
            }
            ProxyAction::Duplicate => {
                self.ctx.fired(&active, data);
                Ok(self.duplicate(request).await)
            }
        }
    }

    /// Forwards the call twice (its request buffered) and answers the second reply.
    async fn duplicate(&self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => return answer(wire::INTERNAL, &format!("ospecc proxy: reading the request: {e}"), None),
        };
        let copy = |body: Bytes| {
            let mut request = Request::new(Full::new(body).map_err(|never| match never {}).boxed());
            *request.method_mut() = parts.method.clone();
            *request.uri_mut() = parts.uri.clone();
            *request.headers_mut() = parts.headers.clone();
            request
        };
        let first = self.forward(copy(body.clone())).await;
        let _ = first.into_body().collect().await;
        self.forward(copy(body)).await
    }

    async fn forward(&self, request: Request<Body>) -> Response<Body> {
        let sender = match self.sender().await {
            Ok(sender) => sender,
            Err(error) => return answer(wire::UNAVAILABLE, &format!("ospecc proxy: {error}"), None),
        };
        let mut sender = sender;
        match sender.send_request(request).await {
            Ok(response) => response.map(BodyExt::boxed),
            Err(e) => {
                *self.upstream.lock().await = None;
                let error = format!("upstream {}: {e}", self.ctx.edge.upstream);
                self.ctx.error(&error);
                answer(wire::UNAVAILABLE, &format!("ospecc proxy: {error}"), None)
            }
        }
    }

    /// The upstream connection, dialled when there is none or it closed.
    async fn sender(&self) -> Result<client::SendRequest<Body>, String> {
        let mut slot = self.upstream.lock().await;
        if let Some(sender) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        let stream = self.ctx.connect_upstream().await.map_err(|e| e.to_string())?;
        let (sender, connection) =
            client::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.map_err(|e| {
                let error = format!("upstream {}: {e}", self.ctx.edge.upstream);
                self.ctx.error(&error);
                error
            })?;
        // The connection's driver ends when either side closes it (or the proxy's runtime stops).
        tokio::spawn(async move {
            let _ = connection.await;
        });
        *slot = Some(sender.clone());
        Ok(sender)
    }
}

/// A `respond` rule's message: a JSON object as a Struct, other text as its bytes.
fn reply_message(body: &str) -> Vec<u8> {
    match serde_json::from_str::<Value>(body) {
        Ok(json) if json.is_object() => codec::encode_struct(&json).unwrap_or_else(|_| body.as_bytes().to_vec()),
        _ => body.as_bytes().to_vec(),
    }
}

/// A local reply: the message (if any), then the status trailers.
fn answer(code: u32, message: &str, reply: Option<&[u8]>) -> Response<Body> {
    let body = wire::UnaryBody::new(reply, code, message).map_err(|never| match never {}).boxed();
    let mut response = Response::new(body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}
