//! The `format` keyword: `email`, `date-time`, `date` and `time`, checked as ajv-formats does
//! in its default "full" mode, so `--profile core` agrees with the reference validator.
//!
//! Hand-written rather than regex-based: the ajv regexes are case-insensitive ASCII, which a
//! Unicode-aware `(?i)` would widen (the Kelvin sign folds to `k`), and these checks run on
//! every timestamp of every file.

/// The formats ospecc knows. Others are ignored, as ajv does with `strict: false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Email,
    DateTime,
    Date,
    Time,
}

impl Format {
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "email" => Some(Format::Email),
            "date-time" => Some(Format::DateTime),
            "date" => Some(Format::Date),
            "time" => Some(Format::Time),
            _ => None,
        }
    }

    pub fn is_valid(self, text: &str) -> bool {
        match self {
            Format::Email => email(text),
            Format::DateTime => date_time(text),
            Format::Date => date(text),
            Format::Time => time(text),
        }
    }

    /// What a valid value looks like, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Email => "an email address like `ada@example.com`",
            Format::DateTime => "an RFC 3339 date-time with a time zone, like `2025-01-31T09:30:00Z`",
            Format::Date => "an RFC 3339 date, like `2025-01-31`",
            Format::Time => "an RFC 3339 time with a time zone, like `09:30:00Z`",
        }
    }
}

/// `atext` of RFC 5322, as the ajv-formats email pattern lists it.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b)
}

/// `local@domain`: dot-atoms of `atext`; at least two domain labels of letters, digits and
/// inner hyphens.
fn email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    let local_ok = local.split('.').all(|atom| !atom.is_empty() && atom.bytes().all(is_atext));
    let labels: Vec<&str> = domain.split('.').collect();
    local_ok && labels.len() >= 2 && labels.iter().all(|l| is_domain_label(l))
}

fn is_domain_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else { return false };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// Parses exactly `n` ASCII digits at the start of `text`.
fn digits(text: &str, n: usize) -> Option<(u32, &str)> {
    let head = text.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &text[n..]))
}

/// Strips `c` from the front of `text`.
fn expect(text: &str, c: char) -> Option<&str> {
    text.strip_prefix(c)
}

/// `YYYY-MM-DD` with a real day of that month.
fn date(text: &str) -> bool {
    const DAYS: [u32; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let parsed = (|| {
        let (year, rest) = digits(text, 4)?;
        let (month, rest) = digits(expect(rest, '-')?, 2)?;
        let (day, rest) = digits(expect(rest, '-')?, 2)?;
        rest.is_empty().then_some((year, month, day))
    })();
    let Some((year, month, day)) = parsed else { return false };
    let max_day = if month == 2 && is_leap_year(year) { 29 } else { DAYS.get(month as usize).copied().unwrap_or(0) };
    (1..=12).contains(&month) && day >= 1 && day <= max_day
}

/// `HH:MM:SS[.frac](Z|±HH[[:]MM])`, the zone required; a leap second only at 23:59 UTC.
fn time(text: &str) -> bool {
    let Some((hour, minute, second, rest)) = clock(text) else { return false };
    let Some((sign, zone_hour, zone_minute)) = zone(rest) else { return false };
    if zone_hour > 23 || zone_minute > 59 {
        return false;
    }
    if hour <= 23 && minute <= 59 && second < 60.0 {
        return true;
    }
    let utc_minute = minute as i64 - zone_minute as i64 * sign;
    let utc_hour = hour as i64 - zone_hour as i64 * sign - i64::from(utc_minute < 0);
    (utc_hour == 23 || utc_hour == -1) && (utc_minute == 59 || utc_minute == -1) && second < 61.0
}

/// `HH:MM:SS[.digits]` and the rest of the text.
fn clock(text: &str) -> Option<(u32, u32, f64, &str)> {
    let (hour, rest) = digits(text, 2)?;
    let (minute, rest) = digits(expect(rest, ':')?, 2)?;
    let (whole, rest) = digits(expect(rest, ':')?, 2)?;
    let mut second = f64::from(whole);
    let mut rest = rest;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        second += format!("0.{}", &after_dot[..len]).parse::<f64>().ok()?;
        rest = &after_dot[len..];
    }
    Some((hour, minute, second, rest))
}

/// The zone suffix: `Z`/`z` or `±HH`, `±HHMM`, `±HH:MM`. Returns (sign, hours, minutes).
fn zone(text: &str) -> Option<(i64, u32, u32)> {
    if text.eq_ignore_ascii_case("z") {
        return Some((1, 0, 0));
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, rest) = digits(&text[1..], 2)?;
    if rest.is_empty() {
        return Some((sign, hours, 0));
    }
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let (minutes, rest) = digits(rest, 2)?;
    rest.is_empty().then_some((sign, hours, minutes))
}

/// ECMA `\s`, which ajv-formats splits date-times on (next to `t` and `T`).
fn is_ecma_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

/// A date and a time separated by exactly one `T`, `t` or whitespace character.
fn date_time(text: &str) -> bool {
    let mut parts = text.split(|c: char| c == 't' || c == 'T' || is_ecma_space(c));
    match (parts.next(), parts.next(), parts.next()) {
        (Some(d), Some(t), None) => date(d) && time(t),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["ada@example.com", "a.b+c@sub.example.org", "X@Y.CO", "o'brien@ex-ample.io"] {
            assert!(email(ok), "{ok}");
        }
        for bad in ["ada", "ada@localhost", "a..b@x.com", ".a@x.com", "a@-x.com", "a@x-.com", "a b@x.com", "é@x.com"] {
            assert!(!email(bad), "{bad}");
        }
        assert!(!email("a@\u{212A}.com"), "Kelvin sign is not ASCII k");
    }

    #[test]
    fn date_times() {
        for ok in [
            "2025-01-31T09:30:00Z",
            "2025-01-31t09:30:00z",
            "2025-01-31 09:30:00.123+02:00",
            "2024-02-29T00:00:00-0530",
            "2016-12-31T23:59:60Z",
            "2025-01-31T09:30:00+01",
        ] {
            assert!(date_time(ok), "{ok}");
        }
        for bad in [
            "2025-01-31",
            "2025-01-31T09:30:00",
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-01-31T24:00:00Z",
            "2025-01-31T09:30:60Z",
            "2025-01-31T09:30:00.Z",
            "2025-1-31T09:30:00Z",
            "٢٠٢٥-01-31T09:30:00Z",
            "2025-01-31T09:30:00+24:00",
        ] {
            assert!(!date_time(bad), "{bad}");
        }
    }

    #[test]
    fn dates_respect_leap_years() {
        assert!(date("2000-02-29"));
        assert!(!date("1900-02-29"));
        assert!(!date("2025-04-31"));
        assert!(!date("2025-00-10"));
    }
}
