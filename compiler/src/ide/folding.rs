//! Folding ranges, as whole lines: every multi-line construct of the outline (YAML mappings,
//! sequences and list items; topology `def`s, multi-line bindings, calls and registrations),
//! runs of full-line `#` comments, and a topology file's run of `load()` statements.
//!
//! The constructs come from [`crate::ide::symbols`] rather than a parse of their own, so the
//! folds always agree with the outline. Lines break at `\n`, `\r\n` and a lone `\r`, as the
//! language server's rope counts them.

use crate::ide::topology::lex;
use crate::ide::{symbols, FileContext, Symbol, SymbolKind};
use crate::span::Span;
use crate::syntax::Language;

/// What a fold holds, when it is more than a construct (the editor's "fold all comments").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoldKind {
    Comment,
    Region,
    Imports,
}

/// Lines `start_line..=end_line` (0-based) fold into the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fold {
    pub start_line: usize,
    pub end_line: usize,
    pub kind: Option<FoldKind>,
}

/// The file's folds: each at least two lines long, one per start line (the outermost), sorted.
pub fn folding_ranges(file: &FileContext) -> Vec<Fold> {
    let text = file.text;
    let lines = Lines::new(text);
    let outline = symbols(file);
    let mut folds = Vec::new();
    symbol_folds(&outline, text, &lines, &mut folds);
    let comments = match file.language {
        Language::OSpec => yaml_comment_lines(text, &lines, &outline),
        Language::Topology => starlark_comment_lines(text, &lines),
    };
    folds.extend(runs(&comments).map(|(start, end)| Fold {
        start_line: start,
        end_line: end,
        kind: Some(FoldKind::Comment),
    }));
    if file.language == Language::Topology {
        folds.extend(import_folds(text, &lines, &outline));
    }
    normalise(folds)
}

/// Line starts of a text.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            // `\r\n` breaks once, after the `\n`.
            let breaks = b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
            if breaks {
                starts.push(i + 1);
            }
        }
        Lines { starts }
    }

    /// The 0-based line holding `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).saturating_sub(1)
    }

    /// The text of line `line`, without its line break.
    fn text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let start = self.starts.get(line).copied().unwrap_or(text.len());
        let end = self.starts.get(line + 1).copied().unwrap_or(text.len());
        text.get(start..end).unwrap_or_default().trim_end_matches(['\r', '\n'])
    }
}

/// The lines a span covers, ending at its last non-blank byte (a YAML node's span may run
/// on to the next line's start, which is not part of the construct).
fn line_range(text: &str, lines: &Lines, span: Span) -> Option<(usize, usize)> {
    let body = text.get(span.start..span.end.min(text.len()))?;
    let last = body.trim_end().len().checked_sub(1)?;
    Some((lines.line_of(span.start), lines.line_of(span.start + last)))
}

fn symbol_folds(outline: &[Symbol], text: &str, lines: &Lines, folds: &mut Vec<Fold>) {
    for symbol in outline {
        if let Some((start_line, end_line)) = line_range(text, lines, symbol.span) {
            folds.push(Fold { start_line, end_line, kind: None });
        }
        symbol_folds(&symbol.children, text, lines, folds);
    }
}

/// Lines that are whole YAML comments: `#` first on the line, outside block scalars (a
/// `# heading` inside `description: |` is text; the outline's multi-line scalars say where
/// those are).
fn yaml_comment_lines(text: &str, lines: &Lines, outline: &[Symbol]) -> Vec<usize> {
    let mut scalars = Vec::new();
    multi_line_scalars(outline, text, lines, &mut scalars);
    (0..lines.starts.len())
        .filter(|&line| lines.text(text, line).trim_start().starts_with('#'))
        .filter(|&line| !scalars.iter().any(|&(start, end)| start < line && line <= end))
        .collect()
}

fn multi_line_scalars(outline: &[Symbol], text: &str, lines: &Lines, out: &mut Vec<(usize, usize)>) {
    for symbol in outline {
        if symbol.kind == SymbolKind::Property {
            out.extend(line_range(text, lines, symbol.span).filter(|(start, end)| start < end));
        }
        multi_line_scalars(&symbol.children, text, lines, out);
    }
}

/// Lines that are whole Starlark comments, by the tokenizer (so a `#` in a string is not one).
fn starlark_comment_lines(text: &str, lines: &Lines) -> Vec<usize> {
    let mut found: Vec<usize> = lex::tokens(text)
        .into_iter()
        .filter(|t| t.kind == lex::Kind::Comment)
        .map(|t| lines.line_of(t.span.start))
        .filter(|&line| lines.text(text, line).trim_start().starts_with('#'))
        .collect();
    found.dedup();
    found
}

/// Runs of two or more consecutive lines in a sorted list, as (first, last).
fn runs(lines: &[usize]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < lines.len() {
            let start = at;
            while at + 1 < lines.len() && lines[at + 1] == lines[at] + 1 {
                at += 1;
            }
            at += 1;
            if at - 1 > start {
                return Some((lines[start], lines[at - 1]));
            }
        }
        None
    })
}

