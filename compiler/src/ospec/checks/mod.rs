//! Semantic checks of OSpec documents: what a schema cannot say.

pub mod indentation;

use std::path::Path;

use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::syntax::yaml::Node;
use crate::vfs::FileSystem;
use ospecc_schema::Profile;

/// What every check may consult.
pub struct Context<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub fs: &'a dyn FileSystem,
    pub profile: Profile,
}

/// The diagnostic for a file with no content.
pub fn empty_file(text: &str) -> Diagnostic {
    Diagnostic::error("OSP001", Span::new(0, text.len()), "this OSpec file is empty")
        .with_help("an OSpec needs at least `ospec_version`, `id`, `name`, `description`, `outcome_type` and `acceptance`; `ospecc explain OSP001` shows a minimal document")
}

/// Runs every semantic check on one document.
pub fn run(root: &Node, ctx: &Context) -> Vec<Diagnostic> {
    let _ = (root, ctx);
    Vec::new()
}
