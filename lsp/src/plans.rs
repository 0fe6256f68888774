//! The plan of a topology document, as `ospecc plan` would lower it (open documents over the
//! disk, the host's options and confinement): what the code lenses, the test list, the
//! coverage hints and their code actions read. It is a query of the analysis database, so
//! they share one lowering per revision. `None` when the file has errors (a spec with an
//! error has no plan) or is not a topology file.

use std::path::Path;
use std::sync::Arc;

use ospecc_compiler::db::PlanRequest;
use ospecc_compiler::plan::{self, PlanOptions};
use ospecc_compiler::Profile;
use ospecc_schema::plan::Plan;

use crate::scheduler::salsa_retry;
use crate::state::Shared;

/// How often a lowering cancelled by newer edits is tried again on the newest text.
const ATTEMPTS: usize = 3;

/// The plan of the document at `path`, on the database's newest text.
pub fn plan_of(shared: &Shared, path: &Path) -> Option<Arc<Plan>> {
    if !plan::is_topology(path) {
        return None;
    }
    let host = shared.host.as_ref();
    let profile = host.options(path).map(|o| o.profile).unwrap_or(Profile::Ext);
    let request = PlanRequest {
        path: path.to_path_buf(),
        root: host.workspace_root(path),
        options: PlanOptions { profile, ..PlanOptions::default() },
        confinement: Some(host.confinement(path)),
    };
    (0..ATTEMPTS).find_map(|_| salsa_retry(|| shared.analysis_db().plan(&request))).flatten()
}

/// The bundle path of the plan's root topology (the file the lenses and hints belong to).
pub fn root_file(plan: &Plan) -> &str {
    plan.topology.as_deref().unwrap_or(plan.root.as_str())
}
