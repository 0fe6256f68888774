//! HTTP probes: health waits, single requests, flows, latency and throughput.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Client, Method};
use serde_json::{json, Value};

use ospecc_schema::plan::acceptance::{ExpectStatus, FlowStep, HttpRequest};

use super::expand::{expand_vars, fill_captures, json_path};
use super::{round_ms, ProbeOptions, Verdict};
use crate::events::{fields, EventLog};
use crate::report::model::Outcome;

/// The client timeout when the plan gives none (latency and throughput probes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a body a failure message quotes.
const BODY_PREVIEW: usize = 200;

/// What a probe needs to log and expand.
pub(crate) struct Ctx<'a> {
    pub events: &'a EventLog,
    pub options: &'a ProbeOptions,
    /// The event `service` (the probe's target).
    pub service: &'a str,
    pub probe: &'a str,
}

/// A request ready to send: method parsed, `${VAR}`s expanded.
#[derive(Clone)]
pub(crate) struct Prepared {
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Option<String>,
}

/// One request's fate.
struct Exchange {
    status: Option<u16>,
    body: String,
    ms: f64,
    error: Option<String>,
}

pub(crate) fn client(cookies: bool, timeout: Duration) -> Result<Client, String> {
    Client::builder()
        .cookie_store(cookies)
        .timeout(timeout)
        // Probes go straight to their targets; a proxy from the environment would change
        // what is measured.
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {}", error_chain(&e)))
}

/// Expands `${VAR}` in the URL, headers and body. A variable that is not set skips the probe
/// (like a missing credential); a bad method or header errors it.
fn prepare(
    options: &ProbeOptions,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<Prepared, Verdict> {
    let env = &options.environment;
    let mut missing: Vec<String> = Vec::new();
    let mut expand = |text: &str| match expand_vars(text, env) {
        Ok(text) => text,
        Err(names) => {
            for name in names {
                if !missing.contains(&name) {
                    missing.push(name);
                }
            }
            String::new()
        }
    };
    let url = expand(url);
    let header_pairs: Vec<(String, String)> = headers.iter().map(|(k, v)| (expand(k), expand(v))).collect();
    let body = body.map(&mut expand);
    if !missing.is_empty() {
        missing.sort();
        let list = missing.iter().map(|m| format!("${{{m}}}")).collect::<Vec<_>>().join(", ");
        let verb = if missing.len() == 1 { "is" } else { "are" };
        return Err(Verdict::skipped(format!("needs {list}, which {verb} not set")));
    }
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| Verdict::errored(format!("invalid HTTP method {method:?}")))?;
    let mut map = HeaderMap::new();
    for (name, value) in &header_pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Verdict::errored(format!("invalid header name {name:?}")))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| Verdict::errored(format!("invalid value for header {name}")))?;
        map.append(name, value);
    }
    if let Some(body) = &body {
        if !map.contains_key(CONTENT_TYPE) {
            let kind = if serde_json::from_str::<Value>(body).is_ok() { "application/json" } else { "text/plain" };
            map.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
        }
    }
    Ok(Prepared { method, url, headers: map, body })
}

/// Sends one request, reads the body, and logs an `http` event.
async fn send(ctx: &Ctx<'_>, client: &Client, request: &Prepared, timeout: Duration) -> Exchange {
    let started = Instant::now();
    let mut builder =
        client.request(request.method.clone(), &request.url).headers(request.headers.clone()).timeout(timeout);
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let result = async {
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        Ok::<_, reqwest::Error>((status, body))
    }
    .await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let exchange = match result {
        Ok((status, body)) => Exchange { status: Some(status), body, ms, error: None },
        Err(e) => {
            let error =
                if e.is_timeout() { format!("timed out after {} ms", timeout.as_millis()) } else { error_chain(&e) };
            Exchange { status: None, body: String::new(), ms, error: Some(error) }
        }
    };
    let mut event = fields([
        ("probe", json!(ctx.probe)),
        ("method", json!(request.method.as_str())),
        ("url", json!(request.url)),
        ("ms", json!(round_ms(exchange.ms))),
    ]);
    match (&exchange.status, &exchange.error) {
        (Some(status), _) => event.insert("status".to_owned(), json!(status)),
        (None, Some(error)) => event.insert("error".to_owned(), json!(error)),
        (None, None) => None,
    };
    ctx.events.push(ctx.service, "http", event);
    exchange
}

