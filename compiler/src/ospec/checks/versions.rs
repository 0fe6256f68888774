//! Version consistency: the OSpec major this checker knows, and the project version's major
//! against the format's (the rule the official validator applies).

use crate::diagnostics::Diagnostic;
use crate::syntax::yaml::Node;

/// The OSpec format major version these schemas describe.
const KNOWN_MAJOR: u64 = 1;

pub fn check(root: &Node, out: &mut Vec<Diagnostic>) {
    let Some(ospec_version) = root.field("ospec_version") else { return };
    let Some(format_major) = ospec_version.as_str().and_then(major) else { return };
    if format_major != KNOWN_MAJOR {
        out.push(
            Diagnostic::warning(
                "OSP208",
                ospec_version.span,
                format!("OSpec {format_major}.x is not a version ospecc knows"),
            )
            .with_help(format!("ospecc checks OSpec {KNOWN_MAJOR}.x documents; write `ospec_version: \"1.0.0\"`")),
        );
        return;
    }
    let project = root.field("metadata").and_then(|m| m.field("version"));
    if let Some(project) = project {
        if let Some(project_major) = project.as_str().and_then(major) {
            if project_major != 0 && project_major != format_major {
                out.push(
                    Diagnostic::warning(
                        "OSP208",
                        project.span,
                        format!("project version major {project_major} differs from the OSpec format major {format_major}"),
                    )
                    .with_label(ospec_version.span, "the format version")
                    .with_note("the official validator warns about this; `metadata.version` is often the project's own version")
                    .with_help("if this is intended, silence it with `--allow OSP212` or in ospecc.toml"),
                );
            }
        }
    }
}

fn major(version: &str) -> Option<u64> {
    version.trim_start_matches('v').split('.').next()?.parse().ok()
}
