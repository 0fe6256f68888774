//! Severity policy: `--strict`, `--deny CODE`, `--allow CODE` (and the same in `ospecc.toml`).

use crate::diagnostics::{Diagnostic, Severity};

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Warnings fail the check (they are reported as errors).
    pub strict: bool,
    /// Codes raised to errors.
    pub deny: Vec<String>,
    /// Codes dropped.
    pub allow: Vec<String>,
}

impl Policy {
    /// Drops allowed codes and raises denied codes (and, under `strict`, warnings) to errors.
    pub fn apply(&self, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
        diagnostics
            .into_iter()
            .filter(|d| !matches_any(&self.allow, d.code))
            .map(|mut d| {
                let raise = matches_any(&self.deny, d.code) || (self.strict && d.severity == Severity::Warning);
                if raise {
                    d.severity = Severity::Error;
                }
                d
            })
            .collect()
    }
}

fn matches_any(codes: &[String], code: &str) -> bool {
    codes.iter().any(|c| c.eq_ignore_ascii_case(code))
}
