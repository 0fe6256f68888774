//! `ospecc`: the command-line front end. Parsing arguments and dispatching is all that
//! happens here; each command lives in `cli/`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Checking allocates many small nodes and strings across threads; mimalloc's per-thread
/// heaps cut the allocator's share of a bulk check (measured in docs/performance.md). Metered
/// counts each thread's live bytes, which bounds a topology evaluation's memory.
#[global_allocator]
static GLOBAL: ospecc_compiler::topology::eval_limits::Metered<mimalloc::MiMalloc> =
    ospecc_compiler::topology::eval_limits::Metered(mimalloc::MiMalloc);

fn main() -> ExitCode {
    // Inside a container with syscall faults, ospecc is the entrypoint that installs the filter
    // and execs the image's own (it returns only when that failed).
    if let Some(code) = ospecc_runtime::container::shim::main_if_shim() {
        return ExitCode::from(code as u8);
    }
    cli::run(cli::Cli::parse())
}
