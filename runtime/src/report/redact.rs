//! Secret values never reach a report: every renderer gets a [`RunReport::redacted`] model and
//! [`redact_events`] events, where each secret value is replaced with `[REDACTED]`.
//!
//! The secrets are the values of the spec's `secrets.required` variables, of `--secret-env`
//! variables, of every environment variable whose name looks secret
//! ([`ospecc_compiler::plan::ospec::secrets::looks_secret`]: `PASSWORD`, `TOKEN`, `KEY`,
//! `DB_PASS`, `MYSQL_PWD`, …) and the passwords inside URL values (`DATABASE_URL`). Values
//! shorter than 4 characters are not redacted (they would mangle unrelated text), nor, for
//! names that merely look secret, values such as `true`, `false` or a number. A short value
//! (under 8 characters) is replaced only where it stands as a whole word.
//!
//! A secret is also found in the forms output gives it: JSON-escaped (`"` and `\n` as
//! escapes), line by line when it has several lines (a PEM key), base64 (standard and
//! URL-safe, at any alignment inside a longer encoding) and percent-encoded; and a text that
//! ends with the start of a secret or starts with its end (a line cut at a size limit, a
//! value split across two events) has that part masked too.

use std::collections::BTreeMap;

use base64::Engine;
use ospecc_compiler::plan::ospec::secrets;
use regex::Regex;
use serde_json::Value;

use super::model::{ItemResult, RunDiagnostic, RunReport, ServiceResult};
use crate::events::Event;

/// Replaces secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every form of every secret, longest first, deduplicated.
    secrets: Vec<String>,
    /// The secrets as given (for the split forms at text boundaries).
    originals: Vec<String>,
    pattern: Option<Regex>,
}

/// What a secret value becomes.
pub const MASK: &str = "[REDACTED]";

/// The shortest value that is redacted.
pub const MIN_SECRET_LEN: usize = 4;
/// Values shorter than this are redacted only as whole words.
const WHOLE_WORD_BELOW: usize = 8;
/// The shortest encoded form (base64 core, a line of a multi-line secret) that is redacted:
/// shorter fragments would match unrelated text.
const MIN_FORM_LEN: usize = 8;
/// The shortest part of a secret masked at a text's start or end (a cut or split secret).
const MIN_SPLIT_LEN: usize = 6;

/// The forms a secret takes in output, the secret itself first.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    // JSON-escaped (quotes, backslashes, newlines as `\n`).
    let json = serde_json::to_string(secret).unwrap_or_default();
    out.push(json.trim_matches('"').to_owned());
    // Each line of a multi-line secret (a PEM key shown line by line).
    if secret.contains('\n') {
        out.extend(secret.lines().map(str::trim).filter(|l| l.len() >= MIN_FORM_LEN).map(str::to_owned));
    }
    out.extend(base64_forms(secret.as_bytes()));
    out.push(percent_encode(secret, false));
    out.push(percent_encode(secret, true));
    out.retain(|f| f.len() >= MIN_SECRET_LEN && (f == secret || f.len() >= MIN_FORM_LEN.min(secret.len())));
    out
}

/// The base64 text that encodes `bytes` wherever they sit in a longer encoded value: for each
/// of the three alignments, the characters that depend on `bytes` alone.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    let engines = [base64::engine::general_purpose::STANDARD_NO_PAD, base64::engine::general_purpose::URL_SAFE_NO_PAD];
    let mut out = Vec::new();
    for engine in engines {
        for offset in 0..3usize {
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(bytes);
            let encoded = engine.encode(&padded);
            // Characters touched by the padding bytes, and a last partial character, vary.
            let skip = (offset * 8).div_ceil(6);
            let end = (padded.len() * 8) / 6;
            if end > skip + MIN_FORM_LEN - 1 {
                out.push(encoded[skip..end].to_owned());
            }
        }
    }
    out
}

