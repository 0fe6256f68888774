//! The difference between a text and its formatted form, as line edits (what an editor
//! applies, and what range formatting chooses from) and as a unified diff (`fmt --check`).
//!
//! Lines are aligned by their text without whitespace first: a formatter changes little
//! else, so that alignment is nearly linear, where a plain line diff of a re-indented file
//! (every line changed) is quadratic. Aligned lines that differ in whitespace are changes.
//!
//! Before any diff runs, lines that are certainly the same line are paired up in one linear
//! pass ([`anchors`]), and the diff only runs between them: Myers' diff costs the product of
//! the length and the number of changed lines, which for a large file whose lines are
//! joined and split in many places (a long topology file) is quadratic again.

use std::ops::Range;

use similar::{Algorithm, DiffOp};

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

/// A text as lines (each with its line break) and their byte offsets.
struct Lines<'t> {
    lines: Vec<&'t str>,
    /// Start of every line, then the text's length.
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Lines<'t> {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut starts = Vec::with_capacity(lines.len() + 1);
        let mut at = 0;
        starts.push(0);
        for line in &lines {
            at += line.len();
            starts.push(at);
        }
        Lines { lines, starts }
    }

    fn bytes(&self, lines: Range<usize>) -> Range<usize> {
        self.starts[lines.start]..self.starts[lines.end]
    }
}

/// The operations from `old` to `new` lines; consecutive changed lines are one operation.
fn line_ops(old: &Lines, new: &Lines) -> Vec<DiffOp> {
    let old_content: Vec<Content> = old.lines.iter().map(|l| Content::of(l)).collect();
    let new_content: Vec<Content> = new.lines.iter().map(|l| Content::of(l)).collect();
    let mut ops = Ops::default();
    let (mut o, mut n) = (0, 0);
    let end = std::iter::once((old.lines.len(), new.lines.len()));
    for (cut_old, cut_new) in cuts(&old_content, &new_content).into_iter().chain(end) {
        ops.diff(old, new, o..cut_old, n..cut_new);
        (o, n) = (cut_old, cut_new);
    }
    ops.0
}

/// What lines are aligned by: their text without whitespace, hashed (FxHash's step: a
/// collision only costs a less minimal diff, as aligned lines are compared).
fn key(line: &str) -> u64 {
    line.bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .fold(0u64, |hash, b| (hash.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95))
}

/// A line's content (its characters but whitespace and [layout](is_layout)) as a count and a
/// hash of the multiset: a sum, so that it adds up over lines and ignores order (`load()`
/// symbols move).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Content {
    len: usize,
    sum: u64,
}

impl Content {
    fn of(line: &str) -> Content {
        let (mut len, mut sum) = (0, 0u64);
        for b in line.bytes() {
            let hash = CONTENT_HASH[usize::from(b)];
            len += usize::from(hash != 0);
            sum = sum.wrapping_add(hash);
        }
        Content { len, sum }
    }

    fn add(self, other: Content) -> Content {
        Content { len: self.len + other.len, sum: self.sum.wrapping_add(other.sum) }
    }
}

/// Each byte's hash in [`Content`], 0 for whitespace and layout (splitmix64's finaliser).
const CONTENT_HASH: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        if !byte.is_ascii_whitespace() && !is_layout(byte) {
            let mut z = (b as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            table[b] = (z ^ (z >> 31)) | 1;
        }
        b += 1;
    }
    table
};

/// What a formatter writes or drops besides whitespace: trailing commas, the `;` between
/// statements it puts on lines of their own, `\` line continuations.
const fn is_layout(b: u8) -> bool {
    matches!(b, b',' | b';' | b'\\')
}

/// Where both texts can be cut into parts diffed apart, in order: lines (with content) that
/// start after the same content in both texts. A formatter keeps the content (in order but
/// for sorted `load()` symbols), so it never needs to pair a line before such a cut with one
/// after it; where the content differs, the texts are cut no more after the difference. One
/// pass over both, merging by the amount of content before each line; lines without content
/// (blank, a lone `,`) stay in the part before.
fn cuts(old: &[Content], new: &[Content]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (mut before_old, mut before_new) = (Content::default(), Content::default());
    while i < old.len() && j < new.len() {
        let (a, b) = (old[i], new[j]);
        let (x, y) = (before_old.len, before_new.len);
        if x < y || (x == y && a.len == 0) {
            (i, before_old) = (i + 1, before_old.add(a));
        } else if y < x || b.len == 0 {
            (j, before_new) = (j + 1, before_new.add(b));
        } else {
            if before_old == before_new {
                out.push((i, j));
            }
            (i, before_old, j, before_new) = (i + 1, before_old.add(a), j + 1, before_new.add(b));
        }
    }
    out
}

