//! Topology go-to-definition and references: a name to its `def`, binding or `load()`
//! symbol, and on across `load()` into the module that defines it; a `load()` path to the
//! file; `svc.iface` to the interface's declaration. References are the file's uses of a
//! top-level name (attributes and keyword names excluded).

use super::completion::module_text;
use super::index::Index;
use super::lex::{self, Kind};
use super::resolve::service_of;
use crate::ide::ospec::entities::resolve;
use crate::ide::{FileContext, Location};
use crate::span::Span;

pub fn definition(file: &FileContext, offset: usize) -> Vec<Location> {
    let text = file.text;
    let index = Index::new(text);
    let Some(at) = index.token_at(offset) else { return Vec::new() };
    let token = index.tokens[at];
    match token.kind {
        Kind::Str => load_target(file, &index, token).into_iter().collect(),
        Kind::Ident if after_dot(&index, text, at) => interface(&index, text, at).into_iter().collect(),
        Kind::Ident => name_definition(file, &index, token.text(text)).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn after_dot(index: &Index, text: &str, at: usize) -> bool {
    at > 0 && index.tokens[at - 1].is_punct(text, ".")
}

/// `svc.iface`: the interface's name in its `interface(...)` call.
fn interface(index: &Index, text: &str, at: usize) -> Option<Location> {
    let receiver = index.tokens.get(at.checked_sub(2)?)?;
    let service = service_of(index, text, receiver.text(text))?;
    let name = index.tokens[at].text(text);
    service.interfaces.iter().find(|(n, _, _)| n == name).map(|(_, span, _)| Location::here(*span))
}

/// A `load()` path string: the file it names (embedded modules have no file).
fn load_target(file: &FileContext, index: &Index, token: lex::Token) -> Option<Location> {
    let load = index.loads.iter().find(|l| l.path_span == lex::string_content(file.text, token))?;
    if load.path.starts_with('@') {
        return None;
    }
    let path = resolve(file.path, &load.path);
    file.fs.exists(&path).then_some(Location { path: Some(path), span: Span::at(0) })
}

/// Where a top-level name is defined: here, or (for a loaded symbol) in its module.
fn name_definition(file: &FileContext, index: &Index, name: &str) -> Option<Location> {
    let loaded = index.loads.iter().find_map(|l| l.symbols.iter().find(|s| s.0 == name).map(|s| (l, s)));
    if let Some((load, (_, _, exported))) = loaded {
        if !load.path.starts_with('@') {
            let module = module_text(file, &load.path)?;
            let span = Index::new(&module).definition_of(exported)?;
            return Some(Location { path: Some(resolve(file.path, &load.path)), span });
        }
    }
    index.definition_of(name).map(Location::here)
}

pub fn references(file: &FileContext, offset: usize, include_declaration: bool) -> Vec<Location> {
    let text = file.text;
    let index = Index::new(text);
    let Some(at) = index.token_at(offset).filter(|&i| index.tokens[i].kind == Kind::Ident) else { return Vec::new() };
    let name = index.tokens[at].text(text);
    let declaration = index.definition_of(name);
    name_uses(&index, text, name)
        .into_iter()
        .filter(|span| include_declaration || Some(*span) != declaration)
        .map(Location::here)
        .collect()
}

/// Every use of the top-level name `name` in a file (attributes and keyword names excluded).
pub(crate) fn name_uses(index: &Index, text: &str, name: &str) -> Vec<Span> {
    let keyword_names: Vec<Span> =
        index.calls.iter().flat_map(|c| c.args.iter().filter_map(|a| a.name.as_ref().map(|(_, s)| *s))).collect();
    index
        .tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| t.kind == Kind::Ident && t.text(text) == name && !after_dot(index, text, *i))
        .filter(|(_, t)| !keyword_names.contains(&t.span))
        .map(|(_, t)| t.span)
        .collect()
}
