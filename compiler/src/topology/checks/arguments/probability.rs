//! Probabilities (reference §3.5) and the fan-out rules of probabilistic rules (§1.4).
//! TOP048: a probability Faultbox cannot read (it silently reads 0) or outside 0–100%.
//! TOP049: a probability that reads fine but means something else than it seems: `0` on a
//! protocol rule fires always, `0` on a syscall or packet rule never, and the int `1` is
//! 100%, not 1%. TOP060: `max_fires`/`mode` combinations Faultbox rejects at load.

use ospecc_schema::topology::FaultLayer;

use crate::diagnostics::Diagnostic;
use crate::topology::quantities::fraction;
use crate::topology::values::Arg;

use super::{quoted, Bound, Cx};

/// How a rule treats its probability.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Protocol rule: 0 means always.
    Proxy,
    /// Syscall or packet rule: 0 means never; `max_fires`/`mode` fan out.
    Counted,
}

/// How the call's rule treats its probability: by the layer of the fault it makes.
fn kind(cx: &Cx) -> Option<Kind> {
    match crate::topology::checks::fault_layer(&cx.call.record)? {
        FaultLayer::Proxy => Some(Kind::Proxy),
        FaultLayer::Syscall | FaultLayer::Packet => Some(Kind::Counted),
    }
}

pub(super) fn check(cx: &Cx, bound: &Bound, out: &mut Vec<Diagnostic>) {
    if bound.param.vocabulary.as_deref() != Some("probability") {
        return;
    }
    let Some(kind) = kind(cx) else { return };
    let Some(read) = fraction(bound.arg) else { return };
    let subject = cx.subject(bound);
    let shown = shown(bound.arg);
    let Some(p) = read else {
        let fallback = if kind == Kind::Proxy { "always fires" } else { "never fires" };
        out.push(
            Diagnostic::error("TOP048", bound.span, format!("{subject} is not a probability: {shown}"))
                .with_help(format!(
                    "write a percentage (`\"50%\"`) or a fraction (`0.5`); Faultbox reads anything else as 0, so this rule {fallback}"
                )),
        );
        return;
    };
    if !(0.0..=1.0).contains(&p) {
        out.push(
            Diagnostic::error("TOP048", bound.span, format!("{subject} is out of range: {shown}"))
                .with_help("a probability is between 0 and 100% (`\"0%\"`…`\"100%\"`, or `0.0`…`1.0`)"),
        );
    } else if p == 0.0 {
        out.push(zero(cx, bound, kind, &subject));
    } else if matches!(bound.arg, Arg::Int(1)) || matches!(bound.arg, Arg::Str(s) if s == "1") {
        out.push(one(cx, bound, &subject));
    }
}

fn shown(arg: &Arg) -> String {
    match arg {
        Arg::Str(s) => format!("`{}`", quoted(s)),
        Arg::Int(n) => format!("`{n}`"),
        Arg::Float(f) => format!("`{f}`"),
        _ => "this value".into(),
    }
}

fn zero(cx: &Cx, bound: &Bound, kind: Kind, subject: &str) -> Diagnostic {
    if kind == Kind::Proxy {
        Diagnostic::warning(
            "TOP049",
            bound.span,
            format!("{subject} is 0, which makes `{}` fire on every match", cx.name()),
        )
        .with_help("for protocol rules Faultbox treats 0 as \"no probability set\": remove `probability=` to say always, or give the intended percentage")
    } else {
        Diagnostic::warning("TOP049", bound.span, format!("{subject} is 0, so `{}` never fires", cx.name())).with_help(
            "a syscall or packet rule with probability 0 is inert; give the intended percentage or remove the rule",
        )
    }
}

fn one(cx: &Cx, bound: &Bound, subject: &str) -> Diagnostic {
    let d =
        Diagnostic::warning("TOP049", bound.span, format!("{subject} is `1`, which Faultbox reads as 100%, not 1%"))
            .with_help("write `\"100%\"` (or leave `probability=` out) for always, or `\"1%\"` for one in a hundred");
    if cx.shapes.is_literal(bound.span) {
        d.with_replacement("write `\"100%\"`", bound.span, quoted("100%")).with_replacement(
            "write `\"1%\"`",
            bound.span,
            quoted("1%"),
        )
    } else {
        d
    }
}

/// The `max_fires`/`mode` rules of syscall and packet rules (reference §1.4).
pub(super) fn fan_out(cx: &Cx, bound: &[Bound], out: &mut Vec<Diagnostic>) {
    if kind(cx) != Some(Kind::Counted) {
        return;
    }
    let get = |name: &str| bound.iter().find(|b| b.keyword == Some(name));
    let (max_fires, mode, probability) = (get("max_fires"), get("mode"), get("probability"));
    let mode_value = mode.and_then(|m| m.arg.as_str());
    if let Some(max) = max_fires {
        let below_one = match probability.map(|p| fraction(p.arg)) {
            None => Some(false),
            Some(Some(Some(p))) => Some(p < 1.0),
            // Unreadable or unknown: reported elsewhere, or not judged.
            Some(_) => None,
        };
        if matches!(max.arg, Arg::Int(n) if *n <= 0) {
            out.push(
                Diagnostic::error("TOP060", max.span, format!("`{}(max_fires=…)` must be greater than 0", cx.name()))
                    .with_help("`max_fires` bounds how often the rule fires; give a positive count, or remove it"),
            );
        } else if below_one == Some(false) {
            out.push(
                Diagnostic::error("TOP060", cx.model.keyword_span(cx.call, "max_fires"), format!(
                    "`{}(max_fires=…)` needs a probability below 1",
                    cx.name()
                ))
                .with_help("`max_fires` fans out over which of the first N matches fire, which only means something for a probabilistic rule: add `probability=\"50%\"` (say), or remove `max_fires`"),
            );
        }
        if mode_value == Some("stochastic") {
            if let Some(mode) = mode {
                out.push(
                    Diagnostic::error("TOP060", mode.span, format!("`{}` cannot combine `max_fires` with `mode=\"stochastic\"`", cx.name()))
                        .with_help("`max_fires` enumerates outcomes exhaustively; drop `mode=` (exhaustive is implied) or drop `max_fires`"),
                );
            }
        }
    } else if mode_value == Some("exhaustive") {
        if let Some(mode) = mode {
            out.push(
                Diagnostic::error("TOP060", mode.span, format!("`{}(mode=\"exhaustive\")` needs `max_fires`", cx.name()))
                    .with_help("exhaustive fan-out enumerates the first `max_fires` matches; add `max_fires=2` (say) or use `mode=\"stochastic\"`"),
            );
        }
    }
}
