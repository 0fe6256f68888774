//! The integration step grammar: `METHOD [service:]PATH ARROW EXPECT`.
//!
//! ```text
//! step   := ws? method ws+ target ws* arrow ws* expect ws?
//! method := GET | POST | PUT | PATCH | DELETE | HEAD | OPTIONS      (case-sensitive)
//! target := [service ":"] "/" non-whitespace*
//! arrow  := "→" | "->" | "=>"
//! expect := status ("|" status)* | [1-5] "xx"
//! ```
//! Checking uses it to warn about steps that will be manual items; lowering (later) turns
//! parsed steps into HTTP probes. Anything else is an opaque step, never guessed at.

/// The HTTP methods a step may use.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The arrows accepted between target and expectation; the first is canonical.
pub const ARROWS: &[&str] = &["→", "->", "=>"];

/// A parsed step string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step<'a> {
    pub method: &'a str,
    pub service: Option<&'a str>,
    pub path: &'a str,
    /// Byte range of `service` within the step string.
    pub service_range: Option<(usize, usize)>,
    pub expect: Expect,
}

/// What status the step expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// One of these exact codes.
    Codes(Vec<u16>),
    /// Any code of the class (2 for `2xx`).
    Class(u8),
}

/// Why a string is not a step, phrased for a diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAStep {
    pub reason: String,
}

/// Parses one step string.
pub fn parse(step: &str) -> Result<Step<'_>, NotAStep> {
    let trimmed_start = step.len() - step.trim_start().len();
    let body = step.trim();
    let (method, rest) = body.split_once(char::is_whitespace).ok_or_else(|| not_a_step("no `METHOD /path` part"))?;
    if !METHODS.contains(&method) {
        let hint = METHODS.iter().find(|m| m.eq_ignore_ascii_case(method));
        return Err(not_a_step(&match hint {
            Some(m) => format!("method `{method}` must be upper-case (`{m}`)"),
            None => format!("`{method}` is not an HTTP method"),
        }));
    }
    let (arrow_at, arrow) =
        find_arrow(rest).ok_or_else(|| not_a_step("no arrow (`→`, `->` or `=>`) before the status"))?;
    let target = rest[..arrow_at].trim();
    let expect = parse_expect(rest[arrow_at + arrow.len()..].trim())?;
    let (service, path) = split_target(target)?;
    let rest_offset = trimmed_start + method.len() + (body[method.len()..].len() - rest.len());
    let service_range = service.map(|s| {
        let start = rest_offset + (rest.len() - rest.trim_start().len());
        (start, start + s.len())
    });
    Ok(Step { method, service, path, service_range, expect })
}

fn not_a_step(reason: &str) -> NotAStep {
    NotAStep { reason: reason.to_string() }
}

fn find_arrow(text: &str) -> Option<(usize, &'static str)> {
    ARROWS.iter().filter_map(|a| text.find(a).map(|at| (at, *a))).min_by_key(|&(at, _)| at)
}

fn split_target(target: &str) -> Result<(Option<&str>, &str), NotAStep> {
    if target.is_empty() {
        return Err(not_a_step("no path between the method and the arrow"));
    }
    if target.contains(char::is_whitespace) {
        return Err(not_a_step("the path contains spaces"));
    }
    let (service, path) = match target.find('/') {
        Some(0) => (None, target),
        Some(slash) if target[..slash].ends_with(':') => (Some(&target[..slash - 1]), &target[slash..]),
        _ => return Err(not_a_step("the path must start with `/` (optionally `service:/path`)")),
    };
    match service {
        Some(s) if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => {
            Err(not_a_step("the service prefix must be a service name followed by `:`"))
        }
        _ => Ok((service, path)),
    }
}

fn parse_expect(text: &str) -> Result<Expect, NotAStep> {
    if let Some(class) = text.strip_suffix("xx").or_else(|| text.strip_suffix("XX")) {
        if let Ok(digit @ 1..=5) = class.parse::<u8>() {
            return Ok(Expect::Class(digit));
        }
    }
    text.split('|')
        .map(|code| match code.trim().parse::<u16>() {
            Ok(status @ 100..=599) => Ok(status),
            _ => Err(not_a_step(&format!("`{}` is not an HTTP status (100–599 or a class like `2xx`)", code.trim()))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Expect::Codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_observed_form_and_variants() {
        let step = parse("POST /auth/register → 201").unwrap();
        assert_eq!((step.method, step.service, step.path), ("POST", None, "/auth/register"));
        assert_eq!(step.expect, Expect::Codes(vec![201]));
        let step = parse("  GET auth_service:/ping -> 200|204").unwrap();
        assert_eq!(step.service, Some("auth_service"));
        assert_eq!(step.service_range, Some((6, 18)));
        assert_eq!(&"  GET auth_service:/ping -> 200|204"[6..18], "auth_service");
        assert_eq!(step.expect, Expect::Codes(vec![200, 204]));
        assert_eq!(parse("DELETE /x/{id}=>2xx").unwrap().expect, Expect::Class(2));
    }

    #[test]
    fn rejects_prose_and_says_why() {
        assert!(parse("Complete Stripe checkout in test mode").unwrap_err().reason.contains("HTTP method"));
        assert!(parse("add_to_cart").is_err());
        assert!(parse("get /x → 200").unwrap_err().reason.contains("upper-case"));
        assert!(parse("GET /x 200").unwrap_err().reason.contains("arrow"));
        assert!(parse("GET /x → 999").unwrap_err().reason.contains("999"));
        assert!(parse("GET products → 200").unwrap_err().reason.contains("start with `/`"));
    }
}
