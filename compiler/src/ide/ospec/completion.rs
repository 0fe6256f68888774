//! OSpec completion, driven by the profile's schema: the keys a mapping does not have yet
//! (required first, as snippets with their required children), enum values with their docs,
//! booleans, defaults and examples, and names where the document references an entity
//! (services, tasks, phases, environments, also the services of the topology it names).

use serde_json::Value as Json;

use super::context::{self, Cursor, Segment, Slot};
use super::entities::{Entities, Topology};
use super::schema::{type_names, yaml_text, At, Property};
use crate::ide::{CompletionItem, CompletionKind, FileContext};
use crate::ospec::checks::graph::{Shape, GRAPHS};
use crate::ospec::schema::{compiled, model::Types};

/// How deep a snippet skeleton spells out required children.
const SKELETON_DEPTH: usize = 2;

pub fn complete(file: &FileContext, offset: usize) -> Vec<CompletionItem> {
    let cursor = context::cursor(file.text, offset);
    let schema = compiled(file.profile);
    let at = At::path(schema, &cursor.path);
    let mut items = match cursor.slot {
        Slot::Key if at.is_object() || at.is_empty() && cursor.path.is_empty() => keys(&at, &cursor),
        Slot::Key if cursor.after_dash || !cursor.path.is_empty() => values(file, &at, &cursor),
        Slot::Key | Slot::Text => Vec::new(),
        Slot::Value => values(file, &at, &cursor),
    };
    items.retain(|item| matches(&item.label, &cursor.prefix));
    items
}

/// Whether `label` starts with `prefix`, or one of its `_`/`-`/`.` separated words does
/// (case-insensitive): `sec` finds `secrets` and `network_security`, not `services`.
fn matches(label: &str, prefix: &str) -> bool {
    let label = label.to_ascii_lowercase();
    let prefix = prefix.to_ascii_lowercase();
    label.starts_with(&prefix) || label.split(['_', '-', '.']).any(|word| word.starts_with(&prefix))
}

/// The keys the mapping at the cursor may still take.
fn keys(at: &At, cursor: &Cursor) -> Vec<CompletionItem> {
    at.properties()
        .into_iter()
        .filter(|p| !cursor.siblings.contains(&p.name))
        .map(|p| key_item(at, &p, cursor))
        .collect()
}

fn key_item(at: &At, property: &Property, cursor: &Cursor) -> CompletionItem {
    let child = At { compiled: at.compiled, ids: property.schema.clone() };
    let types = child.types();
    let mut detail = type_names(types);
    if property.required {
        detail = format!("{detail} (required)").trim_start().to_string();
    }
    // In a flow mapping the value goes on the spot (`{max: |}`): no block skeleton.
    let (insert, snippet) = match cursor.flow {
        true => (format!("{}: ", property.name), false),
        false => (format!("{}:{}", property.name, skeleton(&child, 1)), true),
    };
    // Required keys first, then the rest, each alphabetically.
    let rank = if property.required { 0 } else { 1 };
    CompletionItem::new(&property.name, CompletionKind::Property, cursor.word)
        .detail(detail)
        .docs(super::hover::describe(&child))
        .insert(insert, snippet)
        .sort(format!("{rank}{}", property.name))
}

/// What follows `key:` in a snippet: the required children of a mapping (one level per
/// depth), a list item, a choice of enum values, or a tab stop.
fn skeleton(at: &At, depth: usize) -> String {
    let mut stop = Stops(0);
    skeleton_at(at, depth, &mut stop, 1)
}

/// Snippet tab-stop numbers, increasing through a skeleton.
struct Stops(usize);

impl Stops {
    fn next(&mut self) -> usize {
        self.0 += 1;
        self.0
    }
}

fn skeleton_at(at: &At, depth: usize, stops: &mut Stops, indent: usize) -> String {
    let pad = "  ".repeat(indent);
    let required: Vec<Property> = at.properties().into_iter().filter(|p| p.required).collect();
    if at.is_object() && !required.is_empty() && depth <= SKELETON_DEPTH {
        return required
            .iter()
            .map(|p| {
                let child = At { compiled: at.compiled, ids: p.schema.clone() };
                format!("\n{pad}{}:{}", p.name, skeleton_at(&child, depth + 1, stops, indent + 1))
            })
            .collect();
    }
    if at.is_object() {
        return format!("\n{pad}${}", stops.next());
    }
    let types = at.types();
    if types.admits(Types::ARRAY) && !types.admits(Types::STRING) {
        let item = at.child(&Segment::Item);
        let inner = skeleton_at(&item, depth + 1, stops, indent + 1);
        // `- first: x` with the other keys aligned under `first`.
        let child_pad = format!("\n{pad}  ");
        return match inner.strip_prefix(&child_pad) {
            Some(map) => format!("\n{pad}- {map}"),
            None => format!("\n{pad}-{inner}"),
        };
    }
    let values: Vec<String> = at.values().iter().map(|(v, _)| snippet_escape(&yaml_text(v))).collect();
    if !values.is_empty() {
        return format!(" ${{{}|{}|}}", stops.next(), values.join(","));
    }
    if types == Types::BOOLEAN {
        return format!(" ${{{}|true,false|}}", stops.next());
    }
    format!(" ${}", stops.next())
}