/// An error with its sources, without repeating a source's text already shown.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

pub(crate) fn status_matches(expect: &ExpectStatus, status: u16) -> bool {
    match expect {
        ExpectStatus::Codes { codes } => codes.contains(&status),
        ExpectStatus::Class { class } => status / 100 == u16::from(*class),
    }
}

pub(crate) fn describe_expect(expect: &ExpectStatus) -> String {
    match expect {
        ExpectStatus::Codes { codes } => codes.iter().map(u16::to_string).collect::<Vec<_>>().join("|"),
        ExpectStatus::Class { class } => format!("{class}xx"),
    }
}

fn preview(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::from("(empty body)");
    }
    let mut end = body.len().min(BODY_PREVIEW);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let mut text: String = body[..end].chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if end < body.len() {
        text.push('…');
    }
    format!("body: {text}")
}

/// Validates `instance` against `schema` (`None` when the schema itself does not compile).
fn validate_schema(schema: &Value, instance: &Value) -> Option<Result<(), String>> {
    let validator = jsonschema::validator_for(schema).ok()?;
    let errors: Vec<String> =
        validator.iter_errors(instance).take(3).map(|e| format!("{e} at `{}`", e.instance_path())).collect();
    Some(if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) })
}

/// Checks a response against an [`HttpRequest`]'s expectations. `Ok` carries the number of
/// conditions checked and notes (what was not verified); `Err` the failures, or an error.
fn check_response(
    request: &HttpRequest,
    method: &Method,
    exchange: &Exchange,
    options: &ProbeOptions,
) -> Result<(u32, Vec<String>), Verdict> {
    if let Some(error) = &exchange.error {
        return Err(Verdict::failed(format!("{method} {}: {error}", request.url), 1));
    }
    let status = exchange.status.unwrap_or_default();
    let mut failures: Vec<String> = Vec::new();
    let notes: Vec<String> = Vec::new();
    let mut assertions = 1;
    let status_ok = status_matches(&request.expect, status);
    if !status_ok {
        failures.push(format!("expected status {}, got {status}", describe_expect(&request.expect)));
    }
    if *method != Method::HEAD {
        let missing: Vec<String> =
            request.contains.iter().filter(|s| !exchange.body.contains(s.as_str())).map(|s| format!("{s:?}")).collect();
        assertions += request.contains.len() as u32;
        if !missing.is_empty() {
            failures.push(format!("body does not contain {}", missing.join(", ")));
        }
        if let Some(schema_path) = &request.json_schema {
            assertions += 1;
            match serde_json::from_str::<Value>(&exchange.body) {
                Err(e) => failures.push(format!("body is not JSON ({e}), so it cannot match {schema_path}")),
                Ok(instance) => {
                    let path = options.workdir.join(schema_path);
                    let schema = std::fs::read_to_string(&path)
                        .map_err(|e| Verdict::errored(format!("cannot read the JSON Schema {schema_path}: {e}")))?;
                    match serde_json::from_str::<Value>(&schema) {
                        Err(e) => {
                            return Err(Verdict::errored(format!("the JSON Schema {schema_path} is not JSON: {e}")))
                        }
                        Ok(schema) => match validate_schema(&schema, &instance) {
                            Some(Ok(())) => {}
                            Some(Err(e)) => failures.push(format!("body does not match {schema_path}: {e}")),
                            None => {
                                return Err(Verdict::errored(format!(
                                    "the JSON Schema {schema_path} does not compile as a schema"
                                )))
                            }
                        },
                    }
                }
            }
        }
    }
    if let Some(max) = request.max_latency_ms {
        assertions += 1;
        if exchange.ms > max as f64 {
            failures.push(format!("took {:.1} ms, over the {max} ms limit", exchange.ms));
        }
    }
    if failures.is_empty() {
        Ok((assertions, notes))
    } else {
        if !status_ok || failures.iter().any(|f| f.starts_with("body does not contain")) {
            failures.push(preview(&exchange.body));
        }
        Err(Verdict::failed(format!("{method} {}: {}", request.url, failures.join("; ")), assertions))
    }
}

