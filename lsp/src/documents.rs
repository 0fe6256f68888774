//! The documents the client has open: their text (a rope), version and language id, keyed
//! by the file path the analysis knows them by.
//!
//! Invariants: edits are applied strictly in the order the client sent them (the caller
//! holds the one lock and is fed by the ordered layer, see `ordered.rs`); a change event
//! without a range replaces the text, one with a range replaces that range of the text as
//! the previous events left it; ranges out of the text are clamped, never refused, so one bad
//! event cannot desynchronise the rest. Changes to a document that is not open are refused
//! (the caller logs them) and change nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ropey::Rope;
use tower_lsp_server::ls_types::{TextDocumentContentChangeEvent, Uri};

use crate::encoding::{offset_of, PositionEncoding};

/// One open document.
#[derive(Clone, Debug)]
pub struct Document {
    /// The URI exactly as the client spelled it: diagnostics are published under it.
    pub uri: Uri,
    pub version: i32,
    pub language_id: String,
    pub rope: Rope,
}

/// Why a change was not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeError {
    /// `didChange` for a document that was never opened (or already closed).
    NotOpen,
}

/// Every open document.
#[derive(Debug, Default)]
pub struct Documents {
    open: HashMap<PathBuf, Document>,
}

impl Documents {
    /// Opens (or reopens, replacing) a document.
    pub fn open(&mut self, path: PathBuf, document: Document) {
        self.open.insert(path, document);
    }

    /// Applies one `didChange`'s events in order and takes its version.
    pub fn change(
        &mut self,
        path: &Path,
        version: i32,
        changes: Vec<TextDocumentContentChangeEvent>,
        encoding: PositionEncoding,
    ) -> Result<(), ChangeError> {
        let document = self.open.get_mut(path).ok_or(ChangeError::NotOpen)?;
        for change in changes {
            apply(&mut document.rope, change, encoding);
        }
        document.version = version;
        Ok(())
    }

    /// Closes a document; its text reverts to the disk's.
    pub fn close(&mut self, path: &Path) -> Option<Document> {
        self.open.remove(path)
    }

    pub fn get(&self, path: &Path) -> Option<&Document> {
        self.open.get(path)
    }

    /// The paths of every open document.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.open.keys().cloned().collect()
    }
}

/// Applies one content change to `rope`.
fn apply(rope: &mut Rope, change: TextDocumentContentChangeEvent, encoding: PositionEncoding) {
    let Some(range) = change.range else {
        *rope = Rope::from_str(&change.text);
        return;
    };
    let start = offset_of(rope, range.start, encoding);
    let end = offset_of(rope, range.end, encoding);
    // A reversed range is read as the range between its ends rather than refused.
    let (start, end) = (start.min(end), start.max(end));
    let (start, end) = (rope.byte_to_char(start), rope.byte_to_char(end));
    rope.remove(start..end);
    rope.insert(start, &change.text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use tower_lsp_server::ls_types::{Position, Range};

    fn edit(range: Option<(u32, u32, u32, u32)>, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: range.map(|(a, b, c, d)| Range::new(Position::new(a, b), Position::new(c, d))),
            range_length: None,
            text: text.into(),
        }
    }

    fn opened(text: &str) -> (Documents, PathBuf) {
        let mut docs = Documents::default();
        let path = PathBuf::from("/w/a.ospec.yml");
        let uri = Uri::from_str("file:///w/a.ospec.yml").unwrap();
        docs.open(path.clone(), Document { uri, version: 1, language_id: "yaml".into(), rope: Rope::from_str(text) });
        (docs, path)
    }

    #[test]
    fn events_apply_in_order_against_the_previous_state() {
        let (mut docs, path) = opened("name: a\n");
        let changes = [edit(Some((0, 6, 0, 7)), "bc"), edit(Some((0, 8, 0, 8)), "d"), edit(None, "x: 1\n")];
        docs.change(&path, 2, changes[..2].to_vec(), PositionEncoding::Utf16).unwrap();
        assert_eq!(docs.get(&path).unwrap().rope.to_string(), "name: bcd\n");
        docs.change(&path, 3, changes[2..].to_vec(), PositionEncoding::Utf16).unwrap();
        let doc = docs.get(&path).unwrap();
        assert_eq!((doc.rope.to_string().as_str(), doc.version), ("x: 1\n", 3));
    }

    #[test]
    fn utf16_ranges_after_emoji_and_crlf() {
        let (mut docs, path) = opened("a: \"😀\"\r\nb: 中x\r\n");
        // Replace `x` (line 1, UTF-16 column 4) and the emoji (columns 4..6 of line 0).
        let changes = vec![edit(Some((1, 4, 1, 5)), "y"), edit(Some((0, 4, 0, 6)), "ok")];
        docs.change(&path, 2, changes, PositionEncoding::Utf16).unwrap();
        assert_eq!(docs.get(&path).unwrap().rope.to_string(), "a: \"ok\"\r\nb: 中y\r\n");
    }

    #[test]
    fn out_of_range_and_reversed_ranges_are_clamped() {
        let (mut docs, path) = opened("ab\n");
        docs.change(&path, 2, vec![edit(Some((9, 0, 12, 4)), "!")], PositionEncoding::Utf16).unwrap();
        docs.change(&path, 3, vec![edit(Some((0, 2, 0, 0)), "")], PositionEncoding::Utf8).unwrap();
        assert_eq!(docs.get(&path).unwrap().rope.to_string(), "\n!");
    }

    #[test]
    fn unopened_documents_are_refused() {
        let mut docs = Documents::default();
        let result = docs.change(Path::new("/w/b.star"), 2, vec![edit(None, "x")], PositionEncoding::Utf16);
        assert_eq!(result, Err(ChangeError::NotOpen));
        assert!(docs.paths().is_empty());
    }
}
