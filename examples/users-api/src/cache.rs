//! The Redis cache of users (`user:{id}` → the user as JSON). The cache is best effort: every
//! failure is reported to the caller, who falls back to the database. Like the store, every
//! call opens its own connection, so a cache that goes away is noticed by the next request.

use std::time::Duration;

use redis::aio::MultiplexedConnection;

/// Opening a connection, and each command (generous enough for a loaded CI machine: a cache
/// that times out is treated as down, which a fault-free test must never see).
const TIMEOUT: Duration = Duration::from_secs(3);
/// How long a cached user lives.
const TTL_SECONDS: u64 = 300;

pub struct Cache {
    client: redis::Client,
}

/// The key of a user.
pub fn user_key(id: i64) -> String {
    format!("user:{id}")
}

impl Cache {
    /// A cache at `url` (`redis://host:port`); connects on first use.
    pub fn new(url: &str) -> Result<Cache, String> {
        let client = redis::Client::open(url).map_err(|e| format!("REDIS_URL `{url}` is not a Redis URL: {e}"))?;
        Ok(Cache { client })
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
        match tokio::time::timeout(TIMEOUT, command.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", TIMEOUT.as_millis())),
        }
    }

    async fn connection(&self) -> Result<MultiplexedConnection, String> {
        match tokio::time::timeout(TIMEOUT, self.client.get_multiplexed_async_connection()).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no connection within {} ms", TIMEOUT.as_millis())),
        }
    }
}
