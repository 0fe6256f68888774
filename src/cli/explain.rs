//! `ospecc explain CODE`: the long explanation of a diagnostic code, from the registry that
//! `docs/diagnostics/*.md` generates; `--list` prints every code with its title.

use std::fmt::Write;

use clap::Args;
use ospecc_compiler::diagnostics::codes::{lookup, CODES};

use super::{known_code, report_error, write_stdout, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The code to explain (e.g. OSP001); case does not matter.
    #[arg(required_unless_present = "list")]
    code: Option<String>,
    /// List every documented code with its title.
    #[arg(long, conflicts_with = "code")]
    list: bool,
}

pub fn run(args: &ExplainArgs) -> u8 {
    if args.list {
        write_stdout(&list());
        return EXIT_OK;
    }
    let requested = args.code.as_deref().unwrap_or_default();
    match known_code(requested).ok().and_then(lookup) {
        Some(doc) => {
            let mut text = doc.text.to_string();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            write_stdout(&text);
            EXIT_OK
        }
        None => {
            report_error(&known_code(requested).err().unwrap_or_default());
            EXIT_USAGE
        }
    }
}

/// `CODE  title`, one a line, in code order.
fn list() -> String {
    CODES.iter().fold(String::new(), |mut out, c| {
        let _ = writeln!(out, "{}  {}", c.code, c.title);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_has_every_code() {
        let text = list();
        assert_eq!(text.lines().count(), CODES.len());
        assert!(text.starts_with(CODES[0].code));
    }
}
