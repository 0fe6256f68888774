//! `textDocument/signatureHelp`: the builtin's signature with parameter offsets (UTF-16 code
//! units into the label, as the protocol counts them) and the active parameter.

use ospecc_compiler::ide;
use tower_lsp_server::ls_types::{
    Documentation, MarkupContent, MarkupKind, ParameterInformation, ParameterLabel, SignatureHelp, SignatureHelpParams,
    SignatureInformation,
};

use super::Snapshot;
use crate::state::Shared;

pub fn signature_help(shared: &Shared, params: SignatureHelpParams) -> Option<SignatureHelp> {
    let position = params.text_document_position_params;
    let snapshot = Snapshot::take(shared, &position.text_document.uri)?;
    let offset = snapshot.offset(position.position);
    let help = snapshot.with_context(shared, |file| ide::signature_help(file, offset))?;
    let units = |byte: usize| help.label.get(..byte).map_or(0, |s| s.encode_utf16().count()) as u32;
    let parameters = help
        .parameters
        .iter()
        .map(|(span, doc)| ParameterInformation {
            label: ParameterLabel::LabelOffsets([units(span.start), units(span.end)]),
            documentation: (!doc.is_empty()).then(|| markdown(doc.clone())),
        })
        .collect();
    let active = help.active_parameter.map(|a| a as u32);
    let signature = SignatureInformation {
        label: help.label.clone(),
        documentation: Some(markdown(help.documentation.clone())),
        parameters: Some(parameters),
        active_parameter: active,
    };
    Some(SignatureHelp { signatures: vec![signature], active_signature: Some(0), active_parameter: active })
}

fn markdown(value: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value })
}
