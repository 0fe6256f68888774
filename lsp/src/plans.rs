//! The plan of a topology document, as `ospecc plan` would lower its text (open documents
//! over the disk, the host's options and confinement): what the code lenses, the test list,
//! the coverage hints and their code actions read. `None` when the file has errors (a spec
//! with an error has no plan) or is not a topology file.

use std::path::Path;
use std::sync::Mutex;

use ospecc_compiler::plan::{self, PlanInput, PlanOptions};
use ospecc_compiler::Profile;
use ospecc_schema::plan::Plan;

use crate::documents::Documents;
use crate::host::Host;
use crate::workspace::OverlayFs;

/// Lowers `text` (the document at `path`) into its plan.
pub fn plan_of(host: &dyn Host, documents: &Mutex<Documents>, path: &Path, text: &str) -> Option<Plan> {
    if !plan::is_topology(path) {
        return None;
    }
    let profile = host.options(path).map(|o| o.profile).unwrap_or(Profile::Ext);
    let options = PlanOptions { profile, ..PlanOptions::default() };
    let root = host.workspace_root(path);
    let fs = OverlayFs::confined(documents, host.confinement(path));
    let input = PlanInput { path, text, fs: &fs, root: &root, options: &options };
    plan::build(&input).plan
}

/// The bundle path of the plan's root topology (the file the lenses and hints belong to).
pub fn root_file(plan: &Plan) -> &str {
    plan.topology.as_deref().unwrap_or(plan.root.as_str())
}
