//! The state one check shares with native functions during evaluation (reached through
//! `Evaluator::extra`): the injected file system, the sandbox roots, the recorded calls and
//! the diagnostics found while binding calls. Also the sandboxed readers
//! `load_file` / `load_yaml` / `load_json`.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::{ProvidesStaticType, Value};

use super::values::Recorded;
use crate::diagnostics::Diagnostic;
use crate::syntax::yaml;
use crate::vfs::FileSystem;

/// The largest file `load()` or `load_file` reads (Faultbox's own cap is 50 MB; a topology
/// check has no use for data that large, and reading it would dominate the check's time).
pub const MAX_READ_BYTES: u64 = 8 * 1024 * 1024;

#[derive(ProvidesStaticType)]
pub(crate) struct Session<'a> {
    pub fs: &'a dyn FileSystem,
    /// `load_file` and friends read only below this directory.
    pub spec_dir: PathBuf,
    pub calls: RefCell<Vec<Arc<Recorded>>>,
    pub diagnostics: RefCell<Vec<Diagnostic>>,
    /// Every file the evaluation read (loaded modules and data files), as (name, text): the
    /// plan's source bundle carries them.
    pub sources: RefCell<Vec<(String, String)>>,
    /// Keep the function values passed to builtins (a runtime calls them later).
    pub capture: bool,
    /// The captured functions, in capture order: (file, local id); their values are the
    /// module's extra value (a tuple in the same order), which survives freezing.
    pub captured: RefCell<Vec<(String, String)>>,
}

impl Session<'_> {
    /// Records a call (the checks read the record later).
    pub(crate) fn record(&self, recorded: &Arc<Recorded>) {
        self.calls.borrow_mut().push(recorded.clone());
    }

    /// Resolves a `load_file` path below the spec's directory, or says why it may not be read.
    fn resolve_data_path(&self, path: &str) -> Result<PathBuf, SandboxError> {
        if path.contains("://") {
            return Err(SandboxError::escape(format!("`{path}` is a URL: topology files cannot reach the network")));
        }
        let relative = Path::new(path);
        if relative.is_absolute() || relative.has_root() {
            return Err(SandboxError::escape(format!("`{path}` is an absolute path")));
        }
        let joined = normalize(&self.spec_dir.join(relative));
        if !joined.starts_with(normalize(&self.spec_dir)) {
            return Err(SandboxError::escape(format!("`{path}` leaves the spec's directory")));
        }
        Ok(joined)
    }

    fn read_data(&self, path: &str) -> Result<String, SandboxError> {
        let resolved = self.resolve_data_path(path)?;
        let text = self.fs.read_to_string(&resolved, MAX_READ_BYTES).map_err(|e| match crate::vfs::outside(&e) {
            Some(refused) => SandboxError::escape(format!("`{path}` is outside the workspace: {refused}")),
            None => SandboxError {
                code: "TOP031",
                message: format!("cannot read `{path}`: {}", crate::vfs::describe_io(&e)),
                help: "the path is relative to the spec's directory; check that the file exists and is UTF-8 text"
                    .into(),
            },
        })?;
        self.sources.borrow_mut().push((resolved.display().to_string(), text.clone()));
        Ok(text)
    }
}

/// Lexical normalisation lives with the file system (confinement needs it too).
pub use crate::vfs::normalize;

/// An error a sandboxed native function raises, carrying its diagnostic code.
#[derive(Debug)]
pub(crate) struct SandboxError {
    pub code: &'static str,
    pub message: String,
    pub help: String,
}

impl SandboxError {
    fn escape(message: String) -> SandboxError {
        SandboxError {
            code: "TOP030",
            message,
            help: "`load_file`, `load_yaml` and `load_json` read only files below the spec's directory; move the data there and use a relative path".into(),
        }
    }
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SandboxError {}

fn session<'a>(eval: &'a Evaluator) -> anyhow::Result<&'a Session<'a>> {
    eval.extra
        .and_then(|e| e.downcast_ref::<Session>())
        .ok_or_else(|| anyhow::anyhow!("file loaders are unavailable here"))
}

/// YAML (through ospecc's own YAML front end) to JSON values, which Starlark can allocate.
fn yaml_to_json(node: &yaml::Node) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match &node.value {
        yaml::Value::Null => J::Null,
        yaml::Value::Bool(b) => J::Bool(*b),
        yaml::Value::Int(i) => J::from(*i),
        yaml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        yaml::Value::String(s) => J::String(s.clone()),
        yaml::Value::Seq(items) => J::Array(items.iter().map(yaml_to_json).collect::<Result<_, _>>()?),
        yaml::Value::Map(entries) => {
            let mut map = serde_json::Map::new();
            for entry in entries {
                // Faultbox refuses non-string keys too.
                let yaml::Value::String(key) = &entry.key.value else {
                    return Err("mapping keys must be strings".into());
                };
                map.insert(key.clone(), yaml_to_json(&entry.value)?);
            }
            J::Object(map)
        }
    })
}

#[starlark_module]
pub(crate) fn file_loaders(builder: &mut GlobalsBuilder) {
    /// The text of a file below the spec's directory.
    fn load_file<'v>(
        #[starlark(require = pos)] path: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        let text = session(eval)?.read_data(path)?;
        Ok(eval.heap().alloc(text))
    }

    /// A YAML file below the spec's directory, as Starlark values.
    fn load_yaml<'v>(
        #[starlark(require = pos)] path: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        let text = session(eval)?.read_data(path)?;
        let parsed = yaml::parse(&text);
        let invalid = |why: String| SandboxError {
            code: "TOP032",
            message: format!("`{path}` is not valid YAML: {why}"),
            help: "run `ospecc check` on the data file, or fix it in an editor with YAML support".into(),
        };
        if let Some(first) = parsed.diagnostics.iter().find(|d| d.severity == crate::Severity::Error) {
            return Err(invalid(first.message.clone()).into());
        }
        let value = match parsed.documents.first().and_then(|d| d.root.as_ref()) {
            Some(root) => yaml_to_json(root).map_err(invalid)?,
            None => serde_json::Value::Null,
        };
        Ok(eval.heap().alloc(value))
    }

    /// A JSON file below the spec's directory, as Starlark values.
    fn load_json<'v>(
        #[starlark(require = pos)] path: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        let text = session(eval)?.read_data(path)?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| SandboxError {
            code: "TOP032",
            message: format!("`{path}` is not valid JSON: {e}"),
            help: "fix the JSON file (or use `load_file` to read it as text)".into(),
        })?;
        Ok(eval.heap().alloc(value))
    }
}
