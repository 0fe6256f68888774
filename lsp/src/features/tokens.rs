//! `textDocument/semanticTokens/full`: the ide tokens, relative-encoded in the negotiated
//! position encoding, with the legend built from the ide's token kinds.

use ospecc_compiler::ide::{self, TokenKind, TokenModifier};
use tower_lsp_server::ls_types::{
    SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokens, SemanticTokensLegend,
    SemanticTokensParams, SemanticTokensResult,
};

use super::Snapshot;
use crate::encoding::position_of;
use crate::state::Shared;
use ospecc_compiler::db::Database;

/// The legend announced at `initialize`: indices match [`TokenKind::ALL`] and [`TokenModifier::ALL`].
pub fn legend() -> SemanticTokensLegend {
    let types = TokenKind::ALL.iter().map(|k| token_type(*k)).collect();
    let modifiers = TokenModifier::ALL.iter().map(|m| modifier(*m)).collect();
    SemanticTokensLegend { token_types: types, token_modifiers: modifiers }
}

fn token_type(kind: TokenKind) -> SemanticTokenType {
    match kind {
        TokenKind::Property => SemanticTokenType::PROPERTY,
        TokenKind::EnumMember => SemanticTokenType::ENUM_MEMBER,
        TokenKind::Function => SemanticTokenType::FUNCTION,
        TokenKind::Parameter => SemanticTokenType::PARAMETER,
        TokenKind::Variable => SemanticTokenType::VARIABLE,
        TokenKind::Method => SemanticTokenType::METHOD,
        TokenKind::Namespace => SemanticTokenType::NAMESPACE,
        TokenKind::Keyword => SemanticTokenType::KEYWORD,
        TokenKind::String => SemanticTokenType::STRING,
        TokenKind::Number => SemanticTokenType::NUMBER,
        TokenKind::Comment => SemanticTokenType::COMMENT,
        TokenKind::Type => SemanticTokenType::TYPE,
    }
}

fn modifier(modifier: TokenModifier) -> SemanticTokenModifier {
    match modifier {
        TokenModifier::Declaration => SemanticTokenModifier::DECLARATION,
        TokenModifier::DefaultLibrary => SemanticTokenModifier::DEFAULT_LIBRARY,
        TokenModifier::Deprecated => SemanticTokenModifier::DEPRECATED,
        TokenModifier::Readonly => SemanticTokenModifier::READONLY,
    }
}

pub fn semantic_tokens(shared: &Shared, params: SemanticTokensParams) -> Option<SemanticTokensResult> {
    let snapshot = Snapshot::take(shared, &params.text_document.uri)?;
    let found = snapshot.whole_file(shared, Database::semantic_tokens, ide::semantic_tokens);
    let mut data = Vec::with_capacity(found.len());
    let (mut line, mut start) = (0u32, 0u32);
    for token in found {
        let from = position_of(&snapshot.rope, token.span.start, snapshot.encoding);
        let to = position_of(&snapshot.rope, token.span.end, snapshot.encoding);
        if to.line != from.line || to.character <= from.character {
            continue;
        }
        let delta_line = from.line - line;
        let delta_start = if delta_line == 0 { from.character - start } else { from.character };
        let kind = TokenKind::ALL.iter().position(|k| *k == token.kind).unwrap_or(0) as u32;
        data.push(SemanticToken {
            delta_line,
            delta_start,
            length: to.character - from.character,
            token_type: kind,
            token_modifiers_bitset: token.modifiers,
        });
        (line, start) = (from.line, from.character);
    }
    Some(SemanticTokensResult::Tokens(SemanticTokens { result_id: None, data }))
}
