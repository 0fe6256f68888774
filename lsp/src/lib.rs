//! `ospecc lsp`: the language server. The compiler's analysis over LSP on stdio; the only
//! crate that knows LSP types (ARCHITECTURE.md, `lsp/`).
//!
//! Layout, one concept per module: `server` (lifecycle and capabilities), `ordered` (document
//! sync in wire order, panic isolation around every other message), `documents` (open texts),
//! `encoding` (positions), `workspace` (URIs, index, open-documents-over-disk file system),
//! `diagnostics` (analysis through the compiler's database, and conversion), `scheduler` (debounce, indexing, publishing), `config` (initialization
//! options), `host` (the binary's policy), `panic`, `state`; `features` answers the editor
//! requests (completion, hover, definition, references, symbols, code actions, signature
//! help, semantic tokens) through the compiler's `ide` layer.

mod analysis_thread;
mod config;
mod coverage;
mod diagnostics;
mod documents;
mod encoding;
mod features;
mod framing;
mod host;
mod ordered;
mod panic;
mod plans;
mod runs;
mod scheduler;
mod server;
mod state;
mod workspace;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::{LspService, Server};

pub use host::{BasicHost, Host};
pub use server::CRASH_TEST_ENV;

use ordered::Ordered;
use scheduler::Scheduler;
use server::Backend;
use state::Shared;

/// How long exiting waits for analyses still running on the blocking pool (and for the
/// stdin reader, which no runtime can interrupt).
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// Serves LSP on stdin/stdout until `exit` or the end of input. True when the client asked
/// for `shutdown` before leaving (the process should then exit 0, else 1).
pub fn run_stdio(host: Arc<dyn Host>) -> Result<bool, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let clean = runtime.block_on(serve(host, tokio::io::stdin(), tokio::io::stdout()));
    runtime.shutdown_timeout(EXIT_GRACE);
    Ok(clean)
}

/// One client session of untrusted bytes against a server with default settings, bounded by
/// `limit`: the fuzzing entry point of the message loop (`fuzz/`, `tests/fuzz_corpus.rs`). The
/// server must answer or skip anything and end when the input does; `false` when it did not
/// end in time.
pub fn serve_untrusted(input: Vec<u8>, limit: Duration) -> bool {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return true };
    runtime.block_on(async {
        let session = serve(Arc::new(BasicHost), std::io::Cursor::new(input), tokio::io::sink());
        tokio::time::timeout(limit, session).await.is_ok()
    })
}

/// Serves LSP over any byte streams (stdio, or in-memory pipes in tests).
pub async fn serve<I, O>(host: Arc<dyn Host>, input: I, output: O) -> bool
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
{
    // The client's bytes go through `framing` (which answers malformed frames) to the server,
    // and the server's frames, with those answers, back through one writer.
    let (to_server, server_input) = tokio::io::duplex(framing::PIPE_BYTES);
    let (server_output, from_server) = tokio::io::duplex(framing::PIPE_BYTES);
    let (out, queue) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(framing::pump_in(input, to_server, out.clone()));
    let relay = tokio::spawn(framing::pump_server_output(from_server, out));
    let writer = tokio::spawn(framing::pump_out(queue, output));
    let clean = serve_framed(host, server_input, server_output).await;
    // The server has dropped its pipe ends: relay what it wrote, then stop reading the client
    // (so the writer's last sender goes) and let the writer drain.
    let _ = relay.await;
    reader.abort();
    let _ = reader.await;
    let _ = writer.await;
    clean
}

/// Serves LSP over well-formed frames.
async fn serve_framed<I, O>(host: Arc<dyn Host>, input: I, output: O) -> bool
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let (events, queue) = tokio::sync::mpsc::unbounded_channel();
    let mut shared = None;
    let (service, socket) = LspService::build(|client| {
        let state = Arc::new(Shared::new(client, host, events));
        shared = Some(Arc::clone(&state));
        Backend::new(state)
    })
    .custom_method("ospecc/crashTest", Backend::crash_test)
    .finish();
    let Some(shared) = shared else { return false };
    let scheduler = tokio::spawn(Scheduler::new(Arc::clone(&shared), queue).run());
    Server::new(input, output, socket).serve(Ordered::new(service, Arc::clone(&shared))).await;
    scheduler.abort();
    shared.is_shut_down()
}
