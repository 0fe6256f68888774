//! Event filters of `events()`, `assert_eventually`, `assert_never`, `assert_before` and
//! monitors: `service=`, `type=` and any other key against the event's fields, each a glob.
//! Filters are compiled once and then matched against many events (a flooding service can
//! leave tens of thousands in one test).

use globset::{Glob, GlobMatcher};

use crate::events::Event;

/// One compiled `key=pattern` filter.
pub struct Filter {
    key: String,
    pattern: Pattern,
}

enum Pattern {
    Glob(GlobMatcher),
    /// Not a valid glob: compared exactly.
    Exact(String),
}

/// Compiles `(key, pattern)` pairs.
pub fn compile(pairs: &[(String, String)]) -> Vec<Filter> {
    pairs
        .iter()
        .map(|(key, pattern)| Filter {
            key: key.clone(),
            pattern: match Glob::new(pattern) {
                Ok(glob) => Pattern::Glob(glob.compile_matcher()),
                Err(_) => Pattern::Exact(pattern.clone()),
            },
        })
        .collect()
}

/// Whether `event` matches every filter.
pub fn matches(event: &Event, filters: &[Filter]) -> bool {
    filters.iter().all(|filter| {
        let owned;
        let value: &str = match filter.key.as_str() {
            "service" => &event.service,
            "type" => &event.kind,
            field => match event.fields.get(field) {
                Some(serde_json::Value::String(s)) => s,
                Some(other) => {
                    owned = other.to_string();
                    &owned
                }
                None => return false,
            },
        };
        match &filter.pattern {
            Pattern::Glob(glob) => glob.is_match(value),
            Pattern::Exact(text) => text == value,
        }
    })
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

    fn f(pairs: &[(&str, &str)]) -> Vec<Filter> {
        compile(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>())
    }

    #[test]
    fn filters_match_service_type_and_fields_by_glob() {
        let e = event();
        assert!(matches(&e, &f(&[("service", "ap*"), ("type", "stdout"), ("action", "user_*")])));
        assert!(matches(&e, &f(&[("id", "7")])));
        assert!(!matches(&e, &f(&[("missing", "*")])));
        assert!(!matches(&e, &f(&[("service", "db")])));
        assert!(matches(&e, &f(&[("service", "[")])) == ("api" == "["));
    }
}
