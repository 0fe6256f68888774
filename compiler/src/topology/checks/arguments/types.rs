//! TOP043: an argument (or an element of a list or dict argument) whose type is not the one
//! the catalog's type expression allows (`list[service|str]`, `dict[str,str]`,
//! `str|float|int`, `fault`, …). Faultbox rejects most of these at load; the ones it coerces
//! silently (an int in `env`, a dict as an HTTP `body`) are wrong at run time instead.

use std::sync::{Arc, LazyLock, Mutex};

use ospecc_schema::topology::{builtins, catalog, Param};

use crate::diagnostics::{Diagnostic, TextEdit};
use crate::span::Span;
use crate::topology::hash::HashMap;
use crate::topology::values::Arg;

use super::{quoted, Bound, Cx};

/// A parsed catalog type expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Ty {
    /// A simple type or a catalog value type (`str`, `duration`, `service`, `any`).
    Name(String),
    List(Box<Ty>),
    Dict(Box<Ty>, Box<Ty>),
    Tuple(Vec<Ty>),
    /// `A|B|…`
    Alt(Vec<Ty>),
}

/// Splits `text` at `sep` outside brackets.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if c == sep && depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

impl Ty {
    pub(super) fn parse(expr: &str) -> Ty {
        let alternatives = split_top(expr, '|');
        if alternatives.len() > 1 {
            return Ty::Alt(alternatives.into_iter().map(Ty::parse).collect());
        }
        let expr = expr.trim();
        let Some((head, rest)) = expr.split_once('[') else { return Ty::Name(expr.to_owned()) };
        let inner = rest.strip_suffix(']').unwrap_or(rest);
        let args: Vec<Ty> = split_top(inner, ',').into_iter().map(Ty::parse).collect();
        match (head.trim(), args.as_slice()) {
            ("list", [item]) => Ty::List(Box::new(item.clone())),
            ("dict", [key, value]) => Ty::Dict(Box::new(key.clone()), Box::new(value.clone())),
            ("tuple", _) => Ty::Tuple(args),
            (other, _) => Ty::Name(other.to_owned()),
        }
    }

    /// How a message names the type: `a list of service or str`, `a dict of str to str`.
    pub(super) fn describe(&self) -> String {
        match self {
            Ty::Name(name) => match name.as_str() {
                "duration" => "a duration string".into(),
                "callable" => "a function".into(),
                "list" => "a list".into(),
                "dict" => "a dict".into(),
                "tuple" => "a tuple".into(),
                other => other.to_owned(),
            },
            Ty::List(item) => format!("a list of {}", item.describe()),
            Ty::Dict(key, value) => format!("a dict of {} to {}", key.describe(), value.describe()),
            Ty::Tuple(items) => {
                format!("a tuple ({})", items.iter().map(Ty::describe).collect::<Vec<_>>().join(", "))
            }
            Ty::Alt(alts) => {
                let names: Vec<String> = alts.iter().map(Ty::describe).collect();
                match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                    _ => names.concat(),
                }
            }
        }
    }

    fn alternatives(&self) -> Vec<&Ty> {
        match self {
            Ty::Alt(alts) => alts.iter().collect(),
            other => vec![other],
        }
    }
}

/// The type names a value may have, for matching: a recorded value's catalog type (split
/// into its alternatives, the head of `list[event]`), with `delay` told apart by its form.
pub(super) fn value_types(arg: &Arg) -> Vec<String> {
    match arg {
        Arg::Record(record) if record.builtin == builtins::DELAY => {
            // `delay("500ms")` is a syscall fault, `delay(delay="500ms")` a protocol rule.
            vec![if record.positional.is_empty() { "proxy_fault" } else { "fault" }.to_owned()]
        }
        Arg::Record(record) => split_top(&record.ty, '|')
            .into_iter()
            .map(|alt| alt.split_once('[').map_or(alt, |(head, _)| head).trim().to_owned())
            .collect(),
        Arg::Function(_) => vec!["callable".into()],
        other => other.type_name().map(|t| vec![t.to_owned()]).unwrap_or_default(),
    }
}

