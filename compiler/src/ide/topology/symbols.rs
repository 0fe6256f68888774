//! The topology outline: services (with their interfaces), the other top-level bindings,
//! `def`s, loads, and registration calls (`scenario`, `test`, `fault_scenario`, …).

use ospecc_schema::topology::catalog;

use super::index::Index;
use crate::ide::{Symbol, SymbolKind};
use crate::span::Span;

/// Whether a top-level call of `callee` registers something worth listing (the catalog says).
fn registers(callee: &str) -> bool {
    catalog().builtin(callee).is_some_and(|b| b.registers)
}

pub fn symbols(text: &str) -> Vec<Symbol> {
    let index = Index::new(text);
    let services = index.services(text);
    let mut out = Vec::new();
    for load in &index.loads {
        let call = &index.calls[load.call];
        out.push(symbol(
            &load.path,
            Some("load"),
            SymbolKind::Module,
            call_extent(&index, load.call),
            load.path_span,
            Vec::new(),
        ));
        let _ = call;
    }
    for binding in &index.bindings {
        let service = services.iter().find(|s| s.variable.as_deref() == Some(binding.name.as_str()));
        let (kind, detail, children) = match service {
            Some(service) => {
                let children = service
                    .interfaces
                    .iter()
                    .map(|(name, span, protocol)| {
                        symbol(name, Some(protocol), SymbolKind::Property, *span, *span, Vec::new())
                    })
                    .filter(|c| binding.extent.start <= c.span.start && c.span.end <= binding.extent.end)
                    .collect();
                (SymbolKind::Entity, format!("service \"{}\"", service.name), children)
            }
            None => {
                let callee = binding.call.map(|c| index.calls[c].callee.clone()).unwrap_or_default();
                (SymbolKind::Variable, callee, Vec::new())
            }
        };
        out.push(symbol(&binding.name, Some(&detail), kind, binding.extent, binding.span, children));
    }
    for def in &index.defs {
        out.push(symbol(&def.name, Some("def"), SymbolKind::Function, def.extent, def.span, Vec::new()));
    }
    for (i, call) in index.calls.iter().enumerate().filter(|(_, c)| c.parent.is_none() && registers(&c.callee)) {
        if index.bindings.iter().any(|b| b.call == Some(i)) {
            continue;
        }
        let name = index
            .positional_string(text, i, 0)
            .map(|(n, _)| n)
            .or_else(|| call.args.first().map(|a| text_of(&index, text, a.start, a.end)))
            .unwrap_or_default();
        let label = if name.is_empty() { call.callee.clone() } else { name };
        out.push(symbol(
            &label,
            Some(&call.callee),
            SymbolKind::Test,
            call_extent(&index, i),
            call.callee_span,
            Vec::new(),
        ));
    }
    out.sort_by_key(|s| s.span.start);
    out
}

fn symbol(
    name: &str,
    detail: Option<&str>,
    kind: SymbolKind,
    span: Span,
    selection: Span,
    children: Vec<Symbol>,
) -> Symbol {
    let span = span.cover(selection);
    Symbol { name: name.to_string(), detail: detail.map(str::to_string), kind, span, selection, children }
}

/// From the callee to the closing parenthesis (or the last argument of an unclosed call).
fn call_extent(index: &Index, call: usize) -> Span {
    let site = &index.calls[call];
    let end = site.close.or_else(|| site.args.last().map(|a| a.end.saturating_sub(1))).unwrap_or(site.open);
    let end = index.tokens.get(end).map_or(site.callee_span.end, |t| t.span.end);
    Span::new(site.callee_span.start, end)
}

fn text_of(index: &Index, text: &str, start: usize, end: usize) -> String {
    let (Some(first), Some(last)) = (index.tokens.get(start), index.tokens.get(end.saturating_sub(1))) else {
        return String::new();
    };
    text.get(first.span.start..last.span.end).unwrap_or_default().to_string()
}
