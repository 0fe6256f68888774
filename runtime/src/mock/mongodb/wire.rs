//! MongoDB wire framing: the 16-byte header, OP_MSG (kind 0 body and kind 1 document
//! sequences, a CRC-32C checksum tolerated and not verified), the legacy OP_QUERY a driver's
//! first `hello`/`isMaster` may use, and the replies (OP_MSG, OP_REPLY). Shared by the mock and
//! the fault proxy, so both read a message the same way.

use bson::{Bson, Document};

/// The header's length.
pub const HEADER_LEN: usize = 16;
/// The largest message accepted (a server's `maxMessageSizeBytes`).
pub const MAX_MESSAGE: usize = 48_000_000;

pub const OP_REPLY: i32 = 1;
pub const OP_QUERY: i32 = 2004;
pub const OP_MSG: i32 = 2013;

/// OP_MSG flag bits.
const CHECKSUM_PRESENT: u32 = 1;
const MORE_TO_COME: u32 = 1 << 1;

/// A message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub length: usize,
    pub request_id: i32,
    pub response_to: i32,
    pub op_code: i32,
}

/// The header at the front of `bytes`, once 16 bytes are there. A length outside
/// 16..=[`MAX_MESSAGE`] is garbage.
pub fn header(bytes: &[u8]) -> Result<Option<Header>, String> {
    if bytes.len() < HEADER_LEN {
        return Ok(None);
    }
    let length = i32_at(bytes, 0);
    if length < HEADER_LEN as i32 || length as usize > MAX_MESSAGE {
        return Err(format!("a message length of {length} bytes (not between 16 and {MAX_MESSAGE})"));
    }
    Ok(Some(Header {
        length: length as usize,
        request_id: i32_at(bytes, 4),
        response_to: i32_at(bytes, 8),
        op_code: i32_at(bytes, 12),
    }))
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    i32::from_le_bytes(word)
}

/// A command as a client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The body, with each kind 1 sequence added as an array under its identifier.
    pub body: Document,
    /// OP_MSG `moreToCome`: the client expects no reply.
    pub more_to_come: bool,
    /// Sent as OP_QUERY: answered with OP_REPLY.
    pub legacy: bool,
}

impl Command {
    /// The command's name: the body's first key.
    pub fn name(&self) -> &str {
        self.body.keys().next().map_or("", String::as_str)
    }

    /// The collection it is about: the first value when it is a string (`find: "users"`), else
    /// `collection` (`getMore`).
    pub fn collection(&self) -> String {
        match self.body.iter().next() {
            Some((_, Bson::String(name))) => name.clone(),
            _ => self.body.get_str("collection").unwrap_or_default().to_owned(),
        }
    }

    /// The database (`$db`, or the OP_QUERY namespace's).
    pub fn database(&self) -> &str {
        self.body.get_str("$db").unwrap_or("admin")
    }
}

/// Decodes a whole message (header included) into a command. OP_MSG and OP_QUERY are the only
/// requests a server answers; anything else is refused.
pub fn command(header: &Header, message: &[u8]) -> Result<Command, String> {
    let body = &message[HEADER_LEN..header.length];
    match header.op_code {
        OP_MSG => op_msg(body),
        OP_QUERY => op_query(body),
        other => Err(format!("an unsupported opcode {other}")),
    }
}

fn op_msg(body: &[u8]) -> Result<Command, String> {
    if body.len() < 5 {
        return Err("an OP_MSG without sections".into());
    }
    let flags = i32_at(body, 0) as u32;
    let mut end = body.len();
    if flags & CHECKSUM_PRESENT != 0 {
        end = end.checked_sub(4).filter(|end| *end >= 5).ok_or("an OP_MSG too short for its checksum")?;
    }
    let mut at = 4;
    let mut main: Option<Document> = None;
    let mut sequences = Vec::new();
    while at < end {
        let kind = body[at];
        at += 1;
        match kind {
            0 => {
                let (document, len) = document_at(&body[..end], at)?;
                if main.replace(document).is_some() {
                    return Err("an OP_MSG with two body sections".into());
                }
                at += len;
            }
            1 => {
                let (sequence, len) = sequence_at(&body[..end], at)?;
                sequences.push(sequence);
                at += len;
            }
            other => return Err(format!("an OP_MSG section of unknown kind {other}")),
        }
    }
    let mut body = main.ok_or("an OP_MSG without a body section")?;
    for (identifier, documents) in sequences {
        body.insert(identifier, Bson::Array(documents.into_iter().map(Bson::Document).collect()));
    }
    Ok(Command { body, more_to_come: flags & MORE_TO_COME != 0, legacy: false })
}

