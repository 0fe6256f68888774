//! The MongoDB plugin: frames the wire protocol both ways and decodes each consumer command
//! (OP_MSG, and OP_QUERY for the legacy handshake) for rules on `method` (the command name,
//! `op=`, case-insensitive) and `key` (the collection, `collection=`):
//! * `error(message)` answers the command itself: `{ok: 0, errmsg: message, code: 8000}`, or
//!   for `insert`/`update`/`delete` a write error with that code and message (what a driver
//!   raises for a failed write);
//! * `respond(body)` answers `body` (a JSON object, `ok: 1` added when absent);
//! * `delay` holds the command, `drop` closes both connections, `duplicate` sends it twice and
//!   swallows the second reply.
//!
//! Replies are relayed whole by their own task (a server may answer out of band: exhaust
//! cursors, `moreToCome`), and injected answers are written between whole replies. A message
//! whose header is garbage closes the connection with one `proxy_error`; a well-framed message
//! the plugin cannot decode is forwarded unmatched (the server judges it).

use std::collections::HashSet;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::{doc, Document};
use ospecc_schema::plan::topology::ProxyAction;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;

use super::buffer::ReadBuffer;
use super::{Ctx, Fired, Gated};
use crate::mock::mongodb::wire::{self, Command, Header};

/// The error code of an injected fault.
const FAULT_CODE: i32 = 8000;
/// Commands whose failures drivers expect as write errors.
const WRITES: &[&str] = &["insert", "update", "delete"];
/// Request ids of duplicated commands start here, far from a driver's own counter.
const DUPLICATE_IDS: i32 = 0x6000_0000;

type Writer = Arc<tokio::sync::Mutex<Gated<OwnedWriteHalf>>>;

/// What one connection's two directions share.
struct Shared {
    ctx: Arc<Ctx>,
    /// The consumer's socket: replies and injected answers are written whole under the lock.
    client: Writer,
    /// Request ids whose reply is swallowed (the copy of a duplicated command).
    swallow: Mutex<HashSet<i32>>,
    next_id: AtomicI32,
}

pub(super) async fn serve(ctx: Arc<Ctx>, client: Gated) {
    let Ok(upstream) = ctx.connect_upstream().await else { return };
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let shared = Arc::new(Shared {
        ctx,
        client: Arc::new(tokio::sync::Mutex::new(client_write)),
        swallow: Mutex::new(HashSet::new()),
        next_id: AtomicI32::new(DUPLICATE_IDS),
    });
    let ended = tokio::select! {
        ended = commands(&shared, client_read, upstream_write) => ended,
        ended = replies(&shared, upstream_read) => ended,
    };
    if let Err(error) = ended {
        shared.ctx.error(error);
    }
}

/// The next whole message from `reader`: its header and bytes; `None` at a clean end.
async fn next_message<R: AsyncRead + Unpin>(
    buffer: &mut ReadBuffer,
    reader: &mut R,
    side: &str,
) -> Result<Option<(Header, Vec<u8>)>, String> {
    loop {
        if let Some(header) = wire::header(buffer.bytes()).map_err(|e| format!("the {side} sent {e}"))? {
            if buffer.bytes().len() >= header.length {
                let message = buffer.bytes()[..header.length].to_vec();
                buffer.consume(header.length);
                return Ok(Some((header, message)));
            }
        }
        let read = buffer.fill(reader).await.map_err(|e| format!("reading the {side}: {e}"))?;
        if read == 0 {
            return match buffer.bytes().is_empty() {
                true => Ok(None),
                false => Err(format!("the {side} closed the connection in the middle of a message")),
            };
        }
    }
}

/// Consumer → server: each command matched against the rules, then forwarded or answered.
async fn commands(
    shared: &Shared,
    mut client: Gated<tokio::net::tcp::OwnedReadHalf>,
    mut upstream: Gated<OwnedWriteHalf>,
) -> Result<(), String> {
    let mut buffer = ReadBuffer::new();
    while let Some((header, message)) = next_message(&mut buffer, &mut client, "consumer").await? {
        let command = match header.op_code {
            wire::OP_MSG | wire::OP_QUERY => wire::command(&header, &message).ok(),
            _ => None,
        };
        let fired = command.as_ref().and_then(|command| {
            let (name, collection) = (command.name(), command.collection());
            shared.ctx.first_firing(&[("method", name), ("key", &collection)])
        });
        let (Some(command), Some(active)) = (command, fired) else {
            forward(&mut upstream, &message).await?;
            continue;
        };
        if !act(shared, &active, &header, &message, &command, &mut upstream).await? {
            return Ok(());
        }
    }
    Ok(())
}

