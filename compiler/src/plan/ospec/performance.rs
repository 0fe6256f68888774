//! Performance thresholds (ospec-format.md §5.4) → `Latency` and `Throughput` probes, or
//! unverifiable items for what no HTTP probe measures (memory, frame rates, bundle sizes, ...).
//!
//! A key's meaning comes from the words of its name (`response_time_p99_ms` → latency, p99,
//! milliseconds), nested groups included (`response_times: {api_p95_ms: 200}`). Latency is
//! measured on every GET/HEAD endpoint: 3 warm-up requests, then 20 samples (100 for
//! percentiles above p95), the statistic bounded; `response_time_ms` means p95 (decision D1).
//! Throughput is a closed loop of `concurrent_users` clients (10 when not given) for 10 s
//! against the first endpoint that can run, errors at most `error_rate` (1 % by default).

use ospecc_schema::plan::acceptance::{Check, Probe};

use super::context::Lowering;
use super::endpoints::Endpoint;
use super::request;
use crate::syntax::yaml::{Node, Value};

const WARMUP: u32 = 3;
const SAMPLES: u32 = 20;
/// Samples for a percentile above p95 (a p99 over 20 samples is the maximum).
const SAMPLES_HIGH: u32 = 100;
const DEFAULT_STAT: &str = "p95";
const LOAD_DURATION_MS: u64 = 10_000;
const DEFAULT_CONCURRENCY: u32 = 10;
const DEFAULT_MAX_ERROR_RATE: f64 = 0.01;
/// Methods whose latency can be sampled without side effects.
const SAMPLED_METHODS: &[&str] = &["GET", "HEAD"];

/// What a threshold is about.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Latency,
    Throughput,
    Concurrency,
    ErrorRate,
    CommandDuration,
    Unverifiable(&'static str),
}

/// Keys with a fixed meaning, before the word rules.
const EXACT: &[(&str, Kind)] = &[
    ("response_time_ms", Kind::Latency),
    ("throughput_rps", Kind::Throughput),
    ("requests_per_second", Kind::Throughput),
    ("concurrent_users", Kind::Concurrency),
    ("concurrency", Kind::Concurrency),
    ("error_rate", Kind::ErrorRate),
    ("command_response_time_ms", Kind::CommandDuration),
    ("max_execution_time_ms", Kind::CommandDuration),
];

/// A key containing any of the words is of the kind; the first matching row wins.
const WORD_RULES: &[(&[&str], Kind)] = &[
    (
        &["fps", "lighthouse", "battery", "vitals", "screen", "transition", "frame", "paint", "lcp", "cls", "fid"],
        Kind::Unverifiable("needs an external harness (a browser or a device)"),
    ),
    (&["memory", "cpu", "disk", "heap", "rss"], Kind::Unverifiable("needs a process or container handle to sample")),
    (&["startup", "launch", "boot", "load"], Kind::Unverifiable("needs a timed launch of the outcome")),
    (&["bundle", "binary", "size", "artifact"], Kind::Unverifiable("needs the path of the built artifact")),
    (
        &["cache", "database", "db", "query", "projection", "event", "queue", "lag", "replication", "job"],
        Kind::Unverifiable("needs a metrics source (a `/metrics` name mapping)"),
    ),
    (
        &["uptime", "availability", "downtime", "mttr", "rto", "rpo", "sla"],
        Kind::Unverifiable("measured over time in operation, not by one run"),
    ),
    (&["command", "execution"], Kind::CommandDuration),
    (&["latency", "response", "p50", "p75", "p90", "p95", "p99", "p999"], Kind::Latency),
    (&["throughput", "rps", "qps", "tps"], Kind::Throughput),
    (&["error", "errors"], Kind::ErrorRate),
];

/// Time units of a key, as the factor to milliseconds (no unit: milliseconds).
const TIME_UNITS: &[(&str, u64)] =
    &[("ms", 1), ("s", 1000), ("sec", 1000), ("secs", 1000), ("seconds", 1000), ("minutes", 60_000)];
/// Words naming a statistic other than a percentile.
const STATS: &[(&str, &str)] =
    &[("max", "max"), ("maximum", "max"), ("median", "p50"), ("mean", "mean"), ("avg", "mean")];
/// Groups of thresholds under `acceptance`, with the reason when none of their keys is probed.
const GROUPS: &[(&str, Option<&str>)] = &[
    ("performance", None),
    ("inference_performance", Some("inference thresholds: no endpoint is named as the inference API")),
];

/// One threshold, flattened out of nested groups.
struct Threshold<'n> {
    /// Words of the key and of the groups around it (`response_times.api_p95_ms`).
    words: Vec<String>,
    key: String,
    path: String,
    node: &'n Node,
}

/// What the performance section lowers to.
pub(crate) struct Performance {
    pub probes: Vec<Probe>,
    /// `command_response_time_ms`: the default duration bound of command probes.
    pub command_max_ms: Option<u64>,
}

