//! Topology hover: a builtin's signature and docs (from the catalog), a keyword argument's
//! parameter docs, a service variable with its interfaces, `svc.iface` with its protocol,
//! `svc.iface.method` with the step method's docs, a vocabulary string's meaning
//! (`deny("EIO")`), and the file's own `def`s.

use ospecc_schema::topology::catalog;

use super::index::Index;
use super::lex::{self, Kind};
use super::modules;
use super::resolve::{callable, service_of};
use crate::ide::{FileContext, Hover};
use crate::span::Span;

pub fn hover(file: &FileContext, offset: usize) -> Option<Hover> {
    let text = file.text;
    let index = Index::new(text);
    let token = index.tokens[index.token_at(offset)?];
    match token.kind {
        Kind::Str => string_hover(&index, text, token, offset),
        Kind::Ident => ident_hover(&index, text, token),
        _ => None,
    }
}

fn ident_hover(index: &Index, text: &str, token: lex::Token) -> Option<Hover> {
    let name = token.text(text);
    // A keyword argument: the parameter's docs.
    if let Some(call) =
        index.calls.iter().find(|c| c.args.iter().any(|a| a.name.as_ref().is_some_and(|(_, s)| *s == token.span)))
    {
        let target = callable(index, text, &call.callee)?;
        let (_, param) = target.param_for(Some(name), 0)?;
        let markdown = format!("```python\n{}\n```\n\n{}\n\nparameter of `{}`", param.label(), param.doc, target.name);
        return Some(Hover { markdown, span: token.span });
    }
    let dotted = dotted_at(text, token.span);
    let markdown = describe(index, text, &text[dotted.start..dotted.end])?;
    Some(Hover { markdown, span: dotted })
}

/// The dotted name ending at `span` (`db.pg.query` when on `query`).
fn dotted_at(text: &str, span: Span) -> Span {
    let bytes = text.as_bytes();
    let mut start = span.start;
    while start >= 2
        && bytes[start - 1] == b'.'
        && (bytes[start - 2].is_ascii_alphanumeric() || bytes[start - 2] == b'_')
    {
        start -= 1;
        while start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            start -= 1;
        }
    }
    Span::new(start, span.end)
}

/// Markdown for a (dotted) name.
fn describe(index: &Index, text: &str, name: &str) -> Option<String> {
    if let Some(target) = callable(index, text, name) {
        return Some(target.markdown());
    }
    let parts: Vec<&str> = name.split('.').collect();
    match parts[..] {
        [variable] => {
            if let Some((load, api)) = modules::loaded_module(index, variable) {
                let members: Vec<String> = api.exports.iter().map(|e| format!("- `{}`: {}", e.name, e.doc)).collect();
                return Some(format!(
                    "`{variable}`: the `{}` struct of `{}`\n\n{}",
                    api.name,
                    load.path,
                    members.join("\n")
                ));
            }
            if let Some(service) = service_of(index, text, variable) {
                let interfaces: Vec<String> =
                    service.interfaces.iter().map(|(n, _, p)| format!("- `{n}`: {p}")).collect();
                return Some(format!("service `\"{}\"`\n\ninterfaces:\n{}", service.name, interfaces.join("\n")));
            }
            let binding = index.bindings.iter().rev().find(|b| b.name == variable)?;
            let callee = binding.call.map(|c| index.calls[c].callee.as_str()).unwrap_or("a value");
            Some(format!("`{variable}` = `{callee}(…)`"))
        }
        [variable, member] => {
            let service = service_of(index, text, variable)?;
            if let Some((_, _, protocol)) = service.interfaces.iter().find(|(n, _, _)| n == member) {
                let doc = catalog().protocol(protocol).map(|p| p.doc.as_str()).unwrap_or_default();
                return Some(format!("interface `{member}` of service `{}`: `{protocol}`\n\n{doc}", service.name));
            }
            let attribute = catalog().value_type("service")?.attributes.iter().find(|a| a.name == member)?;
            Some(format!("`{}`: `{}`\n\n{}", attribute.name, attribute.ty, attribute.doc))
        }
        [_, _, attribute] => {
            let attribute = catalog().value_type("interface_ref")?.attributes.iter().find(|a| a.name == attribute)?;
            Some(format!("`{}`: `{}`\n\n{}", attribute.name, attribute.ty, attribute.doc))
        }
        _ => None,
    }
}

/// A string in a vocabulary slot: the value's docs; a `load()` path: the module.
fn string_hover(index: &Index, text: &str, token: lex::Token, offset: usize) -> Option<Hover> {
    let call = index.enclosing_call(offset)?;
    let site = &index.calls[call];
    let value = lex::string_value(text, token);
    let span = lex::string_content(text, token);
    if site.callee == "load" {
        let markdown = match modules::stdlib_api(value) {
            Some(api) => {
                let members: Vec<&str> = api.exports.iter().map(|e| e.name.as_str()).collect();
                format!("embedded module `{value}`: exports `{}` ({})", api.name, members.join(", "))
            }
            None => format!("module `{value}`"),
        };
        return Some(Hover { markdown, span });
    }
    let arg = index.argument_at(call, offset);
    let keyword = site.args.get(arg).and_then(|a| a.name.as_ref()).map(|(n, _)| n.as_str());
    let n = site.args[..arg.min(site.args.len())].iter().filter(|a| a.name.is_none()).count();
    let target = callable(index, text, &site.callee)?;
    let vocabulary = target.param_for(keyword, n)?.1.vocabulary?;
    let vocabulary = catalog().vocabulary(vocabulary)?;
    let entry = vocabulary
        .values
        .iter()
        .find(|v| v.value == value || vocabulary.case_insensitive && v.value.eq_ignore_ascii_case(value))?;
    let members =
        if entry.members.is_empty() { String::new() } else { format!("\n\nmembers: {}", entry.members.join(", ")) };
    Some(Hover { markdown: format!("`{}` ({})\n\n{}{members}", entry.value, vocabulary.name, entry.doc), span })
}
