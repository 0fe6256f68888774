//! Position encodings: which unit an LSP `character` counts, negotiated once at `initialize`,
//! and the conversions between byte offsets (what the compiler's spans are) and LSP positions.
//!
//! Lines end at `\n`, `\r\n` or a lone `\r` (the LSP's definition; ropey is built with only
//! `cr_lines` for this). Every conversion clamps instead of failing: a line past the end is
//! the end of the text, a character past the end of its line is the line's end, and a
//! position inside a character (the middle of a surrogate pair, of a UTF-8 sequence, or
//! between `\r` and `\n`) rounds down to the character's start.

use ropey::Rope;
use tower_lsp_server::ls_types::{ClientCapabilities, Position, PositionEncodingKind, Range};

/// The unit of `Position::character`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PositionEncoding {
    /// UTF-8 code units (bytes): chosen whenever the client offers it, since it is our native unit.
    Utf8,
    /// UTF-16 code units: the LSP's default, which every client understands.
    #[default]
    Utf16,
}

impl PositionEncoding {
    /// UTF-8 when the client lists it in `general.positionEncodings`, else UTF-16.
    pub fn negotiate(capabilities: &ClientCapabilities) -> PositionEncoding {
        let offered = capabilities.general.as_ref().and_then(|g| g.position_encodings.as_ref());
        match offered {
            Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => PositionEncoding::Utf8,
            _ => PositionEncoding::Utf16,
        }
    }

    /// The kind announced in the server capabilities.
    pub fn kind(self) -> PositionEncodingKind {
        match self {
            PositionEncoding::Utf8 => PositionEncodingKind::UTF8,
            PositionEncoding::Utf16 => PositionEncodingKind::UTF16,
        }
    }
}

/// The byte offset of an LSP position in `rope`, clamped into the text.
pub fn offset_of(rope: &Rope, position: Position, encoding: PositionEncoding) -> usize {
    let line = position.line as usize;
    if line >= rope.len_lines() {
        return rope.len_bytes();
    }
    let start = rope.line_to_char(line);
    let end = content_end(rope, line);
    let character = position.character as usize;
    let char_index = match encoding {
        PositionEncoding::Utf16 => {
            let start16 = rope.char_to_utf16_cu(start);
            let end16 = rope.char_to_utf16_cu(end);
            // Rounds down when the target is the second half of a surrogate pair.
            rope.utf16_cu_to_char((start16 + character).min(end16))
        }
        PositionEncoding::Utf8 => {
            let start_byte = rope.char_to_byte(start);
            let end_byte = rope.char_to_byte(end);
            // `byte_to_char` rounds a byte inside a multi-byte character down to its start.
            rope.byte_to_char((start_byte + character).min(end_byte))
        }
    };
    rope.char_to_byte(char_index)
}

/// The LSP position of a byte offset in `rope` (offsets past the end are the end).
pub fn position_of(rope: &Rope, offset: usize, encoding: PositionEncoding) -> Position {
    let char_index = rope.byte_to_char(offset.min(rope.len_bytes()));
    let line = rope.char_to_line(char_index);
    let start = rope.line_to_char(line);
    // An offset on the line break itself (between `\r` and `\n`) is shown at the line's end.
    let char_index = char_index.min(content_end(rope, line));
    let character = match encoding {
        PositionEncoding::Utf16 => rope.char_to_utf16_cu(char_index) - rope.char_to_utf16_cu(start),
        PositionEncoding::Utf8 => rope.char_to_byte(char_index) - rope.char_to_byte(start),
    };
    Position::new(saturate(line), saturate(character))
}

/// The LSP range of a byte range.
pub fn range_of(rope: &Rope, start: usize, end: usize, encoding: PositionEncoding) -> Range {
    Range::new(position_of(rope, start, encoding), position_of(rope, end.max(start), encoding))
}

/// The char index where `line`'s content ends (before its line break, if any).
fn content_end(rope: &Rope, line: usize) -> usize {
    let start = rope.line_to_char(line);
    let mut end = if line + 1 < rope.len_lines() { rope.line_to_char(line + 1) } else { rope.len_chars() };
    if end > start && rope.char(end - 1) == '\n' {
        end -= 1;
    }
    if end > start && rope.char(end - 1) == '\r' {
        end -= 1;
    }
    end
}

