//! A tolerant Starlark tokenizer for editor features.
//!
//! The checking path parses with starlark-rust, which refuses the half-typed text completion
//! runs on (`fault(db, wr`). Tokens need no grammar: identifiers, strings (an unterminated one
//! ends at its line, or at the end of the text for triple quotes), numbers, punctuation and
//! comments, each with its byte span. Every byte of the input is either in a token or is
//! whitespace, and the scan is linear.

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ident,
    /// A string literal, quotes included in the span.
    Str,
    Number,
    /// One punctuation character (`(`, `.`, `=`, …); `==`-like operators are two tokens, which
    /// no feature here needs to tell apart.
    Punct,
    Comment,
    /// A line break outside brackets (a statement may end there).
    Newline,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub span: Span,
}

impl Token {
    pub fn text<'t>(&self, source: &'t str) -> &'t str {
        source.get(self.span.start..self.span.end).unwrap_or_default()
    }

    pub fn is_punct(&self, source: &str, c: &str) -> bool {
        self.kind == Kind::Punct && self.text(source) == c
    }
}

/// Starlark's keywords (highlighted, never offered as names).
pub const KEYWORDS: &[&str] = &[
    "and", "break", "continue", "def", "elif", "else", "for", "if", "in", "lambda", "load", "not", "or", "pass",
    "return", "None", "True", "False",
];

/// Tokenizes `text`.
pub fn tokens(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let kind = match b {
            b' ' | b'\t' | b'\x0c' => {
                i += 1;
                continue;
            }
            b'\\' if matches!(bytes.get(i + 1), Some(b'\n' | b'\r')) => {
                i += 2;
                continue;
            }
            b'\n' | b'\r' => {
                i += 1;
                if depth > 0 {
                    continue;
                }
                Kind::Newline
            }
            b'#' => {
                i = line_end(bytes, i);
                Kind::Comment
            }
            b'"' | b'\'' => {
                i = string_end(bytes, i);
                Kind::Str
            }
            b'r' | b'b' | b'R' | b'B' if matches!(bytes.get(i + 1), Some(b'"' | b'\'')) => {
                i = string_end(bytes, i + 1);
                Kind::Str
            }
            b'0'..=b'9' => {
                i = scan(bytes, i, |c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_');
                Kind::Number
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                i = scan(bytes, i, |c| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80);
                Kind::Ident
            }
            c => {
                match c {
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                i += 1;
                Kind::Punct
            }
        };
        out.push(Token { kind, span: Span::new(start, i) });
    }
    out
}

fn scan(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while i < bytes.len() && keep(bytes[i]) {
        i += 1;
    }
    i
}

fn line_end(bytes: &[u8], i: usize) -> usize {
    scan(bytes, i, |c| c != b'\n' && c != b'\r')
}

/// The end of the string literal opening at `i` (exclusive).
fn string_end(bytes: &[u8], i: usize) -> usize {
    let quote = bytes[i];
    let triple = bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote);
    let mut j = if triple { i + 3 } else { i + 1 };
    while j < bytes.len() {
        match bytes[j] {
            // Skip the escaped character whole: a multi-byte one must not leave `j` inside it.
            b'\\' => j += 1 + bytes.get(j + 1).map_or(1, |b| utf8_width(*b)),
            b'\n' | b'\r' if !triple => return j,
            c if c == quote => {
                if !triple {
                    return j + 1;
                }
                if bytes.get(j + 1) == Some(&quote) && bytes.get(j + 2) == Some(&quote) {
                    return j + 3;
                }
                j += 1;
            }
            _ => j += 1,
        }
    }
    bytes.len()
}

/// The length of the UTF-8 sequence a leading byte starts (1 for a stray continuation byte).
fn utf8_width(first: u8) -> usize {
    match first {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// A string token's content span (quotes and prefix excluded; an unterminated string runs to
/// its end).
pub fn string_content(source: &str, token: Token) -> Span {
    // Callers may hand over whatever token is at the cursor: only a string has content.
    if token.kind != Kind::Str {
        return Span::new(token.span.start, token.span.start);
    }
    let text = token.text(source);
    let prefix = text.find(['"', '\'']).unwrap_or(0);
    let quote = text[prefix..].chars().next().unwrap_or('"');
    let triple = text[prefix..].starts_with(&quote.to_string().repeat(3));
    let open = if triple { 3 } else { 1 };
    let start = (token.span.start + prefix + open).min(token.span.end);
    let body = &source[start..token.span.end];
    let close = if triple && body.len() >= 3 && body.ends_with(&quote.to_string().repeat(3)) {
        3
    } else if !triple && body.ends_with(quote) && !body.is_empty() {
        1
    } else {
        0
    };
    Span::new(start, token.span.end - close)
}

/// A string token's value (escapes are left as written: names and paths have none).
pub fn string_value(source: &str, token: Token) -> &str {
    let span = string_content(source, token);
    source.get(span.start..span.end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_unterminated_strings_and_unicode() {
        let text = "x = \"a😀\nfault(db, wr\ns = '''doc\n";
        let kinds: Vec<Kind> = tokens(text).iter().map(|t| t.kind).collect();
        assert_eq!(kinds[..3], [Kind::Ident, Kind::Punct, Kind::Str]);
        let toks = tokens(text);
        assert_eq!(string_value(text, toks[2]), "a😀");
        assert_eq!(toks.last().map(|t| t.kind), Some(Kind::Str));
        assert_eq!(string_value(text, *toks.last().unwrap()), "doc\n");
    }

    #[test]
    fn newlines_inside_brackets_are_not_tokens() {
        let text = "f(a,\n  b)\ng()\n";
        let newlines = tokens(text).iter().filter(|t| t.kind == Kind::Newline).count();
        assert_eq!(newlines, 2);
    }
}
