//! Route tables of HTTP mocks: `"METHOD /path"` keys matched against requests.
//!
//! A method is a name (case-insensitive) or `*` (any). A path is `/`-separated segments, each a
//! literal, `{name}` or `*` (exactly one segment), `**` (any number of segments, none
//! included), or a literal with `*` inside (`user-*`, within one segment). A trailing `/` is
//! ignored on both sides. When several routes match, the most specific wins: segment by
//! segment a literal beats an in-segment glob, which beats a one-segment wildcard, which beats
//! `**`; then a named method beats `*`; then the route declared first. So an exact route is
//! always preferred over a pattern.

use std::cmp::Ordering;

/// One segment of a route's path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A literal with `*` wildcards inside one segment.
    Glob(String),
    /// `{name}` or `*`.
    One,
    /// `**`.
    Any,
}

impl Segment {
    /// Lower is more specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Glob(_) => 1,
            Segment::One => 2,
            Segment::Any => 3,
        }
    }
}

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// Upper-case method; `None` for `*`.
    method: Option<String>,
    segments: Vec<Segment>,
}

impl Pattern {
    /// Parses `"METHOD /path"`; `Err` says why a key is not one.
    pub(crate) fn parse(key: &str) -> Result<Pattern, String> {
        let mut parts = key.split_whitespace();
        let (Some(method), Some(path), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err("expected `METHOD /path`".to_owned());
        };
        let method = match method {
            "*" => None,
            m if m.bytes().all(|b| b.is_ascii_alphabetic()) => Some(m.to_ascii_uppercase()),
            m => return Err(format!("`{m}` is not an HTTP method")),
        };
        if !path.starts_with('/') {
            return Err(format!("the path `{path}` does not start with `/`"));
        }
        let segments = split(path)
            .map(|segment| {
                if segment == "**" {
                    Segment::Any
                } else if segment == "*" || (segment.starts_with('{') && segment.ends_with('}') && segment.len() > 2) {
                    Segment::One
                } else if segment.contains('*') {
                    Segment::Glob(segment.to_owned())
                } else {
                    Segment::Literal(segment.to_owned())
                }
            })
            .collect();
        Ok(Pattern { method, segments })
    }

    /// Whether the pattern has no wildcard at all.
    pub(crate) fn is_exact(&self) -> bool {
        self.method.is_some() && self.segments.iter().all(|s| matches!(s, Segment::Literal(_)))
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        if self.method.as_deref().is_some_and(|m| !m.eq_ignore_ascii_case(method)) {
            return false;
        }
        let target: Vec<&str> = split(path).collect();
        match_segments(&self.segments, &target)
    }

    /// `Less` when `self` is more specific than `other`.
    fn specificity(&self, other: &Pattern) -> Ordering {
        let ranks = |p: &Pattern| p.segments.iter().map(Segment::rank).collect::<Vec<_>>();
        // A shorter pattern that is a prefix of ranks is not "more specific" by length alone:
        // compare rank by rank, then prefer more literal segments overall.
        ranks(self)
            .iter()
            .zip(ranks(other).iter())
            .map(|(a, b)| a.cmp(b))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
            .then_with(|| other.segments.len().cmp(&self.segments.len()))
            .then_with(|| other.method.is_some().cmp(&self.method.is_some()))
    }
}

/// The segments of a path: no leading `/`, a trailing `/` ignored, `/` alone has none.
fn split(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    trimmed.split('/').filter(move |_| !trimmed.is_empty())
}

fn match_segments(pattern: &[Segment], target: &[&str]) -> bool {
    match pattern.split_first() {
        None => target.is_empty(),
        Some((Segment::Any, rest)) => (0..=target.len()).any(|skip| match_segments(rest, &target[skip..])),
        Some((head, rest)) => {
            let Some((first, others)) = target.split_first() else { return false };
            let ok = match head {
                Segment::Literal(text) => text == first,
                Segment::Glob(glob) => glob_match(glob.as_bytes(), first.as_bytes()),
                Segment::One => true,
                Segment::Any => unreachable!("handled above"),
            };
            ok && match_segments(rest, others)
        }
    }
}

/// `*` matches any run of bytes (within one segment: the caller splits on `/`).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matching with backtracking to the last `*`: linear in practice, no recursion.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// A route table: patterns with their payloads, best match first.
#[derive(Debug)]
pub(crate) struct Table<T> {
    /// In order of preference: exact routes, then patterns by specificity, then declaration.
    routes: Vec<(Pattern, String, T)>,
}

