//! The static outline of a topology file, read from its tokens: every call with its
//! arguments, the top-level bindings (`db = service("db", …)`), `def`s, `load()`s, and from
//! those the entities other features name: services with their interfaces, fault
//! assumptions, scenarios.
//!
//! Read from tokens (not the starlark-rust tree) so that it works on text being typed, where
//! the last statement is incomplete; nothing is evaluated.

use ospecc_schema::topology::catalog;

use super::lex::{self, Kind, Token};
use crate::span::Span;

/// One call expression.
#[derive(Clone, Debug)]
pub struct Call {
    /// `service`, `db.pg.get`, `observe.stdout`.
    pub callee: String,
    pub callee_span: Span,
    /// Token index of `(`.
    pub open: usize,
    /// Token index of the matching `)`, if written.
    pub close: Option<usize>,
    pub args: Vec<Arg>,
    /// Index of the call this one is an argument of (directly or inside a list, dict, tuple).
    pub parent: Option<usize>,
}

/// One argument: its tokens `[start, end)` and its keyword, if any.
#[derive(Clone, Debug)]
pub struct Arg {
    pub name: Option<(String, Span)>,
    pub start: usize,
    pub end: usize,
}

/// `name = …` at the top level.
#[derive(Clone, Debug)]
pub struct Binding {
    pub name: String,
    pub span: Span,
    /// The call the value is, when it is a call (`service(...)`).
    pub call: Option<usize>,
    /// The statement's extent.
    pub extent: Span,
}

#[derive(Clone, Debug)]
pub struct Def {
    pub name: String,
    pub span: Span,
    pub params: Vec<(String, Span)>,
    pub extent: Span,
}

/// One `load("path", "a", b = "c")`.
#[derive(Clone, Debug)]
pub struct Load {
    pub path: String,
    pub path_span: Span,
    /// (local name, its span, exported name).
    pub symbols: Vec<(String, Span, String)>,
    /// The span of each symbol's exported-name string (the same as its own span unless it is
    /// aliased: `local = "exported"`), in the order of `symbols`.
    pub exported_spans: Vec<Span>,
    pub call: usize,
}

/// A service: the variable bound to it, its name and interfaces.
#[derive(Clone, Debug)]
pub struct Service {
    pub variable: Option<String>,
    pub name: String,
    pub name_span: Span,
    /// (interface name, its span, protocol).
    pub interfaces: Vec<(String, Span, String)>,
}

/// The outline of one file.
#[derive(Debug, Default)]
pub struct Index {
    pub tokens: Vec<Token>,
    pub calls: Vec<Call>,
    pub bindings: Vec<Binding>,
    pub defs: Vec<Def>,
    pub loads: Vec<Load>,
}

/// Whether `callee` is a builtin that declares a service (it returns one, in the catalog).
pub(crate) fn declares_service(callee: &str) -> bool {
    catalog().builtin(callee).is_some_and(|b| b.returns == "service")
}

/// A service a topology file declares: its name, and where the name is written (the string
/// in its `service("name", ...)` call).
pub type DeclaredService = (String, Span);

/// The services `text` declares by a call of a builtin that returns one, read from its calls
/// alone (the database keeps them per skeleton: `Database::declared_services`).
pub fn declared_services(text: &str) -> Vec<DeclaredService> {
    // Only names and their spans: the variables bound to services are not needed.
    let index = Index::calls_only(text);
    index.services(text).into_iter().map(|s| (s.name, s.name_span)).collect()
}

/// Whether `text` may hold a call that [`declared_services`] counts (it names a builtin that
/// returns a service).
pub fn may_declare_services(text: &str) -> bool {
    catalog().builtins.iter().any(|b| b.returns == "service" && text.contains(b.name.as_str()))
}

impl Index {
    pub fn new(text: &str) -> Index {
        let mut index = Index::calls_only(text);
        index.statements(text);
        index.loads = index.find_loads(text);
        index
    }

    /// The tokens and calls only (no bindings, defs or loads): enough for the services'
    /// names and interfaces, at about half the cost of the whole index.
    pub fn calls_only(text: &str) -> Index {
        let tokens: Vec<Token> = lex::tokens(text).into_iter().filter(|t| t.kind != Kind::Comment).collect();
        Index { calls: calls(text, &tokens), tokens, ..Index::default() }
    }

    /// The token index at or just before `offset` (the token the cursor is in or after).
    pub fn token_before(&self, offset: usize) -> Option<usize> {
        let i = self.tokens.partition_point(|t| t.span.start < offset);
        i.checked_sub(1)
    }

