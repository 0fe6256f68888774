//! Character indices to byte offsets.
//!
//! saphyr's `Marker::index()` counts characters, but every span in ospecc is a byte range.
//! ASCII text (the common case) needs no table at all; other text keeps the byte offset of
//! every 64th character, so a lookup costs one index plus a walk of at most 63 characters and
//! the table stays at 1/8 of the text's size (or less) in memory.

/// Characters between two checkpoints of the table.
const STRIDE: usize = 64;

/// Converts saphyr's character indices into byte offsets of one text.
pub(super) struct Offsets<'t> {
    text: &'t str,
    /// `None` when the text is ASCII, where character index and byte offset agree.
    checkpoints: Option<Vec<usize>>,
}

impl<'t> Offsets<'t> {
    pub(super) fn new(text: &'t str) -> Offsets<'t> {
        if text.is_ascii() {
            return Offsets { text, checkpoints: None };
        }
        let checkpoints = text.char_indices().step_by(STRIDE).map(|(byte, _)| byte).collect();
        Offsets { text, checkpoints: Some(checkpoints) }
    }

    /// The byte offset of character `index`; indices past the end clamp to the text's length.
    pub(super) fn byte(&self, index: usize) -> usize {
        let Some(checkpoints) = &self.checkpoints else {
            return index.min(self.text.len());
        };
        let Some(&base) = checkpoints.get(index / STRIDE) else {
            return self.text.len();
        };
        let rest = index % STRIDE;
        self.text[base..].char_indices().nth(rest).map_or(self.text.len(), |(offset, _)| base + offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_identity_and_clamps() {
        let offsets = Offsets::new("a: 1");
        assert_eq!(offsets.byte(3), 3);
        assert_eq!(offsets.byte(99), 4);
    }

    #[test]
    fn multibyte_text_maps_every_char() {
        let text: String = "é€a😀".repeat(100);
        let offsets = Offsets::new(&text);
        for (index, (byte, _)) in text.char_indices().enumerate() {
            assert_eq!(offsets.byte(index), byte, "char {index}");
        }
        assert_eq!(offsets.byte(text.chars().count()), text.len());
        assert_eq!(offsets.byte(usize::MAX), text.len());
    }
}