/// `Check::Http`: one request.
pub(crate) async fn single(ctx: &Ctx<'_>, request: &HttpRequest) -> Verdict {
    let prepared = match prepare(ctx.options, &request.method, &request.url, &request.headers, request.body.as_deref())
    {
        Ok(p) => p,
        Err(verdict) => return verdict,
    };
    let timeout = Duration::from_millis(request.timeout_ms.max(1));
    let client = match client(false, timeout) {
        Ok(c) => c,
        Err(e) => return Verdict::errored(e),
    };
    let exchange = send(ctx, &client, &prepared, timeout).await;
    match check_response(request, &prepared.method, &exchange, ctx.options) {
        Ok((assertions, notes)) => Verdict::passed((!notes.is_empty()).then(|| notes.join("; ")), assertions),
        Err(verdict) => verdict,
    }
}

/// `Check::WaitHealthy`: polls until the status matches, failing after `timeout_ms` in all.
pub(crate) async fn wait_healthy(
    ctx: &Ctx<'_>,
    url: &str,
    expect: &ExpectStatus,
    timeout_ms: u64,
    interval_ms: u64,
    initial_delay_ms: u64,
) -> Verdict {
    let start = Instant::now();
    let deadline = start + Duration::from_millis(timeout_ms);
    let prepared = match prepare(ctx.options, "GET", url, &[], None) {
        Ok(p) => p,
        Err(verdict) => return verdict,
    };
    let client = match client(false, Duration::from_millis(timeout_ms.max(1))) {
        Ok(c) => c,
        Err(e) => return Verdict::errored(e),
    };
    tokio::time::sleep(Duration::from_millis(initial_delay_ms).min(Duration::from_millis(timeout_ms))).await;
    let interval = Duration::from_millis(interval_ms.max(10));
    let mut polls = 0u32;
    let mut last = String::from("never polled");
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() && polls > 0 {
            break;
        }
        polls += 1;
        let exchange = send(ctx, &client, &prepared, remaining.max(Duration::from_millis(50))).await;
        match (exchange.status, exchange.error) {
            (Some(status), _) if status_matches(expect, status) => {
                let ms = start.elapsed().as_millis();
                return Verdict::passed(Some(format!("healthy after {polls} poll(s), {ms} ms")), 1);
            }
            (Some(status), _) => last = format!("status {status}, expected {}", describe_expect(expect)),
            (None, Some(error)) => last = error,
            (None, None) => {}
        }
        if Instant::now() + interval >= deadline {
            break;
        }
        tokio::time::sleep(interval).await;
    }
    Verdict::failed(format!("{url} not healthy after {timeout_ms} ms ({polls} poll(s)); last: {last}"), 1)
}