/// Percent-encoding of every byte outside the unreserved set (RFC 3986); `plus` writes a
/// space as `+` (form encoding).
fn percent_encode(text: &str, plus: bool) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' if plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Redactor {
    /// A redactor for these values (those shorter than [`MIN_SECRET_LEN`] are ignored).
    pub fn new(secret_values: Vec<String>) -> Redactor {
        let mut originals: Vec<String> =
            secret_values.into_iter().filter(|s| s.chars().count() >= MIN_SECRET_LEN).collect();
        originals.sort();
        originals.dedup();
        let mut secrets: Vec<String> = originals.iter().flat_map(|s| forms(s)).collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        let pattern = if secrets.is_empty() {
            None
        } else {
            let alternation = secrets.iter().map(|s| secret_pattern(s)).collect::<Vec<_>>().join("|");
            // Escaped literals always compile; an absurdly large set falls back to a plain scan.
            Regex::new(&alternation).ok()
        };
        Redactor { secrets, originals, pattern }
    }

    /// A redactor that changes nothing.
    pub fn none() -> Redactor {
        Redactor::default()
    }

    /// The values of `names` (the spec's `secrets.required`) in `env`, plus the values of every
    /// variable of `env` and of `extra_env_pairs` (service environments, `--env` pairs) whose
    /// name [looks secret](Redactor::looks_secret).
    pub fn from_env(
        names: &[String],
        env: &BTreeMap<String, String>,
        extra_env_pairs: &[(String, String)],
    ) -> Redactor {
        let mut values: Vec<String> = names.iter().filter_map(|n| env.get(n).cloned()).collect();
        for (key, value) in env.iter().chain(extra_env_pairs.iter().map(|(k, v)| (k, v))) {
            let required = names.contains(key);
            if required || (Redactor::looks_secret(key) && !is_innocuous(value)) {
                values.push(value.clone());
            }
            // The password inside a URL value (`DATABASE_URL`), whatever the name.
            if let Some(password) = secrets::url_password(value) {
                values.push(password.to_owned());
                values.push(percent_decode(password));
            }
        }
        Redactor::new(values)
    }

    /// Whether a variable name suggests a secret value.
    pub fn looks_secret(name: &str) -> bool {
        secrets::looks_secret(name)
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret value replaced by [`MASK`], and the start or end of one at the
    /// text's edges (a cut or split secret).
    pub fn apply(&self, text: &str) -> String {
        let whole = match &self.pattern {
            Some(pattern) => pattern.replace_all(text, MASK).into_owned(),
            None if self.secrets.is_empty() => return text.to_owned(),
            None => {
                let mut out = text.to_owned();
                for secret in &self.secrets {
                    out = out.replace(secret.as_str(), MASK);
                }
                out
            }
        };
        self.mask_edges(whole)
    }

    /// Masks a secret's prefix ending the text and its suffix starting it.
    fn mask_edges(&self, mut text: String) -> String {
        for secret in &self.originals {
            let cut = longest_edge(secret.len(), |n| text.ends_with(&secret[..n]), secret);
            if let Some(n) = cut {
                text.truncate(text.len() - n);
                text.push_str(MASK);
            }
            let split = longest_edge(secret.len(), |n| text.starts_with(&secret[secret.len() - n..]), secret);
            if let Some(n) = split {
                text.replace_range(..n, MASK);
            }
        }
        text
    }

    fn apply_opt(&self, text: &Option<String>) -> Option<String> {
        text.as_deref().map(|t| self.apply(t))
    }

    /// A JSON value with every string (and object key) redacted.
    pub fn apply_value(&self, value: &Value) -> Value {
        if self.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(s) => Value::String(self.apply(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply_value(v)).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (self.apply(k), self.apply_value(v))).collect())
            }
            other => other.clone(),
        }
    }

    /// An event with its service and fields redacted.
    pub fn apply_event(&self, event: &Event) -> Event {
        Event {
            seq: event.seq,
            at_ms: event.at_ms,
            service: self.apply(&event.service),
            kind: self.apply(&event.kind),
            fields: event.fields.iter().map(|(k, v)| (self.apply(k), self.apply_value(v))).collect(),
        }
    }
}

/// The longest proper part length `n` (from [`MIN_SPLIT_LEN`] up, on character boundaries)
/// for which `matches(n)` holds.
fn longest_edge(len: usize, matches: impl Fn(usize) -> bool, secret: &str) -> Option<usize> {
    (MIN_SPLIT_LEN..len)
        .rev()
        .filter(|&n| secret.is_char_boundary(n) && secret.is_char_boundary(len - n))
        .find(|&n| matches(n))
}

/// `%XX` escapes decoded (a URL's password is often written encoded).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Values a variable with a secret-looking name often holds that are not secrets.
fn is_innocuous(value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    matches!(lower.as_str(), "true" | "false" | "yes" | "no" | "none" | "null" | "disabled" | "enabled")
        || lower.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-')
}

/// `events` with every secret value replaced.
pub fn redact_events(events: &[Event], redactor: &Redactor) -> Vec<Event> {
    events.iter().map(|e| redactor.apply_event(e)).collect()
}

impl RunReport {
    /// The report with every secret value replaced in every string it holds.
    pub fn redacted(&self, redactor: &Redactor) -> RunReport {
        if redactor.is_empty() {
            return self.clone();
        }
        let r = redactor;
        RunReport {
            root: r.apply(&self.root),
            shard: r.apply_opt(&self.shard),
            duration_ms: self.duration_ms,
            services: self
                .services
                .iter()
                .map(|s| ServiceResult {
                    name: r.apply(&s.name),
                    state: r.apply(&s.state),
                    message: r.apply_opt(&s.message),
                    ready_ms: s.ready_ms,
                })
                .collect(),
            results: self
                .results
                .iter()
                .map(|item| ItemResult {
                    name: r.apply(&item.name),
                    message: r.apply_opt(&item.message),
                    matrix: item.matrix.as_ref().map(|(s, f)| (r.apply(s), r.apply(f))),
                    diagnostics: redact_diagnostics(r, &item.diagnostics),
                    ..item.clone()
                })
                .collect(),
            diagnostics: redact_diagnostics(r, &self.diagnostics),
            summary: self.summary,
            plan: self.plan.as_ref().map(|p| super::model::PlanIdentity {
                digest: p.digest.clone(),
                tests: p.tests.iter().map(|t| r.apply(t)).collect(),
            }),
        }
    }
}