/// A kind 1 section at `at`: its identifier, its documents and its length.
fn sequence_at(bytes: &[u8], at: usize) -> Result<((String, Vec<Document>), usize), String> {
    let size = bytes.get(at..at + 4).map(|_| i32_at(bytes, at)).ok_or("a truncated document sequence")?;
    let end = usize::try_from(size)
        .ok()
        .and_then(|size| at.checked_add(size))
        .filter(|end| *end <= bytes.len() && *end >= at + 5)
        .ok_or_else(|| format!("a document sequence of {size} bytes past the message's end"))?;
    let (identifier, mut cursor) = cstring_at(&bytes[..end], at + 4)?;
    let mut documents = Vec::new();
    while cursor < end {
        let (document, len) = document_at(&bytes[..end], cursor)?;
        documents.push(document);
        cursor += len;
    }
    Ok(((identifier, documents), size as usize))
}

fn op_query(body: &[u8]) -> Result<Command, String> {
    let (namespace, at) = cstring_at(body, 4)?;
    // numberToSkip and numberToReturn: a command query is answered whole.
    let (mut query, _) = document_at(body, at + 8)?;
    // A wrapped command (`{$query: {...}, $readPreference: ...}`) unwraps to its command.
    if let Ok(inner) = query.get_document("$query") {
        query = inner.clone();
    }
    let database = namespace.split('.').next().unwrap_or_default().to_owned();
    query.insert("$db", database);
    Ok(Command { body: query, more_to_come: false, legacy: true })
}

/// The null-terminated string at `at` and the position after it.
fn cstring_at(bytes: &[u8], at: usize) -> Result<(String, usize), String> {
    let rest = bytes.get(at..).ok_or("a truncated string")?;
    let nul = rest.iter().position(|b| *b == 0).ok_or("an unterminated string")?;
    let text = std::str::from_utf8(&rest[..nul]).map_err(|_| "a string that is not UTF-8".to_owned())?;
    Ok((text.to_owned(), at + nul + 1))
}

/// The BSON document at `at` and its length.
fn document_at(bytes: &[u8], at: usize) -> Result<(Document, usize), String> {
    let size = bytes.get(at..at + 4).map(|_| i32_at(bytes, at)).ok_or("a truncated BSON document")?;
    let end = usize::try_from(size)
        .ok()
        .filter(|size| *size >= 5)
        .and_then(|size| at.checked_add(size))
        .filter(|end| *end <= bytes.len())
        .ok_or_else(|| format!("a BSON document of {size} bytes past the message's end"))?;
    let document =
        Document::from_reader(&bytes[at..end]).map_err(|e| format!("a BSON document that does not decode: {e}"))?;
    Ok((document, end - at))
}

/// An OP_MSG reply to `response_to` carrying `body`.
pub fn reply_msg(request_id: i32, response_to: i32, body: &Document) -> Vec<u8> {
    let mut message = header_bytes(request_id, response_to, OP_MSG);
    message.extend_from_slice(&0u32.to_le_bytes());
    message.push(0);
    encode_into(body, &mut message);
    finish(message)
}

/// An OP_REPLY (the answer to OP_QUERY) with one document.
pub fn reply_legacy(request_id: i32, response_to: i32, body: &Document) -> Vec<u8> {
    let mut message = header_bytes(request_id, response_to, OP_REPLY);
    message.extend_from_slice(&0i32.to_le_bytes()); // responseFlags
    message.extend_from_slice(&0i64.to_le_bytes()); // cursorID
    message.extend_from_slice(&0i32.to_le_bytes()); // startingFrom
    message.extend_from_slice(&1i32.to_le_bytes()); // numberReturned
    encode_into(body, &mut message);
    finish(message)
}

