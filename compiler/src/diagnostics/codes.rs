//! The registry of documented codes, generated from `docs/diagnostics/*.md` by `build.rs`.

/// One documented code: its title and long explanation (Markdown).
#[derive(Debug)]
pub struct CodeDoc {
    pub code: &'static str,
    pub title: &'static str,
    pub text: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/codes.rs"));

/// The documentation of `code` (case-insensitive), if it exists.
pub fn lookup(code: &str) -> Option<&'static CodeDoc> {
    CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}