/// `Check::Flow`: steps in order sharing one cookie jar and captures; the first failing step
/// fails the flow and the rest are skipped; a step that cannot run skips the flow.
pub(crate) async fn flow(ctx: &Ctx<'_>, steps: &[FlowStep]) -> Verdict {
    let timeout = steps.iter().filter_map(|s| s.request.as_ref()).map(|r| r.timeout_ms).max().unwrap_or(10_000);
    let client = match client(true, Duration::from_millis(timeout.max(1))) {
        Ok(c) => c,
        Err(e) => return Verdict::errored(e),
    };
    let mut captures: BTreeMap<String, String> = BTreeMap::new();
    let mut assertions = 0;
    let mut notes: Vec<String> = Vec::new();
    let rest_skipped = |from: usize| -> String {
        if from >= steps.len() {
            return String::new();
        }
        let list: Vec<String> =
            steps[from..].iter().enumerate().map(|(i, s)| format!("{} `{}`", from + i + 1, s.text)).collect();
        format!("; skipped: step {}", list.join(", step "))
    };
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        let request = match (&step.skip, &step.request) {
            (None, Some(request)) => request,
            (skip, _) => {
                let reason = skip.clone().unwrap_or_else(|| String::from("a manual step"));
                let done = if i > 0 { format!(" ({i} step(s) before it passed)") } else { String::new() };
                return Verdict {
                    outcome: Outcome::Skipped,
                    message: Some(format!("step {n} `{}` cannot run: {reason}{done}{}", step.text, rest_skipped(n))),
                    assertions,
                };
            }
        };
        let url = match fill_captures(&request.url, &captures) {
            Ok(url) => url,
            Err(name) => {
                return Verdict {
                    outcome: Outcome::Skipped,
                    message: Some(format!(
                        "step {n} `{}` cannot run: unbound path parameter {{{name}}}{}",
                        step.text,
                        rest_skipped(n)
                    )),
                    assertions,
                };
            }
        };
        let prepared = match prepare(ctx.options, &request.method, &url, &request.headers, request.body.as_deref()) {
            Ok(p) => p,
            Err(mut verdict) => {
                let message = verdict.message.take().unwrap_or_default();
                verdict.message = Some(format!("step {n} `{}`: {message}{}", step.text, rest_skipped(n)));
                verdict.assertions = assertions;
                return verdict;
            }
        };
        let step_timeout = Duration::from_millis(request.timeout_ms.max(1));
        let exchange = send(ctx, &client, &prepared, step_timeout).await;
        let mut checked = request.clone();
        checked.url = prepared.url.clone();
        match check_response(&checked, &prepared.method, &exchange, ctx.options) {
            Ok((count, step_notes)) => {
                assertions += count;
                notes.extend(step_notes.into_iter().map(|note| format!("step {n}: {note}")));
            }
            Err(mut verdict) => {
                let message = verdict.message.take().unwrap_or_default();
                verdict.message = Some(format!("step {n} `{}` failed: {message}{}", step.text, rest_skipped(n)));
                verdict.assertions += assertions;
                return verdict;
            }
        }
        if !step.capture.is_empty() {
            let body: Option<Value> = serde_json::from_str(&exchange.body).ok();
            for (name, path) in &step.capture {
                assertions += 1;
                let value = body.as_ref().and_then(|b| json_path(b, path));
                match value {
                    Some(Value::String(s)) => {
                        captures.insert(name.clone(), s.clone());
                    }
                    Some(Value::Null) | None => {
                        return Verdict::failed(
                            format!(
                                "step {n} `{}` failed: capture {name} ({path}) not found in the response{}",
                                step.text,
                                rest_skipped(n)
                            ),
                            assertions,
                        );
                    }
                    Some(other) => {
                        captures.insert(name.clone(), other.to_string());
                    }
                }
            }
        }
    }
    Verdict::passed((!notes.is_empty()).then(|| notes.join("; ")), assertions)
}

/// A statistic of a latency probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stat {
    Percentile(f64),
    Max,
    Min,
    Mean,
}

pub(crate) fn parse_stat(stat: &str) -> Option<Stat> {
    let stat = stat.trim().to_ascii_lowercase();
    match stat.as_str() {
        "max" | "maximum" => Some(Stat::Max),
        "min" | "minimum" => Some(Stat::Min),
        "mean" | "avg" | "average" => Some(Stat::Mean),
        "median" => Some(Stat::Percentile(50.0)),
        _ => {
            let p: f64 = stat.strip_prefix('p')?.parse().ok()?;
            (p > 0.0 && p <= 100.0).then_some(Stat::Percentile(p))
        }
    }
}

