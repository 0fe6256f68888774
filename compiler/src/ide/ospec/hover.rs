//! OSpec hover: on a key, the schema's title, description, type, constraints, allowed values,
//! default and examples; on a value that names an entity, the entity (where it is defined,
//! in this spec or in its topology); on an enum value, that value's docs.

use super::context::{self, Segment, Slot};
use super::entities::{Entities, Topology};
use super::schema::{type_names, yaml_text, At};
use crate::ide::{word_at, FileContext, Hover};
use crate::ospec::checks::graph::{Shape, GRAPHS};
use crate::ospec::schema::compiled;
use crate::span::Span;

pub fn hover(file: &FileContext, offset: usize) -> Option<Hover> {
    let word = word_at(file.text, offset, b"-./");
    if word.is_empty() {
        return None;
    }
    let Some((path, span, value)) = place(file.text, word) else {
        // A scalar on its own line (`- setup`, `- GET api:/x -> 200`) has no schema docs of
        // its own: only an entity it names can answer.
        return entity_hover(file, offset);
    };
    // Only names in entity places need the document parsed (the costly part on big files):
    // the cheap test on the cursor's path keeps keys and values elsewhere (`method`,
    // `risk_level`, …) on the schema path alone.
    if may_name_entity(file.text, word, &path) {
        if let Some(hover) = entity_hover(file, offset) {
            return Some(hover);
        }
    }
    let at = At::path(compiled(file.profile), &path);
    if at.is_empty() {
        return None;
    }
    let mut markdown = describe(&at);
    if let Some(value) = value {
        let doc = at.values().into_iter().find(|(v, _)| yaml_text(v) == value).and_then(|(_, d)| d);
        if let Some(doc) = doc {
            markdown = format!("`{value}`: {doc}\n\n---\n\n{markdown}");
        }
    }
    (!markdown.is_empty()).then_some(Hover { markdown, span })
}

/// The schema path of the key or value `word` is, its span, and the value's text for a value.
fn place(text: &str, word: Span) -> Option<(Vec<Segment>, Span, Option<String>)> {
    let after_word = context::cursor(text, word.end);
    let key_cursor = context::cursor(text, word.start);
    match (key_cursor.slot, after_word.slot) {
        (Slot::Key, _) => {
            // On a key: its parent's path plus the key itself.
            let line_rest = &text[word.start..];
            let key = context::key_at(line_rest.lines().next().unwrap_or_default())?;
            let mut path = key_cursor.path;
            path.push(Segment::Key(key));
            Some((path, word, None))
        }
        (Slot::Value, _) => {
            let value = text[word.start..word.end].to_string();
            Some((after_word.path, word, Some(value)))
        }
        (Slot::Text, _) => None,
    }
}

/// Whether the word at `path` can be an entity's name or a reference to one, as
/// [`Entities`] collects them: `topology:`'s value, a member's name (`services.NAME`,
/// `tasks[].id`), a reference key's value (`depends_on`, `dependencies`, `service:` at any
/// depth) or the `NAME:` of a step string (`GET NAME:/path -> 200`). A superset is fine (the
/// entities decide); a miss would lose the entity hover.
fn may_name_entity(text: &str, word: Span, path: &[Segment]) -> bool {
    if text.get(word.end..).is_some_and(|rest| rest.starts_with(":/")) {
        return true;
    }
    if super::completion::reference_kind(path).is_some() || path.last() == Some(&Segment::Key("service".into())) {
        return true;
    }
    let key = |i: usize| match path.get(i) {
        Some(Segment::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    if path.len() == 1 && key(0) == Some("topology") {
        return true;
    }
    GRAPHS.iter().filter(|g| key(0) == Some(g.root_key)).any(|graph| match graph.shape {
        Shape::Map => path.len() == 2 && key(1).is_some(),
        Shape::Seq { id_key } => path.len() == 3 && path[1] == Segment::Item && key(2) == Some(id_key),
    })
}

/// The schema documentation of a place, as markdown.
pub fn describe(at: &At) -> String {
    let mut parts = Vec::new();
    if let Some(title) = at.title() {
        parts.push(format!("**{title}**"));
    }
    if let Some(description) = at.description() {
        parts.push(description.to_string());
    }
    let mut facts = Vec::new();
    let types = type_names(at.types());
    if !types.is_empty() {
        facts.push(format!("type: `{types}`"));
    }
    facts.extend(at.constraints());
    let values: Vec<String> = at.values().iter().map(|(v, _)| format!("`{}`", yaml_text(v))).collect();
    if !values.is_empty() {
        facts.push(format!("values: {}", values.join(", ")));
    }
    if let Some(default) = at.default() {
        facts.push(format!("default: `{}`", yaml_text(default)));
    }
    let examples: Vec<String> = at.examples().iter().map(|e| format!("`{}`", yaml_text(e))).collect();
    if !examples.is_empty() {
        facts.push(format!("examples: {}", examples.join(", ")));
    }
    if !facts.is_empty() {
        parts.push(facts.iter().map(|f| format!("- {f}")).collect::<Vec<_>>().join("\n"));
    }
    parts.join("\n\n")
}

/// Hover on an entity's name or a reference to it, and on `topology:`'s value.
fn entity_hover(file: &FileContext, offset: usize) -> Option<Hover> {
    let entities = Entities::cached(file.text);
    if let Some((value, span)) = entities.topology.as_ref().filter(|(_, s)| s.start <= offset && offset <= s.end) {
        let topology = Topology::load(file, value)?;
        let services: Vec<String> =
            topology.index.services(&topology.text).iter().map(|s| format!("`{}`", s.name)).collect();
        let markdown = format!("topology file `{}`\n\nservices: {}", topology.path.display(), services.join(", "));
        return Some(Hover { markdown, span: *span });
    }
    let (what, name, span) = entities.at(offset)?;
    let local = entities.names(what).find(|d| d.name == name);
    let mut lines = vec![format!("{what} `{name}`")];
    match local {
        Some(def) => {
            let line = file.text[..def.span.start].matches('\n').count() + 1;
            lines.push(format!("defined in this spec, line {line}"));
        }
        None if what == "service" => lines.push("not defined in this spec".into()),
        None => lines.push(format!("no {what} `{name}` in this spec")),
    }
    if what == "service" {
        if let Some(topology) = entities.topology.as_ref().and_then(|(v, _)| Topology::load(file, v)) {
            if let Some(service) = topology.index.services(&topology.text).into_iter().find(|s| s.name == name) {
                let interfaces: Vec<String> =
                    service.interfaces.iter().map(|(n, _, p)| format!("`{n}` ({p})")).collect();
                lines.push(format!(
                    "declared in `{}` with interfaces {}",
                    topology.path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                    if interfaces.is_empty() { "none".into() } else { interfaces.join(", ") }
                ));
            }
        }
    }
    Some(Hover { markdown: lines.join("\n\n"), span })
}
