//! TOP046: a duration string Go's `time.ParseDuration` rejects (Faultbox parses every duration
//! with it), with the likely intended spelling (`"5 s"` → `"5s"`, `"1min"` → `"1m"`).
//! TOP047: a duration that parses but is zero or negative where that is rejected or means
//! nothing (a syscall delay of `"0s"`, a healthcheck timeout of `"-1s"`).

use ospecc_schema::topology::{Level, Sign};

use crate::topology::quantities::{parse_duration as parse, unit_nanos, Invalid};

use crate::diagnostics::{Diagnostic, Severity};
use crate::topology::values::Arg;

use super::{quoted, Bound, Cx};

/// Spellings people use for Go's units (lower-cased), with the unit and a multiplier (days
/// become hours).
const UNIT_ALIASES: &[(&[&str], &str, u64)] = &[
    (&["sec", "secs", "second", "seconds"], "s", 1),
    (&["min", "mins", "minute", "minutes"], "m", 1),
    (&["hr", "hrs", "hour", "hours"], "h", 1),
    (&["msec", "msecs", "millis", "millisecond", "milliseconds"], "ms", 1),
    (&["usec", "usecs", "micros", "microsecond", "microseconds"], "us", 1),
    (&["nsec", "nsecs", "nanos", "nanosecond", "nanoseconds"], "ns", 1),
    (&["d", "day", "days"], "h", 24),
];

/// The likely intended duration: spaces removed, units lower-cased or translated.
fn respell(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = String::new();
    let mut rest = compact.as_str();
    if let Some(sign) = rest.strip_prefix('-') {
        out.push('-');
        rest = sign;
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let lower = unit.to_lowercase();
        let (unit, times) = if unit_nanos(&lower).is_some() {
            (lower.as_str(), 1)
        } else {
            UNIT_ALIASES.iter().find(|(names, ..)| names.contains(&lower.as_str())).map(|(_, u, k)| (*u, *k))?
        };
        if times == 1 {
            out.push_str(number);
        } else {
            out.push_str(&(number.parse::<u64>().ok()? * times).to_string());
        }
        out.push_str(unit);
        rest = after;
    }
    (out != text && parse(&out).is_ok()).then_some(out)
}

pub(super) fn check(cx: &Cx, bound: &Bound, out: &mut Vec<Diagnostic>) {
    if bound.param.vocabulary.as_deref() != Some("duration") {
        return;
    }
    let Arg::Str(text) = bound.arg else { return };
    match parse(text) {
        Ok(nanos) => sign(cx, bound, text, nanos, out),
        Err(why) => out.push(invalid(cx, bound, text, &why)),
    }
}

fn invalid(cx: &Cx, bound: &Bound, text: &str, why: &Invalid) -> Diagnostic {
    let reason = match why {
        _ if text.contains(char::is_whitespace) => "it contains spaces".to_owned(),
        Invalid::Empty => "it is empty".to_owned(),
        Invalid::MissingUnit => "a number needs a unit".to_owned(),
        Invalid::UnknownUnit(unit) => format!("`{unit}` is not a unit"),
        Invalid::Malformed => "it is not a number followed by a unit".to_owned(),
    };
    let message = format!("{} is not a valid duration: `{}` ({reason})", cx.subject(bound), quoted(text));
    let d = Diagnostic::error("TOP046", bound.span, message);
    match respell(text) {
        Some(fixed) if cx.shapes.is_literal(bound.span) => d
            .with_help(format!("write `{}`", quoted(&fixed)))
            .with_replacement(format!("write `{}`", quoted(&fixed)), bound.span, quoted(&fixed)),
        Some(fixed) => d.with_help(format!("write `{}`", quoted(&fixed))),
        None => d.with_help("a duration is a number with a unit, `ns`, `us`, `ms`, `s`, `m` or `h`, concatenated as in `\"1h30m\"` or `\"1.5s\"`; only `\"0\"` may omit the unit"),
    }
}

fn sign(cx: &Cx, bound: &Bound, text: &str, nanos: f64, out: &mut Vec<Diagnostic>) {
    if nanos > 0.0 {
        return;
    }
    // Where zero or negative durations are wrong, and why (catalog `sign`). `delay`'s
    // syscall form takes `duration`, its protocol form `delay=`.
    let Some(Sign { zero, negative, why }) = &bound.param.sign else { return };
    let (level, what) = if nanos < 0.0 { (negative, "negative") } else { (zero, "zero") };
    let severity = match level {
        None => return,
        Some(Level::Warning) => Severity::Warning,
        Some(Level::Error) => Severity::Error,
    };
    let message = format!("{} is {what} (`{}`)", cx.subject(bound), quoted(text));
    out.push(
        Diagnostic::new("TOP047", severity, bound.span, message).with_help(format!("{why}; use a positive duration")),
    );
}

#[cfg(test)]
mod tests {
    use super::respell;

    #[test]
    fn respells_common_mistakes() {
        assert_eq!(respell("5 s").as_deref(), Some("5s"));
        assert_eq!(respell("1min").as_deref(), Some("1m"));
        assert_eq!(respell("10MS").as_deref(), Some("10ms"));
        assert_eq!(respell("2d").as_deref(), Some("48h"));
        assert_eq!(respell("3 seconds").as_deref(), Some("3s"));
        assert_eq!(respell("5"), None);
        assert_eq!(respell("soon"), None);
    }
}
