//! Editor features over one file: completion, hover, go-to-definition, references, document
//! symbols, folding ranges, workspace symbol entries, signature help, semantic tokens and
//! quick fixes, for OSpec YAML and topology Starlark alike.
//!
//! This is rust-analyzer's `ide` layer: no IO (other files come through the injected
//! [`FileSystem`]), no LSP types, positions as byte offsets into the file's text. The language
//! server converts the plain results here into protocol types in its own encoding.
//!
//! Everything is driven by data: OSpec features read the compiled JSON Schema of the profile
//! (the validator's model), topology features read the builtin catalog. The inputs may be
//! half-typed: both languages are read with tolerant, line- and token-based scanners rather
//! than the checking parsers, which need whole statements.

mod fixes;
mod folding;
mod ospec;
mod search;
pub(crate) mod topology;

use std::path::{Path, PathBuf};

use crate::span::Span;
use crate::syntax::Language;
use crate::vfs::FileSystem;
use ospecc_schema::Profile;

pub use fixes::{code_actions, CodeAction};
pub use folding::{folding_ranges, Fold, FoldKind};
pub use search::{entity_symbols, match_rank, NamedSymbol};
pub use topology::index::{declared_services, may_declare_services, DeclaredService};
pub use topology::modules as stdlib_modules;

/// The largest related file (a topology named by `topology:`, a `load()`ed module) read for
/// cross-file answers.
pub const MAX_RELATED_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// One file, as the features see it.
pub struct FileContext<'a> {
    /// The file's absolute path (`topology:` and `load()` resolve against its directory).
    pub path: &'a Path,
    pub text: &'a str,
    pub language: Language,
    /// Other files (open documents over the disk, for the language server).
    pub fs: &'a dyn FileSystem,
    /// The spec files of the workspace (for `load()` path completion and references).
    pub workspace_files: &'a [PathBuf],
    /// The OSpec profile whose schema drives OSpec features.
    pub profile: Profile,
}

/// What a completion item is, for the editor's icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionKind {
    Property,
    Value,
    EnumMember,
    Keyword,
    Reference,
    Function,
    Parameter,
    Method,
    Field,
    Module,
    Constant,
    Variable,
    File,
}

/// One completion proposal.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CompletionItem {
    pub label: String,
    pub kind: CompletionKind,
    /// One line shown next to the label (a type, a signature).
    pub detail: Option<String>,
    /// Markdown.
    pub documentation: Option<String>,
    /// What to insert instead of the label (a snippet when `is_snippet`).
    pub insert_text: Option<String>,
    pub is_snippet: bool,
    /// Orders the list (required keys first); the label when absent.
    pub sort_text: Option<String>,
    /// The text the insertion replaces (the half-typed word); empty at the cursor otherwise.
    pub replace: Span,
}

impl CompletionItem {
    fn new(label: impl Into<String>, kind: CompletionKind, replace: Span) -> CompletionItem {
        CompletionItem {
            label: label.into(),
            kind,
            detail: None,
            documentation: None,
            insert_text: None,
            is_snippet: false,
            sort_text: None,
            replace,
        }
    }

    fn detail(mut self, detail: impl Into<String>) -> CompletionItem {
        self.detail = Some(detail.into()).filter(|d: &String| !d.is_empty());
        self
    }

    fn docs(mut self, docs: impl Into<String>) -> CompletionItem {
        self.documentation = Some(docs.into()).filter(|d: &String| !d.is_empty());
        self
    }

    fn insert(mut self, text: impl Into<String>, is_snippet: bool) -> CompletionItem {
        self.insert_text = Some(text.into());
        self.is_snippet = is_snippet;
        self
    }

    fn sort(mut self, key: impl Into<String>) -> CompletionItem {
        self.sort_text = Some(key.into());
        self
    }
}

/// Hover text (markdown) and the span it is about.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Hover {
    pub markdown: String,
    pub span: Span,
}

/// A place in a file: `path` is `None` for the file asked about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Location {
    pub path: Option<PathBuf>,
    pub span: Span,
}

impl Location {
    fn here(span: Span) -> Location {
        Location { path: None, span }
    }
}

/// What a document symbol stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolKind {
    /// A mapping key with nested content.
    Object,
    /// A scalar key.
    Property,
    Array,
    /// A named entity (service, task, interface).
    Entity,
    Function,
    Variable,
    Module,
    Test,
}