fn header_bytes(request_id: i32, response_to: i32, op_code: i32) -> Vec<u8> {
    let mut message = Vec::with_capacity(256);
    message.extend_from_slice(&0i32.to_le_bytes());
    message.extend_from_slice(&request_id.to_le_bytes());
    message.extend_from_slice(&response_to.to_le_bytes());
    message.extend_from_slice(&op_code.to_le_bytes());
    message
}

fn encode_into(body: &Document, out: &mut Vec<u8>) {
    // Writing to a Vec fails only for a document BSON cannot hold (a key with a NUL byte,
    // which our own replies never have); such a reply goes out as a plain error instead.
    if body.to_writer(&mut *out).is_err() {
        let fallback = bson::doc! { "ok": 0.0, "errmsg": "the reply could not be encoded as BSON", "code": 1 };
        let _ = fallback.to_writer(out);
    }
}

fn finish(mut message: Vec<u8>) -> Vec<u8> {
    let length = message.len() as i32;
    message[..4].copy_from_slice(&length.to_le_bytes());
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn msg(flags: u32, sections: &[u8]) -> Vec<u8> {
        let mut message = header_bytes(7, 0, OP_MSG);
        message.extend_from_slice(&flags.to_le_bytes());
        message.extend_from_slice(sections);
        finish(message)
    }

    fn bytes(document: &Document) -> Vec<u8> {
        let mut out = Vec::new();
        document.to_writer(&mut out).unwrap();
        out
    }

    fn decode(message: &[u8]) -> Result<Command, String> {
        let header = header(message)?.ok_or("short")?;
        command(&header, message)
    }

    #[test]
    fn op_msg_merges_document_sequences_and_skips_checksums() {
        let mut sections = vec![0];
        sections.extend(bytes(&doc! { "insert": "users", "$db": "app" }));
        let docs = [bytes(&doc! { "a": 1 }), bytes(&doc! { "a": 2 })].concat();
        sections.push(1);
        sections.extend(((4 + 10 + docs.len()) as i32).to_le_bytes());
        sections.extend(b"documents\0");
        sections.extend(&docs);
        let plain = decode(&msg(0, &sections)).unwrap();
        assert_eq!(plain.name(), "insert");
        assert_eq!(plain.collection(), "users");
        assert_eq!(plain.database(), "app");
        assert_eq!(plain.body.get_array("documents").unwrap().len(), 2);
        let mut with_sum = sections.clone();
        with_sum.extend([1, 2, 3, 4]);
        assert_eq!(decode(&msg(CHECKSUM_PRESENT | MORE_TO_COME, &with_sum)).unwrap().body, plain.body);
        assert!(decode(&msg(MORE_TO_COME, &sections)).unwrap().more_to_come);
    }

    #[test]
    fn garbage_is_refused() {
        assert!(header(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(matches!(header(&[40, 0, 0]), Ok(None)));
        assert!(decode(&msg(0, &[2, 1, 2])).is_err());
        assert!(decode(&msg(0, &[0, 200, 0, 0, 0, 1])).is_err());
        assert!(decode(&msg(0, &[])).is_err());
        let mut other = header_bytes(1, 0, 2012);
        other.extend([0; 8]);
        assert!(decode(&finish(other)).is_err());
    }

    #[test]
    fn op_query_unwraps_and_replies_round_trip() {
        let mut message = header_bytes(3, 0, OP_QUERY);
        message.extend(0i32.to_le_bytes());
        message.extend(b"admin.$cmd\0");
        message.extend(0i32.to_le_bytes());
        message.extend((-1i32).to_le_bytes());
        message.extend(bytes(&doc! { "$query": { "isMaster": 1 } }));
        let command = decode(&finish(message)).unwrap();
        assert!(command.legacy);
        assert_eq!((command.name(), command.database()), ("isMaster", "admin"));
        let reply = reply_msg(9, 3, &doc! { "ok": 1.0 });
        let header = header(&reply).unwrap().unwrap();
        assert_eq!((header.length, header.response_to, header.op_code), (reply.len(), 3, OP_MSG));
        assert_eq!(decode(&reply).unwrap().body, doc! { "ok": 1.0 });
        assert_eq!(header_of(&reply_legacy(9, 3, &doc! { "ok": 1.0 })).op_code, OP_REPLY);
    }

    fn header_of(message: &[u8]) -> Header {
        header(message).unwrap().unwrap()
    }
}
