//! saphyr's scanner and parser messages, made readable.
//!
//! The parser speaks in its own states ("while parsing a block mapping, did not find expected
//! key"); people need to know what is wrong in their file and how to fix it. The table maps a
//! fragment of the parser's message to a code, a sentence and a help hint. Unknown messages
//! keep the parser's wording under the generic syntax error code.

use crate::diagnostics::Diagnostic;
use crate::span::{clamp_to_char_boundary, Span};

/// A syntax error code: the generic one, used for messages the table does not know.
pub(super) const SYNTAX: &str = "OSP010";
pub(super) const TABS: &str = "OSP011";
pub(super) const UNKNOWN_ALIAS: &str = "OSP013";
pub(super) const TOO_DEEP: &str = "OSP015";

struct Known {
    /// A fragment of saphyr's message.
    fragment: &'static str,
    code: &'static str,
    message: &'static str,
    help: &'static str,
}

const KNOWN: &[Known] = &[
    Known {
        fragment: "tab",
        code: TABS,
        message: "a tab is used where YAML only allows spaces",
        help: "YAML indentation must use spaces; replace the tab(s) on this line with spaces",
    },
    Known {
        fragment: "found unknown anchor",
        code: UNKNOWN_ALIAS,
        message: "this alias refers to an anchor that is not defined before it",
        help: "define the anchor (`&name`) on a node earlier in the same document, or fix the alias name",
    },
    Known {
        fragment: "recursion limit exceeded",
        code: TOO_DEEP,
        message: "flow collections are nested too deeply",
        help: "flatten the structure; spec files never need hundreds of nested `[` or `{`",
    },
    Known {
        fragment: "mapping values are not allowed in this context",
        code: SYNTAX,
        message: "unexpected `:` (a `key: value` pair cannot start here)",
        help: "check the indentation of this line, or quote the value if it contains `: `",
    },
    Known {
        fragment: "illegal placement of ':' indicator",
        code: SYNTAX,
        message: "unexpected `:` inside a flow collection",
        help: "close the `[` or `{` opened before this line, or quote the text that contains `:`",
    },
    Known {
        fragment: "did not find expected key",
        code: SYNTAX,
        message: "this line does not continue the mapping above it",
        help: "align this line with the keys of its mapping, or indent it under the key it belongs to",
    },
    Known {
        fragment: "did not find expected '-' indicator",
        code: SYNTAX,
        message: "this line does not continue the sequence above it",
        help: "each item of a block sequence starts with `- ` at the same indentation",
    },
    Known {
        fragment: "block sequence entries are not allowed in this context",
        code: SYNTAX,
        message: "a `- ` sequence item cannot start here",
        help: "put the sequence on its own lines, indented under its key",
    },
    Known {
        fragment: "expected ',' or ']'",
        code: SYNTAX,
        message: "this flow sequence is not closed where expected",
        help: "separate items with `,` and close the sequence with `]`",
    },
    Known {
        fragment: "expected ',' or '}'",
        code: SYNTAX,
        message: "this flow mapping is not closed where expected",
        help: "separate entries with `,` and close the mapping with `}`",
    },
    Known {
        fragment: "quoted scalar",
        code: SYNTAX,
        message: "this quoted string is not closed or not valid",
        help: "close the string with the same quote it opened with; inside \"…\" write `\\\"` for a quote",
    },
    Known {
        fragment: "unknown escape character",
        code: SYNTAX,
        message: "unknown escape sequence in a double-quoted string",
        help: "valid escapes are \\\\ \\\" \\n \\t \\r \\0 \\xHH \\uHHHH and a few others; or use single quotes",
    },
    Known {
        fragment: "block scalar",
        code: SYNTAX,
        message: "this block scalar (`|` or `>`) is malformed",
        help: "the header is `|` or `>` with optional `-`/`+` and indentation digit; the text goes on the next lines, indented",
    },
    Known {
        fragment: "did not find expected node content",
        code: SYNTAX,
        message: "a value was expected here",
        help: "write a value, or quote text that starts with a YAML indicator such as `@`, `` ` ``, `%` or `!`",
    },
    Known {
        fragment: "unexpected character",
        code: SYNTAX,
        message: "this character cannot start a value",
        help: "quote the value (\"…\") when it starts with `@`, `` ` `` or another reserved character",
    },
    Known {
        fragment: "comments must be separated",
        code: SYNTAX,
        message: "a `#` comment must be preceded by a space",
        help: "put a space before `#`, or quote the value if `#` belongs to it",
    },
    Known {
        fragment: "indentation",
        code: SYNTAX,
        message: "the indentation of this line is not valid here",
        help: "indent nested content consistently with spaces under its parent key",
    },
];

/// A syntax error at byte `offset` of `text` with saphyr's message `info`.
pub(super) fn syntax_error(text: &str, offset: usize, info: &str) -> Diagnostic {
    let Some(known) = KNOWN.iter().find(|k| info.contains(k.fragment)) else {
        let span = char_span(text, offset);
        return Diagnostic::error(SYNTAX, span, format!("YAML syntax error: {info}"))
            .with_help("fix the YAML syntax here; the rest of the file is still checked");
    };
    // saphyr reports a tab where it notices it (often just after); point at the tab itself.
    let offset = if known.code == TABS { last_tab_on_line(text, offset).unwrap_or(offset) } else { offset };
    let span = char_span(text, offset);
    let message = if known.code == UNKNOWN_ALIAS {
        format!("unknown alias `{}`", alias_name(text, span.start))
    } else {
        known.message.to_string()
    };
    Diagnostic::error(known.code, span, message).with_note(format!("YAML parser: {info}")).with_help(known.help)
}

/// One character at `offset` (empty at the end of the text).
pub(super) fn char_span(text: &str, offset: usize) -> Span {
    let start = clamp_to_char_boundary(text, offset);
    let len = text[start..].chars().next().map_or(0, char::len_utf8);
    Span::new(start, start + len)
}

/// The last tab at or before `offset` on its line.
fn last_tab_on_line(text: &str, offset: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let offset = offset.min(bytes.len().saturating_sub(1));
    let line_start = bytes[..offset].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    bytes.get(line_start..=offset)?.iter().rposition(|&b| b == b'\t').map(|p| line_start + p)
}

/// The `*name` written at `offset`.
fn alias_name(text: &str, offset: usize) -> &str {
    let rest = &text[offset..];
    let end = rest.find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}')).unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_messages_get_codes_and_help() {
        let d = syntax_error("a:\n\tb: 1", 3, "tabs disallowed within this context (block indentation)");
        assert_eq!((d.code, d.span), (TABS, Span::new(3, 4)));
        let d = syntax_error("a: *nope", 3, "while parsing node, found unknown anchor");
        assert_eq!(d.message, "unknown alias `*nope`");
        let d = syntax_error("a", 1, "something new");
        assert_eq!((d.code, d.span), (SYNTAX, Span::new(1, 1)));
        assert!(d.help.is_some());
    }
}
