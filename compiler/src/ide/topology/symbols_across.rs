//! A topology's top-level names across files: a name defined in one workspace file and
//! `load()`ed by others is one symbol, for references and rename. The importers are the
//! workspace's topology files whose `load()` resolves to the defining file and names the
//! symbol (aliased or not: `load("m.star", "make")`, `load("m.star", mk = "make")`).

use std::path::{Path, PathBuf};

use super::index::Index;
use super::lex::{self, Kind};
use super::navigation::name_uses;
use crate::ide::ospec::entities::resolve;
use crate::ide::{FileContext, Location, MAX_RELATED_FILE_BYTES};
use crate::span::Span;

/// A top-level name of a workspace topology file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// The file that defines it.
    pub module: PathBuf,
    pub name: String,
}

/// The symbol the cursor is on, and the span of the name there; an error says why there is
/// none (which a rename shows).
pub fn symbol_at(file: &FileContext, offset: usize) -> Result<(Symbol, Span), String> {
    let index = Index::new(file.text);
    let Some(at) = index.token_at(offset) else { return Err(NOT_A_NAME.into()) };
    let token = index.tokens[at];
    // On a load's symbol string: the exported name.
    for load in &index.loads {
        for (symbol, span) in load.symbols.iter().zip(&load.exported_spans) {
            if token.kind == Kind::Str && lex::string_content(file.text, token) == *span {
                return imported(file, &load.path, &symbol.2).map(|s| (s, *span));
            }
        }
    }
    if token.kind != Kind::Ident || (at > 0 && index.tokens[at - 1].is_punct(file.text, ".")) {
        return Err(NOT_A_NAME.into());
    }
    let name = token.text(file.text);
    let loaded = index.loads.iter().find_map(|l| l.symbols.iter().find(|s| s.0 == name).map(|s| (l, s)));
    if let Some((load, (local, _, exported))) = loaded {
        if local != exported {
            return Err(format!("`{local}` is a local alias of `{exported}`: rename the alias in this file by hand"));
        }
        return imported(file, &load.path, exported).map(|s| (s, token.span));
    }
    if index.definition_of(name).is_none() {
        return Err(format!("`{name}` is not a top-level name of this file"));
    }
    Ok((Symbol { module: file.path.to_path_buf(), name: name.to_owned() }, token.span))
}

const NOT_A_NAME: &str = "there is no name here to rename";

fn imported(file: &FileContext, path: &str, exported: &str) -> Result<Symbol, String> {
    if path.starts_with('@') {
        return Err(format!("`{exported}` comes from the embedded module `{path}`, which cannot be edited"));
    }
    Ok(Symbol { module: resolve(file.path, path), name: exported.to_owned() })
}

/// One file's text and index (the asking file's own text, else read through `fs`).
fn open(file: &FileContext, path: &Path) -> Option<(String, Index)> {
    let text = if path == file.path {
        file.text.to_owned()
    } else {
        file.fs.read_to_string(path, MAX_RELATED_FILE_BYTES).ok()?
    };
    let index = Index::new(&text);
    Some((text, index))
}

fn location(file: &FileContext, path: &Path, span: Span) -> Location {
    Location { path: (path != file.path).then(|| path.to_path_buf()), span }
}

/// Every occurrence of `symbol`: its definition and uses in its module, and in each importer
/// the load's symbol string and (when not aliased) the uses of the name.
pub fn occurrences(file: &FileContext, symbol: &Symbol) -> Vec<Location> {
    let mut found = Vec::new();
    if let Some((text, index)) = open(file, &symbol.module) {
        found.extend(name_uses(&index, &text, &symbol.name).into_iter().map(|s| location(file, &symbol.module, s)));
    }
    for importer in topology_files(file).filter(|p| *p != symbol.module) {
        let Some((text, index)) = open(file, &importer) else { continue };
        for load in index.loads.iter().filter(|l| !l.path.starts_with('@')) {
            if resolve(&importer, &load.path) != symbol.module {
                continue;
            }
            for ((local, _, exported), span) in load.symbols.iter().zip(&load.exported_spans) {
                if *exported != symbol.name {
                    continue;
                }
                found.push(location(file, &importer, *span));
                if local == exported {
                    found.extend(name_uses(&index, &text, local).into_iter().map(|s| location(file, &importer, s)));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The workspace's topology files, the asking file among them.
fn topology_files<'a>(file: &'a FileContext) -> impl Iterator<Item = PathBuf> + 'a {
    let own = std::iter::once(file.path.to_path_buf());
    let others = file
        .workspace_files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "star") && p.as_path() != file.path)
        .cloned();
    own.chain(others)
}

/// Where `symbol` is defined in its module.
pub fn declaration(file: &FileContext, symbol: &Symbol) -> Option<Location> {
    let (_, index) = open(file, &symbol.module)?;
    index.definition_of(&symbol.name).map(|span| location(file, &symbol.module, span))
}

/// The places to replace with `new_name` to rename the symbol at `offset`, or why not: the
/// new name must be a name, and must not be taken in the module or in an importer that uses
/// the name unaliased (the result would not check).
pub fn rename(file: &FileContext, offset: usize, new_name: &str) -> Result<Vec<Location>, String> {
    let (symbol, _) = symbol_at(file, offset)?;
    if !is_identifier(new_name) || lex::KEYWORDS.contains(&new_name) {
        return Err(format!("`{new_name}` is not a valid name"));
    }
    if new_name == symbol.name {
        return Ok(Vec::new());
    }
    let found = occurrences(file, &symbol);
    let mut files: Vec<PathBuf> = vec![symbol.module.clone()];
    files.extend(found.iter().filter_map(|l| l.path.clone()));
    if found.iter().any(|l| l.path.is_none()) {
        files.push(file.path.to_path_buf());
    }
    files.sort();
    files.dedup();
    for path in &files {
        let Some((_, index)) = open(file, path) else { continue };
        if index.definition_of(new_name).is_some() {
            return Err(format!("`{new_name}` is already a name in {}", path.display()));
        }
    }
    Ok(found)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
