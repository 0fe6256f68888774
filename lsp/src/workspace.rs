//! The workspace as the editor features see it: URIs mapped to paths, the spec files found
//! under the workspace folders, and the file system in which open documents override the
//! disk (the features read related files through it; diagnostics read the analysis
//! database, whose inputs follow the same documents).

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use ospecc_compiler::vfs::{Confinement, FileSystem, Outside, RealFs};
use tower_lsp_server::ls_types::Uri;

use crate::documents::Documents;

/// The path a URI stands for: a `file:` URI's path, else (e.g. `untitled:`) the URI itself
/// as a relative path, which never collides with a file's absolute path.
pub fn path_of(uri: &Uri) -> PathBuf {
    let is_file = uri.scheme().as_str().eq_ignore_ascii_case("file");
    match uri.to_file_path().filter(|_| is_file) {
        Some(path) => path.into_owned(),
        None => PathBuf::from(uri.as_str()),
    }
}

/// The URI of a path: a `file:` URI for an absolute path, else the relative path's own text
/// (which [`path_of`] made from a non-file URI).
pub fn uri_of(path: &Path) -> Option<Uri> {
    if path.is_absolute() {
        Uri::from_file_path(path)
    } else {
        Uri::from_str(&path.to_string_lossy()).ok()
    }
}

/// The spec files under the workspace folders, as last discovered (plus files created since).
#[derive(Debug, Default)]
pub struct Index {
    pub roots: Vec<PathBuf>,
    pub files: BTreeSet<PathBuf>,
}

impl Index {
    /// Whether `path` lies in a workspace folder.
    pub fn covers(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| path.starts_with(root))
    }
}

/// Open documents over the disk.
pub struct OverlayFs<'a> {
    documents: &'a Mutex<Documents>,
    /// Where an analysis may read (real paths); `None` for the server's own reads of files a
    /// diagnostic already names.
    confinement: Option<Confinement>,
}

impl<'a> OverlayFs<'a> {
    pub fn new(documents: &'a Mutex<Documents>) -> OverlayFs<'a> {
        OverlayFs { documents, confinement: None }
    }

    /// The overlay for an analysis: paths resolving outside `confinement` are refused as
    /// `ospecc check` refuses them (symbolic links followed first).
    pub fn confined(documents: &'a Mutex<Documents>, confinement: Confinement) -> OverlayFs<'a> {
        OverlayFs { confinement: Some(confinement), ..OverlayFs::new(documents) }
    }

    /// The open document's text at `path`, if it is open.
    fn open_text(&self, path: &Path) -> Option<String> {
        let documents = self.documents.lock().ok()?;
        documents.get(path).map(|d| d.rope.to_string())
    }

    fn any_open_below(&self, dir: &Path) -> bool {
        self.documents.lock().is_ok_and(|d| d.paths().iter().any(|p| p.starts_with(dir)))
    }
}

impl FileSystem for OverlayFs<'_> {
    fn exists(&self, path: &Path) -> bool {
        self.confine(path).is_ok() && (self.any_open_below(path) || RealFs.exists(path))
    }

    fn read_to_string(&self, path: &Path, max_bytes: u64) -> io::Result<String> {
        self.confine(path).map_err(Outside::into_io)?;
        match self.open_text(path) {
            Some(text) if text.len() as u64 > max_bytes => {
                Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("larger than {max_bytes} bytes")))
            }
            Some(text) => Ok(text),
            None => RealFs.read_to_string(path, max_bytes),
        }
    }

    fn read_bytes(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        match self.open_text(path) {
            Some(_) => self.read_to_string(path, max_bytes).map(String::into_bytes),
            None => {
                self.confine(path).map_err(Outside::into_io)?;
                RealFs.read_bytes(path, max_bytes)
            }
        }
    }

    fn confine(&self, path: &Path) -> Result<(), Outside> {
        match &self.confinement {
            Some(confinement) => confinement.check(path).map(|_| ()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::Document;
    use ropey::Rope;

    #[test]
    fn file_uris_become_paths_and_back() {
        let uri = Uri::from_str("file:///tmp/a%20b/x.ospec.yml").unwrap();
        assert_eq!(path_of(&uri), PathBuf::from("/tmp/a b/x.ospec.yml"));
        assert_eq!(uri_of(&path_of(&uri)).map(|u| path_of(&u)), Some(PathBuf::from("/tmp/a b/x.ospec.yml")));
        let untitled = Uri::from_str("untitled:Untitled-1").unwrap();
        assert_eq!(path_of(&untitled), PathBuf::from("untitled:Untitled-1"));
        assert_eq!(uri_of(&path_of(&untitled)).map(|u| u.as_str().to_string()), Some("untitled:Untitled-1".into()));
    }

    #[test]
    fn open_documents_override_the_disk() {
        let documents = Mutex::new(Documents::default());
        let path = PathBuf::from("/nonexistent-ospecc-test/t.star");
        let uri = Uri::from_file_path(&path).unwrap();
        let document = Document { uri, version: 1, language_id: "starlark".into(), rope: Rope::from_str("x = 1\n") };
        documents.lock().unwrap().open(path.clone(), document);
        let fs = OverlayFs::new(&documents);
        assert_eq!(fs.read_to_string(&path, 100).unwrap(), "x = 1\n");
        assert_eq!(fs.read_to_string(&path, 2).unwrap_err().kind(), io::ErrorKind::FileTooLarge);
        assert!(fs.exists(Path::new("/nonexistent-ospecc-test")));
        assert!(!fs.exists(Path::new("/nonexistent-ospecc-test/gone.star")));
    }

    #[test]
    fn a_confined_overlay_refuses_links_out_of_the_workspace() {
        let base = std::env::temp_dir().join(format!("ospecc-lsp-confine-{}", std::process::id()));
        let (ws, out) = (base.join("ws"), base.join("out"));
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("secret.txt"), "CANARY").unwrap();
        std::fs::write(ws.join("inside.txt"), "fine").unwrap();
        let _ = std::fs::remove_file(ws.join("link"));
        std::os::unix::fs::symlink(out.join("secret.txt"), ws.join("link")).unwrap();
        let documents = Mutex::new(Documents::default());
        let fs = OverlayFs::confined(&documents, Confinement::new([&ws]));
        assert_eq!(fs.read_to_string(&ws.join("inside.txt"), 100).unwrap(), "fine");
        let refused = fs.read_to_string(&ws.join("link"), 100).unwrap_err();
        let outside = ospecc_compiler::vfs::outside(&refused).expect("a confinement refusal");
        assert_eq!(outside.link.as_deref(), Some(Path::new("link")));
        assert!(!refused.to_string().contains("CANARY"));
        assert!(!fs.exists(&out.join("secret.txt")) && !fs.exists(&ws.join("link")));
        assert!(OverlayFs::new(&documents).read_to_string(&ws.join("link"), 100).is_ok(), "unconfined reads follow");
        let _ = std::fs::remove_dir_all(&base);
    }
}
