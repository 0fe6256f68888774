//! `ospecc schema export`: the embedded OSpec JSON Schema of a profile, for editors
//! (yaml-language-server's `yaml.schemas`) and other validators.

use std::path::PathBuf;

use clap::Args;
use ospecc_schema::{ospec_schema, Profile};

use super::discover::describe;
use super::{report_error, write_stdout, ProfileArg, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Which profile's schema to export.
    #[arg(long, value_enum, default_value_t = ProfileArg::Ext)]
    profile: ProfileArg,
    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: &ExportArgs) -> u8 {
    let mut text = ospec_schema(Profile::from(args.profile)).to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match &args.output {
        None => {
            write_stdout(&text);
            EXIT_OK
        }
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                report_error(&format!("cannot write `{}`: {}", path.display(), describe(&e)));
                EXIT_USAGE
            }
        },
    }
}
