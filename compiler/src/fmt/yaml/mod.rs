//! OSpec YAML layout: indentation by nesting (`yaml_indent_width` per level, sequences
//! indented under their key), one space after `:` and `-`, no space before `:`, no trailing
//! blanks, at most one blank line in a row, and a line break at the end (the file's kind of
//! line break, see `fmt::envelope`).
//!
//! Nothing but whitespace changes: comments, key order, anchors, tags, quoting and block
//! scalars stay as written (a block scalar's body moves with its block, which keeps its
//! value). [`verify`] holds every result to that.

mod lines;
mod structure;
mod verify;

use lines::{Line, Rule};

use super::{checked, enveloped, Options, Outcome, Unsupported};
use crate::span::Span;

pub(super) use verify::verify;

/// Formats one YAML text.
pub(super) fn format(original: &str, options: &Options) -> Outcome {
    let parsed = match verify::parse(original) {
        Ok(parsed) => parsed,
        Err(errors) => return Outcome::Invalid(errors),
    };
    match enveloped(original, |text| lay_out(text, options)) {
        Ok((formatted, envelope)) => {
            checked(formatted, envelope, original, |f| verify::verify_against(&parsed, original, f))
        }
        Err(unsupported) => Outcome::Unsupported(unsupported),
    }
}

/// The layout of a text with `\n` line breaks and no byte order mark.
fn lay_out(text: &str, options: &Options) -> Result<String, Unsupported> {
    let lines = lines::split(text);
    let layout = structure::layout(text, &lines, options.yaml_indent_width)?;
    render(text, &lines, &layout, text.ends_with('\n'))
}

/// Writes every line by its rule.
fn render(
    text: &str,
    lines: &[Line],
    layout: &structure::Layout,
    ends_with_newline: bool,
) -> Result<String, Unsupported> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut gaps = layout.gaps.iter().peekable();
    // Blank lines are written only once something follows them, and at most one in a row.
    let mut pending_blank = false;
    let mut last_rule = Rule::Open;
    for (index, line) in lines.iter().enumerate() {
        let rule = layout.rules[index];
        let content = &text[line.first()..line.end];
        if rule == Rule::Open && line.is_blank(bytes) {
            pending_blank = !out.is_empty();
            continue;
        }
        if pending_blank {
            out.push('\n');
            pending_blank = false;
        }
        match rule {
            Rule::Indent(n) => {
                push_spaces(&mut out, n);
                let start = out.len();
                let mut at = line.first();
                while let Some(&&(gap_start, gap_end, with)) = gaps.peek() {
                    if gap_start >= line.end {
                        break;
                    }
                    gaps.next();
                    if gap_start < at {
                        continue;
                    }
                    out.push_str(&text[at..gap_start]);
                    out.push_str(with);
                    at = gap_end;
                }
                out.push_str(&text[at..line.end]);
                if !layout.keep_trailing[index] {
                    truncate_trailing_blanks(&mut out, start);
                }
            }
            Rule::Shift { delta, strip, block } => {
                if line.is_blank(bytes) {
                    // Blanks deeper than a block scalar's parent may be content; elsewhere a
                    // blank line inside a scalar is only a line break.
                    if block.is_some_and(|n| line.indent > n) {
                        let n = line.indent as isize + delta;
                        push_spaces(&mut out, n.max(0) as usize);
                        out.push_str(content);
                    }
                } else {
                    let n = line.indent as isize + delta;
                    if n < 0 {
                        return Err(Unsupported {
                            span: Span::new(line.start, line.end),
                            what: "a line that would move left of column 1".into(),
                        });
                    }
                    push_spaces(&mut out, n as usize);
                    let start = out.len();
                    out.push_str(content);
                    if strip {
                        truncate_trailing_blanks(&mut out, start);
                    }
                }
            }
            Rule::Open => {
                let start = out.len();
                if bytes[line.first()] == b'#' {
                    push_spaces(&mut out, comment_indent(bytes, lines, layout, index));
                } else if line.indent == 0
                    && (structure::is_document_marker(content.as_bytes()) || content.starts_with('%'))
                {
                    // Document markers and directives stay in column 1.
                } else {
                    return Err(Unsupported {
                        span: Span::new(line.first(), line.end),
                        what: "a line whose place in the structure is not clear to the formatter".into(),
                    });
                }
                let content_start = out.len();
                out.push_str(content);
                truncate_trailing_blanks(&mut out, content_start.max(start));
            }
        }
        out.push('\n');
        last_rule = rule;
    }
    // A block scalar at the very end keeps the missing final line break it was written with.
    let block_at_end = matches!(last_rule, Rule::Shift { block: Some(_), .. });
    if !ends_with_newline && block_at_end && !pending_blank {
        out.pop();
    }
    Ok(out)
}

/// Where a comment line goes: with the block it sits in, or with the line after it when it
/// is indented like that line (a comment about what follows).
fn comment_indent(bytes: &[u8], lines: &[Line], layout: &structure::Layout, index: usize) -> usize {
    let column = lines[index].indent;
    let mut candidates: Vec<(usize, usize, bool)> = layout.open_at_comment[index]
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|&(old, new)| (old, new, false))
        .collect();
    let is_gap =
        |i: usize| layout.rules[i] == Rule::Open && (lines[i].is_blank(bytes) || bytes[lines[i].first()] == b'#');
    let next = (index + 1..lines.len()).find(|&i| !is_gap(i));
    if let Some(i) = next {
        if let Rule::Indent(new) = layout.rules[i] {
            candidates.push((lines[i].indent, new, true));
        }
    }
    // The deepest context at or left of the comment; on a tie, the line that follows.
    candidates
        .iter()
        .filter(|(old, _, _)| *old <= column)
        // Outermost first on a tie (a sequence at its key's column shares it).
        .rev()
        .max_by_key(|(old, _, is_next)| (*old, *is_next))
        .map_or(0, |&(_, new, _)| new)
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn truncate_trailing_blanks(out: &mut String, floor: usize) {
    let trimmed = out[floor..].trim_end_matches([' ', '\t']).len();
    out.truncate(floor + trimmed);
}

#[cfg(test)]
mod tests;