pub(crate) fn lower(cx: &mut Lowering, acceptance: &Node, endpoints: &[Endpoint]) -> Performance {
    let mut out = Performance { probes: Vec::new(), command_max_ms: None };
    for &(group, fixed) in GROUPS {
        let Some(node) = acceptance.field(group) else { continue };
        let mut thresholds = Vec::new();
        flatten(node, &[], &format!("acceptance.{group}"), &mut thresholds);
        if let Some(reason) = fixed {
            thresholds.iter().for_each(|t| cx.unverifiable(t.node.span, &t.path, reason));
            continue;
        }
        lower_group(cx, &thresholds, endpoints, &mut out);
    }
    out
}

fn flatten<'n>(node: &'n Node, words: &[String], path: &str, out: &mut Vec<Threshold<'n>>) {
    for entry in node.as_map().unwrap_or_default() {
        let key = entry.key_text();
        if key.starts_with("x-") {
            continue;
        }
        let mut all = words.to_vec();
        all.extend(key.split(['_', '-']).map(str::to_ascii_lowercase));
        let path = format!("{path}.{key}");
        match &entry.value.value {
            Value::Map(_) => flatten(&entry.value, &all, &path, out),
            _ => out.push(Threshold { words: all, key, path, node: &entry.value }),
        }
    }
}

fn kind(threshold: &Threshold) -> Kind {
    if let Some(&(_, kind)) = EXACT.iter().find(|(key, _)| *key == threshold.key) {
        return kind;
    }
    WORD_RULES
        .iter()
        .find(|(words, _)| threshold.words.iter().any(|w| words.contains(&w.as_str())))
        .map_or(Kind::Unverifiable("no probe measures it"), |&(_, kind)| kind)
}

fn lower_group(cx: &mut Lowering, thresholds: &[Threshold], endpoints: &[Endpoint], out: &mut Performance) {
    let kinds: Vec<Kind> = thresholds.iter().map(kind).collect();
    let setting = |wanted: Kind| thresholds.iter().zip(&kinds).find(|(_, k)| **k == wanted).map(|(t, _)| t);
    let concurrency = setting(Kind::Concurrency).and_then(|t| request::count(t.node)).filter(|c| *c > 0);
    let error_rate = setting(Kind::ErrorRate).and_then(|t| fraction(t));
    let has_load = kinds.contains(&Kind::Throughput);
    for (threshold, kind) in thresholds.iter().zip(kinds) {
        match kind {
            Kind::Latency => latency(cx, threshold, endpoints, &mut out.probes),
            Kind::Throughput => {
                let load = Load { concurrency: concurrency.unwrap_or(DEFAULT_CONCURRENCY), error_rate };
                throughput(cx, threshold, endpoints, load, &mut out.probes);
            }
            Kind::CommandDuration => match bound_ms(threshold) {
                Some(ms) => out.command_max_ms = Some(ms),
                None => cx.unverifiable(threshold.node.span, &threshold.path, "not a positive duration"),
            },
            Kind::Concurrency => {}
            Kind::ErrorRate if has_load => {}
            Kind::ErrorRate => cx.unverifiable(
                threshold.node.span,
                &threshold.path,
                "an error rate needs load: give `throughput_rps` too",
            ),
            Kind::Unverifiable(reason) => cx.unverifiable(threshold.node.span, &threshold.path, reason),
        }
    }
}

/// The statistic a latency key names: a percentile word (`p99`), `max`, ...; p95 otherwise.
fn stat(threshold: &Threshold) -> String {
    let percentile = threshold.words.iter().find(|w| {
        w.len() >= 2
            && w.starts_with('p')
            && w[1..].chars().all(|c| c.is_ascii_digit())
            && w[1..].parse::<u32>().is_ok()
    });
    match percentile {
        Some(word) => word.clone(),
        None => STATS
            .iter()
            .find(|(word, _)| threshold.words.iter().any(|w| w == word))
            .map_or(DEFAULT_STAT.to_owned(), |(_, stat)| (*stat).to_owned()),
    }
}

/// Samples enough for the statistic to mean something.
fn samples(stat: &str) -> u32 {
    let high = stat.strip_prefix('p').and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n > 95 && n != 100);
    if high {
        SAMPLES_HIGH
    } else {
        SAMPLES
    }
}

/// The bound in milliseconds, from the key's time unit (milliseconds when it has none).
fn bound_ms(threshold: &Threshold) -> Option<u64> {
    let value = request::number(threshold.node).filter(|v| *v > 0.0)?;
    let factor = threshold
        .words
        .iter()
        .rev()
        .find_map(|w| TIME_UNITS.iter().find(|(u, _)| u == w).map(|(_, f)| *f))
        .unwrap_or(1);
    Some((value * factor as f64).round() as u64)
}

/// An error rate as a fraction (`error_rate_percent: 1` and `error_rate: 1.5` mean 1 %/1.5 %).
fn fraction(threshold: &Threshold) -> Option<f64> {
    let value = request::number(threshold.node)?;
    let percent = threshold.words.iter().any(|w| matches!(w.as_str(), "percent" | "percentage" | "pct"));
    Some(if percent || value > 1.0 { value / 100.0 } else { value })
}

