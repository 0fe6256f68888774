//! Secret values never reach a report: every renderer gets a [`RunReport::redacted`] model and
//! [`redact_events`] events, where each secret value is replaced with `[REDACTED]`.
//!
//! The secrets are the values of the spec's `secrets.required` variables and of every
//! environment variable whose name looks secret (`PASSWORD`, `SECRET`, `TOKEN`, `KEY`,
//! `CREDENTIAL`, `PRIVATE`, in any case). Values shorter than 4 characters are not redacted
//! (they would mangle unrelated text), nor, for names that merely look secret, values such as
//! `true`, `false` or a number. A short value (under 8 characters) is replaced only where it
//! stands as a whole word: a password `test` is hidden in `postgres://u:test@db`, but test
//! names such as `test_place_order` stay readable.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

use super::model::{ItemResult, RunDiagnostic, RunReport, ServiceResult};
use crate::events::Event;

/// Replaces secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, deduplicated.
    secrets: Vec<String>,
    pattern: Option<Regex>,
}

/// What a secret value becomes.
pub const MASK: &str = "[REDACTED]";

/// The shortest value that is redacted.
pub const MIN_SECRET_LEN: usize = 4;
/// Values shorter than this are redacted only as whole words.
const WHOLE_WORD_BELOW: usize = 8;

const SECRET_WORDS: [&str; 6] = ["PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "PRIVATE"];

impl Redactor {
    /// A redactor for these values (those shorter than [`MIN_SECRET_LEN`] are ignored).
    pub fn new(secret_values: Vec<String>) -> Redactor {
        let mut secrets: Vec<String> =
            secret_values.into_iter().filter(|s| s.chars().count() >= MIN_SECRET_LEN).collect();
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
        Redactor { secrets, pattern }
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
        }
        Redactor::new(values)
    }

    /// Whether a variable name suggests a secret value.
    pub fn looks_secret(name: &str) -> bool {
        let upper = name.to_ascii_uppercase();
        SECRET_WORDS.iter().any(|w| upper.contains(w))
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret value replaced by [`MASK`].
    pub fn apply(&self, text: &str) -> String {
        match &self.pattern {
            Some(pattern) => pattern.replace_all(text, MASK).into_owned(),
            None if self.secrets.is_empty() => text.to_owned(),
            None => {
                let mut out = text.to_owned();
                for secret in &self.secrets {
                    out = out.replace(secret.as_str(), MASK);
                }
                out
            }
        }
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
}