async fn forward(upstream: &mut Gated<OwnedWriteHalf>, message: &[u8]) -> Result<(), String> {
    upstream.write_all(message).await.map_err(|e| format!("writing the upstream: {e}"))
}

/// Applies a fired rule; `false` ends the connection.
async fn act(
    shared: &Shared,
    active: &Fired,
    header: &Header,
    message: &[u8],
    command: &Command,
    upstream: &mut Gated<OwnedWriteHalf>,
) -> Result<bool, String> {
    let name = command.name().to_owned();
    shared.ctx.fired(active, vec![("op", name.clone().into()), ("collection", command.collection().into())]);
    let answer = match &active.rule.action {
        ProxyAction::Error { message: text, .. } => error_reply(&name, text.as_deref().unwrap_or("injected fault")),
        ProxyAction::Respond { body, .. } => respond_reply(body.as_deref()),
        ProxyAction::Delay { ms } => {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            forward(upstream, message).await?;
            return Ok(true);
        }
        ProxyAction::Drop => return Ok(false),
        ProxyAction::Duplicate => {
            forward(upstream, message).await?;
            if !command.more_to_come {
                let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
                shared.swallow.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
                let mut copy = message.to_vec();
                copy[4..8].copy_from_slice(&id.to_le_bytes());
                forward(upstream, &copy).await?;
            } else {
                forward(upstream, message).await?;
            }
            return Ok(true);
        }
    };
    // An unacknowledged write (`moreToCome`) gets no answer: it is simply not delivered.
    if command.more_to_come {
        return Ok(true);
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let bytes = match command.legacy {
        true => wire::reply_legacy(id, header.request_id, &answer),
        false => wire::reply_msg(id, header.request_id, &answer),
    };
    shared.client.lock().await.write_all(&bytes).await.map_err(|e| format!("writing the consumer: {e}"))?;
    Ok(true)
}

/// The answer of `error(message=)` to a command.
fn error_reply(command: &str, message: &str) -> Document {
    match WRITES.contains(&command) {
        true => doc! { "ok": 1.0, "n": 0, "writeErrors": [{ "index": 0, "code": FAULT_CODE, "errmsg": message }] },
        false => doc! { "ok": 0.0, "errmsg": message, "code": FAULT_CODE },
    }
}

/// The answer of `respond(body=)`: the body's JSON object, `ok: 1` unless it says otherwise.
fn respond_reply(body: Option<&str>) -> Document {
    let mut reply = match body.and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok()) {
        Some(serde_json::Value::Object(map)) => crate::mock::mongodb::json::to_document(&map),
        _ => Document::new(),
    };
    if !reply.contains_key("ok") {
        reply.insert("ok", 1.0);
    }
    reply
}

/// Server → consumer: whole replies relayed, the duplicates' replies swallowed.
async fn replies(shared: &Shared, mut upstream: Gated<tokio::net::tcp::OwnedReadHalf>) -> Result<(), String> {
    let mut buffer = ReadBuffer::new();
    while let Some((header, message)) = next_message(&mut buffer, &mut upstream, "upstream").await? {
        if shared.swallow.lock().unwrap_or_else(|p| p.into_inner()).remove(&header.response_to) {
            continue;
        }
        shared.client.lock().await.write_all(&message).await.map_err(|e| format!("writing the consumer: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(error_reply("find", "boom"), doc! { "ok": 0.0, "errmsg": "boom", "code": 8000 });
        assert_eq!(error_reply("insert", "disk").get_array("writeErrors").map(Vec::len), Ok(1));
        assert_eq!(respond_reply(Some(r#"{"n": 3}"#)), doc! { "n": 3, "ok": 1.0 });
        assert_eq!(respond_reply(Some("not json")), doc! { "ok": 1.0 });
    }
}
