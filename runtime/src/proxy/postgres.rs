//! The PostgreSQL plugin: hand-rolled wire framing (the startup phase has no type byte, every
//! later message is 1 type byte + an i32 length that counts itself), with rules on `query`
//! globs matched against the canonical SQL ([`super::canonical_sql`]).
//!
//! Startup: `SSLRequest` and `GSSENCRequest` are answered `N` (so `sslmode=prefer` clients go
//! on in plain text on the same connection); a `CancelRequest` is passed to a fresh upstream
//! connection; the startup message is forwarded, and the authentication exchange (cleartext,
//! MD5, SCRAM) is relayed without interpretation.
//!
//! Then two pumps run. The consumer pump reads client messages and remembers which SQL each
//! prepared statement (`Parse`) and portal (`Bind`) stands for; rules are decided once per
//! execution: on a simple `Query` and on an `Execute`. The upstream pump relays the server's
//! messages, tracking its `ReadyForQuery` status.
//! * `delay(ms)` sleeps, then forwards (later messages wait behind it, order is kept).
//! * `drop` closes the consumer's connection (and the upstream one).
//! * `error(message)` answers `ErrorResponse` (`S`/`V` = `ERROR`, `C` = `53100` when the message
//!   mentions disk or space, else `XX000`, `M` = the message or `injected fault`). `respond`
//!   has no meaning for SQL and is treated as an error with its body as the message;
//!   `duplicate` relays unchanged.
//!
//! Keeping the streams in step: an injected error must reach the consumer after the server's
//! replies to everything forwarded before it, and the server must fail what a real error would
//! fail. So the proxy sends the server, instead of the failing message, a `Parse` that cannot
//! parse (the *poison*) and a `Sync` of its own (the barrier). The poison makes the server fail
//! exactly as if the failing message had: an implicit transaction (everything of the batch
//! before it) is rolled back at the barrier, and a transaction block is left failed, so a later
//! `COMMIT` rolls back. The upstream pump swallows the poison's `ErrorResponse` and the barrier's
//! `ReadyForQuery`, and puts the injected `ErrorResponse` in their place (unless the server had
//! already failed the batch: then its error stands alone, as a server reports only the first
//! error of a batch, and it ignores the poison).
//! * A simple `Query` is then answered with `ReadyForQuery` at once.
//! * For an extended batch, the proxy discards the consumer's messages until its `Sync`, as a
//!   server does after an error. That `Sync` is forwarded and its `ReadyForQuery` relayed, so
//!   the consumer gets `ErrorResponse` early (a pipelining client waiting after `Flush` sees it)
//!   and `ReadyForQuery` only after its `Sync`.
//! * The status relayed after an injected error is the server's (a failed transaction block is
//!   `E` there too).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ospecc_schema::plan::topology::ProxyAction;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::buffer::ReadBuffer;
use super::{canonical_sql, Ctx, Fired, Gated};

/// A message longer than this (PostgreSQL's own limit) is garbage.
const MAX_MESSAGE: usize = 1 << 30;
/// PostgreSQL's limit on a startup-phase packet.
const MAX_STARTUP: usize = 10_000;
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
/// Message types a client may send after startup.
const FRONTEND: &[u8] = b"BCcdDEfFHPpQSX";
const SYNC: [u8; 5] = [b'S', 0, 0, 0, 4];
/// The poison's statement name and SQL: a syntax error naming itself, so that its
/// `ErrorResponse` (SQLSTATE 42601, "syntax error at or near "…"") is recognised in any locale.
/// The failing `Parse` creates no statement, so the name never clashes.
const POISON: &str = "ospecc_injected_fault";
const SYNTAX_ERROR: &str = "42601";

pub(super) async fn serve(ctx: Arc<Ctx>, client: Gated) {
    if let Err(error) = session(&ctx, client).await {
        ctx.error(error);
    }
}