/// How a message names a value's type: `int`, `proxy_fault`, `function`.
fn describe_value(arg: &Arg) -> String {
    match arg {
        Arg::Function(name) if name == "lambda" => "a lambda".into(),
        Arg::Function(name) => format!("function `{name}`"),
        Arg::Record(record) if record.builtin.starts_with('.') || record.builtin == "interface_ref" => {
            value_types(arg).join(" or ")
        }
        Arg::Record(record) => format!("{} (from `{}(…)`)", value_types(arg).join(" or "), record.builtin),
        other => other.type_name().unwrap_or("?").to_owned(),
    }
}

/// Whether a value of type `have` is accepted where `want` is.
fn name_accepts(want: &str, have: &str) -> bool {
    want == have
        || want == "any"
        || have == "any"
        || matches!(
            (want, have),
            ("float", "int")
                | ("duration", "str")
                | ("callable", "step_method" | "builtin_function_or_method" | "function")
                // Faultbox iterates lists; a tuple iterates alike.
                | ("list", "tuple")
        )
}

/// Whether `arg` can be judged at all: unknown values and opaque Starlark values are skipped.
fn judgeable(arg: &Arg) -> bool {
    !matches!(arg, Arg::Unknown | Arg::Other(_))
}

/// A mismatch: where, and the value found there (with what it is part of).
struct Mismatch<'a> {
    span: Span,
    arg: &'a Arg,
    /// `key`/`value` for a dict entry, `element` for a list item.
    part: Option<&'static str>,
}

/// Whether `arg` at `span` fits `ty`; if not, the innermost mismatches go to `found`.
fn fits<'a>(cx: &Cx, arg: &'a Arg, ty: &Ty, span: Span, found: &mut Vec<Mismatch<'a>>) -> bool {
    if !judgeable(arg) {
        return true;
    }
    let alternatives = ty.alternatives();
    let have = value_types(arg);
    let fits_alternative = |alt: &Ty| match alt {
        Ty::Name(want) => have.iter().any(|h| name_accepts(want, h)),
        Ty::List(_) | Ty::Dict(..) | Ty::Tuple(_) => {
            let mut inner = Vec::new();
            container(cx, arg, alt, span, &mut inner) && inner.is_empty()
        }
        Ty::Alt(_) => fits(cx, arg, alt, span, &mut Vec::new()),
    };
    if alternatives.iter().any(|alt| fits_alternative(alt)) {
        return true;
    }
    // A container whose shape fits exactly one alternative: its bad elements are the news.
    let shaped: Vec<&&Ty> = alternatives.iter().filter(|alt| container(cx, arg, alt, span, &mut Vec::new())).collect();
    if let [only] = shaped.as_slice() {
        let mut inner = Vec::new();
        container(cx, arg, only, span, &mut inner);
        if !inner.is_empty() {
            found.extend(inner);
            return false;
        }
    }
    found.push(Mismatch { span, arg, part: None });
    false
}

/// Whether `arg` has the container shape `ty` asks for (recording bad elements in `found`).
fn container<'a>(cx: &Cx, arg: &'a Arg, ty: &Ty, span: Span, found: &mut Vec<Mismatch<'a>>) -> bool {
    match (ty, arg) {
        (Ty::List(item), Arg::List(items) | Arg::Tuple(items)) => {
            for (index, element) in items.iter().enumerate() {
                let at = cx.shapes.item(span, index, items.len());
                element_matches(cx, element, item, at, "element", found);
            }
            true
        }
        (Ty::Tuple(want), Arg::Tuple(items)) if want.len() == items.len() => {
            for (index, (element, item)) in items.iter().zip(want).enumerate() {
                let at = cx.shapes.item(span, index, items.len());
                element_matches(cx, element, item, at, "element", found);
            }
            true
        }
        // Faultbox may accept a list where a pair is asked; only the arity is sure to be wrong.
        (Ty::Tuple(want), Arg::List(items)) => want.len() == items.len(),
        (Ty::Dict(key, value), Arg::Dict(entries)) => {
            for (index, (k, v)) in entries.iter().enumerate() {
                let (key_at, value_at) = cx.shapes.entry(span, index, entries.len());
                element_matches(cx, k, key, key_at, "key", found);
                element_matches(cx, v, value, value_at, "value", found);
            }
            true
        }
        // A recorded container (`event.fields`) has elements of its declared type.
        (Ty::List(_), Arg::Record(_)) => value_types(arg).iter().any(|h| h == "list"),
        (Ty::Dict(..), Arg::Record(_)) => value_types(arg).iter().any(|h| h == "dict"),
        _ => false,
    }
}

