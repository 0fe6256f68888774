//! users-api: the example service `ospecc run` executes (examples/users-api/users.star).
//!
//! An HTTP API on 127.0.0.1:`PORT` that stores users in PostgreSQL (`DATABASE_URL`) and caches
//! them in Redis (`REDIS_URL`). It survives its dependencies: Redis down falls back to the
//! database, the database down answers 503, and connections are reopened after failures.
//! Every request logs one JSON line to stdout.

mod cache;
mod config;
mod routes;
mod store;

use std::process::ExitCode;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

use crate::cache::Cache;
use crate::config::Config;
use crate::routes::{log, App};
use crate::store::Store;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("users-api: {error}");
            return ExitCode::from(2);
        }
    };
    let (store, cache) = match (Store::new(&config.database_url), Cache::new(&config.redis_url)) {
        (Ok(store), Ok(cache)) => (store, cache),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("users-api: {error}");
            return ExitCode::from(2);
        }
    };
    let app = Arc::new(App { store, cache });

    // The table is created now when the database answers, else on the first connection.
    match app.store.connect().await {
        Ok(()) => log(json!({ "action": "schema_ready" })),
        Err(error) => log(json!({ "action": "schema_pending", "error": error.to_string() })),
    }

    let listener = match TcpListener::bind(("127.0.0.1", config.port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("users-api: cannot listen on 127.0.0.1:{}: {error}", config.port);
            return ExitCode::from(1);
        }
    };
    log(json!({ "action": "listening", "address": format!("127.0.0.1:{}", config.port) }));

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: keep serving.
                    eprintln!("users-api: accept failed: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            signal = &mut shutdown => {
                log(json!({ "action": "shutdown", "signal": signal }));
                return ExitCode::SUCCESS;
            }
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = service_fn(move |request| routes::handle(Arc::clone(&app), request));
            // A client that goes away mid-request is not the service's error.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Resolves with the signal's name on SIGTERM or SIGINT.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        // Without handlers the default disposition (exit) applies.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
