//! Files a spec names (prompts, scripts, tests, JSON Schemas, the topology file) exist,
//! resolved against the spec's own directory.

use std::path::Path;

use super::{acceptance_blocks, Context};
use crate::diagnostics::Diagnostic;
use crate::syntax::yaml::Node;

pub fn check(root: &Node, ctx: &Context, out: &mut Vec<Diagnostic>) {
    for (group, what) in [("prompts", "prompt file"), ("scripts", "script")] {
        for entry in root.field(group).and_then(Node::as_map).unwrap_or_default() {
            check_path(&entry.value, what, ctx, out);
        }
    }
    if let Some(topology) = root.field("topology") {
        check_path(topology, "topology file", ctx, out);
    }
    for acceptance in acceptance_blocks(root) {
        for test in acceptance.field("tests").and_then(Node::as_seq).unwrap_or_default() {
            if let Some(file) = test.field("file") {
                check_path(file, "test file", ctx, out);
            }
        }
        for endpoint in acceptance.field("http_endpoints").and_then(Node::as_seq).unwrap_or_default() {
            for key in ["request_schema", "response_schema"] {
                if let Some(schema) = endpoint.field(key) {
                    check_path(schema, "JSON Schema file", ctx, out);
                }
            }
        }
    }
}

/// Whether a value names a file, as opposed to a command, inline text, a shebang script,
/// a URL or a glob (which can match nothing yet and still be right).
fn as_file_path(value: &str) -> Option<&str> {
    let looks_inline = value.starts_with("#!") || value.contains(char::is_whitespace) || value.contains("://");
    let looks_glob = value.contains(['*', '?', '[', '{']);
    let has_path_shape = value.contains('/') || Path::new(value).extension().is_some();
    (!value.is_empty() && !looks_inline && !looks_glob && has_path_shape).then_some(value)
}

fn check_path(node: &Node, what: &str, ctx: &Context, out: &mut Vec<Diagnostic>) {
    let Some(path) = node.as_str().and_then(as_file_path) else { return };
    let base = ctx.path.parent().unwrap_or(Path::new(""));
    // Outside the workspace nothing is looked at: the finding is the same whether the path
    // exists or not.
    if let Err(refused) = ctx.fs.confine(&base.join(path)) {
        out.push(
            Diagnostic::warning("OSP207", node.span, format!("{what} `{path}` is not checked: {refused}")).with_help(
                "keep referenced files inside the workspace, or allow their directory with `--allow-outside`",
            ),
        );
        return;
    }
    if ctx.fs.exists(&base.join(path)) {
        return;
    }
    out.push(
        Diagnostic::warning("OSP207", node.span, format!("{what} `{path}` does not exist"))
            .with_note(format!("paths are resolved against the spec's directory (`{}`)", display_dir(base)))
            .with_help("fix the path, or create the file; the runtime will not find it either"),
    );
}

fn display_dir(base: &Path) -> String {
    match base.as_os_str().is_empty() {
        true => ".".to_string(),
        false => base.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::as_file_path;

    #[test]
    fn tells_paths_from_commands_and_text() {
        assert_eq!(as_file_path("scripts/deploy.sh"), Some("scripts/deploy.sh"));
        assert_eq!(as_file_path("prompt.md"), Some("prompt.md"));
        assert_eq!(as_file_path("npm run build"), None);
        assert_eq!(as_file_path("#!/bin/sh\necho hi"), None);
        assert_eq!(as_file_path("tests/**/*.test.ts"), None);
        assert_eq!(as_file_path("https://example.com/schema.json"), None);
        assert_eq!(as_file_path("make"), None);
    }
}