fn element_matches<'a>(
    cx: &Cx,
    element: &'a Arg,
    ty: &Ty,
    at: Span,
    part: &'static str,
    found: &mut Vec<Mismatch<'a>>,
) {
    let mut inner = Vec::new();
    if !fits(cx, element, ty, at, &mut inner) {
        found.extend(inner.into_iter().map(|m| Mismatch { part: m.part.or(Some(part)), ..m }));
    }
}

/// The parsed type of a catalog parameter, parsed once per process rather than once per
/// argument (a big file binds tens of thousands of arguments to a few hundred parameters).
fn param_type(param: &'static Param) -> Arc<Ty> {
    static PARSED: LazyLock<Mutex<HashMap<&'static str, Arc<Ty>>>> = LazyLock::new(Mutex::default);
    let Ok(mut parsed) = PARSED.lock() else { return Arc::new(Ty::parse(&param.ty)) };
    parsed.entry(param.ty.as_str()).or_insert_with(|| Arc::new(Ty::parse(&param.ty))).clone()
}

pub(super) fn check(cx: &Cx, bound: &Bound, out: &mut Vec<Diagnostic>) {
    let ty = param_type(bound.param);
    // `None` stands for "not set" for every optional parameter.
    if matches!(bound.arg, Arg::None) && !bound.param.required {
        return;
    }
    let mut found = Vec::new();
    if fits(cx, bound.arg, &ty, bound.span, &mut found) {
        return;
    }
    for mismatch in found {
        let want = wanted_here(&ty, mismatch.part);
        if !layer_confusion(&want, mismatch.arg) && !client_target(cx, &want, mismatch.arg) {
            out.push(report(cx, bound, &ty, &mismatch));
        }
    }
}

/// A `client` where a fault target is expected: the fault checks explain that (TOP203) for
/// every builtin with targets (catalog `targets`).
fn client_target(cx: &Cx, want: &Ty, arg: &Arg) -> bool {
    let names = top_names(want);
    cx.call.builtin().is_some_and(|b| b.targets.is_some())
        && (names.contains(&"service") || names.contains(&"interface_ref"))
        && value_types(arg).iter().any(|h| h == "client")
}

/// Whether a type is the fault value of a layer (catalog `fault_layer`).
fn is_fault(ty: &str) -> bool {
    catalog().value_type(ty).is_some_and(|t| t.fault_layer.is_some())
}

/// A fault of one layer where another layer's is expected: the fault checks report that
/// (TOP202), with the layer-specific advice.
fn layer_confusion(want: &Ty, arg: &Arg) -> bool {
    let names = top_names(want);
    !names.is_empty() && names.iter().all(|n| is_fault(n)) && value_types(arg).iter().any(|h| is_fault(h))
}

fn report(cx: &Cx, bound: &Bound, ty: &Ty, mismatch: &Mismatch) -> Diagnostic {
    let got = match mismatch.part {
        Some("element") => format!("{} as an element", describe_value(mismatch.arg)),
        Some(part) => format!("{} as a {part}", describe_value(mismatch.arg)),
        None => describe_value(mismatch.arg),
    };
    let message = format!("{} expects {}, got {got}", cx.subject(bound), ty.describe());
    let d = Diagnostic::error("TOP043", mismatch.span, message);
    let want = wanted_here(ty, mismatch.part);
    with_help(cx, d, &want, mismatch)
}

/// The type expected at the mismatch: the element type for a list element, and so on.
fn wanted_here(ty: &Ty, part: Option<&str>) -> Ty {
    let Some(part) = part else { return ty.clone() };
    let mut parts = Vec::new();
    for alt in ty.alternatives() {
        match (alt, part) {
            (Ty::List(item), "element") => parts.push((**item).clone()),
            (Ty::Tuple(items), "element") => parts.extend(items.iter().cloned()),
            (Ty::Dict(key, _), "key") => parts.push((**key).clone()),
            (Ty::Dict(_, value), "value") => parts.push((**value).clone()),
            _ => {}
        }
    }
    match parts.len() {
        0 => ty.clone(),
        1 => parts.remove(0),
        _ => Ty::Alt(parts),
    }
}

