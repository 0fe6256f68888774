//! The one diagnostic type every stage produces, and the registry of documented codes.
//!
//! Codes are an API (DESIGN.md §4): `OSP…` OSpec, `TOP…` topology, `XSP…` cross-file,
//! `PLN…` plans, `RUN…` run-time, `INI…` `ospecc init`'s inputs. Each is documented in `docs/diagnostics/CODE.md`; the
//! registry in [`codes`] is generated from those files at build time.

pub mod codes;

use crate::span::Span;
use serde::Serialize;

/// How serious a finding is. `Error` fails a check; `Warning` fails only under `--strict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// A secondary location ("first defined here").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
    /// Another file, for cross-file findings; `None` means the diagnostic's own file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// One replacement of a byte range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TextEdit {
    pub span: Span,
    pub new_text: String,
}

/// A machine-applicable fix: a title and the edits that make it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<TextEdit>,
}

/// A finding: stable code, severity, primary span, secondary labels, notes, help and fixes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<Fix>,
}

impl Diagnostic {
    /// The same finding with every span in its own file passed through `map` (the primary
    /// span, the labels without a file, the fixes' edits).
    pub fn with_spans_mapped(&self, map: impl Fn(Span) -> Span) -> Diagnostic {
        let mut d = self.clone();
        d.span = map(d.span);
        for label in d.labels.iter_mut().filter(|l| l.file.is_none()) {
            label.span = map(label.span);
        }
        for edit in d.fixes.iter_mut().flat_map(|f| f.edits.iter_mut()) {
            edit.span = map(edit.span);
        }
        d
    }

    pub fn new(code: &'static str, severity: Severity, span: Span, message: impl Into<String>) -> Diagnostic {
        debug_assert!(codes::lookup(code).is_some(), "diagnostic code {code} is not documented in docs/diagnostics/");
        Diagnostic {
            code,
            severity,
            message: message.into(),
            span,
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            fixes: Vec::new(),
        }
    }

    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, Severity::Error, span, message)
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, Severity::Warning, span, message)
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into(), file: None });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_fix(mut self, title: impl Into<String>, edits: Vec<TextEdit>) -> Diagnostic {
        self.fixes.push(Fix { title: title.into(), edits });
        self
    }

    /// A fix replacing one span with `new_text`.
    pub fn with_replacement(self, title: impl Into<String>, span: Span, new_text: impl Into<String>) -> Diagnostic {
        self.with_fix(title, vec![TextEdit { span, new_text: new_text.into() }])
    }
}

/// Orders diagnostics for output: by position, then code, then message (deterministic).
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.span.start, a.span.end, a.code, &a.message).cmp(&(b.span.start, b.span.end, b.code, &b.message))
    });
}
