//! What a file keeps through formatting that is not layout: its line breaks and a UTF-8 byte
//! order mark. The layouts work on text with `\n` line breaks and no mark; the result gets
//! both back. The file's line break is its first one's, as rustfmt's `newline_style = "Auto"`
//! decides: a file with `\r\n` line breaks stays so, whatever the platform.

use std::borrow::Cow;

const BOM: &str = "\u{feff}";

/// A file's byte order mark and line-break style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Envelope {
    bom: bool,
    crlf: bool,
    /// Line breaks of both kinds.
    mixed: bool,
}

/// The text a layout works on, and what goes back around its result.
pub(super) struct Opened<'t> {
    pub envelope: Envelope,
    pub text: Cow<'t, str>,
}

impl Opened<'_> {
    /// Whether the layout's text is the file's own (no mark, no `\r`).
    pub fn is_plain(&self) -> bool {
        !self.envelope.bom && matches!(self.text, Cow::Borrowed(_))
    }
}

impl Envelope {
    /// Splits `original` into its envelope and the text to lay out; `None` when a line break
    /// is a lone `\r`, which the layouts do not handle.
    pub(super) fn open(original: &str) -> Option<Opened<'_>> {
        let (bom, body) = match original.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, original),
        };
        let crlf = body.find('\n').is_some_and(|at| body[..at].ends_with('\r'));
        if !body.contains('\r') {
            let envelope = Envelope { bom, crlf, mixed: false };
            return Some(Opened { envelope, text: Cow::Borrowed(body) });
        }
        let normalized = body.replace("\r\n", "\n");
        if normalized.contains('\r') {
            return None;
        }
        let mixed = body.len() - normalized.len() != normalized.bytes().filter(|&b| b == b'\n').count();
        Some(Opened { envelope: Envelope { bom, crlf, mixed }, text: Cow::Owned(normalized) })
    }

    /// Whether the file mixes `\n` and `\r\n` (its result has only the first kind).
    pub(super) fn mixed(&self) -> bool {
        self.mixed
    }

    /// A layout's result (with `\n` line breaks, no mark) in the file's style.
    pub(super) fn close(&self, formatted: String) -> String {
        let formatted = if self.crlf { formatted.replace('\n', "\r\n") } else { formatted };
        if self.bom {
            format!("{BOM}{formatted}")
        } else {
            formatted
        }
    }

    /// The offset in `original` of `offset` in the text its layout worked on.
    pub(super) fn original_offset(&self, original: &str, offset: usize) -> usize {
        let start = if self.bom { BOM.len() } else { 0 };
        let bytes = original.as_bytes();
        let (mut at, mut seen) = (start, 0);
        while at < bytes.len() && seen < offset {
            // A `\r` before `\n` is not in the laid-out text.
            if !(bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n')) {
                seen += 1;
            }
            at += 1;
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_break_decides_and_comes_back() {
        let opened = Envelope::open("a\r\nb\r\n").unwrap();
        assert_eq!(opened.text, "a\nb\n");
        assert!(!opened.is_plain() && !opened.envelope.mixed());
        assert_eq!(opened.envelope.close("a\nb\n".into()), "a\r\nb\r\n");
        let mixed = Envelope::open("a\nb\r\nc\n").unwrap();
        assert!(mixed.envelope.mixed());
        assert_eq!(mixed.envelope.close(mixed.text.into_owned()), "a\nb\nc\n");
        assert!(Envelope::open("a\rb\n").is_none(), "a lone \\r");
        let plain = Envelope::open("a\nb").unwrap();
        assert!(plain.is_plain());
    }

    #[test]
    fn a_byte_order_mark_stays_and_offsets_map_back() {
        let original = "\u{feff}a: 1\r\nb: 2\r\n";
        let opened = Envelope::open(original).unwrap();
        assert_eq!(opened.text, "a: 1\nb: 2\n");
        assert_eq!(opened.envelope.close("a: 1\nb: 2\n".into()), original);
        let b = opened.text.find('b').unwrap();
        assert_eq!(&original[opened.envelope.original_offset(original, b)..][..1], "b");
        assert_eq!(opened.envelope.original_offset(original, 0), 3);
    }
}
