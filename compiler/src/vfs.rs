//! The injected file system: the analysis asks it questions instead of doing IO itself.
//!
//! The CLI passes the real disk; tests and the LSP pass in-memory trees. Only the questions
//! checks need are here: does a referenced file exist, and (for topology `load()` and
//! `load_file`) what a file holds.
//!
//! Confinement lives here too: a spec is untrusted input, and path text says nothing about
//! where the file system's symbolic links lead. [`ConfinedFs`] resolves every path to its real
//! location (following every link) before it answers, and refuses one outside its roots with
//! an [`Outside`] error that names the path as written and the link that leads out, never the
//! target, and says the same whether the outside path exists or not.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

pub trait FileSystem: Sync {
    /// Whether `path` names an existing file or directory.
    fn exists(&self, path: &Path) -> bool;

    /// The UTF-8 text of the regular file at `path`, refusing files over `max_bytes` (so a
    /// topology file cannot make the checker read a device or a huge file). Errors keep their
    /// `io::ErrorKind`: `NotFound`, `InvalidData` (not UTF-8), `FileTooLarge`.
    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        let _ = (path, max_bytes);
        Err(io::Error::new(io::ErrorKind::Unsupported, "this file system cannot read files"))
    }

    /// The bytes of the regular file at `path` (binary data a call names, such as a protobuf
    /// descriptor set), with the limits of [`FileSystem::read_to_string`]. A file system that
    /// only reads text answers `InvalidData` for a binary file.
    fn read_bytes(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        self.read_to_string(path, max_bytes).map(String::into_bytes)
    }

    /// Whether the analysis may look at `path` at all (read it or ask whether it exists).
    /// A refusal is a finding of its own, never "does not exist".
    fn confine(&self, path: &Path) -> Result<(), Outside> {
        let _ = path;
        Ok(())
    }
}

/// A path refused because it resolves outside every allowed root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Outside {
    /// The path as the analysis asked for it.
    pub path: PathBuf,
    /// The symbolic link on the way that leads out, when one does (else the path itself is
    /// outside: absolute, or `..` past the root).
    pub link: Option<PathBuf>,
}

impl fmt::Display for Outside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.link {
            Some(link) => write!(f, "the symbolic link `{}` leads outside the workspace", link.display()),
            None => write!(f, "`{}` is outside the workspace", self.path.display()),
        }
    }
}

impl std::error::Error for Outside {}

impl Outside {
    /// The refusal as an IO error (kind `PermissionDenied`), for `read_to_string`.
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, self)
    }
}

/// The confinement refusal inside an IO error, if that is what it is.
pub fn outside(error: &io::Error) -> Option<&Outside> {
    error.get_ref().and_then(|inner| inner.downcast_ref::<Outside>())
}

/// The directories reads may reach, each as its real path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Confinement {
    roots: Vec<PathBuf>,
    /// The roots as given (absolute): links are named relative to them.
    written: Vec<PathBuf>,
}

impl Confinement {
    /// Confinement to `roots` (the workspace root and any `--allow-outside` paths). A root
    /// that does not exist is kept as written, made absolute.
    pub fn new<I: IntoIterator<Item = P>, P: AsRef<Path>>(roots: I) -> Confinement {
        let written: Vec<PathBuf> = roots.into_iter().map(|r| absolute(r.as_ref())).collect();
        Confinement { roots: written.iter().map(|r| real_path(r)).collect(), written }
    }

    /// Whether `path` (absolute, or relative to the working directory) resolves inside a root;
    /// on success, its real path.
    pub fn check(&self, path: &Path) -> Result<PathBuf, Outside> {
        let real = real_path(&absolute(path));
        if self.roots.iter().any(|root| real.starts_with(root)) {
            return Ok(real);
        }
        Err(Outside { path: path.to_path_buf(), link: self.leading_link(path) })
    }

