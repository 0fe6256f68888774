//! Which environment variables hold secrets, shared by lowering (a secret stays a `${NAME}`
//! reference in the plan, its value read at run time) and the runtime's redaction.
//!
//! A variable is secret when the spec's `secrets.required` names it, when `--secret-env`
//! names it, when its name looks secret, or when its value is a URL with a password in it
//! (`DATABASE_URL=postgres://u:pw@db/x`).

use std::collections::BTreeMap;

use crate::syntax::yaml::Node;

/// Substrings of a name that mark a secret, in any case.
const SECRET_WORDS: &[&str] =
    &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "PRIVATE", "COOKIE", "SESSION", "SALT"];

/// Whole `_`-separated segments of a name that mark a secret (too short to match inside
/// words: `DB_PASS`, `MYSQL_PWD`, `BASIC_AUTH`, `SENTRY_DSN`).
const SECRET_SEGMENTS: &[&str] = &["PASS", "PWD", "PW", "AUTH", "DSN", "PIN", "OTP"];

/// Names that match the patterns but never hold secrets.
const NOT_SECRET: &[&str] = &["PWD", "OLDPWD"];

/// Whether a variable name suggests a secret value.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if NOT_SECRET.contains(&upper.as_str()) {
        return false;
    }
    SECRET_WORDS.iter().any(|w| upper.contains(w))
        || upper.split(['_', '-', '.']).any(|segment| SECRET_SEGMENTS.contains(&segment))
}

/// The password in a URL's user information (`scheme://user:password@host`), if any.
pub fn url_password(value: &str) -> Option<&str> {
    let (_, rest) = value.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// Whether the variable `name` with `value` is a secret, given the names declared secret.
pub fn is_secret(name: &str, value: &str, declared: &[String]) -> bool {
    declared.iter().any(|d| d == name) || looks_secret(name) || url_password(value).is_some()
}

/// The names the spec's `secrets.required` lists (strings, or `{key: NAME}` objects).
pub fn declared(root: &Node) -> Vec<String> {
    let required = root.field("secrets").and_then(|s| s.field("required")).and_then(Node::as_seq).unwrap_or_default();
    required
        .iter()
        .filter_map(|item| item.as_str().or_else(|| item.field("key").and_then(Node::as_str)))
        .map(str::to_owned)
        .collect()
}

/// The environment as lowering may use it: every secret variable's value is its own
/// reference (`${NAME}`), so expanding a URL keeps the reference and the plan never holds
/// the value.
pub fn public_environment(environment: &BTreeMap<String, String>, declared: &[String]) -> BTreeMap<String, String> {
    environment
        .iter()
        .map(|(name, value)| {
            let shown = if is_secret(name, value, declared) { format!("${{{name}}}") } else { value.clone() };
            (name.clone(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_that_hold_secrets() {
        for name in ["DB_PASS", "MYSQL_PWD", "api_key", "GithubToken", "BASIC_AUTH", "SENTRY_DSN", "DB_PASSWORD"] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["PWD", "OLDPWD", "PATH", "DATABASE_URL", "PASSENGER_COUNT", "HOME"] {
            assert!(!looks_secret(name), "{name}");
        }
        assert_eq!(url_password("postgres://app:s3cr3t@db:5432/x"), Some("s3cr3t"));
        assert_eq!(url_password("https://example.com/a:b@c"), None);
        assert_eq!(url_password("redis://:pw@cache"), Some("pw"));
        assert_eq!(url_password("not a url"), None);
    }

    #[test]
    fn secret_values_become_their_references() {
        let env: BTreeMap<String, String> = [("APP_TOKEN", "t0k3n-value"), ("HOST", "example.com"), ("MY_VAR", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let public = public_environment(&env, &["MY_VAR".to_owned()]);
        assert_eq!(public["APP_TOKEN"], "${APP_TOKEN}");
        assert_eq!(public["MY_VAR"], "${MY_VAR}");
        assert_eq!(public["HOST"], "example.com");
    }
}
