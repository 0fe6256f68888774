//! `ospecc`: the command-line front end. Parsing arguments and dispatching is all that
//! happens here; each command lives in `cli/`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    cli::run(cli::Cli::parse())
}
