//! Topology file layout, in the spirit of buildifier: a tokenizer that keeps comments
//! (`lex`), a layout tree of statements, bracket groups and their comments (`tree`), and the
//! printer of the canonical layout (`print`). starlark-rust's own tree drops comments, so it
//! only judges: the text must parse before formatting, and after formatting it must parse to
//! the same syntax tree with the same tokens and comments ([`verify`]).

mod lex;
mod print;
mod tree;

use starlark::syntax::ast::Stmt;
use starlark::syntax::AstModule;

use super::{checked, enveloped, Options, Outcome, Unsupported};
use crate::span::Span;
use crate::topology::{syntax_error, DIALECT};

/// Formats one topology file.
pub(super) fn format(original: &str, options: &Options) -> Outcome {
    let before = match parse(original) {
        Ok(ast) => ast,
        Err(e) => return Outcome::Invalid(vec![syntax_error(&e)]),
    };
    match enveloped(original, |text| lay_out(text, options)) {
        Ok((formatted, envelope)) => checked(formatted, envelope, original, |f| compare(&before, original, f)),
        Err(unsupported) => Outcome::Unsupported(unsupported),
    }
}

/// The layout of a text with `\n` line breaks.
fn lay_out(text: &str, options: &Options) -> Result<String, Unsupported> {
    let Some(tokens) = lex::tokens(text) else {
        return Err(Unsupported { span: Span::at(0), what: "a tab in indentation".into() });
    };
    let items = tree::parse(&tokens, text)?;
    Ok(print::print(&items, options, text.len()))
}

fn parse(text: &str) -> starlark::Result<AstModule> {
    AstModule::parse("fmt.star", text.to_owned(), &DIALECT)
}

/// The check of a formatted text against its original.
pub(super) fn verify(original: &str, formatted: &str) -> Result<(), String> {
    let before = parse(original).map_err(|e| format!("the original does not parse: {}", e.without_diagnostic()))?;
    compare(&before, original, formatted)
}

/// Same syntax tree (load symbols in any order) and same tokens and comments (trailing
/// commas and load symbol order aside).
fn compare(before: &AstModule, original: &str, formatted: &str) -> Result<(), String> {
    let after =
        parse(formatted).map_err(|e| format!("the formatted text does not parse: {}", e.without_diagnostic()))?;
    if canonical(before) != canonical(&after) {
        return Err("the formatted text has a different syntax tree".into());
    }
    let (Some(a), Some(b)) = (significant(original), significant(formatted)) else {
        return Err("the formatted text could not be tokenized".into());
    };
    if a != b {
        let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        return Err(format!("the formatted text has different tokens or comments (token {at})"));
    }
    Ok(())
}

/// The module's statements as text, each `load` with its symbols sorted.
fn canonical(module: &AstModule) -> Vec<String> {
    let statement = module.statement();
    let statements = match &statement.node {
        Stmt::Statements(list) => list.iter().collect(),
        _ => vec![statement],
    };
    statements
        .into_iter()
        .map(|s| match &s.node {
            Stmt::Load(load) => {
                let mut args: Vec<String> =
                    load.args.iter().map(|a| format!("{}={}", a.local.node, a.their.node)).collect();
                args.sort();
                format!("load({:?}, {})", load.module.node, args.join(", "))
            }
            other => other.to_string(),
        })
        .collect()
}

/// Tokens and comments in order, without line breaks or trailing commas; the tokens of each
/// `load(...)` sorted (its symbols may be reordered).
fn significant(text: &str) -> Option<Vec<String>> {
    let tokens = lex::tokens(text)?;
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut load_start = None;
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        let trailing_comma =
            token.kind == lex::Kind::Comma && tokens.get(i + 1).is_some_and(|t| t.kind == lex::Kind::Close);
        match token.kind {
            lex::Kind::Newline => continue,
            _ if trailing_comma => continue,
            lex::Kind::Open => depth += 1,
            lex::Kind::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
        if token.text == "load" && depth == 0 && token.first_on_line {
            load_start = Some(out.len());
        }
        out.push(token.text.to_string());
        if token.kind == lex::Kind::Close && depth == 0 {
            if let Some(start) = load_start.take() {
                out[start..].sort();
            }
        }
    }
    Some(out)
}
