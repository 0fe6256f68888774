//! YAML 1.2 core schema resolution of scalars, and explicit tags.
//!
//! Only plain scalars are resolved: `null`/`~`/empty, the six spellings of booleans, decimal,
//! octal (`0o`) and hex (`0x`) integers, and floats including `.inf` and `.nan`. Everything
//! else (timestamps, `yes`, `on`, quoted and block scalars) stays a string, as YAML 1.2 says.
//! The resolver dispatches on the first byte so ordinary words cost a single comparison.

use saphyr_parser::{ScalarStyle, Tag};

use super::tree::{Style, Value};

/// The handle saphyr expands `!!` into.
const CORE_PREFIX: &str = "tag:yaml.org,2002:";

/// What an explicit tag asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TagKind<'a> {
    /// A core schema tag (`!!int`, `!<tag:yaml.org,2002:int>`): its suffix.
    Core(&'a str),
    /// The non-specific tag `!`: the node is a string (or a plain collection).
    NonSpecific,
    /// Any other tag: recorded, the value is kept as written.
    Other,
}

pub(super) fn tag_kind(tag: &Tag) -> TagKind<'_> {
    if tag.handle == CORE_PREFIX {
        TagKind::Core(&tag.suffix)
    } else if let Some(suffix) = tag.suffix.strip_prefix(CORE_PREFIX).filter(|_| tag.handle.is_empty()) {
        TagKind::Core(suffix)
    } else if tag.handle.is_empty() && tag.suffix == "!" || tag.handle == "!" && tag.suffix.is_empty() {
        TagKind::NonSpecific
    } else {
        TagKind::Other
    }
}

/// The tag as a person would write it (`!!str`, `!local`, `!<verbatim>`).
pub(super) fn tag_text(tag: &Tag) -> String {
    match tag_kind(tag) {
        TagKind::Core(suffix) => format!("!!{suffix}"),
        TagKind::NonSpecific => "!".to_string(),
        TagKind::Other if tag.handle.is_empty() => format!("!<{}>", tag.suffix),
        TagKind::Other => format!("{}{}", tag.handle, tag.suffix),
    }
}

pub(super) fn style(style: ScalarStyle) -> Style {
    match style {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        ScalarStyle::Literal => Style::Literal,
        ScalarStyle::Folded => Style::Folded,
    }
}

/// Resolves an untagged plain scalar; `None` means it is a string.
pub(super) fn resolve_plain(text: &str) -> Option<Value> {
    let first = match text.as_bytes().first() {
        None => return Some(Value::Null),
        Some(&b) => b,
    };
    match first {
        b'~' if text.len() == 1 => Some(Value::Null),
        b'n' | b'N' => null(text),
        b't' | b'T' | b'f' | b'F' => boolean(text).map(Value::Bool),
        b'0'..=b'9' | b'+' | b'-' | b'.' => number(text),
        _ => None,
    }
}

fn null(text: &str) -> Option<Value> {
    matches!(text, "null" | "Null" | "NULL").then_some(Value::Null)
}

fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Integers and floats of the core schema.
fn number(text: &str) -> Option<Value> {
    if let Some(digits) = text.strip_prefix("0o") {
        return radix_int(digits, 8);
    }
    if let Some(digits) = text.strip_prefix("0x") {
        return radix_int(digits, 16);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        // Out of i64's range it is still a number: a float, as the tree documents.
        return Some(text.parse::<i64>().map_or_else(|_| Value::Float(parse_f64(text)), Value::Int));
    }
    special_float(unsigned, text.starts_with('-'), unsigned.len() != text.len())
        .or_else(|| is_float(unsigned).then(|| Value::Float(parse_f64(text))))
}

fn radix_int(digits: &str, radix: u32) -> Option<Value> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(match i64::from_str_radix(digits, radix) {
        Ok(value) => Value::Int(value),
        Err(_) => Value::Float(
            digits.chars().fold(0.0, |acc, c| acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))),
        ),
    })
}

