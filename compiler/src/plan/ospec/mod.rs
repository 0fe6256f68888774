//! Lowering an OSpec file (reference `ospec-format.md` §5): its acceptance criteria become
//! targets, a preflight, stages of probes and unverifiable items; a `topology:` it names lowers
//! into the same plan.

use std::path::Path;

use ospecc_schema::plan::Plan;

use super::{Bundle, PlanInput};
use crate::diagnostics::Diagnostic;
use crate::syntax::yaml;

/// Checks the OSpec file (and the topology it names), then lowers both into `plan`.
pub(crate) fn lower_file(input: &PlanInput, bundle: &mut Bundle, plan: &mut Plan, diagnostics: &mut Vec<Diagnostic>) {
    let options = crate::ospec::CheckOptions { profile: input.options.profile, ..Default::default() };
    let check = crate::ospec::CheckInput { path: input.path, text: input.text, fs: input.fs, options: &options };
    diagnostics.extend(crate::ospec::check(&check));
    let parsed = yaml::parse(input.text);
    let Some(root) = parsed.documents.iter().find_map(|d| d.root.as_ref()) else { return };
    if let Some(topology) = root.field("topology").and_then(|t| t.as_str()).filter(|t| !t.trim().is_empty()) {
        let path = input.path.parent().unwrap_or(Path::new("")).join(topology.trim());
        match input.fs.read_to_string(&path, input.options.limits.max_file_bytes as u64) {
            Ok(text) => super::topology::lower_file(&path, &text, input, bundle, plan, diagnostics),
            // Unreadable: the cross-file check below reports it (XSP001).
            Err(_) => {}
        }
        let cross = crate::crossfile::CrossInput {
            path: input.path,
            text: input.text,
            fs: input.fs,
            root: input.root,
            limits: input.options.limits,
        };
        diagnostics.extend(crate::crossfile::check_document(root, &cross));
    }
    let _ = bundle;
    // The acceptance lowering lands here (plan.acceptance).
    let _ = plan;
}
