//! The Redis mock (`redis.server(state={...})`, or `mock_service(..., interface(_, "redis", port),
//! config={"state": {...}})`): an in-memory Redis speaking RESP2, and RESP3 after `HELLO 3`,
//! seeded from `config.state` into database 0. `config.password`, when given, is required by
//! `AUTH`/`HELLO ... AUTH` before other commands, as `requirepass` would.
//!
//! State belongs to the mock instance: every connection of it sees the same 16 databases.
//! Commands are answered in order; every complete command of one read is answered in one
//! write (pipelining). Each command answered is one `mock_request` event (`interface`,
//! `command` upper-cased, `key`: the first argument of a keyed command, else null). Bytes that
//! are not RESP (or a connection closed mid-command) are one `mock_error` event; as Redis does,
//! the mock answers `-ERR Protocol error: ...` and closes that connection only.

mod collections;
mod keys;
mod resp;
mod server;
mod store;
mod strings;
mod table;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value as Json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{stopped, MockContext, ProtocolMock, Serving};
use crate::events::EventLog;
use resp::{Commands, Reply};
use store::{Db, DATABASES};
use table::{Call, Server, Session, Spec, BEFORE_AUTH, COMMANDS};

/// Checks the config and seeds database 0.
pub fn build(cx: MockContext) -> Result<Arc<dyn ProtocolMock>, String> {
    let (state, password) = match &cx.config {
        Json::Null => (&Json::Null, None),
        Json::Object(config) => (config.get("state").unwrap_or(&Json::Null), password(config.get("password"))?),
        _ => return Err("the redis mock's config must be a dict (`{\"state\": {...}}`)".into()),
    };
    let mut dbs: Vec<Db> = (0..DATABASES).map(|_| Db::default()).collect();
    dbs[0] = store::seed(state)?;
    Ok(Arc::new(Mock {
        service: cx.service,
        interface: cx.interface,
        server: Server { password, started: Instant::now() },
        dbs: Mutex::new(dbs),
        commands: COMMANDS.iter().map(|spec| (spec.name, spec)).collect(),
        next_client: AtomicU64::new(1),
        events: cx.events,
    }))
}

fn password(value: Option<&Json>) -> Result<Option<String>, String> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(password)) => Ok(Some(password.clone())),
        Some(_) => Err("the redis mock's `password` must be a string".into()),
    }
}

struct Mock {
    service: String,
    interface: String,
    server: Server,
    dbs: Mutex<Vec<Db>>,
    commands: HashMap<&'static str, &'static Spec>,
    next_client: AtomicU64,
    events: EventLog,
}

impl ProtocolMock for Mock {
    fn serve(self: Arc<Self>, stream: TcpStream, stop: watch::Receiver<bool>) -> Serving {
        Box::pin(async move { self.connection(stream, stop).await })
    }
}

impl Mock {
    async fn connection(&self, mut stream: TcpStream, mut stop: watch::Receiver<bool>) {
        let mut session = Session {
            id: self.next_client.fetch_add(1, Ordering::Relaxed),
            db: 0,
            resp3: false,
            name: None,
            authenticated: self.server.password.is_none(),
            quit: false,
            port: stream.local_addr().map_or(0, |address| address.port()),
        };
        let mut commands = Commands::new();
        let mut out = Vec::new();
        loop {
            let garbage = self.answer_buffered(&mut commands, &mut session, &mut out);
            if let Err(reason) = &garbage {
                Reply::error(format!("ERR Protocol error: {reason}")).encode(session.resp3, &mut out);
            }
            if !out.is_empty() && stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
            if let Err(reason) = garbage {
                return self.error(reason);
            }
            if session.quit {
                return;
            }
            tokio::select! {
                read = commands.fill(&mut stream) => match read {
                    Ok(0) | Err(_) if commands.partial() => {
                        return self.error("the client closed the connection in the middle of a command".into())
                    }
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                _ = stopped(&mut stop) => return,
            }
        }
    }

    /// Answers every complete command buffered (into `out`), until a `QUIT` or bad bytes.
    fn answer_buffered(&self, commands: &mut Commands, session: &mut Session, out: &mut Vec<u8>) -> Result<(), String> {
        while !session.quit {
            let Some(args) = commands.next()? else { return Ok(()) };
            if !args.is_empty() {
                self.execute(session, &args).encode(session.resp3, out);
            }
        }
        Ok(())
    }

    /// Runs one command and records it.
    fn execute(&self, session: &mut Session, args: &[Vec<u8>]) -> Reply {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        let spec = self.commands.get(name.as_str()).copied();
        let reply = match spec {
            None => unknown_command(args),
            Some(spec) if !arity_fits(spec.arity, args.len()) => {
                Reply::error(format!("ERR wrong number of arguments for '{}' command", name.to_ascii_lowercase()))
            }
            Some(_) if !session.authenticated && !BEFORE_AUTH.contains(&name.as_str()) => {
                Reply::error("NOAUTH Authentication required.")
            }
            Some(spec) => {
                let mut dbs = self.dbs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let mut call = Call { args, dbs: &mut dbs, session, server: &self.server };
                (spec.run)(&mut call).unwrap_or_else(|error| error)
            }
        };
        let key = match (spec, args.get(1)) {
            (Some(spec), Some(key)) if spec.keyed => Json::String(String::from_utf8_lossy(key).into_owned()),
            _ => Json::Null,
        };
        let fields = BTreeMap::from([
            ("interface".to_owned(), Json::String(self.interface.clone())),
            ("command".to_owned(), Json::String(name)),
            ("key".to_owned(), key),
        ]);
        self.events.push(&self.service, "mock_request", fields);
        reply
    }

    fn error(&self, reason: String) {
        let fields = BTreeMap::from([
            ("interface".to_owned(), Json::String(self.interface.clone())),
            ("error".to_owned(), Json::String(reason)),
        ]);
        self.events.push(&self.service, "mock_error", fields);
    }
}

fn arity_fits(arity: i32, words: usize) -> bool {
    match usize::try_from(arity) {
        Ok(exact) => words == exact,
        Err(_) => words >= arity.unsigned_abs() as usize,
    }
}

/// Redis 7's answer to an unknown command, quoting the start of its arguments.
fn unknown_command(args: &[Vec<u8>]) -> Reply {
    let quote = |bytes: &[u8]| String::from_utf8_lossy(&bytes[..bytes.len().min(128)]).into_owned();
    let mut text = format!("ERR unknown command '{}', with args beginning with: ", quote(&args[0]));
    for arg in args.iter().skip(1).take(16) {
        text.push_str(&format!("'{}' ", quote(arg)));
    }
    Reply::error(text)
}
