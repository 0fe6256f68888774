//! Event filters of `events()`, `assert_eventually`, `assert_never`, `assert_before` and
//! monitors: `service=`, `type=` and any other key against the event's fields, each a glob.

use globset::Glob;

use crate::events::Event;

/// Whether `event` matches every `(key, glob)` filter.
pub fn matches(event: &Event, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(key, pattern)| {
        let value = match key.as_str() {
            "service" => event.service.clone(),
            "type" => event.kind.clone(),
            field => match event.fields.get(field) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return false,
            },
        };
        glob_match(pattern, &value)
    })
}

/// Glob match (`*`, `?`, `[...]`), case-sensitive; a pattern that is not a glob compares exactly.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    match Glob::new(pattern) {
        Ok(glob) => glob.compile_matcher().is_match(value),
        Err(_) => pattern == value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fields;

    fn event() -> Event {
        Event {
            seq: 0,
            at_ms: 0.0,
            service: "api".into(),
            kind: "stdout".into(),
            fields: fields([("action", "user_created".into()), ("id", 7.into())]),
        }
    }

    #[test]
    fn filters_match_service_type_and_fields_by_glob() {
        let e = event();
        let f = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert!(matches(&e, &f(&[("service", "ap*"), ("type", "stdout"), ("action", "user_*")])));
        assert!(matches(&e, &f(&[("id", "7")])));
        assert!(!matches(&e, &f(&[("missing", "*")])));
        assert!(!matches(&e, &f(&[("service", "db")])));
    }
}