impl<T> Table<T> {
    /// Builds a table from `(key, payload)` pairs in declaration order; `Err((key, why))` for
    /// the first key that is not a route.
    pub(crate) fn new(entries: impl IntoIterator<Item = (String, T)>) -> Result<Table<T>, (String, String)> {
        let mut routes = Vec::new();
        for (key, payload) in entries {
            let pattern = Pattern::parse(&key).map_err(|why| (key.clone(), why))?;
            routes.push((pattern, key, payload));
        }
        // Stable: equally specific routes keep their declaration order.
        routes.sort_by(|(a, _, _), (b, _, _)| b.is_exact().cmp(&a.is_exact()).then_with(|| a.specificity(b)));
        Ok(Table { routes })
    }

    /// The best route for a request, with its key.
    pub(crate) fn find(&self, method: &str, path: &str) -> Option<(&str, &T)> {
        self.routes
            .iter()
            .find(|(pattern, _, _)| pattern.matches(method, path))
            .map(|(_, key, payload)| (key.as_str(), payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[&str]) -> Table<usize> {
        Table::new(keys.iter().enumerate().map(|(i, k)| (k.to_string(), i))).unwrap()
    }

    fn found(table: &Table<usize>, method: &str, path: &str) -> Option<usize> {
        table.find(method, path).map(|(_, &i)| i)
    }

    #[test]
    fn parses_keys() {
        assert!(Pattern::parse("GET /users/{id}").unwrap().matches("GET", "/users/7"));
        assert!(Pattern::parse("get /x").unwrap().matches("GET", "/x"));
        assert!(Pattern::parse("GET").is_err());
        assert!(Pattern::parse("GET users").is_err());
        assert!(Pattern::parse("GET /a /b").is_err());
        assert!(Pattern::parse("G3T /a").is_err());
        assert!(Pattern::parse("GET /{}").unwrap().is_exact());
    }

    #[test]
    fn segments_and_wildcards() {
        let p = |key: &str| Pattern::parse(key).unwrap();
        assert!(p("GET /users/{id}").matches("GET", "/users/42/"));
        assert!(!p("GET /users/{id}").matches("GET", "/users"));
        assert!(!p("GET /users/{id}").matches("GET", "/users/1/posts"));
        assert!(!p("GET /users/{id}").matches("POST", "/users/1"));
        assert!(p("* /users/*").matches("DELETE", "/users/1"));
        assert!(p("GET /files/**").matches("GET", "/files"));
        assert!(p("GET /files/**").matches("GET", "/files/a/b/c"));
        assert!(p("GET /**/raw").matches("GET", "/a/b/raw"));
        assert!(!p("GET /**/raw").matches("GET", "/a/b/raw/x"));
        assert!(p("GET /v1/user-*").matches("GET", "/v1/user-12"));
        assert!(!p("GET /v1/user-*").matches("GET", "/v1/admin-12"));
        assert!(p("GET /").matches("GET", "/"));
        assert!(!p("GET /").matches("GET", "/x"));
        assert!(glob_match(b"a*b*c", b"axxbyyc"));
        assert!(!glob_match(b"a*b*c", b"axxbyy"));
        assert!(glob_match(b"**", b""));
    }

    #[test]
    fn exact_routes_win_then_specificity_then_order() {
        let t =
            table(&["GET /users/{id}", "GET /users/me", "* /users/me", "GET /**", "GET /users/*", "GET /users/u-*"]);
        assert_eq!(found(&t, "GET", "/users/me"), Some(1));
        assert_eq!(found(&t, "PUT", "/users/me"), Some(2));
        assert_eq!(found(&t, "GET", "/users/7"), Some(0), "first of two equally specific patterns");
        assert_eq!(found(&t, "GET", "/users/u-7"), Some(5), "an in-segment glob beats a wildcard");
        assert_eq!(found(&t, "GET", "/other/thing"), Some(3));
        assert_eq!(found(&t, "POST", "/other"), None);
        assert_eq!(t.find("GET", "/users/me").map(|(key, _)| key), Some("GET /users/me"));
    }

    #[test]
    fn bad_keys_are_reported() {
        let err = Table::new([("GET /ok".to_owned(), 0), ("http".to_owned(), 1)]).unwrap_err();
        assert_eq!(err.0, "http");
    }
}
