//! TOP044: a string outside the closed vocabulary of its parameter (errno names, decoder names,
//! determinism levels, categories, partition and packet enums, interleavings, clocks,
//! validate modes, rates), including the values Faultbox reserves and rejects. TOP045: an
//! interface protocol Faultbox has no plugin for (it accepts any string, and fails only when a
//! step, `ready()` or a protocol fault needs the plugin).

use std::collections::HashMap;
use std::sync::LazyLock;

use ospecc_schema::topology::{catalog, Vocabulary};
use regex::Regex;

use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::topology::values::Arg;

use super::{quoted, Bound, Cx};

/// Vocabularies checked elsewhere: durations and probabilities have their own parsers here;
/// syscall names belong to the fault checks.
const CHECKED_ELSEWHERE: &[&str] = &["duration", "probability", "syscall_key"];

/// Values Faultbox parses but rejects, with the reason (vocabulary, value, why).
const RESERVED: &[(&str, &str, &str)] = &[
    ("determinism_level", "L2", "levels L2 to L5 are reserved; Faultbox rejects them"),
    ("determinism_level", "L3", "levels L2 to L5 are reserved; Faultbox rejects them"),
    ("determinism_level", "L4", "levels L2 to L5 are reserved; Faultbox rejects them"),
    ("determinism_level", "L5", "levels L2 to L5 are reserved; Faultbox rejects them"),
    ("parallel_interleavings", "dpor", "`dpor` is reserved for a later release; Faultbox rejects it"),
    ("parallel_interleavings", "sut-internal", "`sut-internal` is reserved for a later release; Faultbox rejects it"),
    ("clock", "virtual", "the virtual clock needs gVisor and is not available; Faultbox rejects it"),
    ("grpc_code", "OK", "`OK` (code 0) is not an error status; Faultbox rejects it"),
];

/// Above this many values the help points to the docs instead of listing them.
const MAX_LISTED: usize = 8;

static PATTERNS: LazyLock<HashMap<&'static str, Regex>> = LazyLock::new(|| {
    catalog()
        .vocabularies
        .iter()
        .filter_map(|v| Some((v.name.as_str(), Regex::new(v.pattern.as_deref()?).ok()?)))
        .collect()
});

pub(super) fn check(cx: &Cx, bound: &Bound, out: &mut Vec<Diagnostic>) {
    let Some(name) = bound.param.vocabulary.as_deref() else { return };
    if CHECKED_ELSEWHERE.contains(&name) {
        return;
    }
    let Some(vocabulary) = catalog().vocabulary(name) else { return };
    for (value, at) in strings(cx, bound) {
        if !accepts(vocabulary, value) {
            out.push(report(cx, bound, vocabulary, value, at));
        }
    }
}

/// The string value, or the string elements of a list or tuple, with their spans.
fn strings<'a>(cx: &Cx, bound: &'a Bound) -> Vec<(&'a str, Span)> {
    match bound.arg {
        Arg::Str(s) => vec![(s.as_str(), bound.span)],
        Arg::List(items) | Arg::Tuple(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| Some((item.as_str()?, cx.shapes.item(bound.span, i, items.len()))))
            .collect(),
        _ => Vec::new(),
    }
}

fn accepts(vocabulary: &Vocabulary, value: &str) -> bool {
    let listed = vocabulary.values.iter().any(|v| {
        if vocabulary.case_insensitive {
            v.value.eq_ignore_ascii_case(value)
        } else {
            v.value == value
        }
    });
    listed || PATTERNS.get(vocabulary.name.as_str()).is_some_and(|re| re.is_match(value))
}

fn report(cx: &Cx, bound: &Bound, vocabulary: &Vocabulary, value: &str, at: Span) -> Diagnostic {
    let protocol = vocabulary.name == "protocol";
    let message = if protocol {
        format!("`{value}` is not a protocol Faultbox knows")
    } else {
        format!("{} does not accept `{}`", cx.subject(bound), quoted(value))
    };
    let d =
        if protocol { Diagnostic::warning("TOP045", at, message) } else { Diagnostic::error("TOP044", at, message) };
    if let Some((_, _, why)) = RESERVED.iter().find(|(v, reserved, _)| *v == vocabulary.name && *reserved == value) {
        return d.with_help(format!("{why}; use one of {}", listing(vocabulary)));
    }
    let d = match (protocol, value) {
        (true, "https" | "grpcs" | "tls") => d.with_note(
            "TLS is not a protocol of its own: declare the plain protocol and add `tls = tls_cert(…)` to the interface",
        ),
        (true, _) => d.with_note(
            "Faultbox accepts any protocol string, but steps, `ready()` and protocol faults on this interface fail at run time",
        ),
        _ => d,
    };
    let candidates = vocabulary.values.iter().map(|v| v.value.as_str());
    match did_you_mean(value, candidates) {
        Some(best) if cx.shapes.is_literal(at) => d
            .with_help(format!("did you mean `{}`?", quoted(best)))
            .with_replacement(format!("use `{}`", quoted(best)), at, quoted(best)),
        Some(best) => d.with_help(format!("did you mean `{}`?", quoted(best))),
        None if vocabulary.values.is_empty() => d.with_help(vocabulary.doc.clone()),
        None => d.with_help(format!("use one of {}", listing(vocabulary))),
    }
}

/// `` `"a"`, `"b"` or `"c"` ``, or a pointer to the docs for long vocabularies.
fn listing(vocabulary: &Vocabulary) -> String {
    if vocabulary.values.len() > MAX_LISTED {
        return format!("the `{}` values listed in docs/topology-builtins.md", vocabulary.name);
    }
    let values: Vec<String> = vocabulary.values.iter().map(|v| format!("`{}`", quoted(&v.value))).collect();
    match values.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => values.concat(),
    }
}
