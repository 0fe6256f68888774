//! Durations and probabilities as Faultbox reads them: the static checks judge the values
//! written, and the plan's lowering turns them into milliseconds and fractions, so both read
//! them through this one module of the model.

use crate::topology::values::Arg;

/// Why a string is not a duration.
#[derive(Debug, PartialEq)]
pub(crate) enum Invalid {
    Empty,
    /// A number without a unit (only `"0"` may omit it).
    MissingUnit,
    UnknownUnit(String),
    Malformed,
}

/// Go's `time.ParseDuration`: the value in nanoseconds (as a float: only sign and zero
/// matter here), or why it does not parse.
pub(crate) fn parse_duration(text: &str) -> Result<f64, Invalid> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err(Invalid::Empty);
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number.matches('.').count() > 1 || number == "." {
            return Err(Invalid::Malformed);
        }
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(Invalid::MissingUnit);
        }
        let scale = unit_nanos(unit).ok_or_else(|| Invalid::UnknownUnit(unit.to_owned()))?;
        let value: f64 = if number.ends_with('.') { number.trim_end_matches('.').parse() } else { number.parse() }
            .map_err(|_| Invalid::Malformed)?;
        total += value * scale;
    }
    Ok(if negative { -total } else { total })
}

/// Nanoseconds per unit of Go's duration syntax.
pub(crate) fn unit_nanos(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" | "μs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    })
}

/// The probability as a fraction, as Faultbox reads it: `"50%"`, `"0.5"`, `0.5`, and numbers
/// above 1 as percentages (`50`). `None` when the text is not a number.
pub(crate) fn fraction(arg: &Arg) -> Option<Option<f64>> {
    let value = match arg {
        Arg::Int(n) => *n as f64,
        Arg::Float(f) => *f,
        Arg::Str(s) => match s.strip_suffix('%') {
            Some(percent) => return Some(percent.parse::<f64>().ok().filter(|p| p.is_finite()).map(|p| p / 100.0)),
            None => match s.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => return Some(None),
            },
        },
        _ => return None,
    };
    Some(Some(if value > 1.0 { value / 100.0 } else { value }))
}

#[cfg(test)]
mod tests {
    use super::{fraction, parse_duration, Invalid};
    use crate::topology::values::Arg;

    #[test]
    fn parses_like_go() {
        for (text, nanos) in [
            ("0", 0.0),
            ("1h30m", 5400e9),
            ("500ms", 5e8),
            ("1.5s", 1.5e9),
            ("2µs", 2e3),
            ("-1s", -1e9),
            (".5s", 5e8),
            ("1.s", 1e9),
            ("+2m", 120e9),
        ] {
            assert_eq!(parse_duration(text), Ok(nanos), "{text}");
        }
        assert_eq!(parse_duration("5"), Err(Invalid::MissingUnit));
        assert_eq!(parse_duration("1min"), Err(Invalid::UnknownUnit("min".into())));
        assert_eq!(parse_duration(""), Err(Invalid::Empty));
        assert_eq!(parse_duration("5 s"), Err(Invalid::UnknownUnit(" s".into())));
        assert_eq!(parse_duration("s"), Err(Invalid::Malformed));
        assert_eq!(parse_duration("1..5s"), Err(Invalid::Malformed));
    }

    #[test]
    fn reads_probabilities_as_faultbox_does() {
        assert_eq!(fraction(&Arg::Str("50%".into())), Some(Some(0.5)));
        assert_eq!(fraction(&Arg::Str("0.25".into())), Some(Some(0.25)));
        assert_eq!(fraction(&Arg::Int(50)), Some(Some(0.5)));
        assert_eq!(fraction(&Arg::Float(0.5)), Some(Some(0.5)));
        assert_eq!(fraction(&Arg::Str("often".into())), Some(None));
        assert_eq!(fraction(&Arg::None), None);
    }
}
