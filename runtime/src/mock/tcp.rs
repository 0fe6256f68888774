//! The raw TCP mock: `routes` keyed by byte prefixes of a received message, answered with the
//! route's bytes (`bytes_response(data=)`; `text_response` and `json_response` bodies are sent
//! as their text). A message is a line (through its `\n`, as the tcp step sends), or, for
//! bytes without a newline, what one read returned. The longest matching prefix wins; no
//! route matches → the mock's `default`, else no answer (the connection stays open). A
//! `dynamic(fn)` route calls the handler with the message as `body` and sends the reply's body.
//!
//! Events: one `mock_request` per message: `interface`, `route` (the matched key, or null when
//! the default answered or nothing did), `size` (the message's bytes), `message` (its text,
//! cut at 256 bytes), and `error` when a dynamic handler failed (nothing is sent then).
//!
//! UDP is not served here: the framework hands protocol mocks accepted TCP connections only.

use std::collections::BTreeMap;
use std::sync::Arc;

use ospecc_schema::plan::topology::MockResponse;
use serde_json::Value as Json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{stopped, DynamicHandler, MockContext, MockRequest, ProtocolMock, Serving};
use crate::events::EventLog;
use crate::proxy::buffer::ReadBuffer;

/// How much of a message its event quotes.
const QUOTED: usize = 256;

/// Checks every route's response kind.
pub fn build(cx: MockContext) -> Result<Arc<dyn ProtocolMock>, String> {
    let mut routes = Vec::with_capacity(cx.routes.len());
    for route in &cx.routes {
        let answer = Answer::prepare(&route.response).map_err(|kind| {
            format!("route `{}` answers {kind}, which a tcp mock cannot send (use bytes_response)", route.key)
        })?;
        routes.push((route.key.as_bytes().to_vec(), route.key.clone(), answer));
    }
    // Longest prefix first: the first match is the most specific.
    routes.sort_by_key(|(prefix, _, _)| std::cmp::Reverse(prefix.len()));
    let default = match &cx.default {
        None => None,
        Some(response) => Some(Answer::prepare(response).map_err(|kind| {
            format!("the default answers {kind}, which a tcp mock cannot send (use bytes_response)")
        })?),
    };
    Ok(Arc::new(Mock {
        service: cx.service,
        interface: cx.interface,
        routes,
        default,
        handler: cx.handler,
        events: cx.events,
    }))
}

#[derive(Debug, Clone)]
enum Answer {
    Bytes(Vec<u8>),
    Dynamic(String),
}

impl Answer {
    /// The bytes to send, or the kind of response that has none.
    fn prepare(response: &MockResponse) -> Result<Answer, &'static str> {
        match response {
            MockResponse::Bytes { data, .. } => Ok(Answer::Bytes(data.as_bytes().to_vec())),
            MockResponse::Text { body, .. } => Ok(Answer::Bytes(body.as_bytes().to_vec())),
            MockResponse::Json { body, .. } => Ok(Answer::Bytes(body.to_string().into_bytes())),
            MockResponse::Dynamic { callable } => Ok(Answer::Dynamic(callable.id.clone())),
            MockResponse::Status { .. } => Err("an HTTP status"),
            MockResponse::Redirect { .. } => Err("an HTTP redirect"),
            MockResponse::Grpc { .. } | MockResponse::GrpcRaw { .. } | MockResponse::GrpcError { .. } => {
                Err("a gRPC reply")
            }
            MockResponse::Other { .. } => Err("a response kind"),
        }
    }
}

struct Mock {
    service: String,
    interface: String,
    /// (prefix, route key, answer), longest prefix first.
    routes: Vec<(Vec<u8>, String, Answer)>,
    default: Option<Answer>,
    handler: Arc<dyn DynamicHandler>,
    events: EventLog,
}

impl ProtocolMock for Mock {
    fn serve(self: Arc<Self>, stream: TcpStream, stop: watch::Receiver<bool>) -> Serving {
        Box::pin(async move { self.connection(stream, stop).await })
    }
}

impl Mock {
    async fn connection(&self, mut stream: TcpStream, mut stop: watch::Receiver<bool>) {
        let mut buffer = ReadBuffer::new();
        loop {
            tokio::select! {
                read = buffer.fill(&mut stream) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                _ = stopped(&mut stop) => return,
            }
            while let Some(len) = message_len(buffer.bytes()) {
                let message = buffer.bytes()[..len].to_vec();
                buffer.consume(len);
                if let Some(reply) = self.answer(&message).await {
                    if stream.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// The reply to one message (none when no route matches and there is no default).
    async fn answer(&self, message: &[u8]) -> Option<Vec<u8>> {
        let matched = self.routes.iter().find(|(prefix, _, _)| message.starts_with(prefix));
        let (route, answer) = match matched {
            Some((_, key, answer)) => (Json::String(key.clone()), Some(answer)),
            None => (Json::Null, self.default.as_ref()),
        };
        let (reply, error) = match answer {
            None => (None, None),
            Some(Answer::Bytes(bytes)) => (Some(bytes.clone()), None),
            Some(Answer::Dynamic(callable)) => match self.dynamic(callable.clone(), message).await {
                Ok(bytes) => (Some(bytes), None),
                Err(error) => (None, Some(error)),
            },
        };
        let mut fields = BTreeMap::from([
            ("interface".to_owned(), Json::String(self.interface.clone())),
            ("route".to_owned(), route),
            ("size".to_owned(), Json::from(message.len())),
            ("message".to_owned(), Json::String(String::from_utf8_lossy(&message[..message.len().min(QUOTED)]).into())),
        ]);
        if let Some(error) = error {
            fields.insert("error".to_owned(), Json::String(error));
        }
        self.events.push(&self.service, "mock_request", fields);
        reply
    }

    /// Runs a dynamic route's handler on a blocking thread: the reply's body, or why there is
    /// none.
    async fn dynamic(&self, callable: String, message: &[u8]) -> Result<Vec<u8>, String> {
        let request = MockRequest {
            method: "TCP".into(),
            path: String::new(),
            query: String::new(),
            headers: Vec::new(),
            body: String::from_utf8_lossy(message).into_owned(),
        };
        let handler = Arc::clone(&self.handler);
        let failed = format!("the dynamic handler `{callable}` failed (panicked)");
        tokio::task::spawn_blocking(move || handler.respond(&callable, &request).body).await.map_err(|_| failed)
    }
}

/// The length of the message at the front of the buffer: through the first newline, or every
/// byte when there is none (what the last read brought).
fn message_len(bytes: &[u8]) -> Option<usize> {
    if bytes.is_empty() {
        return None;
    }
    Some(bytes.iter().position(|b| *b == b'\n').map_or(bytes.len(), |newline| newline + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lines_or_reads() {
        assert_eq!(message_len(b"PING\nPONG\n"), Some(5));
        assert_eq!(message_len(b"\x01\x02"), Some(2));
        assert_eq!(message_len(b""), None);
    }
}
