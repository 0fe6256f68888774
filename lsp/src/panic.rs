//! Panic isolation: a panic inside a request handler becomes a JSON-RPC error response to
//! that request (a notification's is only logged), and the server lives on.
//!
//! Handlers never unwrap client data, but a defect deep in the analysis must still cost one
//! answer, not the session: this is the last line of defence, as in rust-analyzer's dispatcher.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Id, Response};

/// Awaits a handler's response; a panic turns into an internal-error response for `id`.
pub async fn isolate<F, E>(handler: F, id: Option<Id>) -> Result<Option<Response>, E>
where
    F: Future<Output = Result<Option<Response>, E>>,
{
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => Ok(id.map(|id| Response::from_error(id, internal_error(panic.as_ref())))),
    }
}

/// The error a panicking request answers with.
pub fn internal_error(panic: &(dyn Any + Send)) -> Error {
    Error {
        code: ErrorCode::InternalError,
        message: format!("internal error in ospecc (please report it): {}", message(panic)).into(),
        data: None,
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
pub fn message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boom(n: u32) -> Result<Option<Response>, ()> {
        panic!("boom {n}")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_with_an_error() {
        let handler = async { boom(1) };
        let response: Result<Option<Response>, ()> = isolate(handler, Some(Id::Number(7))).await;
        let response = response.unwrap().unwrap();
        assert_eq!(response.id(), &Id::Number(7));
        let error = response.error().unwrap();
        assert_eq!(error.code, ErrorCode::InternalError);
        assert!(error.message.contains("boom 1"), "{}", error.message);
    }

    #[tokio::test]
    async fn a_panicking_notification_answers_nothing() {
        let handler = async { boom(2) };
        let response: Result<Option<Response>, ()> = isolate(handler, None).await;
        assert!(response.unwrap().is_none());
    }
}
