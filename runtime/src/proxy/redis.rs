//! The Redis plugin: RESP framing of commands (arrays of bulk strings, or inline lines) and of
//! replies (RESP2 and RESP3 types), with rules on `command` (case-insensitive) and `key` (the
//! first argument):
//! * `error(message)` answers `-ERR <message>`;
//! * `respond(body)` answers a bulk string of the body, or `$-1` (nil) without a body;
//! * `delay(ms)` sleeps, then forwards; `drop` closes the consumer's connection;
//! * `duplicate` sends the command twice and answers the second reply.
//!
//! Ordering: commands are handled in order. Every complete command in a read is forwarded in
//! one write, and the proxy then relays exactly that many replies before it reads the
//! consumer again, so a locally answered command always follows the replies of the commands
//! before it (pipelining keeps working, batch by batch). Push frames (RESP3 `>`) are relayed
//! without counting as replies. After `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE` or `MONITOR`
//! the server talks without being asked, so the connection becomes an opaque relay and rules no
//! longer apply to it. Unsolicited bytes from the server (RESP3 invalidation pushes) reach the
//! consumer with the next reply.

use std::sync::Arc;
use std::time::Duration;

use ospecc_schema::plan::topology::ProxyAction;
use tokio::io::AsyncWriteExt;

use super::buffer::ReadBuffer;
use super::{Ctx, Fired, Gated};

/// Redis's own limits: a bulk string of at most 512 MiB, an inline command of at most 64 KiB.
const MAX_BULK: i64 = 512 << 20;
pub(crate) const MAX_INLINE: usize = 64 << 10;
/// A type line (`*3`, `+OK`, `-ERR ...`) longer than this is garbage.
const MAX_LINE: usize = 1 << 20;
/// Elements of one aggregate.
const MAX_COUNT: i64 = 1 << 30;
/// Commands after which the server pushes data unasked (the connection turns opaque).
const STREAMING: &[&str] = &["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR"];

pub(super) async fn serve(ctx: Arc<Ctx>, client: Gated) {
    let Ok(upstream) = ctx.connect_upstream().await else { return };
    let mut session = Session {
        ctx,
        client,
        upstream,
        from_client: ReadBuffer::new(),
        from_upstream: ReadBuffer::new(),
        command: Scan::new(true),
        reply: Scan::new(false),
        outbox: Vec::new(),
        owed: 0,
        discard: 0,
    };
    match session.run().await {
        Ok(End::Closed) => {}
        Ok(End::Opaque) => session.relay().await,
        Err(error) => session.ctx.error(error),
    }
}

/// How a session's parsing ends.
enum End {
    /// Either side closed, or a rule dropped the connection.
    Closed,
    /// A streaming command went upstream: relay the rest unparsed.
    Opaque,
}

/// A complete command at the front of the consumer's buffer.
struct Command {
    len: usize,
    /// Upper-cased.
    name: String,
    key: String,
    /// Replies the server sends for it (none for an empty command).
    replies: usize,
}

struct Session {
    ctx: Arc<Ctx>,
    client: Gated,
    upstream: Gated,
    from_client: ReadBuffer,
    from_upstream: ReadBuffer,
    /// The scan of the command (or reply) at the front of its buffer, kept across reads.
    command: Scan,
    reply: Scan,
    /// Commands to forward in the next write.
    outbox: Vec<u8>,
    /// Replies the server owes for forwarded commands.
    owed: usize,
    /// Replies to swallow (the first of a duplicated command).
    discard: usize,
}

impl Session {
    async fn run(&mut self) -> Result<End, String> {
        loop {
            while let Some(command) = self.next_command()? {
                let fired = self.ctx.first_firing(&[("command", &command.name), ("key", &command.key)]);
                let end = match fired {
                    None => self.queue(&command),
                    Some(active) => self.act(active, &command).await?,
                };
                self.from_client.consume(command.len);
                if let Some(end) = end {
                    self.flush().await?;
                    return Ok(end);
                }
            }
            self.flush().await?;
            let read =
                self.from_client.fill(&mut self.client).await.map_err(|e| format!("reading the consumer: {e}"))?;
            if read == 0 {
                return match self.from_client.bytes().is_empty() {
                    true => Ok(End::Closed),
                    false => Err("the consumer closed the connection in the middle of a command".into()),
                };
            }
        }
    }

