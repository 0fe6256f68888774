//! The YAML front end: text to a spanned, resolved tree (see `tree`), with diagnostics.
//!
//! saphyr-parser (YAML 1.2, full yaml-test-suite compliance) supplies events; `build` turns
//! them into the tree (core schema scalars in `scalar`, aliases in `anchors`, duplicate and
//! merge keys in `keys`), and `recover` re-parses around syntax errors so one bad line does
//! not hide the rest of the file. `fast` parses the common subset of spec files directly and
//! hands everything else to that path.

mod anchors;
mod build;
mod errors;
mod fast;
mod keys;
mod offsets;
mod recover;
mod scalar;
pub mod tree;

pub use build::MAX_DEPTH;

pub use tree::{Document, Entry, Node, Style, Value};

use crate::diagnostics::Diagnostic;
use crate::span::Span;

/// The result of parsing one YAML stream.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub documents: Vec<Document>,
    pub diagnostics: Vec<Diagnostic>,
    /// Regions blanked by error recovery: what was written there is missing from the tree,
    /// so later stages must not report its absence as a separate finding.
    pub damaged: Vec<Span>,
}

/// Parses a YAML stream. Never panics; syntax errors become diagnostics and the rest of the
/// text is still parsed where recovery allows.
pub fn parse(text: &str) -> Parsed {
    // The fast path answers only when its result is exactly the slow path's, without
    // diagnostics; everything else (and every error) goes through saphyr.
    if let Some(documents) = fast::parse(text) {
        return Parsed { documents, diagnostics: Vec::new(), damaged: Vec::new() };
    }
    recover::parse(text)
}

/// The fast path alone (`None`: not in its subset), for the equivalence test.
#[doc(hidden)]
pub fn parse_fast_for_tests(text: &str) -> Option<Vec<Document>> {
    fast::parse(text)
}

/// The slow path alone (saphyr and recovery), for the equivalence test.
#[doc(hidden)]
pub fn parse_slow_for_tests(text: &str) -> Parsed {
    recover::parse(text)
}

#[cfg(test)]
mod tests;