    /// The token whose span contains `offset` (or ends at it).
    pub fn token_at(&self, offset: usize) -> Option<usize> {
        let i = self.tokens.partition_point(|t| t.span.end < offset);
        (i < self.tokens.len() && self.tokens[i].span.start <= offset).then_some(i)
    }

    /// The innermost call whose parentheses hold token position `at` (after `(`, up to `)`).
    pub fn enclosing_call(&self, offset: usize) -> Option<usize> {
        self.calls
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                let open = self.tokens[c.open].span.end;
                let close = c.close.map_or(usize::MAX, |t| self.tokens[t].span.start);
                open <= offset && offset <= close
            })
            .max_by_key(|(_, c)| c.open)
            .map(|(i, _)| i)
    }

    /// Which argument of `call` holds `offset`: its index (a new one past the last comma).
    pub fn argument_at(&self, call: usize, offset: usize) -> usize {
        let args = &self.calls[call].args;
        args.iter().position(|a| self.tokens.get(a.end).is_none_or(|t| offset <= t.span.start)).unwrap_or(args.len())
    }

    /// The string value of a call's positional argument `n`, with its content span.
    pub fn positional_string(&self, text: &str, call: usize, n: usize) -> Option<(String, Span)> {
        let arg = self.calls[call].args.iter().filter(|a| a.name.is_none()).nth(n)?;
        self.string_arg(text, arg)
    }

    fn string_arg(&self, text: &str, arg: &Arg) -> Option<(String, Span)> {
        let token = *self.tokens.get(arg.start)?;
        (token.kind == Kind::Str && arg.end == arg.start + 1)
            .then(|| (lex::string_value(text, token).to_string(), lex::string_content(text, token)))
    }

    /// The calls nested (at any depth) in the arguments of `call`.
    pub fn nested_calls(&self, call: usize) -> impl Iterator<Item = usize> + '_ {
        let open = self.calls[call].open;
        let close = self.calls[call].close.unwrap_or(usize::MAX);
        self.calls.iter().enumerate().filter(move |(_, c)| c.open > open && c.open < close).map(|(i, _)| i)
    }

    /// Every service declared in the file.
    pub fn services(&self, text: &str) -> Vec<Service> {
        let mut out = Vec::new();
        for (i, call) in self.calls.iter().enumerate() {
            let named = match declares_service(&call.callee) {
                true => self.positional_string(text, i, 0),
                false => self.helper_service_name(text, i),
            };
            let Some((name, name_span)) = named else { continue };
            let variable = self.bindings.iter().find(|b| b.call == Some(i)).map(|b| b.name.clone());
            let interfaces = self
                .nested_calls(i)
                .filter(|&c| self.calls[c].callee == "interface")
                .filter_map(|c| {
                    let (iname, span) = self.positional_string(text, c, 0)?;
                    let protocol = self.positional_string(text, c, 1).map(|p| p.0).unwrap_or_default();
                    Some((iname, span, protocol))
                })
                .collect();
            out.push(Service { variable, name, name_span, interfaces });
        }
        out
    }

    /// The service name a stdlib helper call declares (`redis.server("cache", …)`, with
    /// `redis` loaded from `@faultbox/mocks/redis.star`): the argument its export passes on
    /// as a service's name. None without the file's loads (an index of calls only).
    fn helper_service_name(&self, text: &str, call: usize) -> Option<(String, Span)> {
        let (alias, member) = self.calls[call].callee.split_once('.')?;
        let (load, exported) = self.loads.iter().find_map(|load| {
            let (_, _, exported) = load.symbols.iter().find(|(local, _, _)| local == alias)?;
            Some((load, exported))
        })?;
        let api = super::modules::stdlib_api(&load.path).filter(|api| api.name == exported)?;
        let export = api.export(member)?;
        let parameter = export.names_service.as_deref()?;
        let position = export.params.iter().position(|p| p.name == parameter)?;
        let named = self.calls[call].args.iter().find(|a| a.name.as_ref().is_some_and(|(n, _)| n == parameter));
        match named {
            Some(arg) => self.string_arg(text, &Arg { name: None, start: arg.start + 2, end: arg.end }),
            None => self.positional_string(text, call, position),
        }
    }

    /// Variables bound to calls of `builtin` at the top level.
    pub fn bound_to<'a>(&'a self, builtin: &'a str) -> impl Iterator<Item = &'a Binding> + 'a {
        self.bindings.iter().filter(move |b| b.call.is_some_and(|c| self.calls[c].callee == builtin))
    }

    /// The functions registered with `scenario(fn)`.
    pub fn scenarios(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for call in self.calls.iter().filter(|c| c.callee == "scenario") {
            if let Some(arg) = call.args.first().filter(|a| a.end == a.start + 1) {
                let token = self.tokens[arg.start];
                if token.kind == Kind::Ident {
                    out.push(token.text(text).to_string());
                }
            }
        }
        out
    }

    /// Where top-level name `name` is defined in this file (a def, a binding, a loaded symbol).
    pub fn definition_of(&self, name: &str) -> Option<Span> {
        let def = self.defs.iter().rev().find(|d| d.name == name).map(|d| d.span);
        let binding = self.bindings.iter().rev().find(|b| b.name == name).map(|b| b.span);
        let loaded = self.loads.iter().flat_map(|l| &l.symbols).find(|s| s.0 == name).map(|s| s.1);
        def.or(binding).or(loaded)
    }

    /// The statements at the top level: bindings and defs.
    fn statements(&mut self, text: &str) {
        let starts = statement_starts(&self.tokens, text);
        // Top-level calls by where their callee starts: one lookup per statement.
        let top_calls: std::collections::HashMap<usize, usize> = self
            .calls
            .iter()
            .enumerate()
            .filter(|(_, c)| c.parent.is_none())
            .map(|(i, c)| (c.callee_span.start, i))
            .collect();
        for (n, &at) in starts.iter().enumerate() {
            let end_token = starts.get(n + 1).copied().unwrap_or(self.tokens.len());
            let last = self.tokens[end_token.saturating_sub(1).max(at)];
            let extent = Span::new(self.tokens[at].span.start, last.span.end);
            let first = self.tokens[at];
            let next = self.tokens.get(at + 1);
            if first.kind == Kind::Ident && first.text(text) == "def" {
                if let Some(def) = self.def_at(text, at, extent) {
                    self.defs.push(def);
                }
            } else if first.kind == Kind::Ident
                && next.is_some_and(|t| t.is_punct(text, "="))
                && !self.tokens.get(at + 2).is_some_and(|t| t.is_punct(text, "="))
            {
                let value = at + 2;
                let call = self.tokens.get(value).and_then(|t| top_calls.get(&t.span.start).copied());
                let name = first.text(text).to_string();
                self.bindings.push(Binding { name, span: first.span, call, extent });
            }
        }
    }

    fn def_at(&self, text: &str, at: usize, extent: Span) -> Option<Def> {
        let name = self.tokens.get(at + 1).filter(|t| t.kind == Kind::Ident)?;
        let call = self.calls.iter().find(|c| c.callee_span == name.span)?;
        let params = call
            .args
            .iter()
            .filter_map(|a| {
                let token = self.tokens.get(a.start..a.end)?.iter().find(|t| t.kind == Kind::Ident)?;
                Some((token.text(text).to_string(), token.span))
            })
            .collect();
        Some(Def { name: name.text(text).to_string(), span: name.span, params, extent })
    }

    fn find_loads(&self, text: &str) -> Vec<Load> {
        let mut out = Vec::new();
        for (i, call) in self.calls.iter().enumerate().filter(|(_, c)| c.callee == "load") {
            let Some((path, path_span)) = self.positional_string(text, i, 0) else { continue };
            let mut symbols = Vec::new();
            let mut exported_spans = Vec::new();
            for arg in call.args.iter().skip(1) {
                match &arg.name {
                    Some((local, span)) => {
                        let value = Arg { name: None, start: arg.start + 2, end: arg.end };
                        if let Some((exported, exported_span)) = self.string_arg(text, &value) {
                            symbols.push((local.clone(), *span, exported));
                            exported_spans.push(exported_span);
                        }
                    }
                    None => {
                        if let Some((exported, span)) = self.string_arg(text, arg) {
                            symbols.push((exported.clone(), span, exported));
                            exported_spans.push(span);
                        }
                    }
                }
            }
            out.push(Load { path, path_span, symbols, exported_spans, call: i });
        }
        out
    }
}