/// Escapes the characters a snippet choice gives meaning to.
fn snippet_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('$', "\\$").replace('|', "\\|").replace(',', "\\,").replace('}', "\\}")
}

/// The values the place at the cursor may take.
fn values(file: &FileContext, at: &At, cursor: &Cursor) -> Vec<CompletionItem> {
    let mut items: Vec<CompletionItem> = Vec::new();
    for (value, doc) in at.values() {
        let label = yaml_text(&value);
        let mut item = CompletionItem::new(&label, CompletionKind::EnumMember, cursor.word).sort(format!("0{label}"));
        item = item.docs(doc.or(at.description()).unwrap_or_default());
        items.push(item);
    }
    let types = at.types();
    if types.admits(Types::BOOLEAN) && items.is_empty() {
        for value in ["true", "false"] {
            items.push(CompletionItem::new(value, CompletionKind::Keyword, cursor.word).sort(format!("0{value}")));
        }
    }
    let known: Vec<String> = items.iter().map(|i| i.label.clone()).collect();
    let defaults =
        at.default().into_iter().map(|d| (d, "default")).chain(at.examples().into_iter().map(|e| (e, "example")));
    for (value, what) in defaults {
        let label = yaml_text(value);
        if !known.contains(&label) && !matches!(value, Json::Object(_) | Json::Array(_)) {
            items.push(
                CompletionItem::new(&label, CompletionKind::Value, cursor.word).detail(what).sort(format!("1{label}")),
            );
        }
    }
    items.extend(references(file, cursor));
    items
}

/// Entity names, where the path is a reference (a graph's reference key, or `service:`).
fn references(file: &FileContext, cursor: &Cursor) -> Vec<CompletionItem> {
    let Some(what) = reference_kind(&cursor.path) else { return topology_path(file, cursor) };
    let entities = Entities::cached(file.text);
    let mut names: Vec<(String, String)> =
        entities.names(what).map(|d| (d.name.clone(), format!("{what} in this spec"))).collect();
    if what == "service" {
        if let Some(topology) = entities.topology.as_ref().and_then(|(v, _)| Topology::load(file, v)) {
            for service in topology.index.services(&topology.text) {
                names.push((service.name, format!("service in {}", file_name(&topology.path))));
            }
        }
    }
    names.sort();
    names.dedup_by(|a, b| a.0 == b.0);
    names
        .into_iter()
        .map(|(name, detail)| CompletionItem::new(&name, CompletionKind::Reference, cursor.word).detail(detail))
        .collect()
}

/// Which entity the value at `path` names, if it is a reference.
pub(crate) fn reference_kind(path: &[Segment]) -> Option<&'static str> {
    let keys: Vec<&str> =
        path.iter().filter_map(|s| if let Segment::Key(k) = s { Some(k.as_str()) } else { None }).collect();
    let last = *keys.last()?;
    if last == "service" && keys.len() > 1 {
        return Some("service");
    }
    let graph = GRAPHS.iter().find(|g| keys.first() == Some(&g.root_key) && g.ref_keys.contains(&last))?;
    // The reference key sits directly in a member: `services.NAME.depends_on`, `tasks[].dependencies`.
    let member_depth = match graph.shape {
        Shape::Map => 3,
        Shape::Seq { .. } => 2,
    };
    (keys.len() == member_depth).then_some(graph.what)
}

/// `topology:`'s value: the topology files of the workspace, relative to this spec.
fn topology_path(file: &FileContext, cursor: &Cursor) -> Vec<CompletionItem> {
    if cursor.path != [Segment::Key("topology".into())] {
        return Vec::new();
    }
    let dir = file.path.parent().unwrap_or(file.path);
    file.workspace_files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "star"))
        .filter_map(|p| relative(dir, p))
        .map(|rel| CompletionItem::new(&rel, CompletionKind::File, cursor.word).detail("topology file"))
        .collect()
}

/// `path` relative to `dir`, with `..` steps when it is elsewhere.
pub(crate) fn relative(dir: &std::path::Path, path: &std::path::Path) -> Option<String> {
    let dir: Vec<_> = dir.components().collect();
    let target: Vec<_> = path.components().collect();
    let common = dir.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); dir.len() - common];
    parts.extend(target[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
