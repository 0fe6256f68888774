//! `ospecc diff A B`: two runs compared test by test — outcome changes and, per service, the
//! first event where they diverge. A and B are bundles, JSON reports (`--format json`) or
//! normalized traces (`--normalize`). Exit codes: 0 equal, 1 a difference, 2 an input that
//! is none of these.

use std::path::{Path, PathBuf};

use clap::Args;
use ospecc_runtime::bundle::diff::{self, Side};
use ospecc_runtime::report;

use super::{bundle, report_error, write_stdout, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first run: a bundle, a JSON report or a normalized trace.
    #[arg(value_name = "A")]
    a: PathBuf,
    /// The second run, of any of the same kinds.
    #[arg(value_name = "B")]
    b: PathBuf,
}

pub fn run(args: &DiffArgs) -> u8 {
    let sides = read_side(&args.a).and_then(|a| read_side(&args.b).map(|b| (a, b)));
    match sides {
        Ok((a, b)) => {
            let comparison = diff::compare(&a, &b);
            write_stdout(&diff::render(&comparison));
            if comparison.is_empty() {
                EXIT_OK
            } else {
                EXIT_FINDINGS
            }
        }
        Err(why) => {
            report_error(&why);
            EXIT_USAGE
        }
    }
}

fn read_side(path: &Path) -> Result<Side, String> {
    let label = path.display().to_string();
    if bundle::is_bundle(path) {
        let bundle = ospecc_runtime::bundle::Bundle::read(path)?;
        let report = bundle.report().map_err(|e| format!("{label}: {e}"))?;
        let events = bundle.events().map_err(|e| format!("{label}: {e}"))?;
        return Ok(Side::of_run(&label, &report, Some(&events)));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {label}: {}", ospecc_compiler::vfs::describe_io(&e)))?;
    if text.trim_start().starts_with('{') {
        let report = report::json::parse(&text).map_err(|e| format!("{label} is {e}"))?;
        return Ok(Side::of_run(&label, &report, None));
    }
    if text.is_empty() || text.starts_with("=== ") {
        return Side::of_normalized(&label, &text);
    }
    Err(format!(
        "{label} is not a bundle, a JSON report (`run --format json`) or a normalized trace (`run --normalize`)"
    ))
}
