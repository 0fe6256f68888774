//! The MySQL plugin (MySQL and MariaDB's classic protocol): packet framing (3-byte little-endian
//! length, 1-byte sequence id), with rules on `query` globs matched against the canonical SQL
//! of `COM_QUERY` and `COM_STMT_PREPARE` ([`super::canonical_sql`]).
//!
//! The server's greeting is relayed with three capabilities cleared, so that every later packet
//! stays readable: TLS (`CLIENT_SSL`; a client that insists on TLS then fails to connect, with
//! its own message), compression, and query attributes (which would put parameters before the
//! SQL of `COM_QUERY`). The authentication exchange is relayed without interpretation.
//!
//! A command is a consumer packet with sequence id 0 (every exchange after the handshake
//! response starts at 0; authentication packets never do). The classic protocol answers each
//! command before the next is sent, so an injected answer never overtakes a server's reply:
//! * `error(message)` answers an ERR packet (sequence 1; code 1021 `ER_DISK_FULL` when the
//!   message mentions disk or space, else 1105 `ER_UNKNOWN_ERROR`; SQLSTATE `HY000`) in the
//!   server's place, and the command never reaches the server (its packets are dropped,
//!   including the continuation packets of a command of 16 MiB or more). `respond` is an error
//!   with its body as the message.
//! * `delay(ms)` sleeps, then forwards; `drop` closes both connections; `duplicate` relays.

use std::sync::Arc;
use std::time::Duration;

use ospecc_schema::plan::topology::ProxyAction;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;

use super::buffer::ReadBuffer;
use super::{canonical_sql, Ctx, Fired, Gated};

/// A packet's payload length at which the payload continues in the next packet.
const MAX_PAYLOAD: usize = 0xFF_FFFF;
const COM_QUERY: u8 = 0x03;
const COM_STMT_PREPARE: u8 = 0x16;
/// Capabilities cleared in the greeting (lower 16 bits, then upper 16 bits).
const CLIENT_COMPRESS: u32 = 0x20;
const CLIENT_SSL: u32 = 0x800;
const CLIENT_ZSTD_COMPRESSION: u32 = 1 << 26;
const CLIENT_QUERY_ATTRIBUTES: u32 = 1 << 27;
const CLEARED: u32 = CLIENT_COMPRESS | CLIENT_SSL | CLIENT_ZSTD_COMPRESSION | CLIENT_QUERY_ATTRIBUTES;
const ER_DISK_FULL: u16 = 1021;
const ER_UNKNOWN_ERROR: u16 = 1105;

type Writer = Arc<Mutex<Gated<OwnedWriteHalf>>>;

pub(super) async fn serve(ctx: Arc<Ctx>, client: Gated) {
    if let Err(error) = session(&ctx, client).await {
        ctx.error(error);
    }
}

async fn session(ctx: &Arc<Ctx>, client: Gated) -> Result<(), String> {
    let Ok(upstream) = ctx.connect_upstream().await else { return Ok(()) };
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let to_client: Writer = Arc::new(Mutex::new(client_write));
    let consumer = Consumer {
        ctx: ctx.clone(),
        client: client_read,
        upstream: upstream_write,
        to_client: to_client.clone(),
        from: ReadBuffer::new(),
        skipping: false,
    };
    tokio::select! {
        result = consumer.run() => result,
        result = server(upstream_read, to_client) => result,
    }
}

/// The length of the packet at the front of `bytes` (header included), once complete.
fn frame(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..4)?;
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    (bytes.len() >= len + 4).then_some(len + 4)
}