/// Consecutive top-level `load()`s (only blank and comment lines between them) as one fold.
fn import_folds(text: &str, lines: &Lines, outline: &[Symbol]) -> Vec<Fold> {
    let mut folds = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    let mut previous_end = None;
    for symbol in outline {
        let Some((start, end)) = line_range(text, lines, symbol.span) else { continue };
        let is_load = symbol.kind == SymbolKind::Module;
        let adjacent = previous_end.is_some_and(|prev: usize| only_blank_or_comments(text, lines, prev + 1, start));
        match (&mut run, is_load) {
            (Some(current), true) if adjacent => current.1 = end,
            (_, true) => {
                folds.extend(run.take().map(import_fold));
                run = Some((start, end));
            }
            (_, false) => folds.extend(run.take().map(import_fold)),
        }
        previous_end = Some(end);
    }
    folds.extend(run.map(import_fold));
    folds.retain(|f| f.end_line > f.start_line);
    folds
}

fn import_fold((start_line, end_line): (usize, usize)) -> Fold {
    Fold { start_line, end_line, kind: Some(FoldKind::Imports) }
}

fn only_blank_or_comments(text: &str, lines: &Lines, from: usize, to: usize) -> bool {
    (from..to).all(|line| {
        let trimmed = lines.text(text, line).trim_start();
        trimmed.is_empty() || trimmed.starts_with('#')
    })
}

/// At least two lines, one fold per start line (the outermost; an import or comment fold
/// over a construct of the same extent keeps its kind), sorted by start.
fn normalise(mut folds: Vec<Fold>) -> Vec<Fold> {
    folds.retain(|f| f.end_line > f.start_line);
    folds.sort_by_key(|f| (f.start_line, std::cmp::Reverse(f.end_line), std::cmp::Reverse(f.kind)));
    folds.dedup_by_key(|f| f.start_line);
    folds
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::vfs::MemoryFs;
    use ospecc_schema::Profile;

    fn folds(path: &str, text: &str) -> Vec<(usize, usize, Option<FoldKind>)> {
        let language = if path.ends_with(".star") { Language::Topology } else { Language::OSpec };
        let fs = MemoryFs::default();
        let file =
            FileContext { path: Path::new(path), text, language, fs: &fs, workspace_files: &[], profile: Profile::Ext };
        folding_ranges(&file).into_iter().map(|f| (f.start_line, f.end_line, f.kind)).collect()
    }

    const SPEC: &str = "# A shop.\n# Two services.\nname: shop\nservices:\n  api:\n    ports: [\"8080:8080\"]\n    depends_on:\n      - db\n  db: {}\ntasks:\n  - id: setup\n    run: make\n  - id: one\ndescription: |\n  # not a comment\n  # still text\n";

    #[test]
    fn yaml_mappings_sequences_items_and_comment_blocks() {
        let expected = vec![
            (0, 1, Some(FoldKind::Comment)),
            (3, 8, None),   // services
            (4, 7, None),   // api
            (6, 7, None),   // depends_on
            (9, 12, None),  // tasks
            (10, 11, None), // the first task
            (13, 15, None), // the block scalar (its lines are text, not comments)
        ];
        assert_eq!(folds("/w/a.ospec.yml", SPEC), expected);
    }

    #[test]
    fn crlf_and_lone_cr_count_lines_as_the_editor_does() {
        assert_eq!(folds("/w/a.ospec.yml", &SPEC.replace('\n', "\r\n")), folds("/w/a.ospec.yml", SPEC));
        assert_eq!(folds("/w/a.ospec.yml", "a:\r  b: 1\r  c: 2\r"), vec![(0, 2, None)]);
    }

    const STAR: &str = "load(\"a.star\", \"x\")\n\n# why b\nload(\"b.star\", \"y\")\n# One\n#   block\n#   here\ndb = service(\"db\", \"bin\",\n    interface(\"pg\", \"postgres\", 5432),\n)\ndef probe():\n    s = \"# not a comment\"\n    # a lone comment\n    return s\n\nscenario(probe)\nx = 1  # trailing\ny = 2  # trailing\n";

    #[test]
    fn starlark_loads_comments_defs_and_calls() {
        let expected = vec![
            (0, 3, Some(FoldKind::Imports)),
            (4, 6, Some(FoldKind::Comment)),
            (7, 9, None),   // db = service(…)
            (10, 13, None), // def probe
        ];
        assert_eq!(folds("/w/t.star", STAR), expected);
        assert_eq!(folds("/w/t.star", &STAR.replace('\n', "\r\n")), expected);
    }

    #[test]
    fn a_single_multi_line_load_folds_once_as_imports() {
        assert_eq!(
            folds("/w/t.star", "load(\n    \"a.star\",\n    \"x\",\n)\nx = 1\n"),
            vec![(0, 3, Some(FoldKind::Imports))]
        );
    }

    #[test]
    fn empty_and_broken_texts_fold_without_panicking() {
        for text in ["", "\n", "#", "a: [\n", "def f(:\n  x = \"\n", "x = (\r\n\r\n", "😀:\n  中: 1\n"] {
            let _ = folds("/w/a.ospec.yml", text);
            let _ = folds("/w/t.star", text);
        }
    }
}
