//! Rule matchers: a rule matches a message when every one of its globs matches the message's
//! field of that name. Globs compile once per proxy (the cache) since the same rules are
//! consulted on every message. `*` crosses `/` (a path glob `/users/*` matches `/users/1/x`).
//!
//! `method`, `command` and (SQL) `query` compare case-insensitively; `path`, `key` and `topic`
//! exactly. A Postgres or MySQL `query` compares canonical forms of the SQL and of the glob (see
//! [`canonical_sql`]), so that `INSERT INTO users*` matches
//! `insert into users (name)\n values ($1) returning id`.

use std::collections::HashMap;
use std::sync::Mutex;

use globset::{GlobBuilder, GlobMatcher};
use ospecc_schema::plan::topology::Matcher;

/// Fields compared without regard to case.
const CASE_INSENSITIVE: &[&str] = &["method", "command", "query"];

/// Characters around which whitespace carries no meaning in SQL (`values ($1)` = `values($1)`).
const TIGHT: &[char] = &['(', ')', ',', '=', '<', '>', '+', '-', '*', '/'];

/// Compiled globs of one proxy.
#[derive(Default)]
pub(super) struct GlobCache {
    /// The `query` field holds SQL (Postgres, MySQL): its globs are canonicalized like the SQL is.
    sql_queries: bool,
    /// Indexed by case-insensitivity; `None` for a glob that does not compile (never matches).
    compiled: [Mutex<HashMap<String, Option<GlobMatcher>>>; 2],
}

impl GlobCache {
    pub(super) fn new(sql_queries: bool) -> GlobCache {
        GlobCache { sql_queries, ..GlobCache::default() }
    }

    /// Whether every matcher matches its field of `message`; a field the message lacks does not
    /// match (the rule is narrower than anything this protocol can say).
    pub(super) fn matches_all(&self, matchers: &[Matcher], message: &[(&str, &str)]) -> bool {
        matchers.iter().all(|matcher| {
            let value = message.iter().find(|(field, _)| *field == matcher.field).map(|(_, value)| *value);
            value.is_some_and(|value| self.matches(&matcher.field, &matcher.glob, value))
        })
    }

    fn matches(&self, field: &str, glob: &str, value: &str) -> bool {
        let insensitive = CASE_INSENSITIVE.contains(&field);
        let mut compiled = self.compiled[usize::from(insensitive)].lock().unwrap_or_else(|p| p.into_inner());
        if let Some(matcher) = compiled.get(glob) {
            return matcher.as_ref().is_some_and(|m| m.is_match(value));
        }
        let pattern = if self.sql_queries && field == "query" { canonical(glob, "[?]") } else { glob.to_owned() };
        let matcher =
            GlobBuilder::new(&pattern).case_insensitive(insensitive).build().ok().map(|g| g.compile_matcher());
        let matched = matcher.as_ref().is_some_and(|m| m.is_match(value));
        compiled.insert(glob.to_owned(), matcher);
        matched
    }
}

/// The canonical form of SQL text used for matching: whitespace runs collapse to one space and
/// vanish next to punctuation and operators, `$1`-style placeholders become `?`, and leading
/// and trailing whitespace and semicolons are dropped. Case is left alone (matching ignores it).
pub fn canonical_sql(sql: &str) -> String {
    canonical(sql, "?")
}

/// [`canonical_sql`] with the text `$N` placeholders become (a glob needs `[?]`, as its `?`
/// is a wildcard).
fn canonical(sql: &str, placeholder: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut space = false;
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        let numbered = c == '$' && chars.peek().is_some_and(char::is_ascii_digit);
        let first = if numbered { '?' } else { c };
        if space && !out.is_empty() && !TIGHT.contains(&first) && !out.ends_with(TIGHT) {
            out.push(' ');
        }
        space = false;
        if numbered {
            while chars.next_if(char::is_ascii_digit).is_some() {}
            out.push_str(placeholder);
        } else {
            out.push(c);
        }
    }
    let kept = out.trim_end_matches([';', ' ']).trim_start_matches(';').len();
    out.truncate(kept);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(field: &str, glob: &str) -> Vec<Matcher> {
        vec![Matcher { field: field.into(), glob: glob.into() }]
    }

    #[test]
    fn sql_is_canonicalized() {
        assert_eq!(
            canonical_sql("  insert into users (name)\n\tvalues ($1, $22)  returning id ;; "),
            "insert into users(name)values(?,?)returning id"
        );
        assert_eq!(canonical_sql("SELECT * FROM t WHERE a = ?"), "SELECT*FROM t WHERE a=?");
        assert_eq!(canonical_sql(";"), "");
    }

    #[test]
    fn sql_globs_match_canonical_sql_case_insensitively() {
        let cache = GlobCache::new(true);
        let sql = canonical_sql("insert into users (name) values ($1) returning id");
        let message = [("query", sql.as_str())];
        assert!(cache.matches_all(&rule("query", "INSERT INTO users*"), &message));
        assert!(cache.matches_all(&rule("query", "INSERT INTO users (name) VALUES ($1)*"), &message));
        assert!(!cache.matches_all(&rule("query", "SELECT*"), &message));
        // Cached compilations answer the same.
        assert!(cache.matches_all(&rule("query", "INSERT INTO users*"), &message));
    }

    #[test]
    fn fields_compare_by_their_case_rules_and_missing_fields_do_not_match() {
        let cache = GlobCache::new(false);
        let message = [("method", "GET"), ("path", "/Users/1"), ("query", "a=1")];
        assert!(cache.matches_all(&rule("method", "get"), &message));
        assert!(!cache.matches_all(&rule("path", "/users/*"), &message));
        assert!(cache.matches_all(&rule("path", "/Users/*"), &message));
        assert!(cache.matches_all(&rule("query", "a=*"), &message));
        assert!(!cache.matches_all(&rule("key", "*"), &message));
        assert!(!cache.matches_all(&rule("path", "[unclosed"), &message));
        assert!(cache.matches_all(&[], &message));
    }
}
