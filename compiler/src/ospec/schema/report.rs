//! Turns raw validation issues into diagnostics people can act on: plain-English messages,
//! precise spans (DESIGN.md §4), help text and machine fixes. Runs only for issues that
//! survive, so none of this costs anything on valid input.

use serde_json::Value as Json;

use super::model::{Compiled, Types};
use super::validate::{Issue, Kind, Seg};
use crate::diagnostics::{Diagnostic, TextEdit};
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::syntax::yaml::{Entry, Node, Style, Value};

/// Longest value text quoted in a message before it is shortened.
const MAX_QUOTED: usize = 60;
/// Up to this many allowed keys or values are listed in help.
const MAX_LISTED: usize = 16;

/// The code of each kind of issue (the schema may override it with `x-ospecc-code`).
fn default_code(kind: &Kind) -> &'static str {
    match kind {
        Kind::UnknownKey { .. } => "OSP100",
        Kind::Missing { .. } => "OSP101",
        Kind::Type { .. } => "OSP102",
        Kind::Enum { .. } | Kind::Const { .. } => "OSP103",
        Kind::Pattern => "OSP104",
        Kind::MinLength { .. } | Kind::MaxLength { .. } => "OSP105",
        Kind::Minimum(_) | Kind::Maximum(_) | Kind::MultipleOf(_) => "OSP106",
        Kind::MinItems { .. } | Kind::MaxItems { .. } => "OSP107",
        Kind::Duplicate { .. } => "OSP108",
        Kind::MinProperties { .. } | Kind::MaxProperties { .. } => "OSP109",
        Kind::Format(_) => "OSP110",
        Kind::Rejected | Kind::Contains => "OSP111",
        Kind::Ambiguous { .. } => "OSP112",
        Kind::Alias { .. } => "OSP114",
    }
}

/// The JSON pointer of the failing instance location, normalised as the differential test
/// compares it: an unknown key is `parent/key`, a missing key is the parent, and anything
/// inside a `oneOf`/`anyOf` branch is the value the alternatives were about.
pub fn pointer(issue: &Issue) -> String {
    let path = issue.combinator_path.as_deref().unwrap_or(&issue.path);
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(key) => out.push_str(&key_text(key).replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

/// The dotted path people read: `acceptance.http_endpoints[0].status`.
fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&key_text(key));
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn key_text(key: &Node) -> String {
    key.scalar_text().unwrap_or_else(|| "<complex key>".to_string())
}

/// "`acceptance.performance`", or "the document" at the root.
fn subject(path: &[Seg]) -> String {
    if path.is_empty() {
        "the document".to_string()
    } else {
        format!("`{}`", display_path(path))
    }
}

/// A value as quoted in a message, shortened if long.
fn quote(node: &Node) -> String {
    let text = match node.value {
        // `1.0` and `1` are different to a person reading YAML, though equal as numbers.
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{f:.1}")),
        _ => node.scalar_text(),
    };
    match text {
        Some(text) => {
            let one_line = text.replace('\n', "\\n");
            match one_line.char_indices().nth(MAX_QUOTED) {
                Some((cut, _)) => format!("`{}…`", &one_line[..cut]),
                None => format!("`{one_line}`"),
            }
        }
        None => match node.value {
            Value::Seq(_) => "a list".to_string(),
            _ => "a mapping".to_string(),
        },
    }
}

/// What a node is, in words: "the string `200`", "a list", "null".
fn describe(node: &Node) -> String {
    match &node.value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Int(_) | Value::Float(_) => format!("the number {}", quote(node)),
        Value::String(_) => format!("the string {}", quote(node)),
        Value::Seq(_) => "a list".to_string(),
        Value::Map(_) => "a mapping".to_string(),
    }
}

fn type_words(types: Types) -> String {
    let words: Vec<&str> = types
        .names()
        .map(|name| match name {
            "null" => "null",
            "boolean" => "`true` or `false`",
            "integer" => "an integer",
            "number" => "a number",
            "string" => "a string",
            "array" => "a list",
            _ => "a mapping",
        })
        .collect();
    join_or(&words)
}

