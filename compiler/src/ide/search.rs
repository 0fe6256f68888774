//! Workspace symbol search: the named entities of one file, taken from its outline
//! ([`crate::ide::symbols`]), and how well a name matches what the user typed.
//!
//! An OSpec file's entities are the members of the collections the checks' reference graphs
//! know (`tasks` by id, `services`, `phases`, `environments`: the one [`GRAPHS`] table), not
//! every mapping key; a topology file's are its top-level statements (services with their
//! interfaces, bindings, `def`s, registrations) without the `load()`s, which name other files.

use crate::ide::{symbols, FileContext, Symbol, SymbolKind};
use crate::ospec::checks::graph::GRAPHS;
use crate::span::Span;
use crate::syntax::Language;

/// One entity a workspace symbol search can find.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NamedSymbol {
    pub name: String,
    pub kind: SymbolKind,
    /// What holds it: the collection (`tasks`) or the service (for an interface).
    pub container: Option<String>,
    /// The name where it is defined.
    pub span: Span,
}

/// The entities `file` defines, in text order.
pub fn entity_symbols(file: &FileContext) -> Vec<NamedSymbol> {
    let outline = symbols(file);
    match file.language {
        Language::OSpec => ospec_entities(&outline),
        Language::Topology => topology_entities(&outline),
    }
}

fn ospec_entities(outline: &[Symbol]) -> Vec<NamedSymbol> {
    let collections = outline.iter().filter(|s| GRAPHS.iter().any(|g| g.root_key == s.name));
    collections
        .flat_map(|collection| {
            // Unnamed list items are outlined as `[i]`: not something to search for.
            let members = collection.children.iter().filter(|m| !m.name.starts_with('['));
            members.map(|member| NamedSymbol {
                name: member.name.clone(),
                kind: SymbolKind::Entity,
                container: Some(collection.name.clone()),
                span: member.selection,
            })
        })
        .collect()
}

fn topology_entities(outline: &[Symbol]) -> Vec<NamedSymbol> {
    let mut found = Vec::new();
    for symbol in outline.iter().filter(|s| s.kind != SymbolKind::Module && !s.name.is_empty()) {
        found.push(NamedSymbol {
            name: symbol.name.clone(),
            kind: symbol.kind,
            container: None,
            span: symbol.selection,
        });
        found.extend(symbol.children.iter().map(|child| NamedSymbol {
            name: child.name.clone(),
            kind: child.kind,
            container: Some(symbol.name.clone()),
            span: child.selection,
        }));
    }
    found
}

/// How well `name` matches `query`, case-insensitively: `Some(0)` equal, `1` a prefix, `2` a
/// substring, `3` a subsequence (`usvc` finds `user_service`); `None` no match. An empty
/// query matches everything (as a prefix).
pub fn match_rank(query: &str, name: &str) -> Option<u8> {
    let query = query.trim().to_lowercase();
    let name = name.to_lowercase();
    if name == query {
        Some(0)
    } else if name.starts_with(&query) {
        Some(1)
    } else if name.contains(&query) {
        Some(2)
    } else if is_subsequence(&query, &name) {
        Some(3)
    } else {
        None
    }
}

fn is_subsequence(query: &str, name: &str) -> bool {
    let mut chars = name.chars();
    query.chars().all(|q| chars.by_ref().any(|c| c == q))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::vfs::MemoryFs;
    use ospecc_schema::Profile;

    fn names(path: &str, text: &str) -> Vec<(String, Option<String>)> {
        let language = if path.ends_with(".star") { Language::Topology } else { Language::OSpec };
        let fs = MemoryFs::default();
        let file =
            FileContext { path: Path::new(path), text, language, fs: &fs, workspace_files: &[], profile: Profile::Ext };
        entity_symbols(&file).into_iter().map(|s| (s.name, s.container)).collect()
    }

    #[test]
    fn ospec_entities_are_the_graph_collections_members() {
        let text = "name: shop\nservices:\n  api: {}\ntasks:\n  - id: setup\n  - run: x\nmetadata:\n  owner: me\n";
        let found = names("/w/a.ospec.yml", text);
        assert_eq!(found, [("api".into(), Some("services".into())), ("setup".into(), Some("tasks".into()))]);
    }

    #[test]
    fn topology_entities_leave_loads_out_and_keep_interfaces() {
        let text = "load(\"a.star\", \"x\")\ndb = service(\"db\", \"bin\", interface(\"pg\", \"postgres\", 5432))\ndef t():\n    pass\n";
        let found = names("/w/t.star", text);
        assert_eq!(found, [("db".into(), None), ("pg".into(), Some("db".into())), ("t".into(), None)]);
    }

    #[test]
    fn ranks_equal_prefix_substring_subsequence() {
        assert_eq!(match_rank("API", "api"), Some(0));
        assert_eq!(match_rank("us", "user_service"), Some(1));
        assert_eq!(match_rank("serv", "user_service"), Some(2));
        assert_eq!(match_rank("usvc", "user_service"), Some(3));
        assert_eq!(match_rank("xyz", "user_service"), None);
        assert_eq!(match_rank("", "anything"), Some(1));
    }
}
