//! The PostgreSQL store: every call opens its own connection and closes it when done. A pool
//! would be faster, but it would hide connection-setup faults behind connections opened before
//! the fault (the fault matrix denies `connect` to the database); a connection per request
//! meets every fault the way a fresh client would. Every call is bounded by a timeout; a
//! failure is a [`StoreError`], never a panic.

use std::fmt;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

/// Opening a connection (TCP, startup, authentication) and preparing the schema.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One statement (generous: a slow disk may hold a commit for seconds, and slow is not down).
const QUERY_TIMEOUT: Duration = Duration::from_secs(15);

/// Created (if missing) on every new connection: a database that was down at startup, or was
/// replaced by an empty one, gets it when it comes back.
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
}

impl Store {
    /// A store for `url` (`postgres://user:password@host:port/database`); connects on first use.
    pub fn new(url: &str) -> Result<Store, String> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| format!("DATABASE_URL `{url}` is not a PostgreSQL URL: {e}"))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("users-api");
        Ok(Store { config })
    }

    /// Opens a connection (creating the table when missing), to see that the database answers.
    pub async fn connect(&self) -> Result<(), StoreError> {
        self.client().await.map(drop)
    }

    /// Inserts a user in one statement: either the row exists afterwards or the call failed.
    pub async fn insert(&self, name: &str) -> Result<User, StoreError> {
        let client = self.client().await?;
        let row =
            self.bounded(client.query_one("INSERT INTO users (name) VALUES ($1) RETURNING id, name", &[&name])).await?;
        Ok(User { id: row.get(0), name: row.get(1) })
    }

    /// The user with `id`, if there is one.
    pub async fn get(&self, id: i64) -> Result<Option<User>, StoreError> {
        let client = self.client().await?;
        let row = self.bounded(client.query_opt("SELECT id, name FROM users WHERE id = $1", &[&id])).await?;
        Ok(row.map(|row| User { id: row.get(0), name: row.get(1) }))
    }

    /// Whether a trivial query answers within `limit`.
    pub async fn ping(&self, limit: Duration) -> bool {
        let probe = async {
            let client = self.client().await?;
            self.bounded(client.simple_query("SELECT 1")).await
        };
        matches!(tokio::time::timeout(limit, probe).await, Ok(Ok(_)))
    }

    /// Runs `query` with the statement timeout.
    async fn bounded<T>(
        &self,
        query: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(QUERY_TIMEOUT, query).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(StoreError::Query(describe(&e))),
            Err(_) => Err(StoreError::Query(format!("no answer within {} ms", QUERY_TIMEOUT.as_millis()))),
        }
    }

    /// A new connection; it closes when the returned client is dropped.
    async fn client(&self) -> Result<Client, StoreError> {
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
            Ok(Ok(())) => Ok(client),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!("preparing the schema: {}", describe(&e)))),
            Err(_) => Err(StoreError::Unavailable("preparing the schema timed out".to_owned())),
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
