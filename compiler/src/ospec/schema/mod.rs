//! Schema validation of an OSpec document against a profile (to be written).

use crate::diagnostics::Diagnostic;
use crate::syntax::yaml::Node;
use ospecc_schema::Profile;

pub fn validate(root: &Node, profile: Profile) -> Vec<Diagnostic> {
    let _ = (root, profile);
    Vec::new()
}
