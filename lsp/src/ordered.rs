//! The ordering layer: a `tower::Service` around tower-lsp-server's service that applies
//! document-sync notifications (`didOpen`, `didChange`, `didClose`) the moment the transport
//! hands them over, and wraps every other message in panic isolation.
//!
//! Why: tower-lsp-server runs handlers as concurrent futures (up to four at once), so two
//! `didChange` handlers may run in either order (tower-lsp#284). The transport, however,
//! calls `Service::call` once per message, in the order they were read, on one task. Applying
//! the edit inside `call` — synchronously, under the documents' lock — makes the order of
//! edits the order of the wire, whatever the scheduling. The edit itself is cheap (a rope
//! splice); the analysis it triggers is queued to the scheduler.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{self, BoxFuture};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower::Service;
use tower_lsp_server::jsonrpc::{Request, Response};
use tower_lsp_server::ls_types::{
    DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams, MessageType,
};

use crate::documents::{ChangeError, Document};
use crate::panic::isolate;
use crate::scheduler::Event;
use crate::state::Shared;
use crate::workspace::path_of;

const DID_OPEN: &str = "textDocument/didOpen";
const DID_CHANGE: &str = "textDocument/didChange";
const DID_CLOSE: &str = "textDocument/didClose";

/// tower-lsp-server's service with in-order document sync and panic isolation.
pub struct Ordered<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Ordered<S> {
    pub fn new(inner: S, shared: Arc<Shared>) -> Ordered<S> {
        Ordered { inner, shared }
    }
}

impl<S> Service<Request> for Ordered<S>
where
    S: Service<Request, Response = Option<Response>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Option<Response>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Option<Response>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if matches!(request.method(), DID_OPEN | DID_CHANGE | DID_CLOSE) {
            let (method, _, params) = request.into_parts();
            // This runs in the transport's read loop: a panic here would end the session, so
            // it is contained like a handler's (the documents' map stays consistent).
            let applied = std::panic::catch_unwind(AssertUnwindSafe(|| sync(&self.shared, &method, params)));
            if let Err(panic) = applied {
                let message = crate::panic::message(panic.as_ref());
                self.shared.log(MessageType::ERROR, format!("internal error applying {method}: {message}"));
            }
            return Box::pin(future::ready(Ok(None)));
        }
        let id = request.id().cloned();
        Box::pin(isolate(self.inner.call(request), id))
    }
}

/// Applies one document-sync notification now, and queues its analysis.
fn sync(shared: &Shared, method: &str, params: Option<Value>) {
    let Some(session) = shared.session() else {
        // Before `initialize` (or after `shutdown`) notifications are dropped, as the spec says.
        return;
    };
    if shared.is_shut_down() {
        return;
    }
    let outcome = match method {
        DID_OPEN => parse::<DidOpenTextDocumentParams>(params).map(|p| open(shared, p)),
        DID_CHANGE => parse::<DidChangeTextDocumentParams>(params).and_then(|p| change(shared, p, session.encoding)),
        _ => parse::<DidCloseTextDocumentParams>(params).map(|p| close(shared, p)),
    };
    if let Err(problem) = outcome {
        shared.log(MessageType::WARNING, format!("{method} ignored: {problem}"));
    }
}

fn parse<P: DeserializeOwned>(params: Option<Value>) -> Result<P, String> {
    serde_json::from_value(params.unwrap_or(Value::Null)).map_err(|e| format!("invalid params: {e}"))
}

fn open(shared: &Shared, params: DidOpenTextDocumentParams) {
    let item = params.text_document;
    let path = path_of(&item.uri);
    let rope = ropey::Rope::from_str(&item.text);
    let document = Document { uri: item.uri, version: item.version, language_id: item.language_id, rope };
    let mut documents = shared.documents();
    documents.open(path.clone(), document);
    shared.sync_document(&documents, &path);
    drop(documents);
    shared.send(Event::Changed(path));
}

fn change(
    shared: &Shared,
    params: DidChangeTextDocumentParams,
    encoding: crate::encoding::PositionEncoding,
) -> Result<(), String> {
    let path = path_of(&params.text_document.uri);
    let version = params.text_document.version;
    let mut documents = shared.documents();
    match documents.change(&path, version, params.content_changes, encoding) {
        Ok(()) => {}
        Err(ChangeError::NotOpen) => return Err(format!("{} is not open", params.text_document.uri.as_str())),
    }
    shared.sync_document(&documents, &path);
    drop(documents);
    shared.send(Event::Changed(path));
    Ok(())
}

fn close(shared: &Shared, params: DidCloseTextDocumentParams) {
    let path = path_of(&params.text_document.uri);
    let mut documents = shared.documents();
    if documents.close(&path).is_some() {
        shared.refresh_from_disk(&path);
        drop(documents);
        shared.send(Event::Closed(path));
    }
}