async fn session(ctx: &Arc<Ctx>, mut client: Gated) -> Result<(), String> {
    let startup = match startup(&mut client).await? {
        Startup::Closed => return Ok(()),
        Startup::Cancel(packet) => return cancel(ctx, &packet).await,
        Startup::Message(packet) => packet,
    };
    let Ok(mut upstream) = ctx.connect_upstream().await else { return Ok(()) };
    upstream.write_all(&startup).await.map_err(|e| format!("writing the upstream: {e}"))?;
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let (expect, expected) = mpsc::unbounded_channel();
    let consumer = Consumer {
        ctx: ctx.clone(),
        client: client_read,
        upstream: upstream_write,
        from: ReadBuffer::new(),
        outbox: Vec::new(),
        expect,
        statements: HashMap::new(),
        portals: HashMap::new(),
        discarding: false,
    };
    let server =
        Server { upstream: upstream_read, client: client_write, from: ReadBuffer::new(), expected, failed: false };
    tokio::select! {
        result = consumer.run() => result,
        result = server.run() => result,
    }
}

enum Startup {
    Closed,
    Cancel(Vec<u8>),
    Message(Vec<u8>),
}

/// Reads the startup phase up to the startup message, answering encryption requests `N`.
async fn startup(client: &mut Gated) -> Result<Startup, String> {
    loop {
        let mut first = [0u8; 1];
        if client.read(&mut first).await.map_err(|e| format!("reading the consumer: {e}"))? == 0 {
            return Ok(Startup::Closed);
        }
        let mut rest = [0u8; 3];
        read_exact(client, &mut rest).await?;
        let len = u32::from_be_bytes([first[0], rest[0], rest[1], rest[2]]) as usize;
        if !(8..=MAX_STARTUP).contains(&len) {
            return Err(format!("not PostgreSQL: a startup packet of {len} bytes"));
        }
        let mut packet = vec![0u8; len];
        packet[..4].copy_from_slice(&(len as u32).to_be_bytes());
        read_exact(client, &mut packet[4..]).await?;
        let code = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        match code {
            SSL_REQUEST | GSSENC_REQUEST => {
                client.write_all(b"N").await.map_err(|e| format!("writing the consumer: {e}"))?;
            }
            CANCEL_REQUEST => return Ok(Startup::Cancel(packet)),
            // Protocol 3.x (3.0 and 3.2).
            code if code >> 16 == 3 => return Ok(Startup::Message(packet)),
            code => return Err(format!("not PostgreSQL: startup code {code}")),
        }
    }
}

async fn read_exact(reader: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> Result<(), String> {
    match reader.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err("the consumer closed the connection in the middle of a startup packet".into())
        }
        Err(e) => Err(format!("reading the consumer: {e}")),
    }
}

/// A cancel request goes to the server on a connection of its own, which the server closes.
async fn cancel(ctx: &Ctx, packet: &[u8]) -> Result<(), String> {
    let Ok(mut upstream) = ctx.connect_upstream().await else { return Ok(()) };
    upstream.write_all(packet).await.map_err(|e| format!("writing the upstream: {e}"))?;
    let mut sink = [0u8; 64];
    let _ = tokio::time::timeout(Duration::from_secs(2), upstream.read(&mut sink)).await;
    Ok(())
}

