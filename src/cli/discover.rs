//! Which files a check covers: explicit files as named, directories walked recursively.
//!
//! Walking honours `.gitignore`/`.ignore` (even outside a git repository) and the `exclude`
//! globs of `ospecc.toml`; only names in [`PATTERNS`] are picked up in directories, while a file
//! named on the command line is checked whatever its name. Adding a language (topology `*.star`)
//! is one row in that table.

use std::io;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use ignore::WalkBuilder;

/// The languages ospecc checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    OSpec,
    /// Faultbox topology files (Starlark).
    Topology,
}

/// How a file name is matched.
#[derive(Clone, Copy, Debug)]
enum NameMatch {
    Suffix(&'static str),
    Exact(&'static str),
}

/// File names picked up when walking directories, and the language each is checked as.
const PATTERNS: &[(NameMatch, Language)] = &[
    (NameMatch::Suffix(".ospec.yml"), Language::OSpec),
    (NameMatch::Suffix(".ospec.yaml"), Language::OSpec),
    (NameMatch::Suffix(".ospec"), Language::OSpec),
    (NameMatch::Exact("outcome.yml"), Language::OSpec),
    (NameMatch::Exact("outcome.yaml"), Language::OSpec),
    (NameMatch::Suffix(".star"), Language::Topology),
];

/// The language of a file name, if discovery picks it up.
pub fn language_of(name: &str) -> Option<Language> {
    PATTERNS.iter().find(|(pattern, _)| matches(*pattern, name)).map(|&(_, language)| language)
}

fn matches(pattern: NameMatch, name: &str) -> bool {
    match pattern {
        NameMatch::Suffix(suffix) => name.len() > suffix.len() && name.ends_with(suffix),
        NameMatch::Exact(exact) => name == exact,
    }
}

/// One thing to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File { path: PathBuf, language: Language },
    Stdin,
}

/// A path that could not be used, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    pub path: String,
    pub message: String,
}

impl PathError {
    pub fn new(path: &Path, error: &io::Error) -> PathError {
        PathError { path: path.display().to_string(), message: describe(error) }
    }
}

/// An IO error in words a user recognises (one wording for the CLI and the analysis).
pub use ospecc_compiler::vfs::describe_io as describe;

/// The `exclude` globs of `ospecc.toml`, matched relative to the config file's directory.
#[derive(Clone, Debug, Default)]
pub struct Excludes {
    base: PathBuf,
    globs: GlobSet,
}

impl Excludes {
    /// Compiles `patterns` (gitignore-like: a pattern without `/` matches a name at any depth,
    /// and a matched directory excludes what it holds).
    pub fn new(base: PathBuf, patterns: &[String]) -> Result<Excludes, String> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            let trimmed = pattern.trim_start_matches("./").trim_end_matches('/');
            let anchored = if trimmed.contains('/') { trimmed.to_string() } else { format!("**/{trimmed}") };
            let glob = GlobBuilder::new(&anchored)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("invalid exclude pattern `{pattern}`: {}", e.kind()))?;
            builder.add(glob);
        }
        let globs = builder.build().map_err(|e| format!("invalid exclude patterns: {e}"))?;
        Ok(Excludes { base, globs })
    }

    /// Whether `path` (as walked, relative to `cwd` or absolute) is excluded.
    pub fn is_excluded(&self, path: &Path, cwd: &Path) -> bool {
        if self.globs.is_empty() {
            return false;
        }
        let absolute = normalize(&cwd.join(path));
        let relative = absolute.strip_prefix(&self.base).unwrap_or(&absolute);
        // As in .gitignore, an excluded directory excludes everything below it, also when a
        // file inside it is named directly.
        relative.ancestors().filter(|p| !p.as_os_str().is_empty()).any(|p| self.globs.is_match(p))
    }
}

/// Removes `.` and resolves `..` lexically (no disk access, symlinks untouched).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The name standard input goes by in outputs and in [`dedup`].
pub const STDIN_NAME: &str = "<stdin>";

/// The config file a command uses: `explicit` (`--config`), none with `--no-config`, else the
/// nearest `ospecc.toml` above the first path (or the working directory).
pub fn config_path(explicit: Option<&Path>, no_config: bool, paths: &[PathBuf], cwd: &Path) -> Option<PathBuf> {
    if no_config {
        return None;
    }
    if let Some(explicit) = explicit {
        return Some(explicit.to_path_buf());
    }
    let first = paths.iter().find(|p| p.as_os_str() != "-").map(|p| cwd.join(p));
    super::config::find(&normalize(&first.unwrap_or_else(|| cwd.to_path_buf())))
}

