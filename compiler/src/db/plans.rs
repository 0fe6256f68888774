//! The plan of a file as a query: what the editor's code lenses, test list and coverage hints
//! read. One lowering per revision serves them all, and a revision that changed none of the
//! files the lowering read answers from the memo.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ospecc_schema::plan::Plan;

use super::files::TrackedFs;
use super::{Database, Db};
use crate::plan::{self, PlanInput, PlanOptions};
use crate::topology;
use crate::vfs::{Confinement, FileSystem};

/// One file to lower, with everything that decides its plan besides file contents.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlanRequest {
    /// The file's absolute path.
    pub path: PathBuf,
    /// The workspace root its topology `load()`s are confined to.
    pub root: PathBuf,
    pub options: PlanOptions,
    /// Where reads may reach (`None`: anywhere the file system answers).
    pub confinement: Option<Confinement>,
}

#[salsa::interned(debug)]
struct PlanTarget<'db> {
    #[returns(ref)]
    path: PathBuf,
    #[returns(ref)]
    root: PathBuf,
    #[returns(ref)]
    options: PlanOptions,
    #[returns(ref)]
    confinement: Option<Confinement>,
}

/// The plan of one file (`None` when it has errors, or cannot be read as text).
#[salsa::tracked(returns(ref))]
fn plan_of<'db>(db: &'db dyn Db, target: PlanTarget<'db>) -> Option<Arc<Plan>> {
    let fs = TrackedFs::new(db, target.confinement(db).as_ref());
    let path: &Path = target.path(db);
    let options = target.options(db);
    let max_bytes = topology::MAX_READ_BYTES.max(options.limits.max_file_bytes as u64);
    let text = fs.read_to_string(path, max_bytes).ok()?;
    let input = PlanInput { path, text: &text, fs: &fs, root: target.root(db), options };
    plan::build(&input).plan.map(Arc::new)
}

impl Database {
    /// The plan of the file `request` names, as `ospecc plan` lowers it. Runs on an analysis
    /// thread; a newer revision cancels it by unwinding with [`salsa::Cancelled`].
    pub fn plan(&self, request: &PlanRequest) -> Option<Arc<Plan>> {
        let db = self.clone();
        topology::on_analysis_stack(move || {
            let target = PlanTarget::new(
                &db,
                request.path.clone(),
                request.root.clone(),
                request.options.clone(),
                request.confinement.clone(),
            );
            plan_of(&db, target).clone()
        })
    }
}
