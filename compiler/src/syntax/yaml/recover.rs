//! Error recovery: a syntax error damages only its own region.
//!
//! saphyr stops at the first error. To keep the rest of the file, the offending line(s) are
//! blanked with spaces in a copy of the text (byte offsets stay identical, so every span still
//! points into the original) and the copy is parsed again, a bounded number of times. What to
//! blank is tried from narrow to wide: the error's line with the lines indented under it; else
//! the line where the token that failed began; else everything between the two. An error inside
//! or before what was blanked is an echo of the first one and is not reported again.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};

use saphyr_parser::Parser;

use super::build::Builder;
use super::errors;
use super::tree::Document;
use super::Parsed;
use crate::diagnostics::Diagnostic;
use crate::span::Span;

/// Parse attempts for one text, at most.
const MAX_ATTEMPTS: usize = 32;
/// Total bytes re-parsed during recovery, at least: large files get fewer attempts.
const REPARSE_BYTES: usize = 256 << 20;

struct SyntaxError {
    offset: usize,
    info: String,
    /// Where the last event that parsed fine ended.
    last_good_end: usize,
    /// Where the outermost flow collection open at the error starts.
    open_flow: Option<usize>,
}

struct Attempt {
    documents: Vec<Document>,
    diagnostics: Vec<Diagnostic>,
    error: Option<SyntaxError>,
}

/// Parses `text`, recovering from syntax errors.
pub(super) fn parse(text: &str) -> Parsed {
    let mut outcome = attempt(text);
    let Some(mut error) = outcome.error.take() else {
        return Parsed { documents: outcome.documents, diagnostics: outcome.diagnostics, damaged: Vec::new() };
    };
    let mut syntax = vec![errors::syntax_error(text, error.offset, &error.info)];
    let mut work = text.to_string();
    let mut blanked_end = 0;
    let mut damaged = Vec::new();
    let attempts = (REPARSE_BYTES / text.len().max(1)).clamp(2, MAX_ATTEMPTS);
    for _ in 1..attempts {
        let Some(region) = region_to_blank(&work, &error) else { break };
        blanked_end = blanked_end.max(region.end);
        damaged.push(Span::new(region.start, region.end));
        blank(&mut work, region);
        // Free the previous tree first: on a large file two trees would double peak memory.
        drop(outcome);
        outcome = attempt(&work);
        let Some(next) = outcome.error.take() else {
            let diagnostics = [syntax, outcome.diagnostics].concat();
            return Parsed { documents: outcome.documents, diagnostics, damaged };
        };
        if next.offset > blanked_end {
            syntax.push(errors::syntax_error(text, next.offset, &next.info));
        }
        error = next;
    }
    if let Some(last) = syntax.last_mut() {
        last.notes.push("error recovery stopped after this error; later syntax errors may be missing".into());
    }
    Parsed { documents: outcome.documents, diagnostics: [syntax, outcome.diagnostics].concat(), damaged }
}

/// One parse of `text`: the documents up to the first error, and that error.
fn attempt(text: &str) -> Attempt {
    let mut builder = Builder::new(text);
    let mut parser = Parser::new_from_str(text);
    let run = catch_unwind(AssertUnwindSafe(|| {
        while let Some(next) = parser.next_event() {
            match next {
                Ok((event, span)) => builder.event(event, span),
                Err(error) => return Some((builder.byte(error.marker().index()), error.info().to_string())),
            }
        }
        None
    }));
    // A panic inside the parser is a bug there; the user still gets a located error.
    let failure = run.unwrap_or_else(|_| Some((builder.last_end(), "the YAML parser failed on this input".into())));
    let error = failure.map(|(offset, info)| {
        let open_flow = builder.open_flow_start();
        builder.abort(offset);
        SyntaxError { offset, info, last_good_end: builder.last_end(), open_flow }
    });
    let (documents, diagnostics) = builder.finish();
    Attempt { documents, diagnostics, error }
}

/// The narrowest region that still has content to blank, or `None` when nothing is left.
fn region_to_blank(text: &str, error: &SyntaxError) -> Option<Range<usize>> {
    let error_line = line_at(text, error.offset);
    let token_line = line_at(text, next_token(text, error.last_good_end.min(error.offset)));
    // An error inside a flow collection opened on an earlier line usually means its bracket
    // was never closed: blanking line after line would never get out of it.
    let flow_line = error.open_flow.map(|start| line_at(text, start)).filter(|line| line.end < error_line.start);
    let candidates = [
        flow_line.map_or(0..0, |line| with_indented_lines(text, line)),
        with_indented_lines(text, error_line.clone()),
        with_indented_lines(text, token_line.clone()),
        token_line.start.min(error_line.start)..token_line.end.max(error_line.end),
    ];
    candidates.into_iter().find(|r| text.as_bytes()[r.clone()].iter().any(|b| !matches!(b, b' ' | b'\n' | b'\r')))
}

/// Replaces every byte of `range` but line breaks with a space: same length, still UTF-8.
fn blank(text: &mut String, range: Range<usize>) {
    let blanked: String =
        text[range.clone()].bytes().map(|b| if b == b'\n' || b == b'\r' { b as char } else { ' ' }).collect();
    // Every byte maps to one ASCII byte, so the lengths agree.
    text.replace_range(range, &blanked);
}

/// The line holding `offset`, without its line break.
fn line_at(text: &str, offset: usize) -> Range<usize> {
    let bytes = text.as_bytes();
    let offset = offset.min(bytes.len());
    let start = bytes[..offset].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let end = bytes[offset..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| offset + p);
    start..end
}

/// `line` extended over the following lines indented deeper than it (its block children).
fn with_indented_lines(text: &str, line: Range<usize>) -> Range<usize> {
    let indent = |r: &Range<usize>| text.as_bytes()[r.clone()].iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    let own = indent(&line);
    let mut end = line.end;
    while end < text.len() {
        let next = line_at(text, end + 1);
        let blank_line = text[next.clone()].trim().is_empty();
        if !blank_line && indent(&next) <= own {
            break;
        }
        end = next.end;
    }
    line.start..end
}

/// The first byte at or after `from` that is not whitespace or part of a comment.
fn next_token(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            b'#' => at = line_at(text, at).end,
            _ => return at,
        }
    }
    at.min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanking_keeps_offsets_and_utf8() {
        let mut text = "a: é\nb: 2\n".to_string();
        blank(&mut text, line_at("a: é\nb: 2\n", 1));
        assert_eq!(text, "     \nb: 2\n");
    }

    #[test]
    fn indented_children_go_with_their_line() {
        let text = "a: 1\nb: [\n  x\n\n  y\nc: 3\n";
        let line = line_at(text, 6);
        assert_eq!(&text[with_indented_lines(text, line)], "b: [\n  x\n\n  y");
    }
}