/// The pattern of one secret: the literal, bounded by word boundaries when it is short and
/// starts and ends with word characters.
fn secret_pattern(secret: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let short = secret.chars().count() < WHOLE_WORD_BELOW;
    if short && word(secret.chars().next()) && word(secret.chars().last()) {
        format!(r"\b{}\b", regex::escape(secret))
    } else {
        regex::escape(secret)
    }
}

fn redact_diagnostics(r: &Redactor, diagnostics: &[RunDiagnostic]) -> Vec<RunDiagnostic> {
    diagnostics
        .iter()
        .map(|d| RunDiagnostic { message: r.apply(&d.message), suggestion: r.apply_opt(&d.suggestion), ..d.clone() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_longest_first_and_ignores_short_values() {
        let r = Redactor::new(vec!["abc".into(), "hunter2".into(), "hunter2-extended".into()]);
        assert_eq!(r.apply("x hunter2-extended y hunter2 abc"), "x [REDACTED] y [REDACTED] abc");
    }

    #[test]
    fn short_values_are_redacted_as_whole_words_only() {
        let r = Redactor::new(vec!["test".into()]);
        assert_eq!(
            r.apply("postgres://u:test@db test_place_order test"),
            "postgres://u:[REDACTED]@db test_place_order [REDACTED]"
        );
    }

    #[test]
    fn from_env_collects_required_and_secret_looking_names() {
        let env: BTreeMap<String, String> = [
            ("DATABASE_URL", "postgres://u:pw@db/x"),
            ("API_TOKEN", "tok-123456"),
            ("PATH", "/usr/bin"),
            ("FEATURE_KEY_ENABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let extra = vec![("db_password".to_owned(), "s3cr3t!".to_owned())];
        let r = Redactor::from_env(&["DATABASE_URL".to_owned()], &env, &extra);
        let out = r.apply("postgres://u:pw@db/x tok-123456 /usr/bin true s3cr3t!");
        assert_eq!(out, "[REDACTED] [REDACTED] /usr/bin true [REDACTED]");
    }

    fn secret_free(r: &Redactor, text: &str, secret: &str) {
        let out = r.apply(text);
        assert!(!out.contains(secret), "{secret:?} survives in {out:?}");
        assert!(out.contains(MASK), "{out:?}");
    }

    #[test]
    fn escaped_and_encoded_forms_are_redacted() {
        let secret = "p\"w\\d-Secret 99/+";
        let r = Redactor::new(vec![secret.to_owned()]);
        let json = serde_json::to_string(&serde_json::json!({ "body": secret })).unwrap();
        secret_free(&r, &json, "Secret 99");
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("user:{secret}"));
        let out = r.apply(&b64);
        assert!(out.contains(MASK), "base64 at an offset: {out}");
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode(secret);
        assert!(r.apply(&url_safe).contains(MASK));
        secret_free(&r, &format!("GET /echo/{}", percent_encode(secret, false)), "Secret%2099");
        secret_free(&r, &format!("q={}", percent_encode(secret, true)), "Secret+99");
    }

    #[test]
    fn multi_line_secrets_are_redacted_escaped_and_line_by_line() {
        let pem = "-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEF\nAASCAUEwggE9AgEAAkEAq7BFUpkG\n-----END KEY-----";
        let r = Redactor::new(vec![pem.to_owned()]);
        let escaped = serde_json::to_string(pem).unwrap();
        secret_free(&r, &format!("key={escaped}"), "MIIBVwIBADANBgkqhkiG9w0BAQEF");
        secret_free(&r, "line: AASCAUEwggE9AgEAAkEAq7BFUpkG", "AASCAUEwggE9AgEAAkEAq7BFUpkG");
    }

    #[test]
    fn cut_and_split_secrets_are_masked_at_the_edges() {
        let secret = "abcdefghijklmnop-secret";
        let r = Redactor::new(vec![secret.to_owned()]);
        assert_eq!(r.apply(&("x".repeat(10) + "abcdefghij")), format!("{}{MASK}", "x".repeat(10)));
        assert_eq!(r.apply("op-secret and more"), format!("{MASK} and more"));
        assert_eq!(r.apply("abc is short"), "abc is short", "below the split minimum nothing changes");
    }

    #[test]
    fn wider_names_and_url_passwords() {
        let env: BTreeMap<String, String> = [
            ("DB_PASS", "hunter2hunter2"),
            ("MYSQL_PWD", "mysqlpw-123"),
            ("DATABASE_URL", "postgres://app:url%2Fpass-77@db/x"),
            ("PWD", "/work/dir"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let r = Redactor::from_env(&[], &env, &[]);
        let out = r.apply("hunter2hunter2 mysqlpw-123 url%2Fpass-77 url/pass-77 /work/dir");
        assert_eq!(out, format!("{MASK} {MASK} {MASK} {MASK} /work/dir"));
    }
}
