//! The Redis cache of users (`user:{id}` → the user as JSON). The cache is best effort: every
//! failure is reported to the caller, who falls back to the database; a failed connection is
//! dropped so the next call connects again.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

/// Opening a connection, and each command.
const TIMEOUT: Duration = Duration::from_secs(1);
/// How long a cached user lives.
const TTL_SECONDS: u64 = 300;

pub struct Cache {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
}

/// The key of a user.
pub fn user_key(id: i64) -> String {
    format!("user:{id}")
}

impl Cache {
    /// A cache at `url` (`redis://host:port`); connects on first use.
    pub fn new(url: &str) -> Result<Cache, String> {
        let client = redis::Client::open(url).map_err(|e| format!("REDIS_URL `{url}` is not a Redis URL: {e}"))?;
        Ok(Cache { client, connection: Mutex::new(None) })
    }

    /// The cached JSON of user `id` (`Ok(None)` on a miss).
    pub async fn get_user(&self, id: i64) -> Result<Option<String>, String> {
        self.run(redis::cmd("GET").arg(user_key(id))).await
    }

    /// Caches `json` as user `id`.
    pub async fn put_user(&self, id: i64, json: &str) -> Result<(), String> {
        self.run(redis::cmd("SET").arg(user_key(id)).arg(json).arg("EX").arg(TTL_SECONDS)).await
    }

    /// Whether Redis answers PING.
    pub async fn ping(&self) -> bool {
        self.run::<String>(&redis::cmd("PING")).await.is_ok()
    }

    async fn run<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, String> {
        let mut connection = self.connection().await?;
        let outcome = match tokio::time::timeout(TIMEOUT, command.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", TIMEOUT.as_millis()),
        };
        *self.connection.lock().await = None;
        Err(outcome)
    }

    async fn connection(&self) -> Result<MultiplexedConnection, String> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = match tokio::time::timeout(TIMEOUT, self.client.get_multiplexed_async_connection()).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("no connection within {} ms", TIMEOUT.as_millis())),
        };
        *slot = Some(connection.clone());
        Ok(connection)
    }
}
