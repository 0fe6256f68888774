//! Diagnostics: one file analysed exactly as `ospecc check` analyses it (the same database
//! query, [`ospecc_compiler::db::Database::check`], with the host's options, workspace root
//! and confinement), and the compiler's diagnostics turned into LSP diagnostics.
//!
//! The conversion keeps everything: the code (and `source: "ospecc"`), the severity, the
//! message verbatim, the primary span as a range in the negotiated encoding, labels as
//! related information (in their own file for cross-file labels), and notes and help as
//! related information at the primary range, where editors show them under the message.

use std::path::{Path, PathBuf};

use ospecc_compiler::db::{Database, Request};
use ospecc_compiler::diagnostics::{Diagnostic, Severity};
use ospecc_compiler::ospec::CheckOptions;
use ospecc_compiler::topology::Limits;
use ospecc_compiler::vfs::FileSystem;
use ospecc_compiler::Language;
use ropey::Rope;
use tower_lsp_server::ls_types::{self as lsp, DiagnosticRelatedInformation, Location, NumberOrString, Uri};

use crate::encoding::{range_of, PositionEncoding};
use crate::host::Host;
use crate::workspace::uri_of;

/// The name clients show next to each diagnostic.
pub const SOURCE: &str = "ospecc";

/// A label in another file can point this far into it at most (its text is read to place it).
const MAX_LABEL_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What one analysis produced.
pub struct Analysis {
    pub diagnostics: Vec<Diagnostic>,
    /// Why the file's `ospecc.toml` could not be used (the defaults were).
    pub config_error: Option<String>,
    /// What was asked of the database (asking it again reuses the analysis).
    pub request: Request,
}

/// Analyses the file at `path` as `ospecc check` would, from the database's content of it
/// (the open document's text, else the disk's). A newer edit cancels it (the caller sees
/// `salsa::Cancelled` unwinding and retries on the new revision).
pub fn analyse(host: &dyn Host, db: &Database, path: &Path, language: Language) -> Analysis {
    let (options, config_error) = match host.options(path) {
        Ok(options) => (options, None),
        Err(message) => (CheckOptions::default(), Some(message)),
    };
    let request = Request {
        path: path.to_path_buf(),
        written: path.to_path_buf(),
        language,
        root: host.workspace_root(path),
        options,
        limits: Limits::default(),
        confinement: Some(host.confinement(path)),
    };
    Analysis { diagnostics: db.check(&request), config_error, request }
}

/// Converts one file's diagnostics; `rope` holds the text they were computed on.
pub fn to_lsp(
    diagnostics: &[Diagnostic],
    uri: &Uri,
    rope: &Rope,
    encoding: PositionEncoding,
    fs: &dyn FileSystem,
) -> Vec<lsp::Diagnostic> {
    let mut other_files = OtherFiles { fs, loaded: Vec::new() };
    diagnostics.iter().map(|d| convert(d, uri, rope, encoding, &mut other_files)).collect()
}

fn convert(
    d: &Diagnostic,
    uri: &Uri,
    rope: &Rope,
    encoding: PositionEncoding,
    other_files: &mut OtherFiles,
) -> lsp::Diagnostic {
    let range = range_of(rope, d.span.start, d.span.end, encoding);
    let mut related = Vec::new();
    for label in &d.labels {
        let location = match &label.file {
            None => Some(Location::new(uri.clone(), range_of(rope, label.span.start, label.span.end, encoding))),
            Some(file) => other_files.locate(Path::new(file), label.span, encoding),
        };
        if let Some(location) = location {
            related.push(DiagnosticRelatedInformation { location, message: label.message.clone() });
        }
    }
    let here = Location::new(uri.clone(), range);
    for note in &d.notes {
        related.push(DiagnosticRelatedInformation { location: here.clone(), message: format!("note: {note}") });
    }
    if let Some(help) = &d.help {
        related.push(DiagnosticRelatedInformation { location: here.clone(), message: format!("help: {help}") });
    }
    lsp::Diagnostic {
        range,
        severity: Some(severity(d.severity)),
        code: Some(NumberOrString::String(d.code.to_string())),
        source: Some(SOURCE.to_string()),
        message: d.message.clone(),
        related_information: (!related.is_empty()).then_some(related),
        ..lsp::Diagnostic::default()
    }
}

fn severity(severity: Severity) -> lsp::DiagnosticSeverity {
    match severity {
        Severity::Error => lsp::DiagnosticSeverity::ERROR,
        Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        Severity::Note => lsp::DiagnosticSeverity::INFORMATION,
    }
}

