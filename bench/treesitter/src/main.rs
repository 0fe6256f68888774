//! Times tree-sitter's full and incremental parses of the LSP benchmark's big OSpec and
//! topology files against the editor's hand-written syntax paths on the same text, each
//! measured through the public `ide` API (completion at the edit, folding, semantic tokens).
//! Each number is the median of many runs after warm-up, in microseconds.
//!
//! Usage: ospecc-bench-treesitter BIG_OSPEC BIG_STAR [ROUNDS]

use std::path::{Path, PathBuf};
use std::time::Instant;

use ospecc_compiler::analysis::Language;
use ospecc_compiler::ide::{self, FileContext};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_compiler::Profile;
use tree_sitter::{InputEdit, Parser, Point, Tree};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: {} BIG_OSPEC BIG_STAR [ROUNDS]", args[0]);
        std::process::exit(2);
    }
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(200);
    for (path, language) in [(&args[1], Language::OSpec), (&args[2], Language::Topology)] {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        };
        measure(Path::new(path), &text, language, rounds);
    }
}

/// The median of `rounds` timings of `f` (after a tenth as many warm-ups), in microseconds.
fn median<T>(rounds: usize, mut f: impl FnMut(usize) -> T) -> f64 {
    for i in 0..rounds / 10 + 1 {
        std::hint::black_box(f(i));
    }
    let mut times: Vec<f64> = (0..rounds)
        .map(|i| {
            let started = Instant::now();
            std::hint::black_box(f(i));
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The edit the editor benchmark makes: one character typed in the middle of the file, at the
/// end of the first line there that has a `key: value` (YAML) or `= ` (Starlark).
fn edit_point(text: &str, language: Language) -> usize {
    let marker = if language == Language::OSpec { ": " } else { " = " };
    let half = text.len() / 2;
    let line_end = |from: usize| text[from..].find('\n').map_or(text.len(), |i| from + i);
    let mut at = half;
    loop {
        let end = line_end(at);
        let start = text[..end].rfind('\n').map_or(0, |i| i + 1);
        if text[start..end].contains(marker) || end >= text.len() {
            return end;
        }
        at = end + 1;
    }
}

fn point_of(text: &str, offset: usize) -> Point {
    let before = &text[..offset];
    let row = before.matches('\n').count();
    let column = offset - before.rfind('\n').map_or(0, |i| i + 1);
    Point { row, column }
}

fn measure(path: &Path, text: &str, language: Language, rounds: usize) {
    let (name, grammar) = match language {
        Language::OSpec => ("yaml", tree_sitter::Language::new(tree_sitter_yaml::LANGUAGE)),
        Language::Topology => ("starlark", tree_sitter::Language::new(tree_sitter_starlark::LANGUAGE)),
    };
    let mut parser = Parser::new();
    if let Err(e) = parser.set_language(&grammar) {
        eprintln!("{name}: {e}");
        return;
    }
    let at = edit_point(text, language);
    let edited = format!("{}x{}", &text[..at], &text[at..]);
    let lines = text.lines().count();
    println!("{} ({lines} lines, {} bytes), one character typed at byte {at}:", path.display(), text.len());

    let full = median(rounds, |_| parser.parse(text, None));
    let Some(tree) = parser.parse(text, None) else {
        eprintln!("{name}: no tree");
        return;
    };
    println!("  tree-sitter-{name} full parse: {full:.0} µs (tree has errors: {})", tree.root_node().has_error());

    // Incremental: the old tree is edited, then the new text parsed with it; alternating
    // between inserting and deleting the character keeps every round the same size.
    let insert = InputEdit {
        start_byte: at,
        old_end_byte: at,
        new_end_byte: at + 1,
        start_position: point_of(text, at),
        old_end_position: point_of(text, at),
        new_end_position: point_of(&edited, at + 1),
    };
    let delete = InputEdit {
        start_byte: at,
        old_end_byte: at + 1,
        new_end_byte: at,
        start_position: insert.start_position,
        old_end_position: insert.new_end_position,
        new_end_position: insert.start_position,
    };
    let mut current: Tree = tree;
    let incremental = median(rounds, |i| {
        let (edit, next) = if i % 2 == 0 { (&insert, edited.as_str()) } else { (&delete, text) };
        current.edit(edit);
        if let Some(tree) = parser.parse(next, Some(&current)) {
            current = tree;
        }
    });
    println!("  tree-sitter-{name} edit + incremental re-parse: {incremental:.0} µs");
    let lookup = median(rounds, |_| {
        let node = current.root_node().descendant_for_byte_range(at, at);
        let mut depth = 0;
        let mut up = node;
        while let Some(n) = up {
            depth += 1;
            up = n.parent();
        }
        depth
    });
    println!("  tree-sitter-{name} node at the cursor and its ancestors: {lookup:.1} µs");

    // The hand-written paths, over the edited text (what the editor asks after the edit).
    let fs = MemoryFs::default();
    let file_path = PathBuf::from(if language == Language::OSpec { "/w/big.ospec.yml" } else { "/w/big.star" });
    let file =
        FileContext { path: &file_path, text: &edited, language, fs: &fs, workspace_files: &[], profile: Profile::Ext };
    // The syntax pass alone: the cursor where no answer is computed after it (inside a
    // block scalar's text for YAML: line roles over the whole file; inside a comment for
    // Starlark: the token stream and the file's index), on the edited text plus that tail.
    let tail = if language == Language::OSpec { "\nzz_text: |\n  t" } else { "\n# tt" };
    let with_tail = format!("{edited}{tail}");
    let tail_file = FileContext { text: &with_tail, ..file };
    let answered = ide::completions(&tail_file, with_tail.len() - 1).len();
    if answered > 0 {
        println!("  (this build answers {answered} items at the syntax-only cursor: the next line includes them)");
    }
    let syntax = median(rounds, |_| ide::completions(&tail_file, with_tail.len() - 1));
    println!("  ospecc syntax pass alone, per request (no state kept between edits): {syntax:.0} µs");
    let complete = median(rounds, |_| ide::completions(&file, at + 1));
    let folding = median(rounds, |_| ide::folding_ranges(&file));
    let tokens = median(rounds, |_| ide::semantic_tokens(&file));
    println!("  ospecc completion at the edit (whole cursor context + answer): {complete:.0} µs");
    println!("  ospecc folding ranges (whole file): {folding:.0} µs");
    println!("  ospecc semantic tokens (whole file): {tokens:.0} µs");
}
