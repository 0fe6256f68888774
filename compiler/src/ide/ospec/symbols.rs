//! The OSpec outline: the document's mappings as a tree of keys, sequence items named by
//! their `id`/`name` field (so `tasks` lists its tasks by id), capped in size so a huge file
//! still answers quickly.

use crate::ide::{Symbol, SymbolKind};
use crate::span::Span;
use crate::syntax::yaml::{self, Node, Value};

/// Symbols past this many are left out (a 10k-line spec has far fewer keys worth listing).
const MAX_SYMBOLS: usize = 20_000;
/// Fields that name a sequence item, in order of preference.
const ITEM_NAMES: &[&str] = &["id", "name", "title", "service", "key"];

pub fn symbols(text: &str) -> Vec<Symbol> {
    let parsed = yaml::parse(text);
    let mut budget = MAX_SYMBOLS;
    parsed.documents.iter().filter_map(|d| d.root.as_ref()).flat_map(|root| children(root, &mut budget, 0)).collect()
}

fn children(node: &Node, budget: &mut usize, depth: usize) -> Vec<Symbol> {
    if depth > yaml::MAX_DEPTH {
        return Vec::new();
    }
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .map_while(|entry| {
                *budget = budget.checked_sub(1)?;
                let name = entry.key_text();
                let kind = kind_of(&entry.value);
                Some(Symbol {
                    detail: detail_of(&entry.value),
                    name,
                    kind,
                    span: entry.key.span.cover(entry.value.span),
                    selection: entry.key.span,
                    children: children(&entry.value, budget, depth + 1),
                })
            })
            .collect(),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .filter(|(_, item)| matches!(item.value, Value::Map(_)))
            .map_while(|(i, item)| {
                *budget = budget.checked_sub(1)?;
                let named =
                    ITEM_NAMES.iter().find_map(|k| item.field(k).and_then(|n| n.scalar_text().map(|t| (t, n.span))));
                let (name, selection) = named.unwrap_or_else(|| (format!("[{i}]"), Span::at(item.span.start)));
                Some(Symbol {
                    name,
                    detail: None,
                    kind: SymbolKind::Entity,
                    span: item.span,
                    selection,
                    children: children(item, budget, depth + 1),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn kind_of(node: &Node) -> SymbolKind {
    match node.value {
        Value::Map(_) => SymbolKind::Object,
        Value::Seq(_) => SymbolKind::Array,
        _ => SymbolKind::Property,
    }
}

/// A scalar's value shown beside its key (truncated).
fn detail_of(node: &Node) -> Option<String> {
    let text = node.scalar_text()?;
    let line = text.lines().next().unwrap_or_default();
    Some(if line.chars().count() > 60 {
        format!("{}…", line.chars().take(60).collect::<String>())
    } else {
        line.to_string()
    })
}
