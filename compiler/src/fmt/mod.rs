//! `ospecc fmt`: the canonical layout of OSpec YAML and topology (Starlark) files, as text in,
//! text out plus diagnostics. The CLI and the language server call [`format`] and
//! [`format_range`]; neither this module nor its parts touch the disk.
//!
//! Every result is checked before it is offered: the formatted text must parse without
//! errors, mean the same (the same YAML value tree, or the same Starlark syntax tree) and
//! keep every token and comment. A result that fails the check is never returned: the text
//! stays as written and an internal diagnostic (FMT002) says so. A file with syntax errors is
//! left untouched with the front end's own located diagnostics; a construct the formatter
//! cannot lay out with certainty leaves the file as written with a note (FMT001).

mod edits;
mod envelope;
mod starlark;
mod yaml;

pub use crate::syntax::Language;
pub use edits::{line_edits, unified_diff, TextEdit};

use crate::diagnostics::{Diagnostic, Severity};
use crate::span::Span;
use envelope::Envelope;

/// Layout settings (`ospecc.toml` `[fmt]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Spaces per block level in topology files.
    pub indent_width: usize,
    /// Spaces per nesting level in OSpec YAML.
    pub yaml_indent_width: usize,
    /// Bracketed lists longer than this are broken one item per line (topology files).
    pub line_width: usize,
    /// Sort the symbols of each `load()` statement.
    pub sort_loads: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { indent_width: 4, yaml_indent_width: 2, line_width: 100, sort_loads: true }
    }
}

/// Smallest and largest indentation widths accepted.
pub const INDENT_RANGE: std::ops::RangeInclusive<usize> = 1..=16;
/// Smallest and largest line widths accepted.
pub const LINE_WIDTH_RANGE: std::ops::RangeInclusive<usize> = 20..=1000;

/// What formatting one file gave.
#[derive(Clone, Debug, Default)]
pub struct Formatted {
    /// The formatted text; `None` when the file is left as written (syntax errors, a layout
    /// the formatter is not sure of, or a failed check — see `diagnostics`).
    pub text: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Formatted {
    /// Whether the text changes.
    pub fn changed(&self, original: &str) -> bool {
        self.text.as_deref().is_some_and(|t| t != original)
    }

    /// Whether some diagnostic is an error (syntax error, or the internal check failed).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    fn unchanged(diagnostics: Vec<Diagnostic>) -> Formatted {
        Formatted { text: None, diagnostics }
    }
}

/// Why a layout was given up: the construct and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unsupported {
    pub span: Span,
    pub what: String,
}

/// Code of "left as written: layout not supported here".
const UNSUPPORTED: &str = "FMT001";
/// Code of "internal: the formatted text failed its check".
const CHECK_FAILED: &str = "FMT002";

/// Formats a whole file.
pub fn format(language: Language, text: &str, options: &Options) -> Formatted {
    let outcome = match language {
        Language::OSpec => yaml::format(text, options),
        Language::Topology => starlark::format(text, options),
    };
    match outcome {
        Outcome::Formatted(formatted) => Formatted { text: Some(formatted), diagnostics: Vec::new() },
        Outcome::CheckFailed(reason) => Formatted::unchanged(vec![check_failed(&reason)]),
        Outcome::Invalid(diagnostics) => Formatted::unchanged(diagnostics),
        Outcome::Unsupported(u) => Formatted::unchanged(vec![unsupported(u)]),
    }
}