/// The same file named twice (or found twice) is handled once.
pub fn dedup(sources: Vec<Source>) -> Vec<Source> {
    let mut seen = std::collections::HashSet::new();
    sources
        .into_iter()
        .filter(|s| match s {
            Source::File { path, .. } => seen.insert(normalize(path)),
            Source::Stdin => seen.insert(PathBuf::from(STDIN_NAME)),
        })
        .collect()
}

/// Everything the given paths cover, and the paths that could not be used.
pub fn discover(paths: &[PathBuf], excludes: &Excludes, cwd: &Path) -> (Vec<Source>, Vec<PathError>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            sources.push(Source::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Err(e) => errors.push(PathError::new(path, &e)),
            Ok(meta) if meta.is_dir() => walk(path, excludes, cwd, &mut sources, &mut errors),
            Ok(_) => {
                let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
                let language = language_of(&name).unwrap_or(Language::OSpec);
                sources.push(Source::File { path: path.clone(), language });
            }
        }
    }
    (sources, errors)
}

fn walk(root: &Path, excludes: &Excludes, cwd: &Path, sources: &mut Vec<Source>, errors: &mut Vec<PathError>) {
    let walker = WalkBuilder::new(root)
        .require_git(false)
        .filter_entry({
            let excludes = excludes.clone();
            let cwd = cwd.to_path_buf();
            move |entry| !excludes.is_excluded(entry.path(), &cwd)
        })
        .build();
    for entry in walker {
        match entry {
            Ok(entry) => {
                let is_candidate = entry.file_type().is_some_and(|t| !t.is_dir());
                let name = entry.file_name().to_string_lossy();
                if let Some(language) = language_of(&name).filter(|_| is_candidate) {
                    sources.push(Source::File { path: entry.into_path(), language });
                }
            }
            Err(e) => match walk_error(&e) {
                Some(error) => errors.push(error),
                // Not about a path we were asked to check (e.g. a malformed .gitignore line).
                None => super::report_warning(&e.to_string()),
            },
        }
    }
}

/// A walk error that concerns a path (unreadable directory, broken entry), as a path error.
fn walk_error(error: &ignore::Error) -> Option<PathError> {
    let io = error.io_error()?;
    let path = error_path(error).unwrap_or_default();
    Some(PathError { path, message: describe(io) })
}

fn error_path(error: &ignore::Error) -> Option<String> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.display().to_string()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => error_path(err),
        ignore::Error::Partial(errs) => errs.iter().find_map(error_path),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_is_handled_once() {
        let file = |p: &str| Source::File { path: PathBuf::from(p), language: Language::OSpec };
        let sources = vec![file("a.ospec"), file("./a.ospec"), Source::Stdin, file("b.ospec"), Source::Stdin];
        assert_eq!(dedup(sources), vec![file("a.ospec"), Source::Stdin, file("b.ospec")]);
    }

    #[test]
    fn patterns_pick_spec_names_only() {
        for name in ["a.ospec.yml", "a.ospec.yaml", "a.ospec", "outcome.yml", "outcome.yaml"] {
            assert_eq!(language_of(name), Some(Language::OSpec), "{name}");
        }
        for name in ["a.yml", "ospec.yml", ".ospec", "my-outcome.yml", "a.ospec.yml.bak"] {
            assert_eq!(language_of(name), None, "{name}");
        }
    }

    #[test]
    fn excludes_match_relative_to_the_config_directory() {
        let base = PathBuf::from("/repo");
        let ex = Excludes::new(base.clone(), &["vendor/**".into(), "*.draft.ospec.yml".into()]).unwrap();
        assert!(ex.is_excluded(Path::new("vendor/x/a.ospec.yml"), &base));
        assert!(ex.is_excluded(Path::new("./deep/b.draft.ospec.yml"), &base));
        assert!(ex.is_excluded(Path::new("/repo/sub/../vendor/a.ospec.yml"), Path::new("/elsewhere")));
        assert!(!ex.is_excluded(Path::new("src/vendor.ospec.yml"), &base));
        assert!(Excludes::new(base, &["a[".into()]).is_err());
    }
}
