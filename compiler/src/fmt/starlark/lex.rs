//! Tokens of a topology file for the formatter: every token with its text, its line, and
//! the blank lines before it; comments are tokens too. The file has already parsed with
//! starlark-rust, so this lexer only needs token boundaries, not error reporting.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Name,
    Number,
    Str,
    /// Operators and punctuation other than brackets and commas.
    Op,
    Open,
    Close,
    Comma,
    Comment,
    /// A line break outside brackets.
    Newline,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Token<'t> {
    pub kind: Kind,
    pub text: &'t str,
    pub start: usize,
    /// 0-based line of the token's start.
    pub line: usize,
    /// Column (bytes) of the token's start.
    pub col: usize,
    /// Whether the token is the first of its line.
    pub first_on_line: bool,
}

/// Operators, longest first.
const OPS: &[&str] = &[
    "//=", "<<=", ">>=", "**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<",
    ">>", "->", "+", "-", "*", "/", "%", "&", "|", "^", "~", "<", ">", "=", ".", ":", ";",
];

/// Tokenizes `text`; `None` for something the formatter does not know (a tab in
/// indentation, a stray character).
pub(super) fn tokens(text: &str) -> Option<Vec<Token<'_>>> {
    let bytes = text.as_bytes();
    let mut out: Vec<Token> = Vec::with_capacity(text.len() / 4);
    let (mut i, mut line, mut line_start, mut depth) = (0, 0, 0, 0usize);
    let mut first_on_line = true;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let kind = match b {
            b' ' | b'\x0c' => {
                i += 1;
                continue;
            }
            b'\t' if first_on_line => return None,
            b'\t' => {
                i += 1;
                continue;
            }
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                i += 1;
                continue;
            }
            b'\\' if matches!(bytes.get(i + 1), Some(b'\n')) || bytes[i + 1..].starts_with(b"\r\n") => {
                i += if bytes[i + 1] == b'\n' { 2 } else { 3 };
                line += 1;
                line_start = i;
                continue;
            }
            b'\n' => {
                i += 1;
                let newline = depth == 0 && out.last().is_some_and(|t| t.kind != Kind::Newline);
                let token =
                    Token { kind: Kind::Newline, text: "\n", start, line, col: start - line_start, first_on_line };
                line += 1;
                line_start = i;
                first_on_line = true;
                if newline {
                    out.push(token);
                }
                continue;
            }
            b'#' => {
                i = bytes[i..].iter().position(|&c| c == b'\n').map_or(bytes.len(), |p| i + p);
                Kind::Comment
            }
            b'"' | b'\'' => {
                i = string_end(bytes, i)?;
                Kind::Str
            }
            b'r' | b'b' | b'R' | b'B' if string_prefix(bytes, i) > 0 => {
                i = string_end(bytes, i + string_prefix(bytes, i))?;
                Kind::Str
            }
            b'0'..=b'9' => {
                i = number_end(bytes, i);
                Kind::Number
            }
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = number_end(bytes, i);
                Kind::Number
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                i += 1;
                Kind::Open
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
                Kind::Close
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                i += bytes[i..].iter().take_while(|c| **c == b'_' || c.is_ascii_alphanumeric()).count();
                Kind::Name
            }
            _ => {
                let op = OPS.iter().find(|op| bytes[i..].starts_with(op.as_bytes()))?;
                i += op.len();
                Kind::Op
            }
        };
        let text = text.get(start..i)?;
        let text = if kind == Kind::Comment { text.trim_end() } else { text };
        out.push(Token { kind, text, start, line, col: start - line_start, first_on_line });
        // A string may span lines.
        let breaks = text.bytes().filter(|&c| c == b'\n').count();
        if breaks > 0 {
            line += breaks;
            line_start = start + text.rfind('\n').map_or(0, |p| p + 1);
        }
        first_on_line = false;
    }
    if out.last().is_some_and(|t| t.kind != Kind::Newline) {
        out.push(Token { kind: Kind::Newline, text: "\n", start: bytes.len(), line, col: 0, first_on_line });
    }
    Some(out)
}

/// Length of a string prefix (`r`, `b`, `rb`, `br`) before a quote at `i`, or 0.
fn string_prefix(bytes: &[u8], i: usize) -> usize {
    let word = bytes[i..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let quote = bytes.get(i + word).is_some_and(|&c| c == b'"' || c == b'\'');
    let prefix = &bytes[i..i + word];
    let known = matches!(prefix.to_ascii_lowercase().as_slice(), b"r" | b"b" | b"rb" | b"br");
    if quote && known {
        word
    } else {
        0
    }
}

/// Just past the string literal whose opening quote is at `i`.
fn string_end(bytes: &[u8], i: usize) -> Option<usize> {
    let quote = bytes[i];
    let triple = bytes.get(i..i + 3) == Some(&[quote, quote, quote][..]);
    let mut at = if triple { i + 3 } else { i + 1 };
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'\n' if !triple => return None,
            c if c == quote => {
                if !triple {
                    return Some(at + 1);
                }
                if bytes.get(at..at + 3) == Some(&[quote, quote, quote][..]) {
                    return Some(at + 3);
                }
                at += 1;
            }
            _ => at += 1,
        }
    }
    None
}

fn number_end(bytes: &[u8], i: usize) -> usize {
    let mut at = i;
    while at < bytes.len() {
        let c = bytes[at];
        let exponent_sign = (c == b'+' || c == b'-')
            && at > i
            && matches!(bytes[at - 1], b'e' | b'E')
            && !bytes[i..at].iter().any(|b| matches!(b, b'x' | b'X'));
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exponent_sign {
            at += 1;
        } else {
            break;
        }
    }
    at
}
