//! Output decoders (`observe=`): turn one line of a service's output into event fields.

use std::collections::BTreeMap;

use serde_json::Value;

/// How a stream's lines are decoded.
#[derive(Debug, Clone)]
pub enum Decoder {
    /// Lines stay plain text.
    Plain,
    /// A JSON object per line; its keys become fields.
    Json,
    /// `k=v k2="quoted v"` pairs.
    Logfmt,
    /// Named capture groups become fields.
    Regex(regex::Regex),
}

impl Decoder {
    /// The decoder for `name` (and `pattern` for `regex`); an error says why it cannot be used
    /// (the stream's lines then stay plain).
    pub fn new(name: Option<&str>, pattern: Option<&str>) -> Result<Decoder, String> {
        match name {
            None | Some("") | Some("plain") | Some("text") => Ok(Decoder::Plain),
            Some("json") => Ok(Decoder::Json),
            Some("logfmt") => Ok(Decoder::Logfmt),
            Some("regex") => {
                let pattern = pattern.ok_or("the regex decoder needs a pattern")?;
                regex::Regex::new(pattern).map(Decoder::Regex).map_err(|e| format!("invalid regex pattern: {e}"))
            }
            Some(other) => Err(format!("unknown decoder `{other}` (known: json, logfmt, regex)")),
        }
    }

    /// The fields decoded from `line` (empty when the line does not decode).
    pub fn decode(&self, line: &str) -> BTreeMap<String, Value> {
        match self {
            Decoder::Plain => BTreeMap::new(),
            Decoder::Json => match serde_json::from_str::<Value>(line.trim()) {
                Ok(Value::Object(map)) => map.into_iter().collect(),
                _ => BTreeMap::new(),
            },
            Decoder::Logfmt => logfmt(line).into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
            Decoder::Regex(re) => match re.captures(line) {
                Some(caps) => re
                    .capture_names()
                    .flatten()
                    .filter_map(|name| caps.name(name).map(|m| (name.to_owned(), Value::String(m.as_str().to_owned()))))
                    .collect(),
                None => BTreeMap::new(),
            },
        }
    }
}

/// Parses logfmt: `key=value`, `key="quoted \" value"`, and a bare `key` (value `true`).
/// Pairs whose key is empty are skipped; a later duplicate key wins.
pub fn logfmt(line: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        let value = if chars.peek() == Some(&'=') {
            chars.next();
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some(other) => value.push(other),
                            None => break,
                        },
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
            value
        } else {
            "true".to_owned()
        };
        if !key.is_empty() {
            out.insert(key, value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_decode() {
        let d = Decoder::new(Some("json"), None).unwrap();
        let f = d.decode(r#"{"level":"info","n":3,"ok":true}"#);
        assert_eq!(f["level"], "info");
        assert_eq!(f["n"], 3);
        assert_eq!(f["ok"], true);
        assert!(d.decode("not json").is_empty());
        assert!(d.decode("[1,2]").is_empty());
    }

    #[test]
    fn logfmt_decodes() {
        let f = logfmt(r#"level=warn msg="disk \"almost\" full" pct=91 flag  =x"#);
        assert_eq!(f["level"], "warn");
        assert_eq!(f["msg"], "disk \"almost\" full");
        assert_eq!(f["pct"], "91");
        assert_eq!(f["flag"], "true");
        assert_eq!(f.len(), 4);
        assert!(logfmt("").is_empty());
        assert_eq!(logfmt("a=")["a"], "");
    }

    #[test]
    fn regex_named_groups_decode() {
        let d = Decoder::new(Some("regex"), Some(r"^(?P<level>\w+): (?P<msg>.*)$")).unwrap();
        let f = d.decode("ERROR: boom");
        assert_eq!(f["level"], "ERROR");
        assert_eq!(f["msg"], "boom");
        assert!(d.decode("nothing").is_empty());
        assert!(Decoder::new(Some("regex"), Some("(")).unwrap_err().contains("invalid regex"));
        assert!(Decoder::new(Some("regex"), None).is_err());
        assert!(Decoder::new(Some("yaml"), None).unwrap_err().contains("unknown decoder"));
    }
}
