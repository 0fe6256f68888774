//! ECMA-262 (`u` flag) regular expressions, as JSON Schema `pattern` means them, translated
//! for the `regex` crate.
//!
//! JSON Schema patterns are ECMA regexes, and the reference validators (ajv) compile them with
//! the `u` flag. The `regex` crate differs in a few classes that matter for OSpec: `\d` and `\w`
//! are Unicode-aware in Rust but ASCII in ECMA (so `"١.٠.٠"` must *not* match
//! `^\d+\.\d+\.\d+$`), `\s` has a slightly different set, `.` in ECMA also stops at `\r`,
//! U+2028 and U+2029, and `\b` is ASCII-based. Everything else our schemas use has the same
//! meaning in both dialects and is copied through.

use regex::Regex;

/// A compiled `pattern`, keeping its source for messages.
#[derive(Clone, Debug)]
pub struct Pattern {
    pub source: Box<str>,
    regex: Regex,
    /// For `^literal` patterns (such as `^x-`, checked on every key in `ext`): the literal,
    /// matched with `starts_with` instead of the regex engine.
    prefix: Option<Box<str>>,
}

impl Pattern {
    /// Compiles an ECMA pattern; the error names the pattern and what `regex` objected to.
    pub fn new(source: &str) -> Result<Pattern, String> {
        let translated = translate(source);
        let regex = Regex::new(&translated).map_err(|e| format!("pattern `{source}`: {e}"))?;
        let prefix = source
            .strip_prefix('^')
            .filter(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map(Into::into);
        Ok(Pattern { source: source.into(), regex, prefix })
    }

    /// ECMA `RegExp.prototype.test`: the pattern matches somewhere in `text` (unanchored).
    pub fn is_match(&self, text: &str) -> bool {
        match &self.prefix {
            Some(prefix) => text.starts_with(&**prefix),
            None => self.regex.is_match(text),
        }
    }
}

/// ECMA `\s`: WhiteSpace and LineTerminator code points.
const ECMA_SPACE: &str =
    r"\t\n\x0B\x0C\r \u{A0}\u{1680}\u{2000}-\u{200A}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}\u{FEFF}";
const ECMA_DIGIT: &str = "0-9";
const ECMA_WORD: &str = "0-9A-Za-z_";
/// ECMA `.` (without the `s` flag): anything but a line terminator.
const ECMA_DOT: &str = r"[^\n\r\u{2028}\u{2029}]";

/// The class body an ECMA class escape (`d`, `w`, `s`) stands for, and whether it is negated.
fn class_escape(c: char) -> Option<(&'static str, bool)> {
    match c {
        'd' => Some((ECMA_DIGIT, false)),
        'D' => Some((ECMA_DIGIT, true)),
        'w' => Some((ECMA_WORD, false)),
        'W' => Some((ECMA_WORD, true)),
        's' => Some((ECMA_SPACE, false)),
        'S' => Some((ECMA_SPACE, true)),
        _ => None,
    }
}

/// Rewrites an ECMA pattern into the `regex` crate's syntax with the same meaning.
pub fn translate(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 16);
    let mut chars = source.chars().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_class_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push_str(r"\\");
                    continue;
                };
                translate_escape(next, in_class, &mut out);
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                // ECMA `[]` matches nothing and `[^]` anything; `regex` has no empty class.
                if chars.peek() == Some(&']') {
                    chars.next();
                    in_class = false;
                    let negated = out.ends_with('^');
                    out.truncate(out.len() - if negated { 2 } else { 1 });
                    out.push_str(if negated { r"[\s\S]" } else { r"[^\s\S]" });
                }
            }
            ']' if in_class && !at_class_start => {
                in_class = false;
                out.push(']');
            }
            // Inside an ECMA class these are literals; in `regex` they start nested classes or
            // set operations (`&&`, `~~`, `--`).
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '-' if in_class && chars.peek() == Some(&'-') => out.push_str(r"\-"),
            '.' if !in_class => out.push_str(ECMA_DOT),
            _ => out.push(c),
        }
    }
    out
}

fn translate_escape(next: char, in_class: bool, out: &mut String) {
    if let Some((body, negated)) = class_escape(next) {
        match (in_class, negated) {
            (true, false) => out.push_str(body),
            // A negated class inside a class: `regex` supports nested classes as a union.
            (true, true) => {
                out.push_str("[^");
                out.push_str(body);
                out.push(']');
            }
            (false, negated) => {
                out.push_str(if negated { "[^" } else { "[" });
                out.push_str(body);
                out.push(']');
            }
        }
        return;
    }
    match next {
        'b' if !in_class => out.push_str(r"(?-u:\b)"),
        'B' if !in_class => out.push_str(r"(?-u:\B)"),
        // In an ECMA class `\b` is a backspace.
        'b' => out.push_str(r"\x08"),
        '/' => out.push('/'),
        _ => {
            out.push('\\');
            out.push(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern).unwrap().is_match(text)
    }

    #[test]
    fn digits_are_ascii_only() {
        assert!(matches(r"^\d+\.\d+\.\d+$", "1.0.0"));
        assert!(!matches(r"^\d+\.\d+\.\d+$", "١.٠.٠"));
        assert!(!matches(r"^[\d]+$", "٣"));
        assert!(matches(r"^[\D]+$", "٣"));
        assert!(matches(r"^\D$", "x"));
    }

    #[test]
    fn word_and_space_follow_ecma() {
        assert!(!matches(r"^\w+$", "é"));
        assert!(matches(r"^\s$", "\u{FEFF}"));
        assert!(!matches(r"^\s$", "\u{85}"));
        assert!(matches(r"^[^\s]+$", "abc"));
        assert!(matches(r"\bfoo\b", "a foo b"));
    }

    #[test]
    fn dot_stops_at_every_line_terminator() {
        assert!(matches(r"^.+\.sh$", "run.sh"));
        assert!(!matches(r"^.+\.sh$", "#!/bin/sh\nrun.sh"));
        assert!(!matches(r"^.+$", "a\rb"));
        assert!(!matches(r"^.+$", "a\u{2028}b"));
        assert!(matches(r"^#!/", "#!/bin/sh\necho hi"));
    }

    #[test]
    fn class_literals_and_escapes_survive() {
        assert!(matches(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+$", "a&b~c"));
        assert!(matches(r"^[[]$", "["));
        assert!(matches(r"^\/x$", "/x"));
        assert!(!matches(r"^[]$", ""));
        assert!(matches(r"^[^]$", "\n"));
        assert!(matches(r"^[\b]$", "\u{8}"));
        assert!(matches(r"^\u0041$", "A"));
    }

    #[test]
    fn literal_prefixes_take_the_fast_path() {
        let pattern = Pattern::new("^x-").unwrap();
        assert!(pattern.prefix.is_some());
        assert!(pattern.is_match("x-owner"));
        assert!(!pattern.is_match("owner-x-"));
        assert!(Pattern::new("^x-.+").unwrap().prefix.is_none());
    }

    #[test]
    fn unanchored_patterns_search() {
        assert!(matches(r"^/.*", "/health"));
        assert!(matches("test", "a test here"));
        assert!(!matches(r"^/.*", "health"));
    }
}
