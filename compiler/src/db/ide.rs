//! The editor's whole-file features as queries: the outline, folding ranges and semantic
//! tokens of a file are computed once per revision of its text, however many requests (or
//! clients: outline, breadcrumbs, sticky scroll) ask. Position-dependent features (hover,
//! completion, definition) are answered per request from the text.

use std::path::PathBuf;

use super::{Database, Db};
use crate::ide::{self, FileContext, Fold, SemanticToken, Symbol};
use crate::syntax::text::decode;
use crate::syntax::Language;
use crate::vfs::MemoryFs;
use ospecc_schema::Profile;

/// One document as the whole-file features read it.
#[salsa::interned(debug)]
struct Document<'db> {
    #[returns(ref)]
    path: PathBuf,
    #[returns(copy)]
    language: Language,
    #[returns(copy)]
    profile: Profile,
}

/// Runs `feature` on the document's text (none when it is not text): these features read
/// no other file, so the context's file system is empty.
fn on_text<T: Default>(db: &dyn Db, document: Document<'_>, feature: impl FnOnce(&FileContext) -> T) -> T {
    let path = document.path(db);
    let Ok(bytes) = db.source(path).content(db).bytes(u64::MAX) else { return T::default() };
    let Ok(text) = decode(bytes) else { return T::default() };
    let fs = MemoryFs::default();
    let context = FileContext {
        path,
        text,
        language: document.language(db),
        fs: &fs,
        workspace_files: &[],
        profile: document.profile(db),
    };
    feature(&context)
}

#[salsa::tracked(returns(ref))]
fn symbols<'db>(db: &'db dyn Db, document: Document<'db>) -> Vec<Symbol> {
    on_text(db, document, ide::symbols)
}

#[salsa::tracked(returns(ref))]
fn folding<'db>(db: &'db dyn Db, document: Document<'db>) -> Vec<Fold> {
    on_text(db, document, ide::folding_ranges)
}

#[salsa::tracked(returns(ref))]
fn tokens<'db>(db: &'db dyn Db, document: Document<'db>) -> Vec<SemanticToken> {
    on_text(db, document, ide::semantic_tokens)
}

/// A document whose whole-file features a request asks for.
#[derive(Clone, Debug)]
pub struct DocumentKey {
    pub path: PathBuf,
    pub language: Language,
    pub profile: Profile,
}

impl Database {
    /// `query`'s memo for the document, when the database holds `text` for it (a request
    /// made on another revision computes its answer itself).
    fn on_document<T: Clone>(
        &self,
        key: &DocumentKey,
        text: &str,
        query: impl for<'db> Fn(&'db dyn Db, Document<'db>) -> &'db Vec<T>,
    ) -> Option<Vec<T>> {
        let held = self.source(&key.path).content(self).bytes(u64::MAX).ok()? == text.as_bytes();
        held.then(|| query(self, Document::new(self, key.path.clone(), key.language, key.profile)).clone())
    }

    /// The outline of the document.
    pub fn symbols(&self, key: &DocumentKey, text: &str) -> Option<Vec<Symbol>> {
        self.on_document(key, text, symbols)
    }

    /// The folding ranges of the document.
    pub fn folding(&self, key: &DocumentKey, text: &str) -> Option<Vec<Fold>> {
        self.on_document(key, text, folding)
    }

    /// The semantic tokens of the document.
    pub fn semantic_tokens(&self, key: &DocumentKey, text: &str) -> Option<Vec<SemanticToken>> {
        self.on_document(key, text, tokens)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::db::FileContent;

    const SPEC: &str = "ospec_version: \"1.0\"\nname: s\nservices:\n  - name: api\n    port: 8080\n";

    fn key() -> DocumentKey {
        DocumentKey { path: PathBuf::from("/w/s.ospec.yml"), language: Language::OSpec, profile: Profile::Ext }
    }

    #[test]
    fn a_revision_is_outlined_once_and_an_edit_outlines_again() {
        let (mut db, log) = Database::logging(Arc::new(MemoryFs::default()), 1 << 20);
        let path = Path::new("/w/s.ospec.yml");
        db.set_content(path, FileContent::Bytes(Arc::from(SPEC.as_bytes())), true);
        let first = db.symbols(&key(), SPEC).expect("the database holds this text");
        assert_eq!(
            first,
            ide::symbols(&FileContext {
                path,
                text: SPEC,
                language: Language::OSpec,
                fs: &MemoryFs::default(),
                workspace_files: &[],
                profile: Profile::Ext
            })
        );
        assert_eq!(db.symbols(&key(), SPEC), Some(first));
        let executed = log.take();
        assert_eq!(executed.iter().filter(|e| e.starts_with("symbols(")).count(), 1, "{executed:?}");

        let edited = SPEC.replace("api", "web");
        db.set_content(path, FileContent::Bytes(Arc::from(edited.as_bytes())), true);
        assert_eq!(db.symbols(&key(), SPEC), None, "another revision's text is not answered from the memo");
        let outline = db.symbols(&key(), &edited).expect("the new text");
        assert!(format!("{outline:?}").contains("web"), "{outline:?}");
        assert!(log.take().iter().any(|e| e.starts_with("symbols(")));
    }
}
