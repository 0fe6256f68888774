//! `ospecc man`: the manual page, generated from the command-line definition (clap_mangen).
//!
//! Without `--out` the page of `ospecc` itself is printed as roff (`ospecc man | man -l -`);
//! with `--out DIR` one page per command is written (`ospecc.1`, `ospecc-check.1`, …) and each
//! written path is printed, ready for `MANPATH` or `/usr/local/share/man/man1`.

use std::io;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_mangen::Man;

use super::discover::describe;
use super::{report_error, write_stdout, Cli, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command into DIR (created if missing) instead of printing `ospecc.1`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: &ManArgs) -> u8 {
    let command = Cli::command().disable_help_subcommand(true);
    match &args.out {
        None => {
            let mut page = Vec::new();
            match Man::new(command).render(&mut page) {
                Ok(()) => {
                    write_stdout(&String::from_utf8_lossy(&page));
                    EXIT_OK
                }
                Err(e) => {
                    report_error(&format!("cannot render the manual page: {e}"));
                    EXIT_USAGE
                }
            }
        }
        Some(dir) => match write_pages(command, dir) {
            Ok(written) => {
                let list: String = written.iter().map(|p| format!("{}\n", p.display())).collect();
                write_stdout(&list);
                EXIT_OK
            }
            Err(e) => {
                report_error(&format!("cannot write manual pages to `{}`: {}", dir.display(), describe(&e)));
                EXIT_USAGE
            }
        },
    }
}

/// Writes the page of `command` and of every visible subcommand, recursively; the pages are
/// named after the full command path (`ospecc-schema-export.1`).
fn write_pages(mut command: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    command.build();
    let mut written = Vec::new();
    write_page(command, dir, &mut written)?;
    Ok(written)
}

fn write_page(command: clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> io::Result<()> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(sub.clone(), dir, written)?;
    }
    written.push(Man::new(command).generate_to(dir)?);
    Ok(())
}