/// The texts of files that cross-file labels point into, read once per conversion.
struct OtherFiles<'a> {
    fs: &'a dyn FileSystem,
    loaded: Vec<(PathBuf, Option<(Uri, Rope)>)>,
}

impl OtherFiles<'_> {
    /// The location of a span in another file; `None` when that file cannot be read now.
    fn locate(&mut self, path: &Path, span: ospecc_compiler::Span, encoding: PositionEncoding) -> Option<Location> {
        if !self.loaded.iter().any(|(p, _)| p == path) {
            let text = self.fs.read_to_string(path, MAX_LABEL_FILE_BYTES).ok();
            let file = text.and_then(|text| Some((uri_of(path)?, Rope::from_str(&text))));
            self.loaded.push((path.to_path_buf(), file));
        }
        let (_, file) = self.loaded.iter().find(|(p, _)| p == path)?;
        let (uri, rope) = file.as_ref()?;
        Some(Location::new(uri.clone(), range_of(rope, span.start, span.end, encoding)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::BasicHost;
    use ospecc_compiler::vfs::MemoryFs;
    use std::str::FromStr;

    #[test]
    fn conversion_keeps_code_message_labels_notes_and_help() {
        let text = "a: 😀\nb: 1\n";
        let rope = Rope::from_str(text);
        let b = text.find('b').unwrap();
        let d = Diagnostic::error("OSP100", ospecc_compiler::Span::new(b, b + 1), "unknown key `b`")
            .with_label(ospecc_compiler::Span::new(0, 1), "first here")
            .with_note("a note")
            .with_help("a help");
        let uri = Uri::from_str("file:///w/a.ospec.yml").unwrap();
        let out = to_lsp(&[d], &uri, &rope, PositionEncoding::Utf16, &MemoryFs::default());
        let lsp = &out[0];
        assert_eq!(lsp.code, Some(NumberOrString::String("OSP100".into())));
        assert_eq!((lsp.range.start.line, lsp.range.start.character, lsp.range.end.character), (1, 0, 1));
        assert_eq!(lsp.severity, Some(lsp::DiagnosticSeverity::ERROR));
        assert_eq!(lsp.source.as_deref(), Some("ospecc"));
        let related: Vec<&str> = lsp.related_information.iter().flatten().map(|r| r.message.as_str()).collect();
        assert_eq!(related, ["first here", "note: a note", "help: a help"]);
    }

    #[test]
    fn labels_in_other_files_point_into_them() {
        let fs = MemoryFs::default().with_file("/w/t.star", "x = 1\ny = 2\n");
        let mut d = Diagnostic::error("XSP001", ospecc_compiler::Span::new(0, 1), "m");
        d.labels.push(ospecc_compiler::diagnostics::Label {
            span: ospecc_compiler::Span::new(6, 7),
            message: "there".into(),
            file: Some("/w/t.star".into()),
        });
        let uri = Uri::from_str("file:///w/a.ospec.yml").unwrap();
        let out = to_lsp(&[d], &uri, &Rope::from_str("topology: t.star\n"), PositionEncoding::Utf16, &fs);
        let related = &out[0].related_information.as_ref().unwrap()[0];
        assert_eq!(related.location.uri.as_str(), "file:///w/t.star");
        assert_eq!(related.location.range.start, lsp::Position::new(1, 0));
    }

    #[test]
    fn analysis_follows_the_topology_a_spec_names() {
        let spec = Path::new("/nonexistent-ospecc-test/a.ospec.yml");
        let topology = Path::new("/nonexistent-ospecc-test/missing-for-test.star");
        let mut db = Database::new(std::sync::Arc::new(MemoryFs::default()), 1 << 20);
        let text = "ospec_version: \"1.0\"\nname: x\ntopology: missing-for-test.star\n";
        db.set_content(spec, ospecc_compiler::db::FileContent::Bytes(text.as_bytes().into()), true);
        let found = analyse(&BasicHost, &db, spec, Language::OSpec);
        assert!(found.diagnostics.iter().any(|d| d.code == "XSP001"));
        db.set_content(topology, ospecc_compiler::db::FileContent::Bytes(b"x = 1\n".as_slice().into()), true);
        let found = analyse(&BasicHost, &db, spec, Language::OSpec);
        assert!(!found.diagnostics.iter().any(|d| d.code == "XSP001"), "{:#?}", found.diagnostics);
    }
}
