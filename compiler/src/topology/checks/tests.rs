//! Test, matrix and plan checks (reference §8.4 items 32–36, 38–41).

use super::Model;
use crate::diagnostics::Diagnostic;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    let _ = (model, out);
}
