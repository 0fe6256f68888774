//! Reading Compose values: scalars as text, `${VAR}` interpolation, shell words, durations,
//! and the reader that collects located findings.

use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::syntax::yaml::{Node, Value};

/// The Compose text and the findings about it.
pub struct Reader<'a> {
    pub text: &'a str,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str, diagnostics: &'a mut Vec<Diagnostic>) -> Reader<'a> {
        Reader { text, diagnostics }
    }

    pub fn error(&mut self, code: &'static str, span: Span, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(code, span, message));
    }

    pub fn warning(&mut self, code: &'static str, span: Span, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::warning(code, span, message));
    }
}

/// A scalar as text: strings as they are, numbers and booleans as written; `None` for null
/// and collections.
pub fn scalar(node: &Node, text: &str) -> Option<String> {
    match &node.value {
        Value::String(s) => Some(s.clone()),
        Value::Null | Value::Seq(_) | Value::Map(_) => None,
        Value::Float(_) => {
            // `1.10` is a version to people, not 1.1: keep what was written.
            let written = text.get(node.span.start..node.span.end).filter(|w| !w.starts_with('*'));
            written.map(str::to_owned).or_else(|| node.scalar_text())
        }
        _ => node.scalar_text(),
    }
}

/// What a node is, for messages (`a list`, `the string "x"`).
pub fn described(node: &Node) -> String {
    match &node.value {
        Value::Null => "empty".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Int(i) => format!("the number {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Seq(_) => "a list".to_owned(),
        Value::Map(_) => "a mapping".to_owned(),
    }
}

/// Compose interpolation: `$$` is `$`; `${VAR:-default}` and `${VAR-default}` give the
/// default. The environment is deliberately not read (a generated file is committed, and a
/// shell's secrets must not land in it): any other `${VAR}` or `$VAR` becomes empty, with a
/// warning at `span`, as Compose itself does for an unset variable.
pub fn interpolate(value: &str, span: Span, reader: &mut Reader) -> String {
    if !value.contains('$') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let Some(close) = matching_brace(braced) else {
                out.push('$');
                rest = after;
                continue;
            };
            out.push_str(&substitute(&braced[..close], span, reader));
            rest = &braced[close + 1..];
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            if end == 0 {
                out.push('$');
            } else {
                unset(&after[..end], span, reader);
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

/// The offset of the `}` closing a `${` whose text starts at `braced` (nested `${...}` count).
fn matching_brace(braced: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in braced.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The text of one `${...}` expression.
fn substitute(expression: &str, span: Span, reader: &mut Reader) -> String {
    let name_end = expression.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(expression.len());
    let (name, operator) = expression.split_at(name_end);
    if let Some(default) = operator.strip_prefix(":-").or_else(|| operator.strip_prefix('-')) {
        return interpolate(default, span, reader);
    }
    if operator.starts_with(":+") || operator.starts_with('+') {
        // `${VAR:+alt}` gives `alt` only when VAR is set; unset here, it gives nothing.
        return String::new();
    }
    unset(name, span, reader);
    String::new()
}

fn unset(name: &str, span: Span, reader: &mut Reader) {
    reader.warning(
        "INI003",
        span,
        format!(
            "`${{{name}}}` is left empty: init does not read the environment or `.env` (their secrets would land in \
             the generated files); write the value into the spec"
        ),
    );
}

/// Splits a command line into words: whitespace separates, single and double quotes group,
/// a backslash escapes the next character (what a shell does to plain words).
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                word.extend(chars.next());
                in_word = true;
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// A Compose duration (`1m30s`, `500ms`, `10s`, or a bare number of seconds) in milliseconds.
pub fn duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return seconds.checked_mul(1000);
    }
    const UNITS: &[(&str, f64)] =
        &[("ms", 1.0), ("us", 0.001), ("ns", 0.000_001), ("h", 3_600_000.0), ("m", 60_000.0), ("s", 1000.0)];
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let (unit, scale) = UNITS.iter().find(|(u, _)| rest.starts_with(u))?;
        total += number * scale;
        rest = &rest[unit.len()..];
    }
    (total.is_finite() && (0.0..1e15).contains(&total)).then_some(total.round() as u64)
}

/// Milliseconds as a topology duration: whole seconds (`"90s"`) when exact, else `"1500ms"`.
pub fn duration_text(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interpolated(value: &str) -> (String, usize) {
        let mut diagnostics = Vec::new();
        let mut reader = Reader::new("", &mut diagnostics);
        let out = interpolate(value, Span::at(0), &mut reader);
        (out, diagnostics.len())
    }

    #[test]
    fn interpolation_takes_defaults_and_never_the_environment() {
        assert_eq!(interpolated("postgres:${PG:-16}"), ("postgres:16".into(), 0));
        assert_eq!(interpolated("${A-${B:-x}}y"), ("xy".into(), 0));
        assert_eq!(interpolated("cost $$5"), ("cost $5".into(), 0));
        assert_eq!(interpolated("${HOME}/x"), ("/x".into(), 1));
        assert_eq!(interpolated("$USER-$"), ("-$".into(), 1));
        assert_eq!(interpolated("${A:?required}"), ("".into(), 1));
        assert_eq!(interpolated("${A:+set}"), ("".into(), 0));
        assert_eq!(interpolated("${open"), ("${open".into(), 0));
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(split_words(r#"serve --name "a b" 'c d' e\ f"#), ["serve", "--name", "a b", "c d", "e f"]);
        assert_eq!(split_words("  "), Vec::<String>::new());
        assert_eq!(split_words("x ''"), ["x", ""]);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms("1m30s"), Some(90_000));
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("1.5s"), Some(1500));
        assert_eq!(duration_ms("10"), Some(10_000));
        assert_eq!(duration_ms("10x"), None);
        assert_eq!(duration_text(90_000), "90s");
        assert_eq!(duration_text(1500), "1500ms");
    }
}
