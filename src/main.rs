//! `ospecc`: the command-line front end. Parsing arguments and dispatching is all that
//! happens here; each command lives in `cli/`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Checking allocates many small nodes and strings across threads; mimalloc's per-thread
/// heaps cut the allocator's share of a bulk check (measured in docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::run(cli::Cli::parse())
}
