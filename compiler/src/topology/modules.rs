//! Loaded modules as units another check can reuse: a `load()`ed file evaluated once serves
//! every file that loads it (the database in `crate::db` memoises them), instead of being
//! evaluated again inside each importer's run.
//!
//! A [`LoadedModule`] is what one evaluation of a loaded file did, in order: the source it
//! read, the modules it loaded, the calls it recorded, the findings and data files of its
//! natives, and how many functions of each name it numbered. An importer replays that record
//! as if it had evaluated the file itself, so its model (and every diagnostic) is the same.

use std::sync::Arc;

use starlark::environment::FrozenModule;

use super::eval::LoadFailure;
use super::values::Recorded;
use crate::diagnostics::Diagnostic;

/// One loaded file's evaluation, with what its importers replay.
pub struct LoadedModule {
    /// The module's key: its normalised path, or the stdlib id.
    pub key: String,
    /// (name, text) of the file itself.
    pub(super) source: (String, String),
    /// The modules it took from the loader, in load order (failed ones too: each importer
    /// evaluates a failed module again, as a run does).
    pub(super) deps: Vec<Arc<LoadedModule>>,
    pub(super) calls: Vec<Arc<Recorded>>,
    pub(super) diagnostics: Vec<Diagnostic>,
    /// Data files its `load_file`/`load_yaml`/`load_json` calls read, as (name, text).
    pub(super) data_sources: Vec<(String, String)>,
    /// Functions numbered per (file, name) during its own evaluation.
    pub(super) functions: Vec<((String, String), u32)>,
    pub(super) result: Result<FrozenModule, LoadFailure>,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule").field("key", &self.key).field("ok", &self.result.is_ok()).finish()
    }
}

impl LoadedModule {
    /// Whether the module evaluated to the end.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

/// Where an evaluation gets the modules it loads, already evaluated.
pub trait ModuleLoader {
    /// The keys of the modules the module at `key` loads (nothing when it cannot be read or
    /// parsed): how the evaluation finds out, before asking for it, that a module's loads are
    /// free of cycles through its own stack.
    fn imports(&self, key: &str) -> Arc<[String]>;

    /// The evaluation of the module at `key` (a file's key is its normalised path, which
    /// is also its name; a stdlib id names itself).
    fn module(&self, key: &str) -> Arc<LoadedModule>;
}
