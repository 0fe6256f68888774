//! Topology semantic tokens: what a Starlark grammar cannot know. Catalog builtins (removed
//! ones deprecated), the file's functions and their parameters, service variables, their
//! interfaces and step methods, keyword argument names, and vocabulary strings.

use ospecc_schema::topology::catalog;

use super::index::Index;
use super::lex::{Kind, KEYWORDS};
use super::resolve;
use crate::ide::{SemanticToken, TokenKind, TokenModifier};

pub fn tokens(text: &str) -> Vec<SemanticToken> {
    let index = Index::new(text);
    let services: Vec<String> = index.services(text).into_iter().filter_map(|s| s.variable).collect();
    let keyword_names: Vec<_> =
        index.calls.iter().flat_map(|c| c.args.iter().filter_map(|a| a.name.as_ref().map(|(_, s)| *s))).collect();
    let declarations: Vec<_> = index.defs.iter().map(|d| d.span).chain(index.bindings.iter().map(|b| b.span)).collect();
    let params: Vec<&str> = index.defs.iter().flat_map(|d| d.params.iter().map(|p| p.0.as_str())).collect();
    let mut out = Vec::new();
    for (i, token) in index.tokens.iter().enumerate() {
        if token.kind != Kind::Ident {
            continue;
        }
        let name = token.text(text);
        let after_dot = i > 0 && index.tokens[i - 1].is_punct(text, ".");
        let called = index.tokens.get(i + 1).is_some_and(|t| t.is_punct(text, "("));
        let declared = if declarations.contains(&token.span) { TokenModifier::Declaration.bit() } else { 0 };
        let classified = if keyword_names.contains(&token.span) {
            Some((TokenKind::Parameter, 0))
        } else if after_dot {
            Some((if called { TokenKind::Method } else { TokenKind::Property }, 0))
        } else if KEYWORDS.contains(&name) {
            Some((TokenKind::Keyword, 0))
        } else if services.iter().any(|s| s == name) {
            Some((TokenKind::Variable, TokenModifier::Readonly.bit() | declared))
        } else if index.defs.iter().any(|d| d.name == name) {
            Some((TokenKind::Function, declared))
        } else if let Some(builtin) = catalog().builtin(name) {
            let deprecated = if builtin.removed.is_some() { TokenModifier::Deprecated.bit() } else { 0 };
            Some((TokenKind::Function, TokenModifier::DefaultLibrary.bit() | deprecated))
        } else if resolve::is_namespace(name) {
            Some((TokenKind::Namespace, TokenModifier::DefaultLibrary.bit()))
        } else if params.contains(&name) {
            Some((TokenKind::Parameter, 0))
        } else if declared != 0 {
            Some((TokenKind::Variable, declared))
        } else {
            None
        };
        if let Some((kind, modifiers)) = classified {
            out.push(SemanticToken { span: token.span, kind, modifiers });
        }
    }
    out
}
