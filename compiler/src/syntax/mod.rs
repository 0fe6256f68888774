//! Front ends: text to error-tolerant, spanned syntax trees.

pub mod text;
pub mod yaml;

/// The languages ospecc reads: which front end a file goes through (the formatter and the
/// editor features pick theirs by it as the checks do).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    /// OSpec YAML (`*.ospec.yml`, `outcome.yaml`, ...).
    OSpec,
    /// Faultbox topology files (Starlark, `*.star`).
    Topology,
}
