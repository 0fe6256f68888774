//! Semantic checks of OSpec documents: what a schema cannot say.
//!
//! Each module is one concern and pushes its findings; [`run`] calls them all. They read the
//! resolved tree defensively: shapes the schema rejects are skipped here, not reported twice.

pub mod acceptance;
pub mod files;
pub mod graph;
pub mod indentation;
pub mod placeholders;
pub mod services;
pub mod thresholds;
pub mod versions;

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
    // The first line, not the whole file: a span should point somewhere, not cover everything.
    let first_line = text.find('\n').unwrap_or(text.len());
    Diagnostic::error("OSP001", Span::new(0, first_line), "this OSpec file is empty")
        .with_help("an OSpec needs at least `ospec_version`, `id`, `name`, `description`, `outcome_type` and `acceptance`; `ospecc explain OSP001` shows a minimal document")
}

/// Runs every semantic check on one document.
pub fn run(root: &Node, ctx: &Context) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    graph::check(root, &mut out);
    services::check(root, ctx, &mut out);
    files::check(root, ctx, &mut out);
    placeholders::check(root, &mut out);
    thresholds::check(root, &mut out);
    versions::check(root, &mut out);
    acceptance::check(root, &mut out);
    out
}

/// Whether semantic finding `semantic` explains schema finding `schema` at the same span (an
/// unfilled `{{placeholder}}` is why the id fails its pattern, a unit-less threshold is why its
/// key is unknown; saying both is noise).
pub fn supersedes(semantic: &str, schema: &str) -> bool {
    const SUPERSEDES: &[(&str, &[&str])] = &[("OSP211", &["OSP104"]), ("OSP209", &["OSP100"])];
    SUPERSEDES.iter().any(|(s, hidden)| *s == semantic && hidden.contains(&schema))
}

/// Every `acceptance` block: the root's, and those of `phases.*` and `environments.*`.
pub fn acceptance_blocks(root: &Node) -> Vec<&Node> {
    let mut blocks: Vec<&Node> = root.field("acceptance").into_iter().collect();
    for group in ["phases", "environments"] {
        for entry in root.field(group).and_then(Node::as_map).unwrap_or_default() {
            blocks.extend(entry.value.field("acceptance"));
        }
    }
    blocks.retain(|b| b.as_map().is_some());
    blocks
}
