//! The physical lines of a YAML text and what the layout decides for each.

/// One line of the text (without its `\n`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Line {
    pub start: usize,
    pub end: usize,
    /// Leading spaces (tabs are not indentation in YAML).
    pub indent: usize,
}

impl Line {
    /// Byte offset of the first character that is not a space (`end` for a blank line).
    pub fn first(&self) -> usize {
        self.start + self.indent
    }

    pub fn is_blank(&self, bytes: &[u8]) -> bool {
        bytes[self.first()..self.end].iter().all(|&b| b == b' ' || b == b'\t')
    }
}

/// What the layout does with one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rule {
    /// Not decided by the structure (blank, comment, document marker — or unsupported).
    Open,
    /// A line that starts a node, a key or a `-`: this many spaces, then its content with the
    /// gaps normalised.
    Indent(usize),
    /// A line inside a multi-line scalar or flow collection: its indentation moves by `delta`
    /// like the block that holds it; `strip` drops trailing blanks (plain scalars only). In a
    /// block scalar's body (`block: Some(n)`, `n` the column of its parent) a blank line
    /// indented no deeper than `n` becomes empty; deeper blank lines may be content.
    Shift { delta: isize, strip: bool, block: Option<usize> },
}

/// Splits `text` into lines.
pub(super) fn split(text: &str) -> Vec<Line> {
    let bytes = text.as_bytes();
    let mut lines = Vec::with_capacity(text.len() / 24 + 1);
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr_newline(bytes, start);
        let indent = bytes[start..end].iter().take_while(|&&b| b == b' ').count();
        lines.push(Line { start, end, indent });
        start = end + 1;
    }
    lines
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| from + p)
}

/// The index of the line holding byte `offset` (lines sorted by start).
pub(super) fn line_of(lines: &[Line], offset: usize) -> usize {
    lines.partition_point(|l| l.start <= offset).saturating_sub(1)
}