fn latency(cx: &mut Lowering, threshold: &Threshold, endpoints: &[Endpoint], probes: &mut Vec<Probe>) {
    let Some(bound_ms) = bound_ms(threshold) else {
        return cx.unverifiable(threshold.node.span, &threshold.path, "not a positive duration");
    };
    let sampled: Vec<&Endpoint> = endpoints.iter().filter(|e| SAMPLED_METHODS.contains(&e.method.as_str())).collect();
    if sampled.is_empty() {
        return cx.unverifiable(threshold.node.span, &threshold.path, "no GET endpoint in `http_endpoints` to measure");
    }
    let stat = stat(threshold);
    for endpoint in sampled {
        let id = match stat.as_str() {
            DEFAULT_STAT => format!("latency.{}", endpoint.label),
            other => format!("latency.{other}.{}", endpoint.label),
        };
        let check = Check::Latency {
            target: endpoint.target.clone(),
            method: endpoint.method.clone(),
            url: endpoint.url.clone(),
            headers: endpoint.headers.clone(),
            samples: samples(&stat),
            warmup: WARMUP,
            stat: stat.clone(),
            bound_ms,
        };
        probes.push(cx.probe(id, threshold.node.span, check, endpoint.skip.clone()));
    }
}

struct Load {
    concurrency: u32,
    error_rate: Option<f64>,
}

fn throughput(cx: &mut Lowering, threshold: &Threshold, endpoints: &[Endpoint], load: Load, probes: &mut Vec<Probe>) {
    let Some(min_rps) = request::number(threshold.node).filter(|v| *v > 0.0) else {
        return cx.unverifiable(threshold.node.span, &threshold.path, "not a positive rate");
    };
    let mut candidates = endpoints.iter().filter(|e| e.method == "GET");
    let Some(first) = candidates.clone().next() else {
        return cx.unverifiable(threshold.node.span, &threshold.path, "no GET endpoint in `http_endpoints` to load");
    };
    let endpoint = candidates.find(|e| e.skip.is_none()).unwrap_or(first);
    let check = Check::Throughput {
        target: endpoint.target.clone(),
        method: endpoint.method.clone(),
        url: endpoint.url.clone(),
        headers: endpoint.headers.clone(),
        duration_ms: LOAD_DURATION_MS,
        concurrency: load.concurrency,
        min_rps,
        max_error_rate: load.error_rate.unwrap_or(DEFAULT_MAX_ERROR_RATE),
    };
    let id = format!("throughput.{}", endpoint.label);
    probes.push(cx.probe(id, threshold.node.span, check, endpoint.skip.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn threshold(key: &'static str, node: &'static Node) -> Threshold<'static> {
        Threshold {
            words: key.split('_').map(str::to_owned).collect(),
            key: key.to_owned(),
            path: key.to_owned(),
            node,
        }
    }

    fn number(n: i64) -> &'static Node {
        Box::leak(Box::new(Node {
            span: Span::at(0),
            value: Value::Int(n),
            style: crate::syntax::yaml::Style::Plain,
            tag: None,
        }))
    }

    #[test]
    fn keys_are_classified_by_their_words() {
        let cases: &[(&str, Kind)] = &[
            ("response_time_ms", Kind::Latency),
            ("response_time_p99_ms", Kind::Latency),
            ("api_endpoints_p95_ms", Kind::Latency),
            ("latency_p99_threshold", Kind::Latency),
            ("requests_per_second", Kind::Throughput),
            ("throughput_min_rps", Kind::Throughput),
            ("memory_usage_max_mb", Kind::Unverifiable("needs a process or container handle to sample")),
            ("database_query_time_p95_ms", Kind::Unverifiable("needs a metrics source (a `/metrics` name mapping)")),
            ("target_fps", Kind::Unverifiable("needs an external harness (a browser or a device)")),
            ("bundle_size_mb", Kind::Unverifiable("needs the path of the built artifact")),
            ("command_response_time_ms", Kind::CommandDuration),
            ("error_rate_percent", Kind::ErrorRate),
            ("happiness_index", Kind::Unverifiable("no probe measures it")),
        ];
        for &(key, expected) in cases {
            assert_eq!(kind(&threshold(key, number(1))), expected, "{key}");
        }
    }

    #[test]
    fn statistics_units_and_samples() {
        assert_eq!(stat(&threshold("response_time_ms", number(1))), "p95");
        assert_eq!(stat(&threshold("response_time_p99_ms", number(1))), "p99");
        assert_eq!(stat(&threshold("max_latency_ms", number(1))), "max");
        assert_eq!((samples("p95"), samples("p99"), samples("max")), (20, 100, 20));
        assert_eq!(bound_ms(&threshold("response_time_seconds", number(2))), Some(2000));
        assert_eq!(bound_ms(&threshold("latency_p99_threshold", number(500))), Some(500));
        assert_eq!(bound_ms(&threshold("response_time_ms", number(0))), None);
        assert_eq!(fraction(&threshold("error_rate_percent", number(1))), Some(0.01));
    }
}
