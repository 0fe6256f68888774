//! The PostgreSQL store: one lazily opened connection, reused while it is healthy and dropped
//! after any failure so the next request connects again. Every call is bounded by a timeout;
//! a failure is a [`StoreError`], never a panic.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

/// Opening a connection (TCP, startup, authentication) and preparing the schema.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One statement.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Created on every new connection, so a database that was down at startup gets it later.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

/// A row of `users`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
}

/// Why the store could not answer.
#[derive(Debug)]
pub enum StoreError {
    /// No connection could be opened (refused, timed out, authentication).
    Unavailable(String),
    /// The statement failed or timed out on an open connection.
    Query(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(why) => write!(f, "database unavailable: {why}"),
            StoreError::Query(why) => write!(f, "database error: {why}"),
        }
    }
}

pub struct Store {
    config: tokio_postgres::Config,
    client: Mutex<Option<Arc<Client>>>,
}

impl Store {
    /// A store for `url` (`postgres://user:password@host:port/database`); connects on first use.
    pub fn new(url: &str) -> Result<Store, String> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| format!("DATABASE_URL `{url}` is not a PostgreSQL URL: {e}"))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("users-api");
        Ok(Store { config, client: Mutex::new(None) })
    }

    /// Opens a connection (creating the table when missing) unless a healthy one is open.
    pub async fn connect(&self) -> Result<(), StoreError> {
        self.client().await.map(drop)
    }

    /// Inserts a user in one statement: either the row exists afterwards or the call failed.
    pub async fn insert(&self, name: &str) -> Result<User, StoreError> {
        let client = self.client().await?;
        let row = self
            .bounded(&client, client.query_one("INSERT INTO users (name) VALUES ($1) RETURNING id, name", &[&name]))
            .await?;
        Ok(User { id: row.get(0), name: row.get(1) })
    }

    /// The user with `id`, if there is one.
    pub async fn get(&self, id: i64) -> Result<Option<User>, StoreError> {
        let client = self.client().await?;
        let row = self.bounded(&client, client.query_opt("SELECT id, name FROM users WHERE id = $1", &[&id])).await?;
        Ok(row.map(|row| User { id: row.get(0), name: row.get(1) }))
    }

    /// Whether a trivial query answers within `limit`.
    pub async fn ping(&self, limit: Duration) -> bool {
        let probe = async {
            let client = self.client().await?;
            self.bounded(&client, client.simple_query("SELECT 1")).await
        };
        matches!(tokio::time::timeout(limit, probe).await, Ok(Ok(_)))
    }

    /// Runs `query` on `client` with the statement timeout; on failure the connection is
    /// forgotten so the next call opens a fresh one.
    async fn bounded<T>(
        &self,
        client: &Arc<Client>,
        query: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        let error = match tokio::time::timeout(QUERY_TIMEOUT, query).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => describe(&e),
            Err(_) => format!("no answer within {} ms", QUERY_TIMEOUT.as_millis()),
        };
        self.forget(client).await;
        Err(StoreError::Query(error))
    }

    async fn client(&self) -> Result<Arc<Client>, StoreError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(client));
        }
        *slot = None;
        let (client, connection) = match tokio::time::timeout(CONNECT_TIMEOUT, self.config.connect(NoTls)).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(StoreError::Unavailable(describe(&e))),
            Err(_) => {
                return Err(StoreError::Unavailable(format!("no connection within {} ms", CONNECT_TIMEOUT.as_millis())))
            }
        };
        // The connection task ends when the server goes away or the client is dropped.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        match tokio::time::timeout(QUERY_TIMEOUT, client.batch_execute(SCHEMA)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(StoreError::Unavailable(format!("preparing the schema: {}", describe(&e)))),
            Err(_) => return Err(StoreError::Unavailable("preparing the schema timed out".to_owned())),
        }
        let client = Arc::new(client);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }

    async fn forget(&self, client: &Arc<Client>) {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_some_and(|current| Arc::ptr_eq(current, client)) {
            *slot = None;
        }
    }
}

/// The server's message when there is one (tokio-postgres's `Display` says only "db error").
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}
