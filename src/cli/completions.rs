//! `ospecc completions SHELL`: the shell completion script for bash, zsh, fish, elvish or
//! PowerShell, generated from the command-line definition (clap_complete), so it cannot drift
//! from the real flags.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{write_stdout, Cli, EXIT_OK};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the script on stdout (install it where the shell looks: see docs/editors.md).
pub fn run(args: &CompletionsArgs) -> u8 {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "ospecc", &mut script);
    write_stdout(&String::from_utf8_lossy(&script));
    EXIT_OK
}
