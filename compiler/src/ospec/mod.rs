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
use crate::syntax::yaml;
use crate::vfs::FileSystem;
use ospecc_schema::Profile;

pub use policy::Policy;

/// What to check one OSpec file with.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    pub profile: Profile,
    pub policy: Policy,
}

/// One file to check. `path` is used for files the spec references (relative to its
/// directory) and for the id-versus-filename lint; nothing is read through it.
pub struct CheckInput<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub fs: &'a dyn FileSystem,
    pub options: &'a CheckOptions,
}

/// Every diagnostic for one OSpec file, policy applied, in deterministic order.
pub fn check(input: &CheckInput) -> Vec<Diagnostic> {
    let parsed = yaml::parse(input.text);
    let mut diagnostics = parsed.diagnostics;
    if parsed.documents.iter().all(|d| d.root.is_none()) && input.text.trim().is_empty() {
        diagnostics.push(checks::empty_file(input.text));
    }
    for document in &parsed.documents {
        let Some(root) = &document.root else { continue };
        let ctx = checks::Context { path: input.path, text: input.text, fs: input.fs, profile: input.options.profile };
        diagnostics.extend(schema::validate(root, input.options.profile));
        diagnostics.extend(checks::run(root, &ctx));
    }
    let mut diagnostics = input.options.policy.apply(diagnostics);
    crate::diagnostics::sort(&mut diagnostics);
    diagnostics
}
