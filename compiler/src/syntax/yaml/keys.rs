//! Finishing a mapping: duplicate keys and `<<` merge keys.
//!
//! A duplicate key is an error on the second key, pointing at the first; the first value is
//! kept (the tree never silently prefers one). `<<` (a plain key, or one tagged `!!merge`)
//! takes a mapping or a sequence of mappings and inserts, at its position, their entries whose
//! keys the mapping does not define: explicit keys win, and earlier merged maps win over later.

use std::collections::HashMap;

use super::tree::{Entry, Node, Style, Value};
use crate::diagnostics::Diagnostic;

pub(super) const DUPLICATE_KEY: &str = "OSP012";
pub(super) const BAD_MERGE: &str = "OSP016";

/// Below this many keys a linear scan beats hashing.
const LINEAR_LIMIT: usize = 16;

/// A scalar key's identity. Collection keys have none and are never reported as duplicates.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum KeyId<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(&'a str),
}

fn key_id(node: &Node) -> Option<KeyId<'_>> {
    Some(match &node.value {
        Value::Null => KeyId::Null,
        Value::Bool(b) => KeyId::Bool(*b),
        Value::Int(i) => KeyId::Int(*i),
        Value::Float(f) => KeyId::Float(f.to_bits()),
        Value::String(s) => KeyId::Str(s),
        Value::Seq(_) | Value::Map(_) => return None,
    })
}

pub(super) fn is_merge_key(key: &Node) -> bool {
    match &key.tag {
        Some(tag) => tag == "!!merge",
        None => key.style == Style::Plain && key.as_str() == Some("<<"),
    }
}

/// Keys seen so far in one mapping, each with the index of the entry that defined it.
#[derive(Default)]
struct KeyIndex<'a> {
    small: Vec<(KeyId<'a>, usize)>,
    large: HashMap<KeyId<'a>, usize>,
}

impl<'a> KeyIndex<'a> {
    /// Records `id` unless present; returns the earlier entry's index when it is.
    fn insert(&mut self, id: KeyId<'a>, index: usize) -> Option<usize> {
        if self.large.is_empty() {
            if let Some(&(_, first)) = self.small.iter().find(|(k, _)| *k == id) {
                return Some(first);
            }
            self.small.push((id, index));
            if self.small.len() > LINEAR_LIMIT {
                self.large.extend(self.small.drain(..));
            }
            return None;
        }
        match self.large.entry(id) {
            std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(index);
                None
            }
        }
    }
}

/// Where an entry of the finished mapping comes from.
enum Pick {
    Own(usize),
    /// The `<<` entry at this index, expanded later.
    Merge(usize),
    /// Entry `entry` of merged map `map` (an index into the `<<` value's maps) of `<<` entry `from`.
    Merged {
        from: usize,
        map: usize,
        entry: usize,
    },
}