    /// The symbolic link along `path` that leads out: the first prefix that resolves outside,
    /// if it is a link. The walk stops there, so only entries of directories inside a root are
    /// looked at and nothing about the outside is revealed.
    fn leading_link(&self, path: &Path) -> Option<PathBuf> {
        let mut prefix = PathBuf::new();
        for component in absolute(path).components() {
            prefix.push(component.as_os_str());
            let real = real_path(&prefix);
            // Inside a root, or still on the way down to one.
            if self.roots.iter().any(|root| real.starts_with(root) || root.starts_with(&real)) {
                continue;
            }
            let is_link = std::fs::symlink_metadata(&prefix).is_ok_and(|m| m.file_type().is_symlink());
            let shown = self.written.iter().find_map(|root| prefix.strip_prefix(root).ok()).unwrap_or(&prefix);
            return is_link.then(|| shown.to_path_buf());
        }
        None
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The real path of `path`: its longest existing prefix resolved by the kernel (every link,
/// `..` after a link included), the rest appended with `..` applied lexically.
fn real_path(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for part in rest.iter().rev() {
                match Path::new(part).components().next() {
                    Some(Component::ParentDir) => {
                        out.pop();
                    }
                    Some(Component::CurDir) | None => {}
                    Some(_) => out.push(part),
                }
            }
            return out;
        }
        match (existing.file_name().map(|n| n.to_os_string()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            // `..` as the last component has no file name: step over it.
            (None, Some(parent)) if existing.ends_with("..") => {
                rest.push("..".into());
                existing = parent.to_path_buf();
            }
            _ => return normalize(path),
        }
    }
}

/// Lexical normalisation (`a/./b/../c` → `a/c`); leading `..` of a relative path is kept.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The name of the file `name` relative to the directory `base` (both absolute or both
/// relative), with `..` where it lies outside, `/`-separated; an embedded `@faultbox/...`
/// name stays as it is. A plan's bundle names its files so, and run mode calls them by it.
pub fn relative_name(base: &Path, name: &str) -> String {
    if name.starts_with('@') {
        return name.to_owned();
    }
    // `specs/../topology/x.star` (an OSpec's `topology:` with `..`) names one file once.
    let path = normalize(Path::new(name));
    let relative = match path.strip_prefix(base) {
        Ok(inside) => inside.to_path_buf(),
        // Outside the base (a `load()` of `../lib/x.star`): spelled with `..`.
        Err(_) => relative_to(&path, base),
    };
    let parts: Vec<String> = relative
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// `path` relative to `base` (both absolute or both relative), with `..` where needed.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for part in &path[common..] {
        out.push(part.as_os_str());
    }
    out
}

/// The real disk, confined to a set of roots: every question resolves the real path first.
#[derive(Clone, Debug, Default)]
pub struct ConfinedFs {
    confinement: Confinement,
}

impl ConfinedFs {
    pub fn new(confinement: Confinement) -> ConfinedFs {
        ConfinedFs { confinement }
    }
}

impl FileSystem for ConfinedFs {
    fn exists(&self, path: &Path) -> bool {
        self.confinement.check(path).is_ok_and(|real| real.exists())
    }

    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        // The resolved path is what is read, so a link swapped after the check is not followed.
        let real = self.confinement.check(path).map_err(Outside::into_io)?;
        RealFs.read_to_string(&real, max_bytes)
    }

    fn read_bytes(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        let real = self.confinement.check(path).map_err(Outside::into_io)?;
        RealFs.read_bytes(&real, max_bytes)
    }

    fn confine(&self, path: &Path) -> Result<(), Outside> {
        self.confinement.check(path).map(|_| ())
    }
}

/// The real disk.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        let bytes = self.read_bytes(path, max_bytes)?;
        String::from_utf8(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
    }

    fn read_bytes(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        let meta = std::fs::metadata(path)?;
        // A FIFO or device could block forever or never end: only regular files are read.
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        if meta.len() > max_bytes {
            return Err(too_large(max_bytes));
        }
        std::fs::read(path)
    }
}

pub(crate) fn too_large(max_bytes: u64) -> io::Error {
    io::Error::new(io::ErrorKind::FileTooLarge, format!("larger than {max_bytes} bytes"))
}

/// An in-memory set of paths, for tests and for stdin input (where nothing exists).
#[derive(Clone, Debug, Default)]
pub struct MemoryFs {
    paths: BTreeSet<PathBuf>,
    contents: BTreeMap<PathBuf, String>,
    /// Files added as bytes (binary data files).
    binary: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemoryFs {
    pub fn new<I: IntoIterator<Item = P>, P: Into<PathBuf>>(paths: I) -> MemoryFs {
        MemoryFs { paths: paths.into_iter().map(Into::into).collect(), ..MemoryFs::default() }
    }

    /// Adds a file with its text (it then also exists).
    pub fn with_file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> MemoryFs {
        let path = path.into();
        self.paths.insert(path.clone());
        self.contents.insert(path, text.into());
        self
    }

    /// Adds a file with its bytes (it then also exists; as text it is read only if UTF-8).
    pub fn with_bytes(mut self, path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) -> MemoryFs {
        let path = path.into();
        self.paths.insert(path.clone());
        self.binary.insert(path, bytes.into());
        self
    }
}

impl FileSystem for MemoryFs {
    fn exists(&self, path: &Path) -> bool {
        self.paths.contains(path) || self.paths.iter().any(|p| p.starts_with(path))
    }

    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        match self.contents.get(path) {
            Some(text) if text.len() as u64 > max_bytes => Err(too_large(max_bytes)),
            Some(text) => Ok(text.clone()),
            None => String::from_utf8(self.read_bytes(path, max_bytes)?)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text")),
        }
    }

    fn read_bytes(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        let bytes = match (self.binary.get(path), self.contents.get(path)) {
            (Some(bytes), _) => bytes.as_slice(),
            (None, Some(text)) => text.as_bytes(),
            (None, None) => return Err(io::Error::new(io::ErrorKind::NotFound, "no such file")),
        };
        if bytes.len() as u64 > max_bytes {
            return Err(too_large(max_bytes));
        }
        Ok(bytes.to_vec())
    }
}

/// An IO error in words a user recognises (without the "(os error 2)" suffix); shared by the
/// CLI (unreadable paths) and the analysis (`load()`, `load_file`).
pub fn describe_io(error: &std::io::Error) -> String {
    if let Some(refused) = outside(error) {
        return refused.to_string();
    }
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = error.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_lowercase()
        }
    }
}
