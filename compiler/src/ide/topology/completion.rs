//! Topology completion, driven by the builtin catalog: builtins and the file's names, the
//! keyword arguments a call has not been given yet, a service's interfaces after `svc.`, the
//! protocol's step methods after `svc.iface.`, vocabulary strings (`deny("E…")`,
//! `interface(…, "http")`), syscall keys as `fault(…)` keywords, scenarios and faults inside
//! `fault_matrix`, and `load()` paths and symbols.

use ospecc_schema::stdlib;
use ospecc_schema::topology::{catalog, Builtin, ParamKind};

use super::index::Index;
use super::lex::{self, Kind};
use super::modules;
use super::resolve::{self, callable, namespaced, service_of};
use crate::ide::ospec::completion::relative;
use crate::ide::{word_at, CompletionItem, CompletionKind, Completions, FileContext, MAX_RELATED_FILE_BYTES};
use crate::span::Span;

/// The vocabulary naming the keys of `**syscall_faults` (`write=deny(...)`): a keyword
/// variadic parameter of type `fault` takes syscall names and op names as keywords.
const FAULT_KEY_VOCABULARY: &str = "syscall_key";
/// The `fault_matrix` parameters whose tuples pair a scenario with a fault assumption.
const MATRIX_TUPLES: &[&str] = &["overrides", "exclude"];

pub fn complete(file: &FileContext, offset: usize) -> Completions {
    let text = file.text;
    let index = Index::new(text);
    if let Some(token) = index.token_at(offset).map(|i| index.tokens[i]) {
        let inside = offset < token.span.end || lex::string_content(text, token).end == token.span.end;
        if token.kind == Kind::Str && token.span.start < offset && inside {
            return Completions { items: in_string(file, &index, token, offset), incomplete: false };
        }
    }
    if in_comment(&index, text, offset) {
        return Completions::default();
    }
    let word = word_at(text, offset, b"");
    let word = Span::new(word.start, offset.max(word.start));
    let prefix = &text[word.start..offset];
    let mut found = match dotted_before(text, word.start) {
        Some(receiver) => Completions { items: after_dot(&index, text, &receiver, word), incomplete: false },
        None => in_expression(file, &index, offset, word),
    };
    let prefix = prefix.to_lowercase();
    found.items.retain(|i| {
        let label = i.label.to_lowercase();
        label.starts_with(&prefix) || label.split(['_', '.']).any(|word| word.starts_with(&prefix))
    });
    found
}

/// Whether `offset` is inside a comment: a `#` on its line after the last token before it
/// (the index keeps no comment tokens; a `#` inside a string is inside that string's token).
fn in_comment(index: &Index, text: &str, offset: usize) -> bool {
    let from = index.token_before(offset).map_or(0, |i| index.tokens[i].span.end.min(offset));
    let gap = text.get(from..offset).unwrap_or_default();
    gap.rsplit(['\n', '\r']).next().unwrap_or_default().contains('#')
}

/// `a.b.` before `at`: the receiver's dotted text (`a.b`).
fn dotted_before(text: &str, at: usize) -> Option<String> {
    let before = text[..at].trim_end_matches([' ', '\t']);
    let before = before.strip_suffix('.')?;
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let receiver = &before[start..];
    (!receiver.is_empty()).then(|| receiver.to_string())
}

