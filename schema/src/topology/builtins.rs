//! The builtin names as constants, generated from `topology/catalog.json` at build time
//! (`schema/build.rs`). Code that dispatches on a builtin names it through these: a name the
//! catalog lacks is a build error, not a comparison that silently never matches.

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// Whether `name` is a builtin of the catalog (for names that arrive as strings, where a
/// constant cannot be used: a debug assertion at an API taking a builtin name, a test
/// reading the sources).
pub fn is_builtin(name: &str) -> bool {
    ALL.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::{is_builtin, ALL, FAULT_START, MATCH_ANY};

    #[test]
    fn every_catalog_builtin_has_a_constant_and_no_other_name_does() {
        let catalog = crate::topology::catalog();
        let names: Vec<&str> = catalog.builtins.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(ALL, names.as_slice());
        assert_eq!(FAULT_START, "fault_start");
        assert_eq!(MATCH_ANY, "match.any");
        assert!(is_builtin("fault_start"));
        assert!(!is_builtin("fault_strat"), "a misspelt builtin is not a builtin");
    }
}
