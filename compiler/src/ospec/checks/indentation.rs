//! Detects a document that lost its indentation (to be written).

use super::Context;
use crate::diagnostics::Diagnostic;
use crate::syntax::yaml::Node;

pub fn lost_indentation(root: &Node, ctx: &Context) -> Option<Diagnostic> {
    let _ = (root, ctx);
    None
}