/// Token indices where top-level statements start (after a newline, at column 0).
fn statement_starts(tokens: &[Token], text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at_line_start = true;
    for (i, token) in tokens.iter().enumerate() {
        if token.kind == Kind::Newline {
            at_line_start = true;
            continue;
        }
        if at_line_start && column(text, token.span.start) == 0 {
            starts.push(i);
        }
        at_line_start = false;
    }
    starts
}

fn column(text: &str, offset: usize) -> usize {
    offset - text[..offset].rfind(['\n', '\r']).map_or(0, |i| i + 1)
}

/// One open bracket while scanning.
struct Frame {
    /// The call it opens, for `(` after a callee.
    call: Option<usize>,
}

/// Every call of the token stream, with arguments split at top-level commas.
fn calls(text: &str, tokens: &[Token]) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if token.kind != Kind::Punct {
            continue;
        }
        match token.text(text) {
            "(" | "[" | "{" => {
                let callee = if token.is_punct(text, "(") { callee_before(text, tokens, i) } else { None };
                let call = callee.map(|(callee, callee_span)| {
                    let parent = stack.iter().rev().find_map(|f| f.call);
                    let first = Arg { name: None, start: i + 1, end: i + 1 };
                    calls.push(Call { callee, callee_span, open: i, close: None, args: vec![first], parent });
                    calls.len() - 1
                });
                stack.push(Frame { call });
            }
            ")" | "]" | "}" => {
                if let Some(Some(call)) = stack.pop().map(|f| f.call) {
                    calls[call].close = Some(i);
                    finish_arg(text, tokens, &mut calls[call], i);
                    if calls[call].args.last().is_some_and(|a| a.start == a.end) {
                        calls[call].args.pop();
                    }
                }
            }
            "," => {
                if let Some(Some(call)) = stack.last().map(|f| f.call) {
                    finish_arg(text, tokens, &mut calls[call], i);
                    calls[call].args.push(Arg { name: None, start: i + 1, end: i + 1 });
                }
            }
            _ => {}
        }
    }
    // Unclosed calls (the text being typed): their last argument runs to the end.
    for call in calls.iter_mut().filter(|c| c.close.is_none()) {
        finish_arg(text, tokens, call, tokens.len());
    }
    calls
}

