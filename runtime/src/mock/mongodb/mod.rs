//! The MongoDB mock: a standalone server speaking OP_MSG (and the legacy OP_QUERY handshake)
//! over an in-memory store seeded from `config.collections`, enough for the official drivers
//! and shells to connect, read with cursors and write. [`wire`] frames messages, [`commands`]
//! answers them over [`store`], with [`query`], [`update`] and [`aggregate`] semantics.
//!
//! One namespace serves every database name (the seed names collections only). State lives as
//! long as the mock (one test's lifecycle) and is shared by all its connections.
//!
//! Events: one `mock_request` per command (`interface`, `op`, `collection`, `database`, `ok`);
//! a peer that sends garbage or stops mid-message gets one `mock_error` (`interface`, `error`)
//! and that connection is closed.

mod aggregate;
mod commands;
pub(crate) mod json;
mod query;
mod store;
mod update;
pub(crate) mod wire;

use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{stopped, MockContext, ProtocolMock, Serving};
use crate::events::EventLog;
use commands::Session;
use store::Store;

/// Seeds the store; a seed that is not a dict of lists of dicts is refused.
pub fn build(cx: MockContext) -> Result<Arc<dyn ProtocolMock>, String> {
    let store = Store::seeded(&cx.config)?;
    Ok(Arc::new(Mock {
        service: cx.service,
        interface: cx.interface,
        events: cx.events,
        store: Mutex::new(store),
        connections: AtomicI64::new(0),
        replies: AtomicI32::new(0),
        started: Instant::now(),
    }))
}

struct Mock {
    service: String,
    interface: String,
    events: EventLog,
    store: Mutex<Store>,
    connections: AtomicI64,
    /// The request id of the last reply sent.
    replies: AtomicI32,
    started: Instant,
}

impl ProtocolMock for Mock {
    fn serve(self: Arc<Self>, stream: TcpStream, mut stop: watch::Receiver<bool>) -> Serving {
        Box::pin(async move {
            tokio::select! {
                ended = self.connection(stream) => {
                    if let Err(error) = ended {
                        self.error(&error);
                    }
                }
                _ = stopped(&mut stop) => {}
            }
        })
    }
}

impl Mock {
    /// Serves one connection until the peer closes it; `Err` for garbage or a half message.
    async fn connection(&self, mut stream: TcpStream) -> Result<(), String> {
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        let local = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let connection_id = self.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let mut buffer: Vec<u8> = Vec::with_capacity(16 * 1024);
        loop {
            let Some(header) = read_message(&mut stream, &mut buffer).await? else { return Ok(()) };
            let command = wire::command(&header, &buffer[..header.length])?;
            buffer.drain(..header.length);
            let session = Session {
                store: &self.store,
                peer: peer.clone(),
                local: local.clone(),
                connection_id,
                started: self.started,
            };
            let reply = commands::answer(&session, &command);
            self.record(&command, &reply);
            if command.more_to_come {
                continue;
            }
            let id = self.replies.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            let bytes = match command.legacy {
                true => wire::reply_legacy(id, header.request_id, &reply),
                false => wire::reply_msg(id, header.request_id, &reply),
            };
            // A peer gone before its reply is a closed connection, not garbage.
            if stream.write_all(&bytes).await.is_err() {
                return Ok(());
            }
        }
    }

    fn record(&self, command: &wire::Command, reply: &bson::Document) {
        let ok = reply.get("ok").and_then(query::number).is_some_and(|n| n == 1.0);
        self.events.push(
            &self.service,
            "mock_request",
            [
                ("interface".to_owned(), Value::from(self.interface.clone())),
                ("op".to_owned(), Value::from(command.name())),
                ("collection".to_owned(), Value::from(command.collection())),
                ("database".to_owned(), Value::from(command.database())),
                ("ok".to_owned(), Value::from(ok)),
            ]
            .into_iter()
            .collect(),
        );
    }

    fn error(&self, error: &str) {
        self.events.push(
            &self.service,
            "mock_error",
            [("interface".to_owned(), Value::from(self.interface.clone())), ("error".to_owned(), Value::from(error))]
                .into_iter()
                .collect(),
        );
    }
}

/// Reads until `buffer` starts with a whole message; `None` when the peer closed cleanly
/// between messages.
async fn read_message(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Option<wire::Header>, String> {
    loop {
        if let Some(header) = wire::header(buffer)? {
            if buffer.len() >= header.length {
                return Ok(Some(header));
            }
        }
        let read = stream.read_buf(buffer).await.map_err(|e| format!("reading the connection: {e}"))?;
        if read == 0 {
            return match buffer.is_empty() {
                true => Ok(None),
                false => {
                    Err(format!("the peer closed the connection in the middle of a message ({} bytes)", buffer.len()))
                }
            };
        }
    }
}
