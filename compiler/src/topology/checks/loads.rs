//! `load()` checks that need the module (reference §8.4 item 42).

use super::Model;
use crate::diagnostics::Diagnostic;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    let _ = (model, out);
}
