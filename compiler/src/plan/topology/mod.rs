//! Lowering a topology file: services, tests, fault rules, monitors, intercept sets.

use std::path::Path;

use ospecc_schema::plan::Plan;

use super::{Bundle, PlanInput};
use crate::diagnostics::Diagnostic;

/// Evaluates the topology file at `path` and lowers it into `plan`.
pub(crate) fn lower_file(
    path: &Path,
    text: &str,
    input: &PlanInput,
    bundle: &mut Bundle,
    plan: &mut Plan,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let _ = (path, text, input, bundle, plan, diagnostics);
}
