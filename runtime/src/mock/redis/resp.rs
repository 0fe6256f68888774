//! RESP on the mock's side of the wire: commands read from a connection (arrays of bulk strings,
//! framed by the Redis proxy's incremental [`Scan`] so both enforce the same limits, or inline
//! lines as `redis-cli`-less clients such as `nc` send them), and replies encoded in the
//! connection's protocol: RESP3 types after `HELLO 3`, their RESP2 equivalents otherwise.

use std::io;

use tokio::io::AsyncRead;

use crate::proxy::buffer::ReadBuffer;
use crate::proxy::redis::{Scan, MAX_INLINE};

/// One reply. Errors carry their full text, code first (`ERR ...`, `WRONGTYPE ...`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Reply {
    Simple(&'static str),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// A missing aggregate (`LPOP key 2` on no key): `*-1` in RESP2, `_` in RESP3.
    NilArray,
    Array(Vec<Reply>),
    /// A flat array of pairs in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// An array in RESP2.
    Set(Vec<Reply>),
    /// Text (`INFO`): a bulk string in RESP2.
    Verbatim(String),
}

impl Reply {
    pub(super) fn ok() -> Reply {
        Reply::Simple("OK")
    }

    pub(super) fn error(text: impl Into<String>) -> Reply {
        Reply::Error(text.into())
    }

    pub(super) fn bulk(bytes: &[u8]) -> Reply {
        Reply::Bulk(bytes.to_vec())
    }

    pub(super) fn text(text: &str) -> Reply {
        Reply::Bulk(text.as_bytes().to_vec())
    }

    pub(super) fn bulks<'a>(items: impl IntoIterator<Item = &'a Vec<u8>>) -> Reply {
        Reply::Array(items.into_iter().map(|item| Reply::bulk(item)).collect())
    }

    /// Appends the reply's bytes in RESP3 (`resp3`) or RESP2.
    pub(super) fn encode(&self, resp3: bool, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => line(out, b'+', text),
            Reply::Error(text) => line(out, b'-', &one_line(text)),
            Reply::Int(n) => line(out, b':', &n.to_string()),
            Reply::Bulk(bytes) => blob(out, b'$', bytes),
            Reply::Nil | Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => aggregate(out, b'*', items, resp3),
            Reply::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, resp3),
            Reply::Map(pairs) if resp3 => {
                line(out, b'%', &pairs.len().to_string());
                for (key, value) in pairs {
                    key.encode(resp3, out);
                    value.encode(resp3, out);
                }
            }
            Reply::Map(pairs) => {
                line(out, b'*', &(pairs.len() * 2).to_string());
                for (key, value) in pairs {
                    key.encode(resp3, out);
                    value.encode(resp3, out);
                }
            }
            Reply::Verbatim(text) if resp3 => blob(out, b'=', format!("txt:{text}").as_bytes()),
            Reply::Verbatim(text) => blob(out, b'$', text.as_bytes()),
        }
    }
}

