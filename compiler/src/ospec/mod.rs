//! OSpec files: the pipeline from text to diagnostics.
//!
//! `text ─► syntax::yaml ─► schema (profile core|ext) ─► checks (semantic) ─► policy`.
//! Each YAML document of a stream is checked on its own.

pub mod checks;
pub mod policy;
pub mod schema;
pub mod steps;

use std::path::Path;

use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::syntax::yaml::{self, Node};
use crate::vfs::FileSystem;
use ospecc_schema::Profile;

pub use policy::Policy;

/// The YAML front end's syntax-error and duplicate-key codes (codes are a stable API): what a
/// document that lost its indentation produces besides misplaced keys.
const FLATTENING_SYMPTOMS: &[&str] = &["OSP010", "OSP012"];

/// What to check one OSpec file with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CheckOptions {
    pub profile: Profile,
    pub policy: Policy,
}

/// One file to check. `path` locates the files the spec references (relative to its
/// directory); nothing is read through it, only `fs` is asked whether they exist.
pub struct CheckInput<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub fs: &'a dyn FileSystem,
    pub options: &'a CheckOptions,
}

/// Every diagnostic for one OSpec file, policy applied, in deterministic order.
pub fn check(input: &CheckInput) -> Vec<Diagnostic> {
    check_parsed(input, &yaml::parse(input.text))
}

/// [`check`] over the file's YAML already parsed (`parsed` is `yaml::parse(input.text)`).
pub fn check_parsed(input: &CheckInput, parsed: &yaml::Parsed) -> Vec<Diagnostic> {
    let mut diagnostics = parsed.diagnostics.clone();
    if parsed.documents.iter().all(|d| d.root.is_none()) && diagnostics.is_empty() {
        diagnostics.push(checks::empty_file(input.text));
    }
    let ctx = checks::Context { path: input.path, text: input.text, fs: input.fs, profile: input.options.profile };
    for (i, document) in parsed.documents.iter().enumerate() {
        let Some(root) = &document.root else { continue };
        // A document's region runs to the next document (errors after its end are its own).
        let end = parsed.documents.get(i + 1).map_or(input.text.len(), |next| next.span.start);
        let region = Span::new(document.span.start, end);
        diagnostics = check_document(root, region, &parsed.damaged, &ctx, diagnostics);
    }
    let mut diagnostics = input.options.policy.apply(diagnostics);
    crate::diagnostics::sort(&mut diagnostics);
    diagnostics
}

/// Schema and semantic checks of one document, added to the file's `diagnostics` so far.
fn check_document(
    root: &Node,
    region: Span,
    damaged: &[Span],
    ctx: &checks::Context,
    mut diagnostics: Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    let names = schema::property_names(ctx.profile);
    let known = checks::indentation::KnownKeys { root: &names.root, nested: &names.nested };
    if let Some(lost) = checks::indentation::lost_indentation(root, &known) {
        // Flattening also produces duplicate keys and misplaced list items: symptoms of one cause.
        let before = diagnostics.len();
        diagnostics.retain(|d| {
            !(FLATTENING_SYMPTOMS.contains(&d.code) && region.start <= d.span.start && d.span.end <= region.end)
        });
        let folded = before - diagnostics.len();
        diagnostics.push(match folded {
            0 => lost,
            n => lost.with_note(format!(
                "{n} duplicate-key and syntax errors caused by the flattening are folded into this one"
            )),
        });
        return diagnostics;
    }
    let semantic = checks::run(root, ctx);
    let superseded = |d: &Diagnostic| semantic.iter().any(|s| s.span == d.span && checks::supersedes(s.code, d.code));
    let findings = schema::findings(root, ctx.profile).into_iter();
    let findings = findings.filter(|f| !f.missing.iter().any(|name| blanked_key(ctx.text, damaged, name)));
    diagnostics.extend(findings.map(|f| f.diagnostic).filter(|d| !superseded(d)));
    diagnostics.extend(semantic);
    diagnostics
}

/// Whether recovery blanked a line that defines `name` (`name:`, possibly quoted, at the start
/// of a line): the syntax error is already reported, and "missing `name`" would only repeat it.
fn blanked_key(text: &str, damaged: &[Span], name: &str) -> bool {
    let defines = |line: &str| {
        let key = line.trim_start().trim_start_matches("- ").trim_start_matches(['"', '\'']);
        key.strip_prefix(name).is_some_and(|rest| rest.trim_start_matches(['"', '\'']).trim_start().starts_with(':'))
    };
    damaged.iter().filter_map(|span| text.get(span.start..span.end)).any(|region| region.lines().any(defines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_on_a_blanked_line_is_not_reported_missing() {
        let text = "id: x\ndescription: \"open\nname: y\n";
        let damaged = [Span::new(6, 27)];
        assert!(blanked_key(text, &damaged, "description"));
        assert!(!blanked_key(text, &damaged, "name"));
        assert!(!blanked_key(text, &[], "description"));
        assert!(blanked_key("  'description' : x", &[Span::new(0, 19)], "description"));
    }
}