/// After `svc.` (interfaces and service attributes), `svc.iface.` (step methods and address
/// attributes), `observe.` (namespaced builtins).
fn after_dot(index: &Index, text: &str, receiver: &str, word: Span) -> Vec<CompletionItem> {
    let parts: Vec<&str> = receiver.split('.').collect();
    let mut items = Vec::new();
    match parts[..] {
        [name] if resolve::is_namespace(name) => {
            for builtin in namespaced(name) {
                let short = builtin.name.rsplit('.').next().unwrap_or(&builtin.name);
                items.push(builtin_item(builtin, short, word));
            }
        }
        [variable] if modules::loaded_module(index, variable).is_some() => {
            items.extend(module_members(index, text, variable, word));
        }
        [variable] => {
            if let Some(service) = service_of(index, text, variable) {
                for (name, _, protocol) in &service.interfaces {
                    items.push(
                        CompletionItem::new(name, CompletionKind::Field, word)
                            .detail(format!("interface ({protocol})"))
                            .sort(format!("0{name}")),
                    );
                }
                items.extend(attributes("service", word));
            }
        }
        [variable, interface] => {
            if let Some(protocol) = resolve::protocol_of(index, text, variable, interface) {
                if let Some(protocol) = catalog().protocol(&protocol) {
                    for method in &protocol.methods {
                        let label = format!("{receiver}.{}", method.name);
                        let detail = callable(index, text, &label).map(|c| c.signature().0).unwrap_or_default();
                        items.push(
                            CompletionItem::new(&method.name, CompletionKind::Method, word)
                                .detail(detail)
                                .docs(&method.doc)
                                .insert(format!("{}($0)", method.name), true)
                                .sort(format!("0{}", method.name)),
                        );
                    }
                }
                items.extend(attributes("interface_ref", word));
            }
        }
        _ => {}
    }
    items
}

/// The members of an embedded module's struct, with their signatures and docstrings.
fn module_members(index: &Index, text: &str, local: &str, word: Span) -> Vec<CompletionItem> {
    let Some((_, api)) = modules::loaded_module(index, local) else { return Vec::new() };
    api.exports
        .iter()
        .map(|export| {
            let label = format!("{local}.{}", export.name);
            let detail = callable(index, text, &label).map(|c| c.signature().0).unwrap_or_default();
            CompletionItem::new(&export.name, CompletionKind::Function, word)
                .detail(detail)
                .docs(&export.doc)
                .insert(format!("{}($0)", export.name), true)
                .sort(format!("0{}", export.name))
        })
        .collect()
}

/// The attributes of a catalog value type.
fn attributes(ty: &str, word: Span) -> Vec<CompletionItem> {
    let Some(ty) = catalog().value_type(ty) else { return Vec::new() };
    ty.attributes
        .iter()
        .map(|a| {
            CompletionItem::new(&a.name, CompletionKind::Field, word)
                .detail(&a.ty)
                .docs(&a.doc)
                .sort(format!("1{}", a.name))
        })
        .collect()
}

/// Outside strings and dots: keyword arguments of the enclosing call first, then names.
fn in_expression(file: &FileContext, index: &Index, offset: usize, word: Span) -> Completions {
    let text = file.text;
    let mut items = Vec::new();
    if let Some(call) = index.enclosing_call(offset) {
        // In a `fault_matrix` list or tuple only scenarios or faults make sense.
        let matrix = matrix_names(index, text, call, offset, word);
        if !matrix.is_empty() {
            return Completions { items: matrix, incomplete: false };
        }
        match literal_at(index, text, call, offset) {
            // Inside `[...]`, `{...}` or `(...)` no `name=` goes: an item, a key or a value does.
            Some(("[", 1)) => {
                if let Some(found) = list_items(index, text, call, offset, word) {
                    return found;
                }
            }
            Some(_) => {}
            None if at_argument_start(index, text, word.start) => {
                if let Some(found) = argument_start(index, text, call, offset, word) {
                    return found;
                }
                items.extend(keyword_arguments(index, text, call, word));
            }
            None => {}
        }
    }
    items.extend(names(file, index, word));
    Completions { items, incomplete: false }
}

/// At the start of an argument of a call whose parameters are known: the keywords it can
/// still take, then (while a positional argument may still come) the values that fit the
/// next positional parameter: the file's variables of a fitting type, builtins returning
/// one, the file's functions where a callable goes. Not every name of the file: in a big
/// topology that is hundreds of functions, shipped on every keystroke. Until a prefix is
/// typed the answer is marked incomplete, so the client asks again and then gets every
/// name that matches (`None` here: the caller's full list, filtered by the prefix).
fn argument_start(index: &Index, text: &str, call: usize, offset: usize, word: Span) -> Option<Completions> {
    if word.start < offset {
        return None;
    }
    let site = &index.calls[call];
    let target = callable(index, text, &site.callee)?;
    let mut items = keyword_arguments(index, text, call, word);
    let current = index.argument_at(call, offset);
    // Starlark allows no positional argument after a keyword one: only keywords remain,
    // and the list is then complete.
    let after_keyword = site.args[..current.min(site.args.len())].iter().any(|a| a.name.is_some());
    if after_keyword {
        return Some(Completions { items, incomplete: false });
    }
    let positional = site.args[..current.min(site.args.len())].iter().filter(|a| a.end > a.start).count();
    let Some((_, param)) = target.param_for(None, positional) else {
        return Some(Completions { items, incomplete: false }); // Every positional is given.
    };
    items.extend(fitting_values(index, text, param.ty, word));
    Some(Completions { items, incomplete: true })
}

