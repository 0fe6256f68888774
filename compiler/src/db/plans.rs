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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::FileContent;
    use crate::vfs::MemoryFs;

    const TOPOLOGY: &str =
        "api = service(\"api\", \"/bin/api\", interface(\"http\", \"http\", 8080))\n\ndef test_up():\n    pass\n";

    #[test]
    fn a_revision_is_lowered_once_and_an_edit_lowers_again() {
        let (mut db, log) = Database::logging(std::sync::Arc::new(MemoryFs::default()), 1 << 20);
        let path = Path::new("/w/t.star");
        db.set_content(path, FileContent::Bytes(Arc::from(TOPOLOGY.as_bytes())), true);
        let request = PlanRequest {
            path: path.to_path_buf(),
            root: PathBuf::from("/w"),
            options: PlanOptions::default(),
            confinement: None,
        };
        let first = db.plan(&request).expect("a clean topology has a plan");
        assert_eq!(first.tests.len(), 1, "{first:#?}");
        assert_eq!(db.plan(&request), Some(Arc::clone(&first)));
        let lowered = |log: &crate::db::EventLog| log.take().iter().filter(|e| e.starts_with("plan_of(")).count();
        assert_eq!(lowered(&log), 1, "the second ask is the memo's");

        let edited = TOPOLOGY.replace("test_up", "test_down");
        db.set_content(path, FileContent::Bytes(Arc::from(edited.as_bytes())), true);
        let second = db.plan(&request).expect("still clean");
        assert_ne!(second, first);
        assert_eq!(lowered(&log), 1);
        db.set_content(path, FileContent::Bytes(Arc::from(b"api = service(".as_slice())), true);
        assert_eq!(db.plan(&request), None, "a file with errors has no plan");
    }
}