/// The statistic of `samples` (sorted ascending, not empty); percentiles by nearest rank.
pub(crate) fn compute_stat(stat: Stat, sorted: &[f64]) -> f64 {
    match stat {
        Stat::Max => sorted[sorted.len() - 1],
        Stat::Min => sorted[0],
        Stat::Mean => sorted.iter().sum::<f64>() / sorted.len() as f64,
        Stat::Percentile(p) => {
            let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted[rank.clamp(1, sorted.len()) - 1]
        }
    }
}

/// `Check::Latency`: `warmup` requests, then `samples` sequential timed ones; the statistic
/// must not exceed `bound_ms`. Any sample that errors or answers 4xx/5xx fails the probe.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn latency(
    ctx: &Ctx<'_>,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    samples: u32,
    warmup: u32,
    stat_name: &str,
    bound_ms: u64,
) -> Verdict {
    let Some(stat) = parse_stat(stat_name) else {
        return Verdict::errored(format!(
            "unknown latency statistic {stat_name:?} (p50, p95, p99, pNN, median, max, min, mean)"
        ));
    };
    let prepared = match prepare(ctx.options, method, url, headers, None) {
        Ok(p) => p,
        Err(verdict) => return verdict,
    };
    let client = match client(false, DEFAULT_TIMEOUT) {
        Ok(c) => c,
        Err(e) => return Verdict::errored(e),
    };
    let samples = samples.max(1);
    for i in 0..warmup {
        let exchange = send(ctx, &client, &prepared, DEFAULT_TIMEOUT).await;
        if let Some(error) = exchange.error {
            return Verdict::failed(format!("{} {url}: warm-up request {} failed: {error}", prepared.method, i + 1), 1);
        }
    }
    let mut times: Vec<f64> = Vec::with_capacity(samples as usize);
    let mut bad_status: Vec<u16> = Vec::new();
    for i in 0..samples {
        let exchange = send(ctx, &client, &prepared, DEFAULT_TIMEOUT).await;
        if let Some(error) = exchange.error {
            return Verdict::failed(format!("{} {url}: sample {} failed: {error}", prepared.method, i + 1), 1);
        }
        if let Some(status) = exchange.status.filter(|s| *s >= 400) {
            bad_status.push(status);
        }
        times.push(exchange.ms);
    }
    times.sort_by(f64::total_cmp);
    let value = compute_stat(stat, &times);
    let median = compute_stat(Stat::Percentile(50.0), &times);
    let max = compute_stat(Stat::Max, &times);
    let name = stat_name.trim();
    let detail = format!("over {} samples (median {median:.1} ms, max {max:.1} ms)", times.len());
    if !bad_status.is_empty() {
        return Verdict::failed(
            format!(
                "{} of {} samples answered with an error status (first {}); {name} {value:.1} ms {detail}",
                bad_status.len(),
                times.len(),
                bad_status[0]
            ),
            2,
        );
    }
    if value <= bound_ms as f64 {
        Verdict::passed(Some(format!("{name} {value:.1} ms ≤ {bound_ms} ms {detail}")), 1)
    } else {
        Verdict::failed(format!("{name} {value:.1} ms exceeds {bound_ms} ms {detail}"), 1)
    }
}