fn special_float(unsigned: &str, negative: bool, signed: bool) -> Option<Value> {
    match unsigned {
        ".inf" | ".Inf" | ".INF" => Some(Value::Float(if negative { f64::NEG_INFINITY } else { f64::INFINITY })),
        // The core schema has no signed NaN.
        ".nan" | ".NaN" | ".NAN" if !signed => Some(Value::Float(f64::NAN)),
        _ => None,
    }
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` on the unsigned part.
fn is_float(unsigned: &str) -> bool {
    let bytes = unsigned.as_bytes();
    let int_digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut at = int_digits;
    if bytes.get(at) == Some(&b'.') {
        let frac_digits = bytes[at + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if int_digits == 0 && frac_digits == 0 {
            return false;
        }
        at += 1 + frac_digits;
    } else if int_digits == 0 {
        return false;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'-' | b'+')) {
            at += 1;
        }
        let exp_digits = bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        if exp_digits == 0 {
            return false;
        }
        at += exp_digits;
    }
    at == bytes.len()
}

/// Parses text already known to match a core float or int form.
fn parse_f64(text: &str) -> f64 {
    text.parse::<f64>().unwrap_or(f64::NAN)
}

/// Whether a core tag suffix names a scalar type (so it cannot tag a collection).
pub(super) fn is_scalar_tag(suffix: &str) -> bool {
    matches!(suffix, "str" | "null" | "bool" | "int" | "float" | "binary" | "timestamp")
}

/// A scalar under a core schema tag. `Ok(None)` keeps the string; `Err` names the expected
/// kind when the text does not fit the tag (`!!int abc`).
pub(super) fn resolve_core(suffix: &str, text: &str) -> Result<Option<Value>, &'static str> {
    match suffix {
        "str" => Ok(None),
        "null" => match text {
            "" | "~" => Ok(Some(Value::Null)),
            _ => null(text).map(Some).ok_or("null"),
        },
        "bool" => boolean(text).map(|b| Some(Value::Bool(b))).ok_or("boolean"),
        "int" => match number(text) {
            Some(value @ Value::Int(_)) => Ok(Some(value)),
            Some(Value::Float(f)) if text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'+') => {
                Ok(Some(Value::Float(f)))
            }
            _ => Err("integer"),
        },
        "float" => match number(text) {
            Some(Value::Int(i)) => Ok(Some(Value::Float(i as f64))),
            Some(value @ Value::Float(_)) => Ok(Some(value)),
            _ => Err("float"),
        },
        "map" | "seq" => Err(if suffix == "map" { "mapping" } else { "sequence" }),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Value {
        resolve_plain(text).unwrap_or_else(|| Value::String(text.to_string()))
    }

    #[test]
    fn core_schema_plain_scalars() {
        let s = |t: &str| Value::String(t.to_string());
        let cases = [
            ("", Value::Null),
            ("~", Value::Null),
            ("NULL", Value::Null),
            ("nULL", s("nULL")),
            ("True", Value::Bool(true)),
            ("yes", s("yes")),
            ("on", s("on")),
            ("12", Value::Int(12)),
            ("-12", Value::Int(-12)),
            ("+7", Value::Int(7)),
            ("0o17", Value::Int(15)),
            ("0x1F", Value::Int(31)),
            ("0x", s("0x")),
            ("0o8", s("0o8")),
            ("1.5", Value::Float(1.5)),
            ("1.", Value::Float(1.0)),
            (".5", Value::Float(0.5)),
            ("-.5e3", Value::Float(-500.0)),
            ("1e5", Value::Float(100000.0)),
            ("1e", s("1e")),
            (".", s(".")),
            ("-", s("-")),
            ("-.inf", Value::Float(f64::NEG_INFINITY)),
            ("+.INF", Value::Float(f64::INFINITY)),
            ("2001-12-14", s("2001-12-14")),
            ("1_000", s("1_000")),
            ("12:30", s("12:30")),
            ("9223372036854775808", Value::Float(9223372036854775808.0)),
        ];
        for (text, expected) in cases {
            assert_eq!(plain(text), expected, "{text:?}");
        }
        assert!(matches!(plain(".NaN"), Value::Float(f) if f.is_nan()));
        assert_eq!(plain("-.nan"), s("-.nan"));
    }

    #[test]
    fn core_tags_convert_or_explain() {
        assert_eq!(resolve_core("int", "12"), Ok(Some(Value::Int(12))));
        assert_eq!(resolve_core("float", "12"), Ok(Some(Value::Float(12.0))));
        assert_eq!(resolve_core("str", "12"), Ok(None));
        assert_eq!(resolve_core("int", "abc"), Err("integer"));
        assert_eq!(resolve_core("bool", "yes"), Err("boolean"));
        assert_eq!(resolve_core("null", ""), Ok(Some(Value::Null)));
        assert_eq!(resolve_core("binary", "R0lG"), Ok(None));
    }
}
