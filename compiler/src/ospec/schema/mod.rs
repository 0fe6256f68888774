//! Schema validation of an OSpec document against a profile's JSON Schema.
//!
//! The schemas in `ospecc-schema` are the single source of truth: they are compiled once per
//! profile into [`model::Compiled`] (cached for the process), and [`validate`] walks the
//! spanned YAML tree against them (see `validate` for why a walker and not a generic
//! validator). Severities, codes and aliases specific to ospecc are annotations in the schema
//! (`x-ospecc-*`), so this code interprets the schema instead of naming paths.

pub mod format;
pub mod model;
pub mod regex;
mod report;
pub mod validate;

use std::sync::LazyLock;

use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::syntax::yaml::Node;
use model::Compiled;
pub use model::PropertyNames;
use ospecc_schema::Profile;

static CORE: LazyLock<Compiled> = LazyLock::new(|| compile(Profile::Core));
static EXT: LazyLock<Compiled> = LazyLock::new(|| compile(Profile::Ext));

/// The embedded schemas are tested to compile (see the tests below), so failing here is a
/// build defect, not a user error.
fn compile(profile: Profile) -> Compiled {
    Compiled::compile(ospecc_schema::ospec_schema(profile))
        .unwrap_or_else(|e| panic!("the embedded {} schema does not compile: {e}", profile.name()))
}

/// The compiled schema of a profile (compiled on first use).
pub fn compiled(profile: Profile) -> &'static Compiled {
    match profile {
        Profile::Core => &CORE,
        Profile::Ext => &EXT,
    }
}

/// Property names the profile knows at the root and at any deeper level (for the
/// lost-indentation check).
pub fn property_names(profile: Profile) -> &'static PropertyNames {
    &compiled(profile).names
}

/// One schema diagnostic with the JSON pointer of the failing instance location
/// (normalised: an unknown key is `parent/key`, a missing key is the parent, anything inside
/// a `oneOf`/`anyOf` is the value the alternatives were about).
#[derive(Clone, Debug)]
pub struct Finding {
    pub pointer: String,
    pub diagnostic: Diagnostic,
    /// For a missing-key finding, the missing names (so callers can tell whether recovery
    /// blanked them out of the text).
    pub missing: Vec<String>,
}

/// Every schema diagnostic of one document.
pub fn validate(root: &Node, profile: Profile) -> Vec<Diagnostic> {
    findings(root, profile).into_iter().map(|f| f.diagnostic).collect()
}

/// [`validate`] with the instance location of each finding (for the differential test and
/// for tools that want JSON pointers).
pub fn findings(root: &Node, profile: Profile) -> Vec<Finding> {
    let compiled = compiled(profile);
    let anchor = root.as_map().and_then(|entries| entries.first()).map_or(Span::at(root.span.start), |e| e.key.span);
    validate::walk(compiled, root, anchor)
        .iter()
        .map(|issue| {
            let missing = match &issue.kind {
                validate::Kind::Missing { names } => names.iter().map(|n| n.to_string()).collect(),
                _ => Vec::new(),
            };
            let mut finding =
                Finding { pointer: report::pointer(issue), diagnostic: report::diagnostic(compiled, issue), missing };
            if profile == Profile::Core {
                note_ext_key(&mut finding);
            }
            finding
        })
        .collect()
}

/// Under `core`, an unknown key that the `ext` profile knows is most likely not a typo but an
/// extension: say so, so the user can pick the profile instead of deleting data.
fn note_ext_key(finding: &mut Finding) {
    if finding.diagnostic.code != "OSP100" {
        return;
    }
    let key = finding.pointer.rsplit('/').next().unwrap_or_default().replace("~1", "/").replace("~0", "~");
    let ext = property_names(Profile::Ext);
    if ext.root.contains(&key) || ext.nested.contains(&key) {
        finding.diagnostic.notes.push(format!(
            "`{key}` is an extension the `ext` profile (the default) understands; `--profile core` accepts only the published OSpec v1.0 keys"
        ));
    }
}

#[cfg(test)]
mod tests;
