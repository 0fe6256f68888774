//! Signature help inside a call: the builtin's (or step method's, or `def`'s) signature with
//! the parameter the cursor's argument binds highlighted (by keyword, else by position).

use super::index::Index;
use super::resolve::callable;
use crate::ide::SignatureHelp;
use crate::span::Span;

pub fn signature_help(text: &str, offset: usize) -> Option<SignatureHelp> {
    let index = Index::new(text);
    let call = index.enclosing_call(offset)?;
    let site = &index.calls[call];
    let target = callable(&index, text, &site.callee)?;
    let (label, ranges) = target.signature();
    let arg = index.argument_at(call, offset);
    let keyword = site.args.get(arg).and_then(|a| a.name.as_ref()).map(|(n, _)| n.as_str());
    let n = site.args[..arg.min(site.args.len())].iter().filter(|a| a.name.is_none()).count();
    let active = target.param_for(keyword, n).map(|(i, _)| i);
    let parameters =
        ranges.iter().zip(&target.params).map(|(&(s, e), p)| (Span::new(s, e), p.doc.to_string())).collect();
    Some(SignatureHelp { label, documentation: target.doc.clone(), parameters, active_parameter: active })
}