/// One entry of the document outline.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Symbol {
    pub name: String,
    pub detail: Option<String>,
    pub kind: SymbolKind,
    /// The whole construct.
    pub span: Span,
    /// The name within it.
    pub selection: Span,
    pub children: Vec<Symbol>,
}

/// A text replacement.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TextEdit {
    pub span: Span,
    pub new_text: String,
}

/// The signature of the call around the cursor.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SignatureHelp {
    /// `name(a, b, *, c=1)`.
    pub label: String,
    pub documentation: String,
    /// Each parameter's byte range within `label`, and its docs.
    pub parameters: Vec<(Span, String)>,
    pub active_parameter: Option<usize>,
}

/// Semantic token types (the LSP legend is built from [`TokenKind::ALL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Property,
    EnumMember,
    Function,
    Parameter,
    Variable,
    Method,
    Namespace,
    Keyword,
    String,
    Number,
    Comment,
    Type,
}

impl TokenKind {
    pub const ALL: [TokenKind; 12] = [
        TokenKind::Property,
        TokenKind::EnumMember,
        TokenKind::Function,
        TokenKind::Parameter,
        TokenKind::Variable,
        TokenKind::Method,
        TokenKind::Namespace,
        TokenKind::Keyword,
        TokenKind::String,
        TokenKind::Number,
        TokenKind::Comment,
        TokenKind::Type,
    ];
}

/// Semantic token modifiers, as bits (`1 << index` in [`TokenModifier::ALL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenModifier {
    Declaration,
    DefaultLibrary,
    Deprecated,
    Readonly,
}

impl TokenModifier {
    pub const ALL: [TokenModifier; 4] =
        [TokenModifier::Declaration, TokenModifier::DefaultLibrary, TokenModifier::Deprecated, TokenModifier::Readonly];

    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// One semantically classified span (never spans a line break).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SemanticToken {
    pub span: Span,
    pub kind: TokenKind,
    pub modifiers: u32,
}

/// The most items one completion answer carries. Clients filter by what is typed next, but
/// a list of every name of a big file costs its serialisation and transfer on each keystroke;
/// past this, the best-ranked items are kept and the answer is marked incomplete (the client
/// asks again as the prefix grows).
pub const MAX_COMPLETIONS: usize = 200;

/// A completion answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completions {
    pub items: Vec<CompletionItem>,
    /// Names were left out (narrowed to what fits the place, or capped at
    /// [`MAX_COMPLETIONS`]): the client must ask again when the typed prefix changes rather
    /// than filter this list (LSP `isIncomplete`).
    pub incomplete: bool,
}

impl Completions {
    fn complete(items: Vec<CompletionItem>) -> Completions {
        Completions { items, incomplete: false }
    }
}

/// Completions at `offset` (clamped into the text, moved back to a character boundary).
pub fn completions(file: &FileContext, offset: usize) -> Vec<CompletionItem> {
    completion_list(file, offset).items
}

/// [`completions`], saying whether the list is complete.
pub fn completion_list(file: &FileContext, offset: usize) -> Completions {
    let offset = clamp(file.text, offset);
    let mut found = match file.language {
        Language::OSpec => Completions::complete(ospec::completion::complete(file, offset)),
        Language::Topology => topology::completion::complete(file, offset),
    };
    if found.items.len() > MAX_COMPLETIONS {
        // The client's order (sort text, else label) decides which are kept.
        found.items.sort_by_cached_key(|i| (i.sort_text.clone().unwrap_or_else(|| i.label.clone()), i.label.clone()));
        found.items.truncate(MAX_COMPLETIONS);
        found.incomplete = true;
    }
    found
}

/// What the cursor is on: schema docs for a key, the entity a reference names, a builtin.
pub fn hover(file: &FileContext, offset: usize) -> Option<Hover> {
    let offset = clamp(file.text, offset);
    match file.language {
        Language::OSpec => ospec::hover::hover(file, offset),
        Language::Topology => topology::hover::hover(file, offset),
    }
}

/// Where the name at `offset` is defined (possibly in another file).
pub fn definition(file: &FileContext, offset: usize) -> Vec<Location> {
    let offset = clamp(file.text, offset);
    match file.language {
        Language::OSpec => ospec::navigation::definition(file, offset),
        Language::Topology => topology::navigation::definition(file, offset),
    }
}