/// The innermost bracket open at `offset` inside `call`'s parentheses (a list, dict or tuple
/// literal: a call open there would be the enclosing call) and how many are open.
fn literal_at(index: &Index, text: &str, call: usize, offset: usize) -> Option<(&'static str, usize)> {
    let mut stack: Vec<&'static str> = Vec::new();
    for token in index.tokens.iter().skip(index.calls[call].open + 1) {
        if token.span.start >= offset {
            break;
        }
        if token.kind != Kind::Punct {
            continue;
        }
        match token.text(text) {
            "(" => stack.push("("),
            "[" => stack.push("["),
            "{" => stack.push("{"),
            ")" | "]" | "}" => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.last().map(|open| (*open, stack.len()))
}

/// At the start of an item of a list that is an argument's value (`depends_on = [db, |]`):
/// the values that fit the list's element type, marked incomplete as at an argument's start;
/// `None` once a prefix is typed or when the element type is unknown (every name then).
fn list_items(index: &Index, text: &str, call: usize, offset: usize, word: Span) -> Option<Completions> {
    if word.start < offset {
        return None;
    }
    let site = &index.calls[call];
    let arg = index.argument_at(call, offset);
    let keyword = site.args.get(arg).and_then(|a| a.name.as_ref()).map(|(n, _)| n.as_str());
    let n = site.args[..arg.min(site.args.len())].iter().filter(|a| a.name.is_none()).count();
    let target = callable(index, text, &site.callee)?;
    let (_, param) = target.param_for(keyword, n)?;
    let elements: Vec<&str> = alternatives(param.ty)
        .into_iter()
        .filter_map(|a| a.strip_prefix("list[").and_then(|a| a.strip_suffix(']')))
        .collect();
    if elements.is_empty() {
        return None;
    }
    Some(Completions { items: fitting_values(index, text, &elements.join("|"), word), incomplete: true })
}

/// The top-level alternatives of a type expression: `str|list[a|b]` gives `str`, `list[a|b]`.
fn alternatives(ty: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in ty.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '|' if depth == 0 => {
                out.push(ty[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(ty[start..].trim());
    out.retain(|a| !a.is_empty());
    out
}

/// Whether a value of type `value` can be passed where `wanted` is expected (some alternative
/// in common; `any` takes everything).
fn fits(value: &str, wanted: &[&str]) -> bool {
    wanted.contains(&"any") || alternatives(value).iter().any(|v| wanted.contains(v))
}

/// The names whose value fits a parameter of type `ty` (an empty type, a `def`'s parameter,
/// is unknown: the file's variables are offered, as they are the likeliest arguments).
fn fitting_values(index: &Index, text: &str, ty: &str, word: Span) -> Vec<CompletionItem> {
    let wanted = alternatives(ty);
    let unknown = wanted.is_empty() || wanted.contains(&"any");
    let mut items = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let services = index.services(text);
    for binding in &index.bindings {
        // The type a binding holds is known when it is bound to a builtin's call.
        let returns = binding.call.and_then(|c| catalog().builtin(&index.calls[c].callee)).map(|b| b.returns.as_str());
        let fit = match returns {
            Some(returns) => unknown || fits(returns, &wanted),
            None => unknown,
        };
        if fit && seen.insert(binding.name.clone()) {
            let detail = match services.iter().find(|s| s.variable.as_deref() == Some(binding.name.as_str())) {
                Some(service) => format!("service \"{}\"", service.name),
                None => returns.unwrap_or("variable").to_string(),
            };
            items.push(
                CompletionItem::new(&binding.name, CompletionKind::Variable, word)
                    .detail(detail)
                    .sort(format!("2{}", binding.name)),
            );
        }
    }
    for (name, _, _) in index.loads.iter().flat_map(|l| &l.symbols) {
        // A loaded symbol's type is not known without reading the module: offered only
        // where anything goes.
        if unknown && seen.insert(name.clone()) {
            items.push(
                CompletionItem::new(name, CompletionKind::Variable, word).detail("loaded").sort(format!("2{name}")),
            );
        }
    }
    if wanted.contains(&"callable") {
        for def in &index.defs {
            if seen.insert(def.name.clone()) {
                items.push(
                    CompletionItem::new(&def.name, CompletionKind::Function, word)
                        .detail("def")
                        .sort(format!("2{}", def.name)),
                );
            }
        }
    }
    if !unknown {
        for builtin in catalog().builtins.iter().filter(|b| b.removed.is_none() && !b.name.contains('.')) {
            if fits(&builtin.returns, &wanted) && seen.insert(builtin.name.clone()) {
                items.push(builtin_item(builtin, &builtin.name, word));
            }
        }
        for (keyword, ty) in [("True", "bool"), ("False", "bool"), ("None", "None"), ("lambda", "callable")] {
            if wanted.contains(&ty) {
                items.push(CompletionItem::new(keyword, CompletionKind::Keyword, word).sort(format!("5{keyword}")));
            }
        }
    }
    items
}

/// Whether `at` begins an argument: right after `(` or `,` (so `name=` is possible there).
fn at_argument_start(index: &Index, text: &str, at: usize) -> bool {
    index.token_before(at).map(|i| index.tokens[i]).is_some_and(|t| t.is_punct(text, "(") || t.is_punct(text, ","))
}

/// The keywords a call can still take: its unnamed parameters, and for `**syscall_faults`
/// the syscall keys.
fn keyword_arguments(index: &Index, text: &str, call: usize, word: Span) -> Vec<CompletionItem> {
    let site = &index.calls[call];
    let Some(target) = callable(index, text, &site.callee) else { return Vec::new() };
    let given: Vec<&str> = site.args.iter().filter_map(|a| a.name.as_ref().map(|(n, _)| n.as_str())).collect();
    let positional = site.args.iter().filter(|a| a.name.is_none() && a.end > a.start).count();
    let mut items = Vec::new();
    for (i, param) in target.params.iter().enumerate() {
        // A positional-or-keyword parameter already given by position is not offered again.
        let by_position = param.kind == ParamKind::PositionalOrKeyword && i < positional;
        if param.by_keyword() && !given.contains(&param.name.as_str()) && !by_position {
            let rank = if param.required { 0 } else { 1 };
            items.push(
                CompletionItem::new(format!("{}=", param.name), CompletionKind::Parameter, word)
                    .detail(param.label())
                    .docs(param.doc)
                    .insert(format!("{} = ", param.name), false)
                    .sort(format!("{rank}{}", param.name)),
            );
        }
        if param.kind == ParamKind::KeywordVariadic && param.ty == "fault" {
            items.extend(vocabulary_items(FAULT_KEY_VOCABULARY, word, "syscall", |v| format!("{v} = ")));
        }
    }
    items.retain(|i| !given.contains(&i.label.trim_end_matches('=')));
    items
}

/// A vocabulary's values as items; `insert` builds the text to insert from a value.
fn vocabulary_items(name: &str, word: Span, detail: &str, insert: impl Fn(&str) -> String) -> Vec<CompletionItem> {
    let Some(vocabulary) = catalog().vocabulary(name) else { return Vec::new() };
    vocabulary
        .values
        .iter()
        .map(|v| {
            CompletionItem::new(&v.value, CompletionKind::EnumMember, word)
                .detail(detail)
                .docs(&v.doc)
                .insert(insert(&v.value), false)
                .sort(format!("1{}", v.value))
        })
        .collect()
}

/// Inside `fault_matrix(...)`: scenarios in `scenarios=` and first in tuples, fault
/// assumptions in `faults=` and second in tuples.
fn matrix_names(index: &Index, text: &str, call: usize, offset: usize, word: Span) -> Vec<CompletionItem> {
    let site = &index.calls[call];
    if site.callee != "fault_matrix" {
        return Vec::new();
    }
    let arg = index.argument_at(call, offset);
    let keyword = site.args.get(arg).and_then(|a| a.name.as_ref()).map(|(n, _)| n.as_str());
    let tuple_slot = tuple_position(index, text, site.open, offset);
    let want_scenarios = match (keyword, tuple_slot) {
        (Some(k), Some(slot)) if MATRIX_TUPLES.contains(&k) => slot == 0,
        (Some("scenarios"), _) => true,
        (Some("faults"), _) => false,
        _ => return Vec::new(),
    };
    let names: Vec<(String, &str)> = if want_scenarios {
        index.scenarios(text).into_iter().map(|n| (n, "scenario")).collect()
    } else {
        index.bound_to("fault_assumption").map(|b| (b.name.clone(), "fault assumption")).collect()
    };
    names
        .into_iter()
        .map(|(name, what)| {
            CompletionItem::new(&name, CompletionKind::Variable, word).detail(what).sort(format!("0{name}"))
        })
        .collect()
}

/// Within a parenthesised tuple (not a call) after token `from`: the element index at `offset`.
fn tuple_position(index: &Index, text: &str, from: usize, offset: usize) -> Option<usize> {
    let mut stack: Vec<(bool, usize)> = Vec::new();
    for (i, token) in index.tokens.iter().enumerate().skip(from + 1) {
        if token.span.start >= offset {
            break;
        }
        if token.kind != Kind::Punct {
            continue;
        }
        match token.text(text) {
            "(" => {
                let after_name = i > 0 && index.tokens[i - 1].kind == Kind::Ident;
                stack.push((!after_name, 0));
            }
            "[" | "{" => stack.push((false, 0)),
            ")" | "]" | "}" => {
                stack.pop();
            }
            "," => {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
            }
            _ => {}
        }
    }
    stack.last().filter(|(tuple, _)| *tuple).map(|(_, n)| *n)
}

/// Builtins, the file's top-level names and keywords.
fn names(file: &FileContext, index: &Index, word: Span) -> Vec<CompletionItem> {
    let text = file.text;
    let mut items: Vec<CompletionItem> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for builtin in catalog().builtins.iter().filter(|b| b.removed.is_none()) {
        let name = builtin.name.split('.').next().unwrap_or(&builtin.name);
        if builtin.name.contains('.') {
            if seen.insert(name.to_string()) {
                items.push(
                    CompletionItem::new(name, CompletionKind::Module, word)
                        .detail("builtin namespace")
                        .sort(format!("4{name}")),
                );
            }
            continue;
        }
        if seen.insert(name.to_string()) {
            items.push(builtin_item(builtin, name, word));
        }
    }
    let locals = index
        .defs
        .iter()
        .map(|d| (d.name.clone(), CompletionKind::Function, "def"))
        .chain(index.bindings.iter().map(|b| (b.name.clone(), CompletionKind::Variable, "variable")))
        .chain(
            index
                .loads
                .iter()
                .flat_map(|l| l.symbols.iter().map(|s| (s.0.clone(), CompletionKind::Variable, "loaded"))),
        );
    let services = index.services(text);
    for (name, kind, what) in locals {
        if seen.insert(name.clone()) {
            let detail = match services.iter().find(|s| s.variable.as_deref() == Some(name.as_str())) {
                Some(service) => format!("service \"{}\"", service.name),
                None => what.to_string(),
            };
            items.push(CompletionItem::new(&name, kind, word).detail(detail).sort(format!("2{name}")));
        }
    }
    for keyword in lex::KEYWORDS {
        if seen.insert(keyword.to_string()) {
            items.push(CompletionItem::new(*keyword, CompletionKind::Keyword, word).sort(format!("5{keyword}")));
        }
    }
    items
}

fn builtin_item(builtin: &Builtin, label: &str, word: Span) -> CompletionItem {
    let signature = callable(&Index::default(), "", &builtin.name).map(|c| c.signature().0).unwrap_or_default();
    CompletionItem::new(label, CompletionKind::Function, word)
        .detail(signature)
        .docs(&builtin.doc)
        .insert(format!("{label}($0)"), true)
        .sort(format!("3{label}"))
}

/// Inside a string literal: `load()` paths and symbols, or a vocabulary the parameter takes.
fn in_string(file: &FileContext, index: &Index, token: lex::Token, offset: usize) -> Vec<CompletionItem> {
    let text = file.text;
    let content = lex::string_content(text, token);
    let word = Span::new(content.start, content.end.max(content.start));
    let prefix = text.get(content.start..offset.min(content.end).max(content.start)).unwrap_or_default();
    let Some(call) = index.enclosing_call(offset) else { return Vec::new() };
    let site = &index.calls[call];
    let arg = index.argument_at(call, offset);
    let mut items = if site.callee == "load" {
        if arg == 0 {
            load_paths(file, word)
        } else {
            load_symbols(file, index, call, word)
        }
    } else {
        let keyword = site.args.get(arg).and_then(|a| a.name.as_ref()).map(|(n, _)| n.as_str());
        let n = site.args[..arg.min(site.args.len())].iter().filter(|a| a.name.is_none()).count();
        let target = callable(index, text, &site.callee);
        let vocabulary = target.as_ref().and_then(|t| t.param_for(keyword, n)).and_then(|(_, p)| p.vocabulary);
        vocabulary.map(|v| vocabulary_items(v, word, v, str::to_string)).unwrap_or_default()
    };
    items.retain(|i| i.label.starts_with(prefix) || prefix.is_empty());
    items
}

/// The embedded stdlib modules and the workspace's topology files, relative to this file.
fn load_paths(file: &FileContext, word: Span) -> Vec<CompletionItem> {
    let mut items: Vec<CompletionItem> = stdlib::MODULES
        .iter()
        .map(|(path, _)| {
            let detail = match modules::stdlib_api(path) {
                Some(api) => format!("embedded module: {}", api.name),
                None => "embedded module".to_string(),
            };
            CompletionItem::new(*path, CompletionKind::Module, word).detail(detail).sort(format!("1{path}"))
        })
        .collect();
    let dir = file.path.parent().unwrap_or(file.path);
    for path in file.workspace_files.iter().filter(|p| p.extension().is_some_and(|e| e == "star") && *p != file.path) {
        if let Some(rel) = relative(dir, path) {
            let rel = if rel.starts_with("..") { rel } else { format!("./{rel}") };
            items.push(
                CompletionItem::new(&rel, CompletionKind::File, word).detail("topology file").sort(format!("0{rel}")),
            );
        }
    }
    items
}

/// The names a loaded module defines (public ones: no leading `_`), not yet imported.
fn load_symbols(file: &FileContext, index: &Index, call: usize, word: Span) -> Vec<CompletionItem> {
    let Some(load) = index.loads.iter().find(|l| l.call == call) else { return Vec::new() };
    let Some(module) = module_text(file, &load.path) else { return Vec::new() };
    let loaded = Index::new(&module);
    let imported: Vec<&str> = load.symbols.iter().map(|s| s.2.as_str()).collect();
    let defs = loaded.defs.iter().map(|d| (d.name.as_str(), CompletionKind::Function));
    let bindings = loaded.bindings.iter().map(|b| (b.name.as_str(), CompletionKind::Variable));
    let mut seen = std::collections::HashSet::new();
    defs.chain(bindings)
        .filter(|(name, _)| !name.starts_with('_') && !imported.contains(name) && seen.insert(name.to_string()))
        .map(|(name, kind)| CompletionItem::new(name, kind, word).detail(format!("from {}", load.path)))
        .collect()
}

/// The text of a module a `load()` names: embedded, or a file relative to this one.
pub(crate) fn module_text(file: &FileContext, path: &str) -> Option<String> {
    if path.starts_with('@') {
        return stdlib::module(path).map(str::to_string);
    }
    let target = crate::ide::ospec::entities::resolve(file.path, path);
    file.fs.read_to_string(&target, MAX_RELATED_FILE_BYTES).ok()
}