/// The names a type accepts at its top level (`service|str` gives `service`, `str`).
fn top_names(ty: &Ty) -> Vec<&str> {
    ty.alternatives()
        .into_iter()
        .map(|alt| match alt {
            Ty::Name(name) => name.as_str(),
            Ty::List(_) => "list",
            Ty::Dict(..) => "dict",
            Ty::Tuple(_) => "tuple",
            Ty::Alt(_) => "",
        })
        .collect()
}

/// Targeted help for the common confusions; a generic pointer otherwise.
fn with_help(cx: &Cx, d: Diagnostic, want: &Ty, mismatch: &Mismatch) -> Diagnostic {
    let names = top_names(want);
    let wants = |name: &str| names.contains(&name);
    let have = value_types(mismatch.arg);
    let has = |name: &str| have.iter().any(|h| h == name);
    let literal = cx.shapes.is_literal(mismatch.span);
    let at = mismatch.span;
    match mismatch.arg {
        Arg::Int(_) | Arg::Float(_) if wants("duration") => {
            let d = d.with_help("durations are strings with a unit: `\"30s\"`, `\"500ms\"`, `\"1m30s\"`");
            match mismatch.arg {
                Arg::Int(n) if literal => {
                    let text = format!("{n}s");
                    d.with_replacement(format!("write `\"{text}\"`"), at, quoted(&text))
                }
                _ => d,
            }
        }
        Arg::Int(n) if wants("str") => {
            if literal {
                d.with_help("Faultbox does not turn numbers into strings here (it rejects them, or uses an empty string); write it as a string")
                    .with_replacement("quote it", at, quoted(&n.to_string()))
            } else {
                d.with_help("Faultbox does not turn numbers into strings here (it rejects them, or uses an empty string); wrap the value in `str(…)`")
            }
        }
        Arg::Str(s) if wants("int") && s.trim().parse::<i64>().is_ok() && literal => d
            .with_help("ports, counts and status codes are numbers, not strings")
            .with_replacement("unquote it", at, s.trim().to_owned()),
        Arg::Str(_) if wants("healthcheck") => d.with_help(
            "wrap the address in a healthcheck: `tcp(\"localhost:5432\")`, `http(\"localhost:8080/health\")` or `ready()`",
        ),
        Arg::Dict(_) if wants("str") && !wants("dict") => {
            d.with_help("step arguments are sent as given: pass a JSON string, e.g. `body='{\"name\": \"alice\"}'`")
        }
        _ if has("interface_ref") && (wants("service") || wants("interface")) => d.with_help(if wants("service") {
            "pass the service itself (`db`), not one of its interfaces (`db.main`)"
        } else {
            "`svc.iface` names another service's interface; declare this one with `interface(name, protocol, port)`"
        }),
        Arg::Function(name) if wants("monitor") => d.with_help(format!(
            "a monitor is the value `monitor(…)` returns: declare `m = monitor({name}, …)` and pass `m`"
        )),
        _ if wants("callable") && matches!(mismatch.arg, Arg::Record(_) | Arg::None) => {
            d.with_help("pass the function itself, without calling it (`create_user`, not `create_user()`)")
        }
        _ if (wants("list") && !wants("tuple")) && !matches!(mismatch.arg, Arg::List(_) | Arg::Tuple(_)) => {
            let d = d.with_help("this parameter takes a list; wrap the value in `[…]`");
            d.with_fix(
                "wrap in a list",
                vec![
                    TextEdit { span: Span::at(at.start), new_text: "[".into() },
                    TextEdit { span: Span::at(at.end), new_text: "]".into() },
                ],
            )
        }
        _ => d.with_help(format!(
            "pass {} here; docs/topology-builtins.md has the signature of `{}`",
            want.describe(),
            cx.call.builtin().map_or(cx.name(), |b| b.name.as_str())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::Ty;

    #[test]
    fn parses_and_describes_type_expressions() {
        assert_eq!(Ty::parse("list[service|str]").describe(), "a list of service or str");
        assert_eq!(Ty::parse("dict[str,str]").describe(), "a dict of str to str");
        assert_eq!(Ty::parse("str|float|int").describe(), "str, float or int");
        assert_eq!(
            Ty::parse("dict[tuple[callable,fault_assumption],callable]").describe(),
            "a dict of a tuple (a function, fault_assumption) to a function"
        );
        assert_eq!(
            Ty::parse("fault_assumption|list[fault_assumption]").describe(),
            "fault_assumption or a list of fault_assumption"
        );
    }
}
