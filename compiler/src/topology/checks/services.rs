//! Topology and reference checks (reference §8.1 items 8–9, §8.2).

use super::Model;
use crate::diagnostics::Diagnostic;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    let _ = (model, out);
}