    /// Adds a command to the next write upstream; a streaming command ends the parsing.
    fn queue(&mut self, command: &Command) -> Option<End> {
        self.outbox.extend_from_slice(&self.from_client.bytes()[..command.len]);
        if STREAMING.contains(&command.name.as_str()) {
            return Some(End::Opaque);
        }
        self.owed += command.replies;
        None
    }

    /// Applies a fired rule to a command; `Some` ends the session.
    async fn act(&mut self, active: Fired, command: &Command) -> Result<Option<End>, String> {
        self.ctx.fired(&active, vec![("command", command.name.clone().into()), ("key", command.key.clone().into())]);
        let local = match &active.rule.action {
            ProxyAction::Error { message, .. } => {
                format!("-ERR {}\r\n", one_line(message.as_deref().unwrap_or("injected fault")))
            }
            ProxyAction::Respond { body: Some(body), .. } => format!("${}\r\n{body}\r\n", body.len()),
            ProxyAction::Respond { body: None, .. } => "$-1\r\n".to_owned(),
            ProxyAction::Delay { ms } => {
                // The commands before it are not delayed.
                self.flush().await?;
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                return Ok(self.queue(command));
            }
            ProxyAction::Drop => return Ok(Some(End::Closed)),
            ProxyAction::Duplicate => {
                self.flush().await?;
                self.discard = command.replies;
                let _ = self.queue(command);
                return Ok(self.queue(command));
            }
        };
        self.flush().await?;
        self.client.write_all(local.as_bytes()).await.map_err(|e| format!("writing the consumer: {e}"))?;
        Ok(None)
    }

    /// The command at the front of the consumer's buffer, if complete.
    fn next_command(&mut self) -> Result<Option<Command>, String> {
        let bytes = self.from_client.bytes();
        match bytes.first() {
            None => Ok(None),
            Some(b'*') => {
                let Some(len) = self.command.scan(bytes)? else { return Ok(None) };
                let text = |range: Option<(usize, usize)>| {
                    range.map(|(from, to)| String::from_utf8_lossy(&bytes[from..to]).into_owned()).unwrap_or_default()
                };
                let (name, key) = (text(self.command.first).to_ascii_uppercase(), text(self.command.second));
                let replies = usize::from(self.command.first.is_some());
                self.command = Scan::new(true);
                Ok(Some(Command { len, name, key, replies }))
            }
            Some(_) => inline(bytes),
        }
    }

    /// Writes the queued commands upstream and relays the replies they are owed.
    async fn flush(&mut self) -> Result<(), String> {
        if !self.outbox.is_empty() {
            self.upstream.write_all(&self.outbox).await.map_err(|e| format!("writing the upstream: {e}"))?;
            self.outbox.clear();
        }
        while self.owed > 0 {
            let complete = self.complete_replies()?;
            if complete > 0 {
                let replies = &self.from_upstream.bytes()[..complete];
                self.client.write_all(replies).await.map_err(|e| format!("writing the consumer: {e}"))?;
                self.from_upstream.consume(complete);
            }
            if self.owed > 0 {
                let read = self.from_upstream.fill(&mut self.upstream).await;
                if read.map_err(|e| format!("reading the upstream: {e}"))? == 0 {
                    return Err("the upstream closed the connection with replies outstanding".into());
                }
            }
        }
        Ok(())
    }

    /// Scans the owed replies at the front of the upstream's buffer; returns the length of the
    /// complete ones to relay (swallowing a duplicate's first reply).
    fn complete_replies(&mut self) -> Result<usize, String> {
        let mut end = 0;
        while self.owed > 0 {
            let Some(len) = self.reply.scan(&self.from_upstream.bytes()[end..])? else { break };
            let push = self.reply.top == b'>';
            self.reply = Scan::new(false);
            if push {
                end += len;
                continue;
            }
            self.owed -= 1;
            if self.discard > 0 && end == 0 {
                self.discard -= 1;
                self.from_upstream.consume(len);
                continue;
            }
            end += len;
        }
        Ok(end)
    }

