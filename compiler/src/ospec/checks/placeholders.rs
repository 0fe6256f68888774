//! Unrendered template placeholders (`{{service-name}}`) in ids and paths: the document is a
//! template that was never filled in, which schema errors alone would not say.

use crate::diagnostics::Diagnostic;
use crate::syntax::yaml::{Node, Value};

/// Keys whose values are identifiers or paths.
const KEYS: &[&str] = &["id", "path", "file", "endpoint", "topology", "request_schema", "response_schema"];
/// Groups whose every value is a path.
const PATH_GROUPS: &[&str] = &["prompts", "scripts"];

pub fn check(root: &Node, out: &mut Vec<Diagnostic>) {
    visit(root, false, 0, out);
}

fn visit(node: &Node, checked: bool, depth: usize, out: &mut Vec<Diagnostic>) {
    match &node.value {
        Value::String(s) if checked => {
            if let Some(start) = s.find("{{") {
                if s[start..].contains("}}") {
                    out.push(placeholder(node, s));
                }
            }
        }
        Value::Map(entries) => {
            for entry in entries {
                let key = entry.key.as_str().unwrap_or_default();
                let is_path_group = depth == 0 && PATH_GROUPS.contains(&key);
                let checked_value = KEYS.contains(&key);
                if is_path_group {
                    entry.value.as_map().unwrap_or_default().iter().for_each(|e| visit(&e.value, true, depth + 2, out));
                } else {
                    visit(&entry.value, checked_value, depth + 1, out);
                }
            }
        }
        Value::Seq(items) => items.iter().for_each(|item| visit(item, checked, depth + 1, out)),
        _ => {}
    }
}

fn placeholder(node: &Node, text: &str) -> Diagnostic {
    Diagnostic::error("OSP211", node.span, format!("`{text}` contains an unfilled template placeholder"))
        .with_help("this document looks like a template: replace `{{…}}` with a real value before checking it")
}