/// Every use of the entity at `offset` (its definition included when `include_declaration`).
/// A topology's top-level name is followed into every workspace file that `load()`s it; a
/// service into the topology its spec names and every spec naming that topology (from a
/// `service("NAME", …)` string, the other way round).
pub fn references(file: &FileContext, offset: usize, include_declaration: bool) -> Vec<Location> {
    let offset = clamp(file.text, offset);
    let named = match file.language {
        Language::OSpec => ospec::across::in_spec(file, offset).ok(),
        Language::Topology => ospec::across::in_topology(file, offset),
    };
    if let Some((named, _)) = named {
        let all = ospec::across::occurrences(file, &named);
        return all.into_iter().filter(|o| include_declaration || !o.declaration).map(|o| o.location).collect();
    }
    if file.language == Language::OSpec {
        return Vec::new();
    }
    let mut found = match topology::symbols_across::symbol_at(file, offset) {
        Ok((symbol, _)) => {
            let declaration = topology::symbols_across::declaration(file, &symbol);
            let mut all = topology::symbols_across::occurrences(file, &symbol);
            all.retain(|l| include_declaration || Some(l) != declaration.as_ref());
            all
        }
        Err(_) => topology::navigation::references(file, offset, include_declaration),
    };
    found.sort();
    found.dedup();
    found
}

/// What a rename at `offset` changes: an OSpec name (service, task, phase, environment), a
/// topology service's name string, or a topology's top-level name.
enum Renamed {
    OSpec,
    Topology,
}

fn renamed_at(file: &FileContext, offset: usize) -> Result<(Renamed, Span), String> {
    match file.language {
        Language::OSpec => ospec::across::in_spec(file, offset).map(|(_, span)| (Renamed::OSpec, span)),
        Language::Topology => match ospec::across::in_topology(file, offset) {
            Some((_, span)) => Ok((Renamed::OSpec, span)),
            None => topology::symbols_across::symbol_at(file, offset).map(|(_, span)| (Renamed::Topology, span)),
        },
    }
}

/// The name a rename at `offset` would change (its span here), or why nothing can be renamed
/// there.
pub fn prepare_rename(file: &FileContext, offset: usize) -> Result<Span, String> {
    renamed_at(file, clamp(file.text, offset)).map(|(_, span)| span)
}

/// The places (here and in other files) to replace with `new_name` to rename the name at
/// `offset`, or why the rename is refused (the result would not check).
pub fn rename(file: &FileContext, offset: usize, new_name: &str) -> Result<Vec<Location>, String> {
    let offset = clamp(file.text, offset);
    let mut found = match renamed_at(file, offset)?.0 {
        Renamed::OSpec => ospec::across::rename(file, offset, new_name)?,
        Renamed::Topology => topology::symbols_across::rename(file, offset, new_name)?,
    };
    found.sort();
    found.dedup();
    Ok(found)
}

/// The document outline.
pub fn symbols(file: &FileContext) -> Vec<Symbol> {
    match file.language {
        Language::OSpec => ospec::symbols::symbols(file.text),
        Language::Topology => topology::symbols::symbols(file.text),
    }
}

/// The signature of the builtin call around `offset` (topology files only).
pub fn signature_help(file: &FileContext, offset: usize) -> Option<SignatureHelp> {
    let offset = clamp(file.text, offset);
    match file.language {
        Language::OSpec => None,
        Language::Topology => topology::signature::signature_help(file.text, offset),
    }
}

/// Every classified token, in text order, none overlapping, none spanning a line break.
pub fn semantic_tokens(file: &FileContext) -> Vec<SemanticToken> {
    match file.language {
        Language::OSpec => ospec::tokens::tokens(file.text, file.profile),
        Language::Topology => topology::tokens::tokens(file.text),
    }
}

/// `offset` clamped into `text` and moved back to a character boundary.
fn clamp(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The identifier-like word (`[A-Za-z0-9_-]`, plus `extra`) around `offset`: its span.
fn word_at(text: &str, offset: usize, extra: &[u8]) -> Span {
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || extra.contains(&b);
    let mut start = offset.min(bytes.len());
    while start > 0 && is_word(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = offset.min(bytes.len());
    while end < bytes.len() && is_word(bytes[end]) {
        end += 1;
    }
    Span::new(start, end)
}

#[cfg(test)]
mod completion_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_across;
