//! Performance thresholds: a number needs a unit to mean anything, and a ratio above 1 is
//! almost always a percentage written where a fraction is meant.

use super::acceptance_blocks;
use crate::diagnostics::Diagnostic;
use crate::syntax::yaml::{Node, Value};

/// Key words that carry a unit or make a number self-describing.
const UNIT_WORDS: &[&str] = &[
    "ms",
    "s",
    "sec",
    "secs",
    "second",
    "seconds",
    "minute",
    "minutes",
    "hour",
    "hours",
    "day",
    "days",
    "kb",
    "mb",
    "gb",
    "tb",
    "bytes",
    "percent",
    "percentage",
    "pct",
    "rps",
    "qps",
    "tps",
    "rpm",
    "ratio",
    "rate",
    "count",
    "score",
    "fps",
    "users",
    "connections",
    "mbps",
    "rating",
    "requests",
    "transactions",
    "replicas",
    "instances",
];
/// Words naming a proportion, for the ratio check.
const RATIO_WORDS: &[&str] = &["ratio", "rate"];
/// Words that may follow a ratio word and keep it a ratio (`error_rate_threshold`).
const QUALIFIER_WORDS: &[&str] = &["threshold", "min", "max", "target", "minimum", "maximum"];
/// Words that make a number a percentage (so values above 1 are expected).
const PERCENT_WORDS: &[&str] = &["percent", "percentage", "pct", "rps", "qps", "tps", "rpm"];
/// Groups of thresholds, under each acceptance block.
const THRESHOLD_GROUPS: &[&str] = &["performance", "inference_performance"];

pub fn check(root: &Node, out: &mut Vec<Diagnostic>) {
    for acceptance in acceptance_blocks(root) {
        for group in THRESHOLD_GROUPS {
            if let Some(thresholds) = acceptance.field(group) {
                check_units(thresholds, out);
            }
        }
    }
    check_ratios(root, out);
}

fn words(key: &str) -> impl Iterator<Item = String> + '_ {
    key.split(['_', '-']).map(|w| w.to_ascii_lowercase())
}

fn is_number(node: &Node) -> bool {
    matches!(node.value, Value::Int(_) | Value::Float(_))
}

/// Numeric thresholds (also in nested groups such as `response_times:`) whose name has no unit.
fn check_units(thresholds: &Node, out: &mut Vec<Diagnostic>) {
    for entry in thresholds.as_map().unwrap_or_default() {
        let key = entry.key_text();
        if key.starts_with("x-") {
            continue;
        }
        if entry.value.as_map().is_some() {
            check_units(&entry.value, out);
        } else if is_number(&entry.value) && !words(&key).any(|w| UNIT_WORDS.contains(&w.as_str())) {
            let renamed = suggest_unit(&key);
            out.push(
                Diagnostic::warning("OSP209", entry.key.span, format!("threshold `{key}` has no unit"))
                    .with_help(format!("name the unit in the key, e.g. `{renamed}`"))
                    .with_replacement(format!("rename to `{renamed}`"), entry.key.span, renamed),
            );
        }
    }
}

/// The most likely unit suffix for a unit-less threshold name.
fn suggest_unit(key: &str) -> String {
    const GUESSES: &[(&[&str], &str)] = &[
        (&["time", "latency", "duration", "timeout", "delay", "lag"], "_ms"),
        (&["memory", "disk", "size", "heap", "bundle", "binary"], "_mb"),
        (&["cpu", "uptime", "availability", "utilization", "usage"], "_percent"),
        (&["throughput", "requests"], "_rps"),
    ];
    let suffix = GUESSES
        .iter()
        .find(|(hints, _)| words(key).any(|w| hints.contains(&w.as_str())))
        .map_or("_ms", |&(_, suffix)| suffix);
    format!("{key}{suffix}")
}

/// Ratio-named numbers above 1 (and at most 100): `cache_hit_ratio: 90` means 0.90.
/// This walks every node of the document, so the common case (no ratio word) must not allocate.
fn check_ratios(node: &Node, out: &mut Vec<Diagnostic>) {
    match &node.value {
        Value::Map(entries) => {
            for entry in entries {
                let Some(key) = entry.key.as_str() else { continue };
                if key.starts_with("x-") {
                    continue;
                }
                if is_ratio_name(key) {
                    if let Some(diagnostic) = ratio_above_one(key, &entry.value) {
                        out.push(diagnostic);
                    }
                }
                check_ratios(&entry.value, out);
            }
        }
        Value::Seq(items) => items.iter().for_each(|item| check_ratios(item, out)),
        _ => {}
    }
}

/// A ratio word followed only by qualifiers (so `rate_limit` is not a ratio) and no
/// percentage word anywhere.
fn is_ratio_name(key: &str) -> bool {
    // Both ratio words start with "rat": most keys are rejected without splitting them.
    if !key.as_bytes().windows(3).any(|w| w.eq_ignore_ascii_case(b"rat")) {
        return false;
    }
    let words: Vec<String> = words(key).collect();
    let Some(last_ratio) = words.iter().rposition(|w| RATIO_WORDS.contains(&w.as_str())) else { return false };
    words[last_ratio + 1..].iter().all(|w| QUALIFIER_WORDS.contains(&w.as_str()))
        && !words.iter().any(|w| PERCENT_WORDS.contains(&w.as_str()))
}

fn ratio_above_one(key: &str, value: &Node) -> Option<Diagnostic> {
    let number = match value.value {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        _ => return None,
    };
    if !(number > 1.0 && number <= 100.0) {
        return None;
    }
    let fraction = format_fraction(number / 100.0);
    Some(
        Diagnostic::warning("OSP210", value.span, format!("`{key}` is a ratio, but {number} is above 1"))
            .with_help(format!("ratios are fractions of 1: did you mean {fraction} ({number}%)?"))
            .with_replacement(format!("replace with {fraction}"), value.span, fraction),
    )
}

fn format_fraction(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_suggestions() {
        assert!(is_ratio_name("cdn_cache_hit_ratio"));
        assert!(is_ratio_name("error_rate_threshold"));
        assert!(!is_ratio_name("error_rate_percent"));
        assert!(!is_ratio_name("rate_limit"));
        assert_eq!(suggest_unit("response_time"), "response_time_ms");
        assert_eq!(suggest_unit("memory"), "memory_mb");
        assert_eq!(format_fraction(0.9), "0.9");
        assert_eq!(format_fraction(0.999), "0.999");
    }
}