    /// The rest of the connection, unparsed (after a streaming command).
    async fn relay(mut self) {
        let pending_up = self.from_client.bytes().to_vec();
        let pending_down = self.from_upstream.bytes().to_vec();
        if self.upstream.write_all(&pending_up).await.is_err() || self.client.write_all(&pending_down).await.is_err() {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut self.client, &mut self.upstream).await;
    }
}

/// An inline command (`PING\r\n`): space-separated words up to the newline.
fn inline(bytes: &[u8]) -> Result<Option<Command>, String> {
    let Some(newline) = bytes.iter().take(MAX_INLINE + 1).position(|b| *b == b'\n') else {
        return match bytes.len() > MAX_INLINE {
            true => Err(format!("an inline command longer than {MAX_INLINE} bytes")),
            false => Ok(None),
        };
    };
    let line = String::from_utf8_lossy(&bytes[..newline]);
    let mut words = line.split_ascii_whitespace();
    let name = words.next().unwrap_or_default().to_ascii_uppercase();
    let key = words.next().unwrap_or_default().to_owned();
    // Redis ignores an empty line without a reply.
    let replies = usize::from(!name.is_empty());
    Ok(Some(Command { len: newline + 1, name, key, replies }))
}

/// `-ERR` replies are one line.
fn one_line(message: &str) -> String {
    message.replace(['\r', '\n'], " ")
}

/// An incremental scan of one RESP value. A value can arrive over many reads; the scan resumes
/// where it stopped instead of starting over (a 100 MB value is scanned once).
pub(crate) struct Scan {
    /// A command: an array of bulk strings whose first two are recorded.
    command: bool,
    /// Bytes of the value scanned so far.
    pos: usize,
    /// Values still to scan (an aggregate adds its elements).
    pending: u64,
    /// Values scanned (the top-level one is 1).
    seen: u64,
    /// The top-level type byte.
    top: u8,
    /// Byte ranges of a command's name and first argument.
    first: Option<(usize, usize)>,
    second: Option<(usize, usize)>,
}

impl Scan {
    pub(crate) fn new(command: bool) -> Scan {
        Scan { command, pos: 0, pending: 1, seen: 0, top: 0, first: None, second: None }
    }

    /// The length of the value at the front of `bytes` once complete, `None` while partial.
    pub(crate) fn scan(&mut self, bytes: &[u8]) -> Result<Option<usize>, String> {
        while self.pending > 0 {
            let Some(&kind) = bytes.get(self.pos) else { return Ok(None) };
            let Some(line_end) = find_crlf(bytes, self.pos + 1)? else { return Ok(None) };
            let header = &bytes[self.pos + 1..line_end];
            let body = line_end + 2;
            if self.seen == 0 {
                self.top = kind;
            }
            if self.command && kind != if self.seen == 0 { b'*' } else { b'$' } {
                return Err(format!("a command element of type {:?}, not a bulk string", kind as char));
            }
            let next = match kind {
                b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => body,
                b'$' | b'!' | b'=' => match self.bulk(bytes, header, body)? {
                    Some(next) => next,
                    None => return Ok(None),
                },
                b'*' | b'~' | b'>' => self.aggregate(header, 1, 0)?,
                b'%' => self.aggregate(header, 2, 0)?,
                // An attribute map, then the value it annotates.
                b'|' => self.aggregate(header, 2, 1)?,
                other => return Err(format!("an unknown RESP type byte {other:#04x}")),
            };
            self.pending -= 1;
            self.seen += 1;
            self.pos = next;
        }
        Ok(Some(self.pos))
    }