fn join_or(words: &[&str]) -> String {
    match words {
        [] => "nothing".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn list_backticked<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(|s| format!("`{s}`")).collect();
    if items.len() > MAX_LISTED {
        format!("{}, … ({} in all)", items[..MAX_LISTED].join(", "), items.len())
    } else {
        items.join(", ")
    }
}

fn json_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The replacement text for a scalar value, keeping its quoting style.
fn requote(node: &Node, text: &str) -> String {
    match node.style {
        Style::SingleQuoted => format!("'{}'", text.replace('\'', "''")),
        Style::DoubleQuoted => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
        _ => text.to_string(),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The diagnostic for one issue.
pub fn diagnostic(compiled: &Compiled, issue: &Issue) -> Diagnostic {
    let code = issue.code.unwrap_or_else(|| default_code(&issue.kind));
    let what = subject(&issue.path);
    let value = issue.node;
    let (span, message, mut diagnostic_help): (Span, String, Option<String>) = match &issue.kind {
        Kind::UnknownKey { entry, siblings, known } => return unknown_key(issue, code, entry, siblings, known),
        Kind::Alias { entry, canonical } => return alias(issue, code, entry, canonical),
        Kind::Missing { names } => {
            let list = list_backticked(names.iter().copied());
            let keys = if names.len() == 1 { "key" } else { "keys" };
            let message = format!("{what} is missing the required {keys} {list}");
            (issue.anchor, message, missing_help(compiled, issue, names))
        }
        Kind::Type { expected } => {
            let message = format!("{what} must be {}, but it is {}", type_words(*expected), describe(value));
            (value.span, message, type_help(*expected, value))
        }
        Kind::Enum { allowed } => return enumeration(issue, code, allowed),
        Kind::Const { expected } => {
            (value.span, format!("{what} must be `{}`, but it is {}", json_text(expected), quote(value)), None)
        }
        Kind::Pattern => {
            let source = issue.schema.pattern.as_ref().map_or("", |p| &p.source);
            let expected =
                issue.schema.expected.as_deref().map_or_else(|| format!("match `{source}`"), |e| format!("be {e}"));
            let message = format!("{what} must {expected}, but it is {}", quote(value));
            (value.span, message, Some(format!("the pattern is `{source}`")))
        }
        Kind::MinLength { limit: 1, .. } => (value.span, format!("{what} must not be empty"), None),
        Kind::MinLength { limit, actual } => {
            let message =
                format!("{what} must be at least {} long; it has {actual}", plural(*limit, "character", "characters"));
            (value.span, message, None)
        }
        Kind::MaxLength { limit, actual } => {
            let message =
                format!("{what} must be at most {} long; it has {actual}", plural(*limit, "character", "characters"));
            (value.span, message, None)
        }
        Kind::Minimum(bound) => {
            let relation = if bound.exclusive { "greater than" } else { "at least" };
            (value.span, format!("{what} must be {relation} {}, but it is {}", bound.limit, quote(value)), None)
        }
        Kind::Maximum(bound) => {
            let relation = if bound.exclusive { "less than" } else { "at most" };
            (value.span, format!("{what} must be {relation} {}, but it is {}", bound.limit, quote(value)), None)
        }
        Kind::MultipleOf(divisor) => {
            (value.span, format!("{what} must be a multiple of {divisor}, but it is {}", quote(value)), None)
        }
        Kind::MinItems { limit: 1, actual: 0 } => {
            (value.span, format!("{what} must not be empty: it needs at least one item"), None)
        }
        Kind::MinItems { limit, actual } => {
            let message = format!("{what} must have at least {}; it has {actual}", plural(*limit, "item", "items"));
            (value.span, message, None)
        }
        Kind::MaxItems { limit, actual } => {
            let message = format!("{what} must have at most {}; it has {actual}", plural(*limit, "item", "items"));
            (value.span, message, None)
        }
        Kind::Duplicate { first } => {
            let message = format!("{what} repeats {}; items of this list must be unique", quote(value));
            let diagnostic =
                Diagnostic::new(code, issue.severity, value.span, message).with_label(first.span, "first listed here");
            return finish(diagnostic, issue, None);
        }
        Kind::MinProperties { limit: 1, actual: 0 } => {
            (issue.anchor.cover(value.span), format!("{what} must not be empty"), None)
        }
        Kind::MinProperties { limit, actual } => {
            let message = format!("{what} must have at least {}; it has {actual}", plural(*limit, "key", "keys"));
            let span = if *actual == 0 { issue.anchor.cover(value.span) } else { value.span };
            (span, message, None)
        }
        Kind::MaxProperties { limit, actual } => {
            let message = format!("{what} must have at most {}; it has {actual}", plural(*limit, "key", "keys"));
            (value.span, message, None)
        }
        Kind::Format(format) => {
            (value.span, format!("{what} must be {}, but it is {}", format.describe(), quote(value)), None)
        }
        Kind::Rejected => (value.span, format!("{what} is not allowed here"), None),
        Kind::Contains => (value.span, format!("{what} has no item of the required kind"), None),
        Kind::Ambiguous { branches, matched } => {
            let names: Vec<String> = matched
                .iter()
                .map(|&i| match branches.get(i).and_then(|&id| compiled.node(id).title.as_deref()) {
                    Some(title) => title.to_string(),
                    None => format!("form {}", i + 1),
                })
                .collect();
            let message = format!(
                "{what} is ambiguous: it is both {}, and exactly one of these forms is allowed",
                names.join(" and ")
            );
            (value.span, message, None)
        }
    };
    if diagnostic_help.is_none() {
        diagnostic_help = issue.schema.description.as_deref().map(|d| format!("`{}`: {d}", last_key(&issue.path)));
    }
    finish(Diagnostic::new(code, issue.severity, span, message), issue, diagnostic_help)
}

/// Adds help (the kind's own, then the schema's `x-ospecc-help`) to a diagnostic.
fn finish(mut diagnostic: Diagnostic, issue: &Issue, help: Option<String>) -> Diagnostic {
    let help = match (help, issue.help) {
        (Some(own), Some(extra)) => Some(format!("{own}\n{extra}")),
        (own, extra) => own.or(extra.map(str::to_string)),
    };
    if let Some(help) = help {
        diagnostic = diagnostic.with_help(help);
    }
    diagnostic
}

fn last_key(path: &[Seg]) -> String {
    path.iter()
        .rev()
        .find_map(|seg| match seg {
            Seg::Key(key) => Some(key_text(key)),
            Seg::Index(_) => None,
        })
        .unwrap_or_else(|| "this value".to_string())
}

/// What each missing key is for, from the schema's descriptions.
fn missing_help(compiled: &Compiled, issue: &Issue, names: &[&str]) -> Option<String> {
    let described: Vec<String> = names
        .iter()
        .filter_map(|name| {
            let description = compiled.node(issue.schema.declared(name)?).description.as_deref()?;
            Some(format!("`{name}`: {description}"))
        })
        .collect();
    if described.is_empty() {
        None
    } else {
        Some(described.join("\n"))
    }
}

/// Help for a type mismatch: quoted numbers and unquoted versions are the common cases.
fn type_help(expected: Types, value: &Node) -> Option<String> {
    if value.value == Value::Null {
        return Some("write a value after the colon: an empty value, `~` or `null` is null".to_string());
    }
    let scalar = matches!(value.value, Value::Int(_) | Value::Float(_) | Value::Bool(_));
    if expected.admits(Types::STRING) && scalar && value.style == Style::Plain {
        return Some(format!(
            "put the value in quotes (`\"{}\"`): YAML reads it unquoted as {}",
            quote(value).trim_matches('`'),
            describe(value)
        ));
    }
    let text = value.as_str()?;
    let numeric = expected.admits(Types::INTEGER) || expected.admits(Types::NUMBER);
    if numeric && text.trim().parse::<f64>().is_ok() {
        return Some(format!("remove the quotes: `{}` is a number only when written without them", text.trim()));
    }
    if expected.admits(Types::BOOLEAN) && matches!(text, "true" | "false") {
        return Some(format!("remove the quotes to write the boolean `{text}`"));
    }
    None
}

fn unknown_key(issue: &Issue, code: &'static str, entry: &Entry, siblings: &[Entry], known: &[&str]) -> Diagnostic {
    let name = key_text(&entry.key);
    let parent = &issue.path[..issue.path.len().saturating_sub(1)];
    let message = if parent.is_empty() {
        format!("unknown top-level key `{name}`")
    } else {
        format!("unknown key `{name}` in {}", subject(parent))
    };
    let diagnostic = Diagnostic::new(code, issue.severity, entry.key.span, message);
    if let Some(suggestion) = did_you_mean(&name, known.iter().copied()) {
        let help = format!("did you mean `{suggestion}`?");
        let diagnostic = diagnostic.with_replacement(format!("rename to `{suggestion}`"), entry.key.span, suggestion);
        return finish(diagnostic, issue, Some(help));
    }
    let mut help = if known.is_empty() {
        "this mapping takes no keys".to_string()
    } else {
        format!("the keys allowed here are {}", list_backticked(known.iter().copied()))
    };
    if issue.severity == crate::diagnostics::Severity::Warning {
        help.push_str("; custom data can go under a key that starts with `x-`");
    }
    let edit = TextEdit { span: removal_span(siblings, entry), new_text: String::new() };
    finish(diagnostic.with_fix(format!("remove `{name}`"), vec![edit]), issue, Some(help))
}

/// The text to delete to remove `entry` from its mapping: up to the next sibling's key (so
/// its lines go and the next key keeps its indentation), or back to the previous sibling's
/// value when it is the last entry.
fn removal_span(siblings: &[Entry], entry: &Entry) -> Span {
    let own = entry.key.span.cover(entry.value.span);
    let Some(index) = siblings.iter().position(|e| std::ptr::eq(e, entry)) else { return own };
    let map = siblings;
    if let Some(next) = map.get(index + 1) {
        return Span::new(entry.key.span.start, next.key.span.start);
    }
    match index.checked_sub(1).and_then(|i| map.get(i)) {
        Some(previous) => Span::new(previous.value.span.end, own.end),
        None => own,
    }
}

fn alias(issue: &Issue, code: &'static str, entry: &Entry, canonical: &str) -> Diagnostic {
    let name = key_text(&entry.key);
    let message = format!("`{name}` is an alias; the OSpec name of this key is `{canonical}`");
    let diagnostic = Diagnostic::new(code, issue.severity, entry.key.span, message).with_replacement(
        format!("rename to `{canonical}`"),
        entry.key.span,
        canonical,
    );
    finish(diagnostic, issue, Some(format!("other tools only understand `{canonical}`")))
}

fn enumeration(issue: &Issue, code: &'static str, allowed: &[Json]) -> Diagnostic {
    let value = issue.node;
    let what = subject(&issue.path);
    let texts: Vec<String> = allowed.iter().map(json_text).collect();
    let message = format!(
        "{what} must be one of {}, but it is {}",
        list_backticked(texts.iter().map(String::as_str)),
        quote(value)
    );
    let diagnostic = Diagnostic::new(code, issue.severity, value.span, message);
    let suggestion = value.as_str().and_then(|text| {
        let base = text.split('@').next().unwrap_or(text);
        texts
            .iter()
            .find(|t| t.as_str() == base)
            .map(String::as_str)
            .or_else(|| did_you_mean(text, texts.iter().map(String::as_str)))
    });
    match suggestion {
        Some(suggestion) => {
            let diagnostic = diagnostic.with_replacement(
                format!("replace with `{suggestion}`"),
                value.span,
                requote(value, suggestion),
            );
            finish(diagnostic, issue, Some(format!("did you mean `{suggestion}`?")))
        }
        None => finish(diagnostic, issue, None),
    }
}