/// Server → consumer: the greeting with [`CLEARED`] capabilities, then every byte as it comes.
async fn server(mut upstream: Gated<OwnedReadHalf>, client: Writer) -> Result<(), String> {
    let mut from = ReadBuffer::new();
    let greeting = loop {
        if let Some(len) = frame(from.bytes()) {
            break len;
        }
        if from.fill(&mut upstream).await.map_err(|e| format!("reading the upstream: {e}"))? == 0 {
            return Ok(());
        }
    };
    let mut packet = from.bytes()[..greeting].to_vec();
    clear_capabilities(&mut packet);
    from.consume(greeting);
    let rest = from.bytes().to_vec();
    write(&client, &packet).await?;
    write(&client, &rest).await?;
    let mut buffer = ReadBuffer::new();
    loop {
        if buffer.fill(&mut upstream).await.map_err(|e| format!("reading the upstream: {e}"))? == 0 {
            return Ok(());
        }
        let bytes = buffer.bytes().to_vec();
        buffer.consume(bytes.len());
        write(&client, &bytes).await?;
    }
}

async fn write(client: &Writer, bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Ok(());
    }
    client.lock().await.write_all(bytes).await.map_err(|e| format!("writing the consumer: {e}"))
}

/// Clears [`CLEARED`] in a protocol-10 greeting (anything else, an ERR packet say, is left as
/// it is).
fn clear_capabilities(packet: &mut [u8]) {
    if packet.get(4) != Some(&10) {
        return;
    }
    // protocol (1), server version (NUL-terminated), connection id (4), auth data (8), filler (1)
    let Some(nul) = packet.iter().skip(5).position(|b| *b == 0) else { return };
    let lower = 5 + nul + 1 + 4 + 8 + 1;
    // then capabilities (lower 2), character set (1), status (2), capabilities (upper 2)
    let upper = lower + 2 + 1 + 2;
    for (at, shift) in [(lower, 0), (upper, 16)] {
        let Some(bytes) = packet.get_mut(at..at + 2) else { return };
        let flags = u16::from_le_bytes([bytes[0], bytes[1]]) & !((CLEARED >> shift) as u16);
        bytes.copy_from_slice(&flags.to_le_bytes());
    }
}

/// Consumer → server.
struct Consumer {
    ctx: Arc<Ctx>,
    client: Gated<OwnedReadHalf>,
    upstream: Gated<OwnedWriteHalf>,
    to_client: Writer,
    from: ReadBuffer,
    /// Dropping the continuation packets of a command answered by the proxy.
    skipping: bool,
}

impl Consumer {
    async fn run(mut self) -> Result<(), String> {
        loop {
            while let Some(len) = frame(self.from.bytes()) {
                if !self.packet(len).await? {
                    return Ok(());
                }
                self.from.consume(len);
            }
            if self.from.fill(&mut self.client).await.map_err(|e| format!("reading the consumer: {e}"))? == 0 {
                return match self.from.bytes().is_empty() {
                    true => Ok(()),
                    false => Err("the consumer closed the connection in the middle of a packet".into()),
                };
            }
        }
    }

    /// Handles the complete packet of `len` bytes at the front of the buffer; false to close.
    async fn packet(&mut self, len: usize) -> Result<bool, String> {
        let packet = &self.from.bytes()[..len];
        let continues = len - 4 == MAX_PAYLOAD;
        if self.skipping {
            self.skipping = continues;
            return Ok(true);
        }
        let sql = match (packet[3], packet.get(4)) {
            (0, Some(&(COM_QUERY | COM_STMT_PREPARE))) if !self.ctx.rules.is_empty() => {
                Some(String::from_utf8_lossy(&packet[5..]).into_owned())
            }
            _ => None,
        };
        let fired = sql.as_ref().and_then(|sql| self.ctx.first_firing(&[("query", &canonical_sql(sql))]));
        let (Some(active), Some(sql)) = (fired, sql) else {
            self.forward(len).await?;
            return Ok(true);
        };
        self.act(active, sql, len, continues).await
    }