/// Ends a call's current argument at token `end`, reading its keyword (`name = …`).
fn finish_arg(text: &str, tokens: &[Token], call: &mut Call, end: usize) {
    let Some(arg) = call.args.last_mut() else { return };
    arg.end = end.max(arg.start);
    let first = tokens.get(arg.start);
    let eq = tokens.get(arg.start + 1);
    let eqeq = tokens.get(arg.start + 2);
    if let (Some(first), Some(eq)) = (first, eq) {
        if first.kind == Kind::Ident
            && eq.is_punct(text, "=")
            && arg.start + 1 < arg.end
            && !eqeq.is_some_and(|t| t.is_punct(text, "=") && t.span.start == eq.span.end)
        {
            arg.name = Some((first.text(text).to_string(), first.span));
        }
    }
}

/// The dotted callee ending just before token `open` (`db.pg.get`), if any.
fn callee_before(text: &str, tokens: &[Token], open: usize) -> Option<(String, Span)> {
    let last = tokens.get(open.checked_sub(1)?)?;
    if last.kind != Kind::Ident || (lex::KEYWORDS.contains(&last.text(text)) && last.text(text) != "load") {
        return None;
    }
    let mut first = open - 1;
    while first >= 2 && tokens[first - 1].is_punct(text, ".") && tokens[first - 2].kind == Kind::Ident {
        first -= 2;
    }
    let span = Span::new(tokens[first].span.start, last.span.end);
    let callee: String = text[span.start..span.end].chars().filter(|c| !c.is_whitespace()).collect();
    Some((callee, span))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_interfaces_bindings_loads() {
        let text = "load(\"lib.star\", \"helper\", h2 = \"other\")\ndb = service(\"db\", \"bin\",\n    interface(\"pg\", \"postgres\", 5432),\n    env = {\"A\": \"b\"},\n)\ndef probe(a, b = 1):\n    db.pg.query(sql = \"x\")\nscenario(probe)\nfault(db, wr";
        let index = Index::new(text);
        let services = index.services(text);
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].variable.as_deref(), Some("db"));
        assert_eq!(services[0].interfaces[0].0, "pg");
        assert_eq!(services[0].interfaces[0].2, "postgres");
        assert_eq!(index.defs[0].name, "probe");
        assert_eq!(index.defs[0].params.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(index.scenarios(text), ["probe"]);
        assert_eq!(index.loads[0].symbols.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["helper", "h2"]);
        let fault = index.enclosing_call(text.len()).unwrap();
        assert_eq!(index.calls[fault].callee, "fault");
        assert_eq!(index.argument_at(fault, text.len()), 1);
        let env = index.calls.iter().position(|c| c.callee == "service").unwrap();
        assert_eq!(index.calls[env].args.iter().filter(|a| a.name.is_some()).count(), 1);
    }
}
