//! Argument values against the catalog (reference §8.1 items 3–7, 10).

use super::Model;
use crate::diagnostics::Diagnostic;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    let _ = (model, out);
}
