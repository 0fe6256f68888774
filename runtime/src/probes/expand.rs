//! `${VAR}` references, flow captures (`{name}` in later paths) and the JSONPath subset
//! captures use.

use std::collections::BTreeMap;

use serde_json::Value;

/// Replaces every `${NAME}` with its value from `env`. Errors with the names that are not set
/// (sorted, deduplicated). A `$` not followed by `{NAME}` stays as written.
pub fn expand_vars(text: &str, env: &BTreeMap<String, String>) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut missing: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_var_name(&after[..end]) => {
                let name = &after[..end];
                match env.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        if !missing.iter().any(|m| m == name) {
                            missing.push(name.to_owned());
                        }
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        missing.sort();
        Err(missing)
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Replaces `{name}` with the captured value (percent-encoded as a path segment). Errors with
/// the first `{name}` that has no capture. Text that is not `{identifier}` stays as written.
pub(crate) fn fill_captures(url: &str, captures: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if is_var_name(&after[..end]) => {
                let name = &after[..end];
                let value = captures.get(name).ok_or_else(|| name.to_owned())?;
                out.push_str(&encode_segment(value));
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Evaluates the JSONPath subset flows use: `$`, `.key`, `['key']`, `["key"]`, `[N]`
/// (a leading `$` is optional). `None` when the path does not resolve or is malformed.
pub fn json_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim();
    let path = path.strip_prefix('$').unwrap_or(path);
    // `key.sub` without the leading `$.`.
    let owned;
    let mut rest = if path.is_empty() || path.starts_with(['.', '[']) {
        path
    } else {
        owned = format!(".{path}");
        owned.as_str()
    };
    let mut current = value;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            if key.is_empty() {
                return None;
            }
            current = current.get(key)?;
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inner = after[..end].trim();
            if let Some(key) = inner
                .strip_prefix('\'')
                .and_then(|k| k.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|k| k.strip_suffix('"')))
            {
                current = current.get(key)?;
            } else {
                let index: usize = inner.parse().ok()?;
                current = current.get(index)?;
            }
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vars_expand_and_missing_ones_are_reported() {
        let env: BTreeMap<String, String> = [("TOKEN".to_owned(), "abc".to_owned())].into();
        assert_eq!(expand_vars("Bearer ${TOKEN}", &env).unwrap(), "Bearer abc");
        assert_eq!(expand_vars("$5 ${ not} ${TOKEN", &env).unwrap(), "$5 ${ not} ${TOKEN");
        assert_eq!(expand_vars("${B}${A}${B}", &env).unwrap_err(), vec!["A", "B"]);
    }

    #[test]
    fn captures_fill_path_segments() {
        let caps: BTreeMap<String, String> = [("id".to_owned(), "a b".to_owned())].into();
        assert_eq!(fill_captures("/users/{id}/x", &caps).unwrap(), "/users/a%20b/x");
        assert_eq!(fill_captures("/q?{x", &caps).unwrap(), "/q?{x");
        assert_eq!(fill_captures("/{other}", &caps).unwrap_err(), "other");
    }

    #[test]
    fn json_path_subset() {
        let v = json!({"data": {"items": [{"id": 7}], "a.b": 1}});
        assert_eq!(json_path(&v, "$.data.items[0].id"), Some(&json!(7)));
        assert_eq!(json_path(&v, "$['data']['a.b']"), Some(&json!(1)));
        assert_eq!(json_path(&v, "data.items"), Some(&json!([{"id": 7}])));
        assert_eq!(json_path(&v, "$"), Some(&v));
        assert_eq!(json_path(&v, "$.nope"), None);
        assert_eq!(json_path(&v, "$.data.items[x]"), None);
    }
}