/// Formats the part of a file that `range` (bytes) touches, with the edits of the whole
/// file's formatting that meet it: line by line where the formatter rewrote lines one for one,
/// else (when applying only those lines would not pass the check, e.g. half a re-indented
/// block) the whole runs of changed lines that meet it. When neither passes, no edits: a
/// change outside the range is never offered, nor one that would change the meaning.
pub fn format_range(language: Language, text: &str, range: Span, options: &Options) -> (Vec<TextEdit>, Formatted) {
    let whole = format(language, text, options);
    let Some(formatted) = whole.text.as_deref() else { return (Vec::new(), whole) };
    let runs = line_edits(text, formatted);
    let lines: Vec<TextEdit> = runs.iter().flat_map(|run| edits::per_line(text, run)).collect();
    let candidates = [touching(&lines, range), touching(&runs, range)];
    let chosen = candidates.into_iter().find(|edits| {
        edits.is_empty() || edits.len() == lines.len() || edits.len() == runs.len() || {
            let partial = edits::apply(text, edits);
            verify(language, text, &partial).is_ok() && format(language, &partial, options).text.is_some()
        }
    });
    (chosen.unwrap_or_default(), whole)
}

fn touching(edits: &[TextEdit], range: Span) -> Vec<TextEdit> {
    edits.iter().filter(|e| e.touches(range)).cloned().collect()
}

/// What a language's formatter produced.
pub(crate) enum Outcome {
    /// The formatted text, which passed the check.
    Formatted(String),
    /// The formatted text failed the check (why).
    CheckFailed(String),
    /// Syntax errors: the front end's diagnostics.
    Invalid(Vec<Diagnostic>),
    Unsupported(Unsupported),
}

/// The check every result passes: it parses, means the same and keeps every token.
fn verify(language: Language, original: &str, formatted: &str) -> Result<(), String> {
    match language {
        Language::OSpec => yaml::verify(original, formatted),
        Language::Topology => starlark::verify(original, formatted),
    }
}

fn unsupported(u: Unsupported) -> Diagnostic {
    Diagnostic::new(UNSUPPORTED, Severity::Note, u.span, format!("left as written: {}", u.what))
        .with_note("ospecc fmt changes only what it can lay out with certainty; the file is not rewritten")
}

fn check_failed(reason: &str) -> Diagnostic {
    Diagnostic::error(CHECK_FAILED, Span::at(0), "internal error: the formatted text failed its check; not written")
        .with_note(reason.to_string())
        .with_help("the file is left as written; please report this file to the ospecc maintainers")
}

/// The layout of `original` by `lay_out`, which works on text with `\n` line breaks and no
/// byte order mark, given back the original's line breaks and mark (with the envelope, for
/// [`checked`]). Places that `lay_out` reports are moved back into the original.
fn enveloped(
    original: &str,
    lay_out: impl FnOnce(&str) -> Result<String, Unsupported>,
) -> Result<(String, Envelope), Unsupported> {
    let Some(opened) = Envelope::open(original) else {
        return Err(Unsupported { span: Span::at(0), what: "a line break that is a lone `\\r`".into() });
    };
    let envelope = opened.envelope;
    if opened.is_plain() {
        return lay_out(&opened.text).map(|formatted| (formatted, envelope));
    }
    match lay_out(&opened.text) {
        Ok(formatted) => Ok((envelope.close(formatted), envelope)),
        Err(Unsupported { span, what }) => {
            let at = |offset| envelope.original_offset(original, offset);
            Err(Unsupported { span: Span::new(at(span.start), at(span.end)), what })
        }
    }
}

/// A formatted text as an outcome: as it is when unchanged (the same text means the same),
/// else when `check` (against the original) passes.
fn checked(
    formatted: String,
    envelope: Envelope,
    original: &str,
    check: impl FnOnce(&str) -> Result<(), String>,
) -> Outcome {
    if formatted == original {
        return Outcome::Formatted(formatted);
    }
    match check(&formatted) {
        Ok(()) => Outcome::Formatted(formatted),
        // Made one kind, the line breaks inside a multi-line string changed its value.
        Err(_) if envelope.mixed() => Outcome::Unsupported(Unsupported {
            span: Span::at(0),
            what: "line breaks of both kinds (`\\n` and `\\r\\n`) inside a value".into(),
        }),
        Err(reason) => Outcome::CheckFailed(reason),
    }
}

#[cfg(test)]
mod tests;