    /// A bulk string's end, `None` while its data is partial.
    fn bulk(&mut self, bytes: &[u8], header: &[u8], body: usize) -> Result<Option<usize>, String> {
        let len = number(header)?;
        if len < 0 {
            return Ok(Some(body));
        }
        if len > MAX_BULK {
            return Err(format!("a bulk string of {len} bytes (more than 512 MiB)"));
        }
        let end = body + len as usize;
        if bytes.len() < end + 2 {
            return Ok(None);
        }
        if &bytes[end..end + 2] != b"\r\n" {
            return Err("a bulk string not followed by CRLF".into());
        }
        match self.seen {
            1 => self.first = Some((body, end)),
            2 => self.second = Some((body, end)),
            _ => {}
        }
        Ok(Some(end + 2))
    }

    /// Adds an aggregate's elements (`count × per + extra`) to the values to scan.
    fn aggregate(&mut self, header: &[u8], per: u64, extra: u64) -> Result<usize, String> {
        let count = number(header)?;
        if count > MAX_COUNT {
            return Err(format!("an aggregate of {count} elements"));
        }
        if count > 0 {
            self.pending = self.pending.saturating_add(count as u64 * per + extra);
        }
        Ok(self.pos + 1 + header.len() + 2)
    }
}

/// The position of the next CRLF at or after `from`; a line longer than [`MAX_LINE`] is
/// garbage.
fn find_crlf(bytes: &[u8], from: usize) -> Result<Option<usize>, String> {
    let window = &bytes[from.min(bytes.len())..bytes.len().min(from + MAX_LINE)];
    match window.windows(2).position(|pair| pair == b"\r\n") {
        Some(at) => Ok(Some(from + at)),
        None if bytes.len() >= from + MAX_LINE => Err(format!("a RESP line longer than {MAX_LINE} bytes")),
        None => Ok(None),
    }
}

fn number(text: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("a bad RESP length {:?}", String::from_utf8_lossy(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(command: bool, bytes: &[u8]) -> Result<Option<usize>, String> {
        Scan::new(command).scan(bytes)
    }

    #[test]
    fn scans_commands_and_records_name_and_key() {
        let bytes = b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$2\r\nvv\r\n*1\r\n";
        let mut scan = Scan::new(true);
        assert_eq!(scan.scan(bytes), Ok(Some(bytes.len() - 4)));
        assert_eq!((scan.first, scan.second), (Some((8, 11)), Some((17, 18))));
        assert!(scan_err(true, b"*1\r\n:1\r\n"));
        assert!(scan_err(true, b"*x\r\n"));
        assert!(scan_err(true, b"*1\r\n$3\r\nabcd\r\n"));
    }

    fn scan_err(command: bool, bytes: &[u8]) -> bool {
        scan(command, bytes).is_err()
    }

    #[test]
    fn scans_replies_of_every_type_and_resumes() {
        for reply in [
            &b"+OK\r\n"[..],
            b"-ERR x\r\n",
            b":12\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"$0\r\n\r\n",
            b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
            b"%1\r\n+k\r\n+v\r\n",
            b"|1\r\n+a\r\n+b\r\n:1\r\n",
            b">2\r\n+m\r\n+x\r\n",
            b"_\r\n",
        ] {
            assert_eq!(scan(false, reply), Ok(Some(reply.len())), "{}", String::from_utf8_lossy(reply));
            for cut in 0..reply.len() {
                assert_eq!(scan(false, &reply[..cut]), Ok(None), "prefix {cut}");
            }
            let mut resumed = Scan::new(false);
            assert_eq!(resumed.scan(&reply[..reply.len() - 1]), Ok(None));
            assert_eq!(resumed.scan(reply), Ok(Some(reply.len())));
        }
        assert!(scan_err(false, b"?what\r\n"));
        assert!(scan_err(false, b"$999999999999\r\n"));
    }

    #[test]
    fn inline_commands_and_empty_lines() {
        let command = inline(b"get  key\r\nrest").ok().flatten();
        assert!(command
            .as_ref()
            .is_some_and(|c| (c.len, c.name.as_str(), c.key.as_str(), c.replies) == (10, "GET", "key", 1)));
        assert!(inline(b"\r\n").ok().flatten().is_some_and(|c| c.replies == 0));
        assert!(matches!(inline(b"PING"), Ok(None)));
        assert!(inline(&vec![b'a'; MAX_INLINE + 1]).is_err());
    }
}
