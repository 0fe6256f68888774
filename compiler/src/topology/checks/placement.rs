//! Where builtins are called: body-only builtins at top level and vice versa (reference §8.4 item 37).

use super::Model;
use crate::diagnostics::Diagnostic;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    let _ = (model, out);
}
