//! Names in generated files: Starlark variables that shadow no builtin and clash with nothing
//! else generated, and the spec id OSpec accepts (`[a-z][a-z0-9-]*`).

use std::collections::BTreeSet;

/// Starlark's keywords and the universe functions a generated file may call.
const RESERVED: &[&str] = &[
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "load",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "True",
    "False",
    "None",
    "len",
    "str",
    "int",
    "float",
    "bool",
    "list",
    "dict",
    "tuple",
    "range",
    "sorted",
    "print",
    "fail",
    "struct",
    "type",
    "any",
    "all",
    "enumerate",
    "zip",
    "min",
    "max",
    "hasattr",
    "getattr",
    "repr",
    "reversed",
    "hash",
    "dir",
];

/// The variables a file binds so far.
#[derive(Default)]
pub struct Variables {
    taken: BTreeSet<String>,
}

impl Variables {
    /// A fresh variable for `name`: letters, digits and `_`, not starting with a digit, not a
    /// keyword or builtin (a service called `http` would hide the `http()` healthcheck), and
    /// not taken (`_2`, `_3`, ... until it is free).
    pub fn claim(&mut self, name: &str) -> String {
        let mut base: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        base = base.trim_matches('_').to_owned();
        if base.is_empty() {
            base = "svc".to_owned();
        }
        if base.starts_with(|c: char| c.is_ascii_digit()) {
            base = format!("svc_{base}");
        }
        if is_reserved(&base) {
            base.push_str("_svc");
        }
        let mut candidate = base.clone();
        let mut n = 2;
        while self.taken.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }

    /// Marks a name as taken (a generated function's name).
    pub fn reserve(&mut self, name: &str) -> bool {
        self.taken.insert(name.to_owned())
    }
}

/// Whether a name would shadow a keyword, a universe function or a topology builtin.
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
        || ospecc_schema::topology::catalog().builtin(name).is_some()
        || name == "observe"
        || name == "match"
}

/// The OSpec id (and file stem) for a project name: lower-case letters, digits and `-`,
/// starting with a letter; `None` when the name has no letter at all.
pub fn spec_id(name: &str) -> Option<String> {
    let mut id = String::new();
    for c in name.chars() {
        match c {
            'a'..='z' | '0'..='9' => id.push(c),
            'A'..='Z' => id.push(c.to_ascii_lowercase()),
            _ if !id.is_empty() && !id.ends_with('-') => id.push('-'),
            _ => {}
        }
    }
    let start = id.find(|c: char| c.is_ascii_lowercase())?;
    Some(id[start..].trim_end_matches('-').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_avoid_builtins_keywords_digits_and_each_other() {
        let mut vars = Variables::default();
        assert_eq!(vars.claim("db"), "db");
        assert_eq!(vars.claim("db"), "db_2");
        assert_eq!(vars.claim("my-api.v2"), "my_api_v2");
        assert_eq!(vars.claim("http"), "http_svc");
        assert_eq!(vars.claim("service"), "service_svc");
        assert_eq!(vars.claim("for"), "for_svc");
        assert_eq!(vars.claim("1st"), "svc_1st");
        assert_eq!(vars.claim("--"), "svc");
    }

    #[test]
    fn spec_ids_are_ospec_ids() {
        assert_eq!(spec_id("My App_2").as_deref(), Some("my-app-2"));
        assert_eq!(spec_id("2fast").as_deref(), Some("fast"));
        assert_eq!(spec_id("shop--").as_deref(), Some("shop"));
        assert_eq!(spec_id("123"), None);
    }
}