/// Applies duplicate-key and merge rules to a mapping's entries, in source order.
pub(super) fn finish_mapping(entries: Vec<Entry>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Entry> {
    if !needs_rewrite(&entries) {
        return entries;
    }
    let picks = plan(&entries, diagnostics);
    let mut slots: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(picks.len());
    for pick in picks {
        match pick {
            Pick::Own(i) => out.extend(slots[i].take()),
            Pick::Merged { from, map, entry } => {
                let source = slots[from]
                    .as_ref()
                    .and_then(|e| merge_sources(&e.value).ok())
                    .and_then(|maps| maps.get(map).copied());
                out.extend(source.and_then(|m| m.get(entry)).cloned());
            }
            Pick::Merge(_) => {}
        }
    }
    out
}

/// Whether any entry is a merge key or repeats a key: the common case allocates nothing.
fn needs_rewrite(entries: &[Entry]) -> bool {
    if entries.iter().any(|e| is_merge_key(&e.key)) {
        return true;
    }
    if entries.len() > LINEAR_LIMIT {
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        return !entries.iter().filter_map(|e| key_id(&e.key)).all(|id| seen.insert(id));
    }
    let ids: [Option<KeyId>; LINEAR_LIMIT] = std::array::from_fn(|i| entries.get(i).and_then(|e| key_id(&e.key)));
    let ids = &ids[..entries.len()];
    ids.iter().enumerate().any(|(i, id)| id.is_some() && ids[..i].contains(id))
}

/// Decides which entries survive, reporting duplicates and bad merge values.
fn plan(entries: &[Entry], diagnostics: &mut Vec<Diagnostic>) -> Vec<Pick> {
    let mut index = KeyIndex::default();
    let mut picks = Vec::with_capacity(entries.len());
    let mut has_merge = false;
    for (i, entry) in entries.iter().enumerate() {
        if is_merge_key(&entry.key) {
            has_merge = true;
            picks.push(Pick::Merge(i));
            continue;
        }
        match key_id(&entry.key).and_then(|id| index.insert(id, i)) {
            Some(first) => diagnostics.push(duplicate(&entries[first].key, &entry.key)),
            None => picks.push(Pick::Own(i)),
        }
    }
    if !has_merge {
        return picks;
    }
    let mut expanded = Vec::with_capacity(picks.len());
    for pick in picks {
        let Pick::Merge(from) = pick else {
            expanded.push(pick);
            continue;
        };
        let maps = match merge_sources(&entries[from].value) {
            Ok(maps) => maps,
            Err(diagnostic) => {
                diagnostics.push(*diagnostic);
                continue;
            }
        };
        for (map, merged) in maps.iter().enumerate() {
            for (entry, e) in merged.iter().enumerate() {
                let fresh = key_id(&e.key).is_none_or(|id| index.insert(id, from).is_none());
                if fresh {
                    expanded.push(Pick::Merged { from, map, entry });
                }
            }
        }
    }
    expanded
}

/// The mappings a `<<` value names: one mapping, or a sequence of mappings.
fn merge_sources(value: &Node) -> Result<Vec<&[Entry]>, Box<Diagnostic>> {
    match &value.value {
        Value::Map(entries) => Ok(vec![entries.as_slice()]),
        Value::Seq(items) => items
            .iter()
            .map(|item| item.as_map().ok_or_else(|| Box::new(bad_merge(item, "this item of the `<<` sequence"))))
            .collect(),
        _ => Err(Box::new(bad_merge(value, "the value of `<<`"))),
    }
}

fn bad_merge(node: &Node, what: &str) -> Diagnostic {
    Diagnostic::error(BAD_MERGE, node.span, format!("{what} must be a mapping, found {}", node.json_type()))
        .with_note("nothing was merged from it")
        .with_help("merge an anchored mapping (`<<: *defaults`) or a list of them (`<<: [*a, *b]`)")
}

fn duplicate(first: &Node, second: &Node) -> Diagnostic {
    let text = second.scalar_text().unwrap_or_default();
    Diagnostic::error(DUPLICATE_KEY, second.span, format!("duplicate key `{text}`"))
        .with_label(first.span, "first defined here")
        .with_note("the first value is kept and this entry is ignored")
        .with_help("remove one of the two entries, or rename one of them")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn scalar(text: &str, at: usize) -> Node {
        Node { span: Span::new(at, at + 1), value: Value::String(text.into()), style: Style::Plain, tag: None }
    }

    fn entry(key: &str, value: &str, at: usize) -> Entry {
        Entry { key: scalar(key, at), value: scalar(value, at + 1) }
    }

    fn map(entries: Vec<Entry>) -> Node {
        Node { span: Span::default(), value: Value::Map(entries), style: Style::Collection, tag: None }
    }

    fn pairs(entries: &[Entry]) -> Vec<(String, String)> {
        entries.iter().map(|e| (e.key_text(), e.value.scalar_text().unwrap_or_default())).collect()
    }

    #[test]
    fn duplicates_keep_the_first_value_and_point_back() {
        let mut diagnostics = Vec::new();
        let out = finish_mapping(vec![entry("a", "1", 0), entry("b", "2", 4), entry("a", "3", 8)], &mut diagnostics);
        assert_eq!(pairs(&out), [("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!((diagnostics[0].code, diagnostics[0].span), (DUPLICATE_KEY, Span::new(8, 9)));
        assert_eq!(diagnostics[0].labels[0].span, Span::new(0, 1));
    }

    #[test]
    fn many_keys_use_the_hash_index() {
        let mut entries: Vec<Entry> = (0..100).map(|i| entry(&format!("k{i}"), "v", i * 3)).collect();
        entries.push(entry("k42", "again", 999));
        let mut diagnostics = Vec::new();
        assert_eq!(finish_mapping(entries, &mut diagnostics).len(), 100);
        assert_eq!(diagnostics.len(), 1);
    }

    #[test]
    fn merges_fill_only_missing_keys_and_earlier_maps_win() {
        let first = map(vec![entry("a", "from-first", 20), entry("c", "c1", 22)]);
        let second = map(vec![entry("c", "c2", 30), entry("d", "d2", 32)]);
        let seq =
            Node { span: Span::default(), value: Value::Seq(vec![first, second]), style: Style::Collection, tag: None };
        let entries = vec![entry("a", "own", 0), Entry { key: scalar("<<", 4), value: seq }, entry("b", "own", 8)];
        let mut diagnostics = Vec::new();
        let out = finish_mapping(entries, &mut diagnostics);
        let expected = [("a", "own"), ("c", "c1"), ("d", "d2"), ("b", "own")];
        assert_eq!(pairs(&out), expected.map(|(k, v)| (k.to_string(), v.to_string())));
        assert!(diagnostics.is_empty());
    }

    #[test]
    fn bad_merge_values_are_reported() {
        let mut diagnostics = Vec::new();
        let out = finish_mapping(vec![Entry { key: scalar("<<", 0), value: scalar("x", 4) }], &mut diagnostics);
        assert!(out.is_empty());
        assert_eq!(diagnostics[0].code, BAD_MERGE);
    }
}
