//! The diagnostics reference (`docs/diagnostics.md`), generated from the code registry.
//!
//! The per-code files in `docs/diagnostics/` are the source; this page is an index plus every
//! explanation, with headings moved one level down so the page has a single title. A test in
//! the binary's suite keeps the checked-in page equal to this function's output.

use std::fmt::Write;

use crate::diagnostics::codes::CodeDoc;

/// The Markdown of `docs/diagnostics.md` for these codes.
pub fn diagnostics_index(codes: &[CodeDoc]) -> String {
    let mut out = String::from(
        "# Diagnostics reference\n\n\
         <!-- Generated from docs/diagnostics/*.md; regenerate with `OSPECC_BLESS=1 cargo test --test docs`. -->\n\n\
         Every diagnostic ospecc reports has a stable code. `ospecc explain CODE` prints the \
         explanation below; `--deny CODE` and `--allow CODE` (or `ospecc.toml`) change how a code \
         is treated.\n\n\
         | Code | Title |\n|---|---|\n",
    );
    for code in codes {
        let _ = writeln!(out, "| [{0}](diagnostics/{0}.md) | {1} |", code.code, code.title.replace('|', "\\|"));
    }
    for code in codes {
        out.push('\n');
        out.push_str(&demote_headings(code.text));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Adds one `#` to every ATX heading outside fenced code blocks.
fn demote_headings(text: &str) -> String {
    let mut fenced = false;
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        }
        if !fenced && line.starts_with('#') {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_links_codes_and_demotes_headings_outside_code() {
        let codes = [CodeDoc {
            code: "OSP001",
            title: "empty file",
            text: "# OSP001: empty file\n\nText.\n\n```yaml\n# comment\n```\n",
        }];
        let page = diagnostics_index(&codes);
        assert!(page.contains("| [OSP001](diagnostics/OSP001.md) | empty file |"));
        assert!(page.contains("\n## OSP001: empty file\n"));
        assert!(page.contains("\n# comment\n"));
        assert!(!page.contains("## comment"));
    }
}