/// Operations built line by line, runs merged.
#[derive(Default)]
struct Ops(Vec<DiffOp>);

impl Ops {
    /// The operations of one part: lines aligned by their [`key`]s, the rest changed.
    fn diff(&mut self, old: &Lines, new: &Lines, o: Range<usize>, n: Range<usize>) {
        match (o.len(), n.len()) {
            (0, 0) => {}
            (0, _) | (_, 0) => self.changed(o, n),
            // Aligned or not, one line for one is the same line or a changed one.
            (1, 1) => self.aligned(old, new, o.start, n.start),
            _ => {
                let old_keys: Vec<u64> = old.lines[o.clone()].iter().map(|l| key(l)).collect();
                let new_keys: Vec<u64> = new.lines[n.clone()].iter().map(|l| key(l)).collect();
                for op in similar::capture_diff_slices(Algorithm::Myers, &old_keys, &new_keys) {
                    let (a, b) = (op.old_range(), op.new_range());
                    let (a, b) = (o.start + a.start..o.start + a.end, n.start + b.start..n.start + b.end);
                    match op {
                        DiffOp::Equal { len, .. } => {
                            for i in 0..len {
                                self.aligned(old, new, a.start + i, b.start + i);
                            }
                        }
                        _ => self.changed(a, b),
                    }
                }
            }
        }
    }

    /// Two lines paired up: the same line, or changed.
    fn aligned(&mut self, old: &Lines, new: &Lines, o: usize, n: usize) {
        if old.lines[o] == new.lines[n] {
            self.same(o, n);
        } else {
            self.changed(o..o + 1, n..n + 1);
        }
    }

    fn same(&mut self, old: usize, new: usize) {
        if let Some(DiffOp::Equal { len, old_index, .. }) = self.0.last_mut() {
            if *old_index + *len == old {
                *len += 1;
                return;
            }
        }
        self.0.push(DiffOp::Equal { old_index: old, new_index: new, len: 1 });
    }

    fn changed(&mut self, old: Range<usize>, new: Range<usize>) {
        let (old, new) = match self.0.last() {
            Some(last) if last.tag() != similar::DiffTag::Equal && last.old_range().end == old.start => {
                let (o, n) = (last.old_range(), last.new_range());
                self.0.pop();
                (o.start..old.end, n.start..new.end)
            }
            _ => (old, new),
        };
        self.0.push(match (old.is_empty(), new.is_empty()) {
            (_, true) => DiffOp::Delete { old_index: old.start, old_len: old.len(), new_index: new.start },
            (true, false) => DiffOp::Insert { old_index: old.start, new_index: new.start, new_len: new.len() },
            (false, false) => {
                DiffOp::Replace { old_index: old.start, old_len: old.len(), new_index: new.start, new_len: new.len() }
            }
        });
    }
}

