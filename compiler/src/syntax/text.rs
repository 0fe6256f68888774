//! Bytes to text: the checks every file passes before a parser sees it.
//!
//! Binary content and invalid UTF-8 are reported with a location instead of being decoded
//! lossily (nothing a user wrote is silently rewritten).

use crate::diagnostics::Diagnostic;
use crate::span::Span;

/// How many leading bytes are sniffed for NUL to call a file binary (as git does).
const BINARY_SNIFF_BYTES: usize = 8000;

/// Decodes a file's bytes as UTF-8, or explains why it cannot be checked.
// One error per file at most: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub fn decode(bytes: &[u8]) -> Result<&str, Diagnostic> {
    let sniffed = &bytes[..bytes.len().min(BINARY_SNIFF_BYTES)];
    // `contains` on bytes is memchr; only a binary file pays for finding the position.
    if sniffed.contains(&0) {
        let pos = sniffed.iter().position(|&b| b == 0).unwrap_or(0);
        return Err(Diagnostic::error(
            "OSP002",
            Span::new(pos, pos + 1),
            "this file looks binary (it contains a NUL byte)",
        )
        .with_help("spec files are UTF-8 text; exclude this file from the check or pass the right path"));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let start = e.valid_up_to();
        let end = start + e.error_len().unwrap_or(bytes.len() - start).max(1);
        Diagnostic::error("OSP003", Span::new(start, end.min(bytes.len())), format!("invalid UTF-8 at byte {start}"))
            .with_help("save the file as UTF-8; YAML 1.2 and Starlark files are Unicode text")
    })
}

/// The text of `bytes[..end]` for showing an undecodable file's diagnostic: valid UTF-8 as it
/// is, each invalid byte as one `?`, so byte offsets (and so lines and columns) stay those of
/// the file. (`from_utf8_lossy` would put a 3-byte U+FFFD per invalid sequence and shift them.)
pub fn offset_preserving_prefix(bytes: &[u8], end: usize) -> String {
    let mut text = String::with_capacity(end);
    for chunk in bytes[..end.min(bytes.len())].utf8_chunks() {
        text.push_str(chunk.valid());
        text.extend(std::iter::repeat_n('?', chunk.invalid().len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_invalid_utf8_are_located() {
        assert_eq!(decode(b"a: \x00").unwrap_err().code, "OSP002");
        let err = decode(b"a: \xff\xfe b").unwrap_err();
        assert_eq!((err.code, err.span), ("OSP003", Span::new(3, 4)));
        assert_eq!(decode("é: 1".as_bytes()).ok(), Some("é: 1"));
    }

    #[test]
    fn a_nul_after_invalid_utf8_is_placed_by_its_byte_offset() {
        let bytes = b"a: 1\nb: \xff\xfe x\x00";
        let err = decode(bytes).unwrap_err();
        assert_eq!((err.code, err.span), ("OSP002", Span::new(12, 13)));
        let shown = offset_preserving_prefix(bytes, err.span.start);
        assert_eq!(shown, "a: 1\nb: ?? x");
        assert_eq!(shown.len(), err.span.start, "offsets are the file's");
        let at = crate::span::LineIndex::new(&shown).line_col(&shown, err.span.start);
        assert_eq!((at.line, at.column), (2, 8));
    }
}