fn line(out: &mut Vec<u8>, kind: u8, text: &str) {
    out.push(kind);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn blob(out: &mut Vec<u8>, kind: u8, bytes: &[u8]) {
    line(out, kind, &bytes.len().to_string());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn aggregate(out: &mut Vec<u8>, kind: u8, items: &[Reply], resp3: bool) {
    line(out, kind, &items.len().to_string());
    for item in items {
        item.encode(resp3, out);
    }
}

/// Error and status lines cannot hold a line break.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// A command's words, its name first.
type Args = Vec<Vec<u8>>;

/// A connection's incoming bytes, read as commands.
pub(super) struct Commands {
    buffer: ReadBuffer,
    /// The scan of a multibulk command at the front of the buffer, kept across reads.
    scan: Scan,
}

impl Commands {
    pub(super) fn new() -> Commands {
        Commands { buffer: ReadBuffer::new(), scan: Scan::new(true) }
    }

    /// Reads once more; `Ok(0)` is end of stream.
    pub(super) async fn fill<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> io::Result<usize> {
        self.buffer.fill(reader).await
    }

    /// Bytes of a command not yet complete are buffered.
    pub(super) fn partial(&self) -> bool {
        !self.buffer.bytes().is_empty()
    }

    /// The next complete command's arguments (empty for an empty command, which Redis ignores),
    /// `None` while it is partial, or why the bytes are not RESP (a protocol error).
    pub(super) fn next(&mut self) -> Result<Option<Args>, String> {
        let bytes = self.buffer.bytes();
        let (args, len) = match bytes.first() {
            None => return Ok(None),
            Some(b'*') => {
                let Some(len) = self.scan.scan(bytes)? else { return Ok(None) };
                self.scan = Scan::new(true);
                (multibulk(&bytes[..len])?, len)
            }
            Some(_) => match inline(bytes)? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        self.buffer.consume(len);
        Ok(Some(args))
    }
}

/// The arguments of a complete multibulk frame (already checked by [`Scan`]).
fn multibulk(frame: &[u8]) -> Result<Args, String> {
    let mut pos = 0;
    let count = header(frame, &mut pos)?;
    let mut args = Vec::with_capacity(count.clamp(0, 64) as usize);
    for _ in 0..count.max(0) {
        let len = header(frame, &mut pos)?;
        if len < 0 {
            return Err("invalid bulk length".into());
        }
        let data = frame.get(pos..pos + len as usize).ok_or("a bulk string past the end of the command")?;
        args.push(data.to_vec());
        pos += len as usize + 2;
    }
    Ok(args)
}

/// The number of a `*N` / `$N` line at `pos`, moving `pos` past the line.
fn header(frame: &[u8], pos: &mut usize) -> Result<i64, String> {
    let rest = frame.get(*pos + 1..).ok_or("a truncated command")?;
    let end = rest.windows(2).position(|pair| pair == b"\r\n").ok_or("a line without CRLF")?;
    let text = std::str::from_utf8(&rest[..end]).map_err(|_| "a non-numeric length")?;
    *pos += end + 3;
    text.parse().map_err(|_| format!("invalid length {text:?}"))
}

/// An inline command (`SET k "a b"\r\n`) and its length, `None` while its line is partial.
fn inline(bytes: &[u8]) -> Result<Option<(Args, usize)>, String> {
    let Some(newline) = bytes.iter().take(MAX_INLINE + 1).position(|b| *b == b'\n') else {
        return match bytes.len() > MAX_INLINE {
            true => Err("too big inline request".into()),
            false => Ok(None),
        };
    };
    let line = bytes[..newline].strip_suffix(b"\r").unwrap_or(&bytes[..newline]);
    let text = std::str::from_utf8(line).map_err(|_| "binary data where an inline command was expected")?;
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err("control characters where an inline command was expected".into());
    }
    let args = split_args(text)?;
    // Redis closes connections that speak HTTP to it (cross-protocol scripting).
    if args.first().is_some_and(|first| first.eq_ignore_ascii_case(b"post") || first.eq_ignore_ascii_case(b"host:")) {
        return Err("an HTTP request, not RESP".into());
    }
    Ok(Some((args, newline + 1)))
}

/// Splits an inline line into words as Redis does: whitespace-separated, `"..."` with
/// backslash escapes (`\n`, `\xHH`, ...), `'...'` with `\'`.
fn split_args(line: &str) -> Result<Args, String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { return Ok(args) };
        let mut word = Vec::new();
        if first == '"' || first == '\'' {
            chars.next();
            quoted(&mut chars, first, &mut word)?;
            if chars.peek().is_some_and(|c| !c.is_ascii_whitespace()) {
                return Err("unbalanced quotes in request".into());
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_ascii_whitespace()) {
                let mut utf8 = [0; 4];
                word.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
        args.push(word);
    }
}

/// The rest of a quoted word, through its closing quote.
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char, word: &mut Vec<u8>) -> Result<(), String> {
    let mut utf8 = [0; 4];
    loop {
        let c = chars.next().ok_or("unbalanced quotes in request")?;
        match (quote, c) {
            (_, c) if c == quote => return Ok(()),
            ('\'', '\\') => word.push(if chars.next_if_eq(&'\'').is_some() { b'\'' } else { b'\\' }),
            ('"', '\\') => {
                let escaped = chars.next().ok_or("unbalanced quotes in request")?;
                match escaped {
                    'x' => {
                        let hex: String = [chars.next(), chars.next()].into_iter().flatten().collect();
                        word.push(u8::from_str_radix(&hex, 16).map_err(|_| "a bad \\x escape in request")?);
                    }
                    other => match ESCAPES.iter().find(|(letter, _)| *letter == other) {
                        Some((_, byte)) => word.push(*byte),
                        None => word.extend_from_slice(other.encode_utf8(&mut utf8).as_bytes()),
                    },
                }
            }
            (_, c) => word.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes()),
        }
    }
}

/// Backslash escapes inside double quotes (any other escaped character stands for itself).
const ESCAPES: &[(char, u8)] = &[('n', b'\n'), ('r', b'\r'), ('t', b'\t'), ('b', 8), ('a', 7)];

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(reply: &Reply, resp3: bool) -> String {
        let mut out = Vec::new();
        reply.encode(resp3, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn replies_in_both_protocols() {
        let map = Reply::Map(vec![(Reply::text("a"), Reply::Int(1))]);
        assert_eq!(encoded(&map, false), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(encoded(&map, true), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(encoded(&Reply::Nil, false), "$-1\r\n");
        assert_eq!(encoded(&Reply::NilArray, false), "*-1\r\n");
        assert_eq!(encoded(&Reply::Nil, true), "_\r\n");
        assert_eq!(encoded(&Reply::Set(vec![Reply::text("x")]), true), "~1\r\n$1\r\nx\r\n");
        assert_eq!(encoded(&Reply::Verbatim("a".into()), true), "=5\r\ntxt:a\r\n");
        assert_eq!(encoded(&Reply::error("ERR a\r\nb"), false), "-ERR a  b\r\n");
    }

    #[test]
    fn inline_words_and_quotes() {
        let words = |line: &str| {
            split_args(line).map(|w| w.into_iter().map(|w| String::from_utf8(w).unwrap()).collect::<Vec<_>>())
        };
        assert_eq!(
            words("set  k \"a b\\n\" 'c\\'d'"),
            Ok(vec!["set".into(), "k".into(), "a b\n".into(), "c'd".into()])
        );
        assert_eq!(words("echo \"\\x41\""), Ok(vec!["echo".into(), "A".into()]));
        assert!(words("echo \"open").is_err());
        assert!(words("echo \"a\"b").is_err());
        assert!(inline(b"POST / HTTP/1.1\r\n").is_err());
        assert!(inline(b"\x00\x01\x02\r\n").is_err());
        assert!(matches!(inline(b"PING"), Ok(None)));
        assert!(inline(&vec![b'a'; MAX_INLINE + 1]).is_err());
    }

    #[test]
    fn multibulk_arguments() {
        assert_eq!(multibulk(b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n"), Ok(vec![b"GET".to_vec(), Vec::new()]));
        assert!(multibulk(b"*1\r\n$-1\r\n").is_err());
        assert_eq!(multibulk(b"*0\r\n"), Ok(Vec::new()));
    }
}