/// The edits that turn `old` into `new`, one per run of changed lines, in order.
pub fn line_edits(old: &str, new: &str) -> Vec<TextEdit> {
    let (old_lines, new_lines) = (Lines::new(old), Lines::new(new));
    line_ops(&old_lines, &new_lines)
        .iter()
        .filter(|op| op.tag() != similar::DiffTag::Equal)
        .map(|op| {
            let range = old_lines.bytes(op.old_range());
            TextEdit {
                range: Span::new(range.start, range.end),
                new_text: new[new_lines.bytes(op.new_range())].to_string(),
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
    let (old_lines, new_lines) = (Lines::new(old), Lines::new(new));
    let mut out = String::with_capacity(old.len() + new.len() + 2 * (old_lines.lines.len() + new_lines.lines.len()));
    out.push_str(&format!("--- a/{name}\n+++ b/{name}\n"));
    for hunk in similar::group_diff_ops(line_ops(&old_lines, &new_lines), 3) {
        let (Some(first), Some(last)) = (hunk.first(), hunk.last()) else { continue };
        let header_range = |start: usize, end: usize| match end - start {
            1 => format!("{}", start + 1),
            0 => format!("{start},0"),
            len => format!("{},{len}", start + 1),
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            header_range(first.old_range().start, last.old_range().end),
            header_range(first.new_range().start, last.new_range().end)
        ));
        for op in &hunk {
            if op.tag() == similar::DiffTag::Equal {
                diff_lines(&mut out, ' ', &old_lines.lines[op.old_range()]);
            } else {
                diff_lines(&mut out, '-', &old_lines.lines[op.old_range()]);
                diff_lines(&mut out, '+', &new_lines.lines[op.new_range()]);
            }
        }
    }
    out
}

fn diff_lines(out: &mut String, tag: char, lines: &[&str]) {
    for line in lines {
        out.push(tag);
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
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

    /// similar's own unified diff, the format `unified_diff` writes.
    fn reference_diff(old: &str, new: &str) -> String {
        similar::TextDiff::from_lines(old, new).unified_diff().context_radius(3).header("a/f", "b/f").to_string()
    }

    #[test]
    fn the_unified_diff_is_a_line_diffs() {
        let cases = [
            ("x=1\n", "x = 1\n"),
            ("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n", "a\nB\nc\nd\ne\nf\ng\nh\ni\nJ\nk\n"),
            ("a\nb", "a\nb\n"),
            ("a\n\n\nb\n", "a\n\nb\n"),
            ("k:\n    - a\n    - b\n", "k:\n  - a\n  - b\n"),
            ("f(a,\n  b)\ny=1\n", "f(a, b)\ny = 1\n"),
            ("", "x\n"),
        ];
        for (old, new) in cases {
            assert_eq!(unified_diff(old, new, "f"), reference_diff(old, new), "{old:?} -> {new:?}");
            assert_eq!(apply(old, &line_edits(old, new)), new);
        }
        assert_eq!(unified_diff("same\n", "same\n", "f"), "");
    }

    #[test]
    fn a_re_indented_file_diffs_in_linear_time() {
        // Every line changes (a plain line diff is quadratic here); 200,000 lines in well under
        // a second even in a debug build.
        let old: String = (0..200_000).map(|i| format!("    - item{i}\n")).collect();
        let new: String = (0..200_000).map(|i| format!("  - item{i}\n")).collect();
        let started = std::time::Instant::now();
        let edits = line_edits(&old, &new);
        assert_eq!(edits.len(), 1);
        assert_eq!(apply(&old, &edits), new);
        assert!(unified_diff(&old, &new, "f").len() > old.len());
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    }

    #[test]
    fn a_file_with_many_joined_lines_diffs_in_linear_time() {
        // Calls joined and split all over a large file, a trailing comma added, `;` split:
        // Myers' diff alone is quadratic here (its cost is lines × changed lines).
        let old: String = (0..40_000).map(|i| format!("f{i}(a,\n  b)\nx{i}=1; y=2\ng{i}(c)\nh{i} = 3\n")).collect();
        let new: String =
            (0..40_000).map(|i| format!("f{i}(a, b)\nx{i} = 1\ny = 2\ng{i}(\n    c,\n)\nh{i} = 3\n")).collect();
        let started = std::time::Instant::now();
        let edits = line_edits(&old, &new);
        assert_eq!(edits.len(), 40_000, "the unchanged line between each run of changes stays");
        assert_eq!(apply(&old, &edits), new);
        let diff = unified_diff(&old, &new, "f");
        assert!(
            diff.contains("-f7(a,\n-  b)\n-x7=1; y=2\n-g7(c)\n+f7(a, b)\n+x7 = 1\n+y = 2\n+g7(\n+    c,\n+)\n"),
            "{}",
            &diff[..400]
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    }

    #[test]
    fn texts_that_differ_in_content_still_diff_exactly() {
        // Anchors stop where the content differs; the rest is diffed as a whole.
        let cases = [
            ("a\nb\nc\nd\n", "a\nX\nb\nc\nd\n"),
            ("a\nb\nc\nd\n", "a\nc\nd\n"),
            ("x,\ny\nz\n", "x\ny,\nz\n"),
            ("k: 1\nl: 2\nm: 3\n", "m: 3\nk: 1\nl:  2\n"),
            (",\n,\na\n", "a\n,\n"),
        ];
        for (old, new) in cases {
            assert_eq!(apply(old, &line_edits(old, new)), new, "{old:?} -> {new:?}");
            assert_eq!(unified_diff(old, new, "f"), reference_diff(old, new), "{old:?} -> {new:?}");
        }
        // Blank lines moved around content: the content's lines stay where they are.
        let (old, new) = ("a\n\n\nb\n\nc\n", "a\nb\n\n\n\nc\n");
        assert_eq!(apply(old, &line_edits(old, new)), new);
        assert_eq!(unified_diff(old, new, "f"), "--- a/f\n+++ b/f\n@@ -1,6 +1,6 @@\n a\n-\n-\n b\n \n+\n+\n c\n");
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