/// LSP positions are `u32`; a text that large is far past the size cap, but never wrap.
fn saturate(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::GeneralClientCapabilities;

    use PositionEncoding::{Utf16, Utf8};

    fn pos(line: u32, character: u32) -> Position {
        Position::new(line, character)
    }

    #[test]
    fn negotiation_prefers_utf8_when_offered() {
        let mut caps = ClientCapabilities::default();
        assert_eq!(PositionEncoding::negotiate(&caps), Utf16);
        caps.general = Some(GeneralClientCapabilities {
            position_encodings: Some(vec![PositionEncodingKind::UTF16, PositionEncodingKind::UTF8]),
            ..GeneralClientCapabilities::default()
        });
        assert_eq!(PositionEncoding::negotiate(&caps), Utf8);
        caps.general = Some(GeneralClientCapabilities {
            position_encodings: Some(vec![PositionEncodingKind::UTF32]),
            ..GeneralClientCapabilities::default()
        });
        assert_eq!(PositionEncoding::negotiate(&caps), Utf16);
    }

    #[test]
    fn emoji_and_cjk_count_utf16_units() {
        // 😀 is 4 bytes and 2 UTF-16 units; 中 is 3 bytes and 1 unit.
        let text = "a😀中b\nx";
        let rope = Rope::from_str(text);
        let b = text.find('b').unwrap();
        assert_eq!(position_of(&rope, b, Utf16), pos(0, 4));
        assert_eq!(position_of(&rope, b, Utf8), pos(0, 8));
        assert_eq!(offset_of(&rope, pos(0, 4), Utf16), b);
        assert_eq!(offset_of(&rope, pos(0, 8), Utf8), b);
        // The middle of the surrogate pair (and of the UTF-8 sequence) rounds down to the emoji.
        assert_eq!(offset_of(&rope, pos(0, 2), Utf16), 1);
        assert_eq!(offset_of(&rope, pos(0, 3), Utf8), 1);
        assert_eq!(position_of(&rope, text.find('x').unwrap(), Utf16), pos(1, 0));
    }

    #[test]
    fn crlf_and_lone_cr_end_lines() {
        let text = "ab\r\ncd\ref\n";
        let rope = Rope::from_str(text);
        assert_eq!(position_of(&rope, 4, Utf16), pos(1, 0));
        assert_eq!(position_of(&rope, 7, Utf16), pos(2, 0));
        assert_eq!(offset_of(&rope, pos(1, 1), Utf16), 5);
        assert_eq!(offset_of(&rope, pos(2, 1), Utf16), 8);
        // Between `\r` and `\n`: the end of line 0's content.
        assert_eq!(position_of(&rope, 3, Utf16), pos(0, 2));
        // A character past the line's end stops before the line break.
        assert_eq!(offset_of(&rope, pos(0, 99), Utf16), 2);
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let text = "abc\n";
        let rope = Rope::from_str(text);
        assert_eq!(offset_of(&rope, pos(7, 3), Utf16), 4);
        assert_eq!(offset_of(&rope, pos(1, 5), Utf8), 4);
        assert_eq!(position_of(&rope, 99, Utf16), pos(1, 0));
        let empty = Rope::new();
        assert_eq!(offset_of(&empty, pos(0, 3), Utf16), 0);
        assert_eq!(position_of(&empty, 3, Utf8), pos(0, 0));
    }

    #[test]
    fn round_trips_on_every_character_boundary() {
        let text = "k: \"é😀\"\r\n# 注释 🎉\rz\n";
        let rope = Rope::from_str(text);
        for (offset, _) in text.char_indices().filter(|&(i, c)| c != '\n' || !text[..i].ends_with('\r')) {
            for encoding in [Utf8, Utf16] {
                let back = offset_of(&rope, position_of(&rope, offset, encoding), encoding);
                assert_eq!(back, offset, "{encoding:?} at {offset}");
            }
        }
    }
}
