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
    /// Whether the edit meets `range`: they share a byte, or one of them is empty (a cursor,
    /// an insertion) and lies within the other, ends included. An edit that merely ends where
    /// the range starts (the lines above a selection) does not touch it.
    pub fn touches(&self, range: Span) -> bool {
        let (edit, range) = (&self.range, &range);
        if edit.start == edit.end || range.start == range.end {
            edit.start <= range.end && range.start <= edit.end
        } else {
            edit.start < range.end && range.start < edit.end
        }
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

/// `edit` as one edit per line when it replaces as many lines as it writes (a run of
/// re-spaced lines), else as it is (lines joined, split or inserted). Neighbouring lines whose
/// indentation changes stay one edit: half a re-indented block is a different structure.
pub fn per_line(text: &str, edit: &TextEdit) -> Vec<TextEdit> {
    let old: Vec<&str> = text[edit.range.start..edit.range.end].split_inclusive('\n').collect();
    let new: Vec<&str> = edit.new_text.split_inclusive('\n').collect();
    if old.len() != new.len() || old.len() < 2 {
        return vec![edit.clone()];
    }
    let mut out: Vec<TextEdit> = Vec::with_capacity(old.len());
    let mut at = edit.range.start;
    // Whether the last edit pushed re-indents and ends at `at`, so the next re-indented line joins it.
    let mut open_block = false;
    for (before, after) in old.into_iter().zip(new) {
        let reindents = indentation(before) != indentation(after);
        match out.last_mut() {
            Some(last) if before != after && reindents && open_block => {
                last.range.end += before.len();
                last.new_text.push_str(after);
            }
            _ if before != after => {
                out.push(TextEdit { range: Span::new(at, at + before.len()), new_text: after.to_string() })
            }
            _ => {}
        }
        open_block = before != after && reindents;
        at += before.len();
    }
    out
}

fn indentation(line: &str) -> &str {
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
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

    #[test]
    fn per_line_splits_only_line_for_line_replacements() {
        let (old, new) = ("a\nb \nc\n", "a\nb\nc\n\n");
        let whole = TextEdit { range: Span::new(0, 7), new_text: "A\nb \nC\n".into() };
        let split = per_line(old, &whole);
        assert_eq!(split.len(), 2);
        assert_eq!(apply(old, &split), "A\nb \nC\n");
        let joined = TextEdit { range: Span::new(0, 7), new_text: new.into() };
        assert_eq!(per_line(old, &joined), vec![joined]);
        // Two re-indented lines go together; the re-spaced line after them alone.
        let (old, new) = ("a:\n  - b\n  - c\nd:   1\n", "a:\n- b\n- c\nd: 1\n");
        let split = per_line(old, &TextEdit { range: Span::new(0, old.len()), new_text: new.into() });
        assert_eq!(split.iter().map(|e| e.new_text.as_str()).collect::<Vec<_>>(), ["- b\n- c\n", "d: 1\n"]);
        assert_eq!(apply(old, &split), new);
    }

    #[test]
    fn touching_is_overlap_or_an_empty_side_within_the_other() {
        let edit = |start, end| TextEdit { range: Span::new(start, end), new_text: String::new() };
        assert!(edit(4, 8).touches(Span::new(7, 9)));
        assert!(!edit(4, 8).touches(Span::new(8, 9)), "ends where the range starts");
        assert!(!edit(4, 8).touches(Span::new(0, 4)), "starts where the range ends");
        assert!(edit(4, 8).touches(Span::new(8, 8)), "a cursor at its end");
        assert!(edit(4, 4).touches(Span::new(4, 6)), "an insertion at the range's start");
        assert!(!edit(3, 3).touches(Span::new(4, 6)));
    }
}
