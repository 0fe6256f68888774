//! `ospecc schema export`: the embedded OSpec JSON Schema of a profile, for editors
//! (yaml-language-server's `yaml.schemas`) and other validators; or, given a directory, every
//! schema ospecc has (both OSpec profiles and the plan IR), one file each.

use std::path::PathBuf;

use clap::Args;
use ospecc_schema::plan::PLAN_SCHEMA;
use ospecc_schema::{ospec_schema, Profile};

use super::discover::describe;
use super::{report_error, write_stdout, ProfileArg, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write every schema into DIR (created if missing): `ospec.schema.json` (the ext profile),
    /// `ospec-core.schema.json` and `plan.schema.json`.
    #[arg(value_name = "DIR", conflicts_with_all = ["profile", "output"])]
    dir: Option<PathBuf>,
    /// Which profile's schema to export.
    #[arg(long, value_enum, default_value_t = ProfileArg::Ext)]
    profile: ProfileArg,
    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

/// The files `schema export DIR` writes, and what each holds.
fn all_schemas() -> [(&'static str, String); 3] {
    [
        ("ospec.schema.json", ospec_schema(Profile::Ext).to_string()),
        ("ospec-core.schema.json", ospec_schema(Profile::Core).to_string()),
        ("plan.schema.json", PLAN_SCHEMA.to_owned()),
    ]
}

fn with_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

pub fn run(args: &ExportArgs) -> u8 {
    if let Some(dir) = &args.dir {
        return export_all(dir);
    }
    let text = with_newline(ospec_schema(Profile::from(args.profile)).to_string());
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

fn export_all(dir: &std::path::Path) -> u8 {
    if let Err(e) = std::fs::create_dir_all(dir) {
        report_error(&format!("cannot create `{}`: {}", dir.display(), describe(&e)));
        return EXIT_USAGE;
    }
    for (name, text) in all_schemas() {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, with_newline(text)) {
            report_error(&format!("cannot write `{}`: {}", path.display(), describe(&e)));
            return EXIT_USAGE;
        }
        write_stdout(&format!("{}\n", path.display()));
    }
    EXIT_OK
}