/// `Check::Throughput`: a closed loop of `concurrency` clients for `duration`; successful
/// (status < 400) requests per second at least `min_rps`, errors at most `max_error_rate`.
/// Requests still in flight at the end are not counted. Logs one `load` event with the totals
/// rather than an event per request.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn throughput(
    ctx: &Ctx<'_>,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    duration: Duration,
    concurrency: u32,
    min_rps: f64,
    max_error_rate: f64,
) -> Verdict {
    let prepared = match prepare(ctx.options, method, url, headers, None) {
        Ok(p) => p,
        Err(verdict) => return verdict,
    };
    let client = match client(false, DEFAULT_TIMEOUT) {
        Ok(c) => c,
        Err(e) => return Verdict::errored(e),
    };
    let concurrency = concurrency.max(1);
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + duration;
    let mut tasks = Vec::with_capacity(concurrency as usize);
    for _ in 0..concurrency {
        let client = client.clone();
        let request = prepared.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut first_error: Option<String> = None;
            while tokio::time::Instant::now() < deadline {
                let mut builder = client.request(request.method.clone(), &request.url).headers(request.headers.clone());
                if let Some(body) = &request.body {
                    builder = builder.body(body.clone());
                }
                let attempt = async {
                    let response = builder.send().await?;
                    let status = response.status().as_u16();
                    response.bytes().await?;
                    Ok::<_, reqwest::Error>(status)
                };
                match tokio::time::timeout_at(deadline, attempt).await {
                    Err(_) => break,
                    Ok(Ok(status)) if status < 400 => ok += 1,
                    Ok(Ok(status)) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("status {status}"));
                    }
                    Ok(Err(e)) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| error_chain(&e));
                        // Do not spin on a refused connection.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (ok, errors, first_error)
        }));
    }
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut first_error: Option<String> = None;
    for task in tasks {
        match task.await {
            Ok((o, e, first)) => {
                ok += o;
                errors += e;
                if first_error.is_none() {
                    first_error = first;
                }
            }
            Err(e) => return Verdict::errored(format!("a load client panicked: {e}")),
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    let total = ok + errors;
    let rps = ok as f64 / elapsed;
    let error_rate = if total == 0 { 0.0 } else { errors as f64 / total as f64 };
    let mut event = fields([
        ("probe", json!(ctx.probe)),
        ("method", json!(prepared.method.as_str())),
        ("url", json!(prepared.url)),
        ("concurrency", json!(concurrency)),
        ("ms", json!(round_ms(elapsed * 1000.0))),
        ("requests", json!(total)),
        ("ok", json!(ok)),
        ("errors", json!(errors)),
        ("rps", json!((rps * 10.0).round() / 10.0)),
    ]);
    if let Some(first) = &first_error {
        event.insert("first_error".to_owned(), json!(first));
    }
    ctx.events.push(ctx.service, "load", event);

    let summary = format!(
        "{rps:.1} rps (min {min_rps}), error rate {:.2}% (max {:.2}%) over {} ms with {concurrency} client(s); {total} request(s)",
        error_rate * 100.0,
        max_error_rate * 100.0,
        (elapsed * 1000.0).round()
    );
    let first = first_error.map(|e| format!("; first error: {e}")).unwrap_or_default();
    if total == 0 {
        return Verdict::failed(
            format!("{} {url}: no request completed in {} ms", prepared.method, duration.as_millis()),
            2,
        );
    }
    let mut failures = Vec::new();
    if rps < min_rps {
        failures.push("below the minimum rate");
    }
    if error_rate > max_error_rate {
        failures.push("too many errors");
    }
    if failures.is_empty() {
        Verdict::passed(Some(summary), 2)
    } else {
        Verdict::failed(format!("{}: {summary}{first}", failures.join(" and ")), 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats() {
        let sorted: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(compute_stat(parse_stat("p95").unwrap(), &sorted), 19.0);
        assert_eq!(compute_stat(parse_stat("p99").unwrap(), &sorted), 20.0);
        assert_eq!(compute_stat(parse_stat("median").unwrap(), &sorted), 10.0);
        assert_eq!(compute_stat(parse_stat("max").unwrap(), &sorted), 20.0);
        assert_eq!(compute_stat(parse_stat("mean").unwrap(), &sorted), 10.5);
        assert_eq!(compute_stat(parse_stat("P50").unwrap(), &[3.0]), 3.0);
        assert!(parse_stat("p0").is_none() && parse_stat("fast").is_none());
    }

    #[test]
    fn expectations() {
        let class = ExpectStatus::Class { class: 2 };
        assert!(status_matches(&class, 204) && !status_matches(&class, 301));
        let codes = ExpectStatus::Codes { codes: vec![200, 204] };
        assert!(status_matches(&codes, 204) && !status_matches(&codes, 201));
        assert_eq!(describe_expect(&codes), "200|204");
        assert_eq!(describe_expect(&class), "2xx");
    }
}
