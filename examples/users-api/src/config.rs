//! Configuration from the environment: `PORT`, `DATABASE_URL`, `REDIS_URL`.

use std::fmt;

/// Where the service listens and what it talks to.
#[derive(Debug, Clone)]
pub struct Config {
    /// The port to listen on (on 127.0.0.1).
    pub port: u16,
    /// `postgres://user:password@host:port/database`.
    pub database_url: String,
    /// `redis://host:port`.
    pub redis_url: String,
}

/// The defaults match `scripts/postgres.sh` and `scripts/redis.sh`.
const DEFAULT_PORT: u16 = 18080;
const DEFAULT_DATABASE_URL: &str = "postgres://app:app@127.0.0.1:15433/app";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:16380";

#[derive(Debug)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (unset or empty variables take their defaults).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let port = match get("PORT") {
            None => DEFAULT_PORT,
            Some(text) => text
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|&port| port != 0)
                .ok_or_else(|| ConfigError(format!("PORT `{text}` is not a port number (1-65535)")))?,
        };
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err(ConfigError(format!("DATABASE_URL `{database_url}` is not a postgres:// URL")));
        }
        let redis_url = get("REDIS_URL").unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned());
        if !redis_url.starts_with("redis://") {
            return Err(ConfigError(format!("REDIS_URL `{redis_url}` is not a redis:// URL")));
        }
        Ok(Config { port, database_url, redis_url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert_eq!(config.port, DEFAULT_PORT);
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        let config = Config::from_lookup(|name| (name == "PORT").then(|| "9000".to_owned())).unwrap();
        assert_eq!(config.port, 9000);
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(Config::from_lookup(|name| (name == "PORT").then(|| "http".to_owned())).is_err());
        assert!(Config::from_lookup(|name| (name == "PORT").then(|| "0".to_owned())).is_err());
        assert!(Config::from_lookup(|name| (name == "REDIS_URL").then(|| "localhost:6379".to_owned())).is_err());
        assert!(Config::from_lookup(|name| (name == "DATABASE_URL").then(|| "mysql://x".to_owned())).is_err());
    }
}