    async fn act(&mut self, active: Fired, sql: String, len: usize, continues: bool) -> Result<bool, String> {
        self.ctx.fired(&active, vec![("query", sql.into())]);
        let message = match &active.rule.action {
            ProxyAction::Error { message, .. } => message.clone(),
            ProxyAction::Respond { body, .. } => body.clone(),
            ProxyAction::Delay { ms } => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                self.forward(len).await?;
                return Ok(true);
            }
            ProxyAction::Drop => return Ok(false),
            ProxyAction::Duplicate => {
                self.forward(len).await?;
                return Ok(true);
            }
        };
        self.skipping = continues;
        write(&self.to_client, &error_packet(message.as_deref().unwrap_or("injected fault"))).await?;
        Ok(true)
    }

    async fn forward(&mut self, len: usize) -> Result<(), String> {
        let packet = &self.from.bytes()[..len];
        self.upstream.write_all(packet).await.map_err(|e| format!("writing the upstream: {e}"))
    }
}

/// An ERR packet answering a command (sequence id 1).
fn error_packet(message: &str) -> Vec<u8> {
    let lower = message.to_lowercase();
    let code = if lower.contains("disk") || lower.contains("space") { ER_DISK_FULL } else { ER_UNKNOWN_ERROR };
    let mut payload = vec![0xFF];
    payload.extend_from_slice(&code.to_le_bytes());
    payload.extend_from_slice(b"#HY000");
    payload.extend_from_slice(message.as_bytes());
    payload.truncate(MAX_PAYLOAD - 1);
    let len = payload.len();
    let mut packet = vec![len as u8, (len >> 8) as u8, (len >> 16) as u8, 1];
    packet.extend_from_slice(&payload);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_packets() {
        assert_eq!(frame(&[1, 0, 0, 0, 0x0e]), Some(5));
        assert_eq!(frame(&[2, 0, 0, 0, 0x03]), None);
        assert_eq!(frame(&[0, 0]), None);
    }

    #[test]
    fn the_greeting_loses_tls_compression_and_query_attributes() {
        let mut payload = vec![10];
        payload.extend_from_slice(b"10.11.6-MariaDB\0");
        payload.extend_from_slice(&[1, 0, 0, 0]);
        payload.extend_from_slice(b"abcdefgh");
        payload.push(0);
        let lower: u16 = 0xFFFF;
        let upper: u16 = 0xFFFF;
        payload.extend_from_slice(&lower.to_le_bytes());
        payload.push(45);
        payload.extend_from_slice(&[2, 0]);
        payload.extend_from_slice(&upper.to_le_bytes());
        payload.extend_from_slice(&[21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut packet = vec![payload.len() as u8, 0, 0, 0];
        packet.extend_from_slice(&payload);
        clear_capabilities(&mut packet);
        let at = 4 + 1 + 16 + 4 + 8 + 1;
        let lower = u16::from_le_bytes([packet[at], packet[at + 1]]);
        let upper = u16::from_le_bytes([packet[at + 5], packet[at + 6]]);
        let flags = u32::from(lower) | u32::from(upper) << 16;
        assert_eq!(flags & CLEARED, 0);
        assert_eq!(flags | CLEARED, u32::MAX);
        // An ERR packet instead of a greeting is left alone.
        let mut err = vec![3, 0, 0, 0, 0xFF, 0x10, 0x04];
        clear_capabilities(&mut err);
        assert_eq!(err, [3, 0, 0, 0, 0xFF, 0x10, 0x04]);
    }

    #[test]
    fn error_packets_carry_a_code_by_message() {
        let packet = error_packet("disk full");
        assert_eq!(frame(&packet), Some(packet.len()));
        assert_eq!(packet[3], 1);
        assert_eq!(&packet[4..7], &[0xFF, 0xFD, 0x03]);
        assert_eq!(&packet[7..13], b"#HY000");
        assert!(packet.ends_with(b"disk full"));
        assert_eq!(u16::from_le_bytes([error_packet("boom")[5], error_packet("boom")[6]]), ER_UNKNOWN_ERROR);
    }
}
