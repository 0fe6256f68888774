//! Diagnostics: one file analysed exactly as `ospecc check` analyses it
//! ([`ospecc_compiler::analysis::check_file`], with the host's options and workspace root),
//! and the compiler's diagnostics turned into LSP diagnostics.
//!
//! The conversion keeps everything: the code (and `source: "ospecc"`), the severity, the
//! message verbatim, the primary span as a range in the negotiated encoding, labels as
//! related information (in their own file for cross-file labels), and notes and help as
//! related information at the primary range, where editors show them under the message.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ospecc_compiler::analysis::{self, FileInput, Language};
use ospecc_compiler::diagnostics::{Diagnostic, Severity};
use ospecc_compiler::ospec::CheckOptions;
use ospecc_compiler::vfs::FileSystem;
use ropey::Rope;
use tower_lsp_server::ls_types::{self as lsp, DiagnosticRelatedInformation, Location, NumberOrString, Uri};

use crate::documents::Documents;
use crate::encoding::{range_of, PositionEncoding};
use crate::host::Host;
use crate::workspace::{uri_of, OverlayFs};

/// The name clients show next to each diagnostic.
pub const SOURCE: &str = "ospecc";

/// A label in another file can point this far into it at most (its text is read to place it).
const MAX_LABEL_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What one analysis produced.
pub struct Analysis {
    pub diagnostics: Vec<Diagnostic>,
    /// Every path the analysis asked the file system about.
    pub accessed: BTreeSet<PathBuf>,
    /// Why the file's `ospecc.toml` could not be used (the defaults were).
    pub config_error: Option<String>,
}

/// Analyses one file's `text` as `ospecc check` would, with open documents over the disk.
pub fn analyse(host: &dyn Host, documents: &Mutex<Documents>, path: &Path, text: &str, language: Language) -> Analysis {
    let (options, config_error) = match host.options(path) {
        Ok(options) => (options, None),
        Err(message) => (CheckOptions::default(), Some(message)),
    };
    let root = host.workspace_root(path);
    let fs = OverlayFs::confined(documents, host.confinement(path));
    let input = FileInput { path, text, language, fs: &fs, root: &root, options: &options };
    let diagnostics = analysis::check_file(&input);
    Analysis { diagnostics, accessed: fs.accessed(), config_error }
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
    fn analysis_records_the_topology_a_spec_names() {
        let documents = Mutex::new(Documents::default());
        let text = "ospec_version: \"1.0\"\nname: x\ntopology: missing-for-test.star\n";
        let path = Path::new("/nonexistent-ospecc-test/a.ospec.yml");
        let found = analyse(&BasicHost, &documents, path, text, Language::OSpec);
        assert!(found.diagnostics.iter().any(|d| d.code == "XSP001"));
        assert!(found.accessed.contains(Path::new("/nonexistent-ospecc-test/missing-for-test.star")));
    }
}
