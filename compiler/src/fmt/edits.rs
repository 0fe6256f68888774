//! The difference between a text and its formatted form as line edits (what an editor
//! applies, and what range formatting chooses from).

use similar::{DiffTag, TextDiff};

use crate::span::Span;

/// Replace `range` (bytes of the original) by `new_text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextEdit {
    pub range: Span,
    pub new_text: String,
}

impl TextEdit {
    /// Whether the edit's lines meet `range` (an empty range touches the line it is on).
    pub fn touches(&self, range: Span) -> bool {
        self.range.start <= range.end && range.start <= self.range.end
    }
}

/// The edits that turn `old` into `new`, one per run of changed lines, in order.
pub fn line_edits(old: &str, new: &str) -> Vec<TextEdit> {
    let diff = TextDiff::from_lines(old, new);
    let old_starts = line_starts(old);
    let new_starts = line_starts(new);
    diff.ops()
        .iter()
        .filter(|op| op.tag() != DiffTag::Equal)
        .map(|op| {
            let (o, n) = (op.old_range(), op.new_range());
            TextEdit {
                range: Span::new(old_starts[o.start], old_starts[o.end]),
                new_text: new[new_starts[n.start]..new_starts[n.end]].to_string(),
            }
        })
        .collect()
}

/// A unified diff (three lines of context) from `old` to `new`, with `a/NAME` and `b/NAME`
/// headers; empty when they are equal.
pub fn unified_diff(old: &str, new: &str, name: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// `text` with `edits` (sorted, not overlapping) applied.
pub fn apply(text: &str, edits: &[TextEdit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for edit in edits {
        out.push_str(&text[at..edit.range.start]);
        out.push_str(&edit.new_text);
        at = edit.range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Byte offset of the start of every line, plus the text's length (so line `i` is
/// `starts[i]..starts[i + 1]`, its line break included, as `similar` counts lines).
fn line_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(text.match_indices('\n').map(|(i, _)| i + 1).filter(|&i| i < text.len()));
    starts.push(text.len());
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_rebuild_the_new_text() {
        let (old, new) = ("a\nb\nc\nd\n", "a\nB\nc\nD\ne\n");
        let edits = line_edits(old, new);
        assert_eq!(edits.len(), 2);
        assert_eq!(apply(old, &edits), new);
        assert_eq!(apply("x", &line_edits("x", "x\n")), "x\n");
        assert_eq!(apply("", &line_edits("", "y\n")), "y\n");
    }
}