/// The length of the typed message at the front of `bytes`, once complete.
fn frame(bytes: &[u8], valid: impl Fn(u8) -> bool) -> Result<Option<usize>, String> {
    let Some(header) = bytes.get(..5) else { return Ok(None) };
    if !valid(header[0]) {
        return Err(format!("not PostgreSQL: message type {:#04x}", header[0]));
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if !(4..=MAX_MESSAGE).contains(&len) {
        return Err(format!("not PostgreSQL: a message of {len} bytes"));
    }
    Ok((bytes.len() > len).then_some(len + 1))
}

/// What the upstream pump does with the server's next `ReadyForQuery`.
#[derive(Debug)]
enum Expect {
    /// Of a forwarded `Query`, `Sync` or `FunctionCall`: relay it.
    Relay,
    /// Of a barrier: swallow it, answer the error (unless the server already failed since its
    /// last `ReadyForQuery`) and, when `ready`, a `ReadyForQuery` in the failed status.
    Inject { error: Vec<u8>, ready: bool },
    /// Of the consumer's `Sync` closing a failed batch: relay it in the failed status.
    Failed,
}

/// Consumer → server.
struct Consumer {
    ctx: Arc<Ctx>,
    client: Gated<OwnedReadHalf>,
    upstream: Gated<OwnedWriteHalf>,
    from: ReadBuffer,
    /// Messages for the next write upstream.
    outbox: Vec<u8>,
    expect: mpsc::UnboundedSender<Expect>,
    /// Prepared statement → SQL, portal → SQL (the unnamed ones under "").
    statements: HashMap<String, String>,
    portals: HashMap<String, String>,
    /// After an injected error in an extended batch: until the consumer's `Sync`.
    discarding: bool,
}

/// Whether a pump goes on.
#[derive(PartialEq)]
enum Flow {
    Continue,
    Close,
}

impl Consumer {
    async fn run(mut self) -> Result<(), String> {
        loop {
            while let Some(len) = frame(self.from.bytes(), |kind| FRONTEND.contains(&kind))? {
                let flow = self.message(len).await?;
                self.from.consume(len);
                if flow == Flow::Close {
                    return Ok(());
                }
            }
            self.flush().await?;
            if self.from.fill(&mut self.client).await.map_err(|e| format!("reading the consumer: {e}"))? == 0 {
                return match self.from.bytes().is_empty() {
                    true => Ok(()),
                    false => Err("the consumer closed the connection in the middle of a message".into()),
                };
            }
        }
    }

    /// Handles the complete message of `len` bytes at the front of the buffer.
    async fn message(&mut self, len: usize) -> Result<Flow, String> {
        let kind = self.from.bytes()[0];
        if self.discarding {
            if kind == b'S' {
                self.discarding = false;
                self.forward(len, Expect::Failed);
            }
            return Ok(Flow::Continue);
        }
        let sql = self.remember(kind, len);
        let fired = match &sql {
            Some(sql) if !self.ctx.rules.is_empty() => self.ctx.first_firing(&[("query", &canonical_sql(sql))]),
            _ => None,
        };
        match (fired, sql) {
            (Some(active), Some(sql)) => self.act(active, sql, len).await,
            _ => {
                self.forward(len, Expect::Relay);
                Ok(Flow::Continue)
            }
        }
    }

    /// Tracks statements and portals; the SQL a `Query` or `Execute` runs.
    fn remember(&mut self, kind: u8, len: usize) -> Option<String> {
        let body = &self.from.bytes()[5..len];
        let mut fields = body.split(|b| *b == 0).map(|field| String::from_utf8_lossy(field).into_owned());
        let mut next = || fields.next().unwrap_or_default();
        match kind {
            b'Q' => Some(next()),
            b'P' => {
                let (name, sql) = (next(), next());
                self.statements.insert(name, sql);
                None
            }
            b'B' => {
                let (portal, statement) = (next(), next());
                let sql = self.statements.get(&statement).cloned().unwrap_or_default();
                self.portals.insert(portal, sql);
                None
            }
            b'E' => Some(self.portals.get(&next()).cloned().unwrap_or_default()),
            b'C' => {
                let (which, name) = (body.first().copied(), String::from_utf8_lossy(body.get(1..).unwrap_or_default()));
                let name = name.trim_end_matches('\0');
                match which {
                    Some(b'S') => self.statements.remove(name),
                    _ => self.portals.remove(name),
                };
                None
            }
            _ => None,
        }
    }

    async fn act(&mut self, active: Fired, sql: String, len: usize) -> Result<Flow, String> {
        self.ctx.fired(&active, vec![("query", sql.into())]);
        let message = match &active.rule.action {
            ProxyAction::Error { message, .. } => message.clone(),
            ProxyAction::Respond { body, .. } => body.clone(),
            ProxyAction::Delay { ms } => {
                self.flush().await?;
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                self.forward(len, Expect::Relay);
                return Ok(Flow::Continue);
            }
            ProxyAction::Drop => return Ok(Flow::Close),
            ProxyAction::Duplicate => {
                self.forward(len, Expect::Relay);
                return Ok(Flow::Continue);
            }
        };
        let simple = self.from.bytes()[0] == b'Q';
        let error = error_response(message.as_deref().unwrap_or("injected fault"));
        self.barrier(Expect::Inject { error, ready: simple });
        self.discarding = !simple;
        self.flush().await?;
        Ok(Flow::Continue)
    }

    /// Queues the message at the front of the buffer for the server.
    fn forward(&mut self, len: usize, expect: Expect) {
        let message = &self.from.bytes()[..len];
        if matches!(message[0], b'Q' | b'S' | b'F') {
            // The upstream pump may only see the reply after it knows what to do with it.
            let _ = self.expect.send(expect);
        }
        self.outbox.extend_from_slice(message);
    }

    /// Queues the poison and a `Sync` of the proxy's own, whose replies the upstream pump
    /// replaces.
    fn barrier(&mut self, expect: Expect) {
        let _ = self.expect.send(expect);
        self.outbox.extend_from_slice(&poison());
        self.outbox.extend_from_slice(&SYNC);
    }

    async fn flush(&mut self) -> Result<(), String> {
        if !self.outbox.is_empty() {
            self.upstream.write_all(&self.outbox).await.map_err(|e| format!("writing the upstream: {e}"))?;
            self.outbox.clear();
        }
        Ok(())
    }
}

/// Server → consumer.
struct Server {
    upstream: Gated<OwnedReadHalf>,
    client: Gated<OwnedWriteHalf>,
    from: ReadBuffer,
    expected: mpsc::UnboundedReceiver<Expect>,
    /// The server sent an `ErrorResponse` since its last `ReadyForQuery`.
    failed: bool,
}

impl Server {
    async fn run(mut self) -> Result<(), String> {
        let mut out = Vec::new();
        loop {
            while let Some(len) = frame(self.from.bytes(), |_| true)? {
                self.message(len, &mut out)?;
                self.from.consume(len);
            }
            if !out.is_empty() {
                self.client.write_all(&out).await.map_err(|e| format!("writing the consumer: {e}"))?;
                out.clear();
            }
            if self.from.fill(&mut self.upstream).await.map_err(|e| format!("reading the upstream: {e}"))? == 0 {
                return match self.from.bytes().is_empty() {
                    true => Ok(()),
                    false => Err("the upstream closed the connection in the middle of a message".into()),
                };
            }
        }
    }

    /// Relays (or replaces) the complete message of `len` bytes at the front of the buffer.
    fn message(&mut self, len: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let message = &self.from.bytes()[..len];
        match message[0] {
            b'E' if is_poisoned(message) => return Ok(()),
            b'E' => self.failed = true,
            b'Z' => {
                let &[.., status] = message else { return Err("an empty ReadyForQuery".into()) };
                let failed = std::mem::take(&mut self.failed);
                match self.expected.try_recv() {
                    Ok(Expect::Inject { error, ready }) => {
                        if !failed {
                            out.extend_from_slice(&error);
                        }
                        if ready {
                            out.extend_from_slice(&ready_for_query(failed_status(status)));
                        }
                    }
                    Ok(Expect::Failed) => out.extend_from_slice(&ready_for_query(failed_status(status))),
                    // The first ReadyForQuery (after authentication) was asked by nobody.
                    Ok(Expect::Relay) | Err(_) => out.extend_from_slice(message),
                }
                return Ok(());
            }
            _ => {}
        }
        out.extend_from_slice(message);
        Ok(())
    }
}

/// A `Parse` of the statement [`POISON`] whose SQL is [`POISON`]: a syntax error.
fn poison() -> Vec<u8> {
    let mut body = Vec::new();
    for field in [POISON, POISON] {
        body.extend_from_slice(field.as_bytes());
        body.push(0);
    }
    body.extend_from_slice(&0u16.to_be_bytes()); // no parameter types
    typed(b'P', &body)
}

/// Whether an `ErrorResponse` is the server's answer to the poison.
fn is_poisoned(message: &[u8]) -> bool {
    let fields = message.get(5..).unwrap_or_default().split(|b| *b == 0).filter(|f| !f.is_empty());
    let (mut code, mut names_poison) = (false, false);
    for field in fields {
        let (kind, value) = (field[0], &field[1..]);
        code |= kind == b'C' && value == SYNTAX_ERROR.as_bytes();
        names_poison |= kind == b'M' && value.windows(POISON.len()).any(|w| w == POISON.as_bytes());
    }
    code && names_poison
}

/// The transaction status after an error: a transaction block fails, idle stays idle.
fn failed_status(status: u8) -> u8 {
    if status == b'T' {
        b'E'
    } else {
        status
    }
}

fn ready_for_query(status: u8) -> [u8; 6] {
    [b'Z', 0, 0, 0, 5, status]
}

/// An `ErrorResponse` message.
fn error_response(message: &str) -> Vec<u8> {
    let lower = message.to_lowercase();
    let code = if lower.contains("disk") || lower.contains("space") { "53100" } else { "XX000" };
    error_with(&[(b'S', "ERROR"), (b'V', "ERROR"), (b'C', code), (b'M', message)])
}

/// An `ErrorResponse` with these fields (a NUL inside a value is dropped).
fn error_with(fields: &[(u8, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in fields {
        body.push(*field);
        body.extend(value.bytes().filter(|b| *b != 0));
        body.push(0);
    }
    body.push(0);
    typed(b'E', &body)
}

/// A typed message: its type byte, its length (which counts itself) and its body.
fn typed(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_typed_messages_and_rejects_garbage() {
        let sync = SYNC.to_vec();
        assert_eq!(frame(&sync, |_| true), Ok(Some(5)));
        assert_eq!(frame(&sync[..4], |_| true), Ok(None));
        assert!(frame(b"Zzzzzzz", |k| FRONTEND.contains(&k)).is_err());
        assert!(frame(&[b'Q', 0xff, 0xff, 0xff, 0xff], |_| true).is_err());
        assert!(frame(&[b'Q', 0, 0, 0, 3], |_| true).is_err());
    }

    #[test]
    fn error_responses_carry_sqlstate_by_message() {
        let error = error_response("disk full");
        assert_eq!(error[0], b'E');
        assert_eq!(u32::from_be_bytes([error[1], error[2], error[3], error[4]]) as usize, error.len() - 1);
        assert!(error.windows(6).any(|w| w == b"C53100"));
        assert!(error_response("boom").windows(6).any(|w| w == b"CXX000"));
        assert_eq!((failed_status(b'T'), failed_status(b'I')), (b'E', b'I'));
    }

    #[test]
    fn the_poison_is_a_parse_and_only_its_syntax_error_is_recognised() {
        let parse = poison();
        assert_eq!(frame(&parse, |k| FRONTEND.contains(&k)), Ok(Some(parse.len())));
        let server_error = |code: &str, message: &str| error_with(&[(b'S', "ERROR"), (b'C', code), (b'M', message)]);
        assert!(is_poisoned(&server_error("42601", "syntax error at or near \"ospecc_injected_fault\"")));
        assert!(!is_poisoned(&server_error("42601", "syntax error at or near \"selec\"")));
        assert!(!is_poisoned(&server_error("23505", "ospecc_injected_fault")));
        assert!(!is_poisoned(&error_response("boom")));
    }
}
