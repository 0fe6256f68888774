//! The HTTP routes. Each request answers JSON and logs one JSON line to stdout.
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /health` | 200 `{"status":"ok","db":"up"/"down","cache":"up"/"down"}` |
//! | `POST /users` `{"name": "..."}` | 201 `{"id": N, "name": "..."}`; 400 bad JSON; 503 database failure |
//! | `GET /users/{id}` | 200 from the cache or the database; 404 absent; 503 database failure |

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::cache::Cache;
use crate::store::{Store, StoreError, User};

/// The largest request body read.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long `/health` waits for each dependency.
const HEALTH_PROBE: Duration = Duration::from_millis(1000);

/// What the routes share.
pub struct App {
    pub store: Store,
    pub cache: Cache,
}

/// An answer and the log line describing it.
struct Outcome {
    status: StatusCode,
    body: Value,
    location: Option<String>,
    /// `action` and the fields specific to the route.
    log: Map<String, Value>,
}

impl Outcome {
    fn new(status: StatusCode, body: Value, action: &str) -> Outcome {
        let mut log = Map::new();
        log.insert("action".to_owned(), action.into());
        Outcome { status, body, location: None, log }
    }

    fn error(status: StatusCode, message: impl Into<String>, action: &str) -> Outcome {
        let message = message.into();
        let mut outcome = Outcome::new(status, json!({ "error": message }), action);
        outcome.log.insert("error".to_owned(), message.into());
        outcome
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Outcome {
        self.log.insert(key.to_owned(), value.into());
        self
    }
}

/// Serves one request (never fails: every error is an HTTP answer).
pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let outcome = route(&app, request).await;
    let mut line = outcome.log;
    line.insert("method".to_owned(), method.as_str().into());
    line.insert("path".to_owned(), path.into());
    line.insert("status".to_owned(), outcome.status.as_u16().into());
    log(Value::Object(line));

    let mut response = Response::new(Full::new(Bytes::from(outcome.body.to_string())));
    *response.status_mut() = outcome.status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(location) = outcome.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// Prints one JSON line to stdout (the events `observe.stdout(decoder=decoder("json"))` reads).
pub fn log(line: Value) {
    println!("{line}");
}

async fn route(app: &App, request: Request<Incoming>) -> Outcome {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::GET, ["health"]) => health(app).await,
        (&Method::POST, ["users"]) => create_user(app, request).await,
        (&Method::GET, ["users", id]) => match id.parse::<i64>() {
            Ok(id) if id > 0 => get_user(app, id).await,
            _ => Outcome::error(StatusCode::BAD_REQUEST, format!("`{id}` is not a user id"), "bad_request"),
        },
        (_, ["health"] | ["users"] | ["users", _]) => {
            Outcome::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed", "method_not_allowed")
        }
        _ => Outcome::error(StatusCode::NOT_FOUND, format!("no route for {path}"), "not_found"),
    }
}

/// Always 200 while the process serves: the body says whether the dependencies answer.
async fn health(app: &App) -> Outcome {
    let (db, cache) = tokio::join!(app.store.ping(HEALTH_PROBE), app.cache.ping());
    let up = |ok: bool| if ok { "up" } else { "down" };
    Outcome::new(StatusCode::OK, json!({ "status": "ok", "db": up(db), "cache": up(cache) }), "health")
        .with("db", up(db))
        .with("cache", up(cache))
}

async fn create_user(app: &App, request: Request<Incoming>) -> Outcome {
    let name = match read_name(request).await {
        Ok(name) => name,
        Err(message) => return Outcome::error(StatusCode::BAD_REQUEST, message, "bad_request"),
    };
    match app.store.insert(&name).await {
        Ok(user) => {
            let mut outcome = Outcome::new(StatusCode::CREATED, json!(user), "user_created")
                .with("id", user.id)
                .with("name", user.name.clone())
                .with("persisted", "true");
            outcome.location = Some(format!("/users/{}", user.id));
            outcome
        }
        Err(error) => unavailable(&error, "user_create_failed").with("name", name).with("persisted", "false"),
    }
}

/// The `name` of a `{"name": "..."}` body.
async fn read_name(request: Request<Incoming>) -> Result<String, String> {
    let bytes = match Limited::new(request.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return Err(format!("cannot read the body: {e}")),
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| format!("the body is not JSON: {e}"))?;
    match value.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => Ok(name.clone()),
        Some(Value::String(_)) => Err("`name` is empty".to_owned()),
        Some(_) => Err("`name` is not a string".to_owned()),
        None => Err("the body has no `name` (expected {\"name\": \"...\"})".to_owned()),
    }
}

/// From the cache when it has the user; else from the database, then cached.
async fn get_user(app: &App, id: i64) -> Outcome {
    let mut cache_error = None;
    match app.cache.get_user(id).await {
        Ok(Some(text)) => {
            if let Ok(user) = serde_json::from_str::<User>(&text) {
                return Outcome::new(StatusCode::OK, json!(user), "user_fetched")
                    .with("id", id)
                    .with("source", "cache");
            }
        }
        Ok(None) => {}
        Err(error) => cache_error = Some(error),
    }
    let outcome = match app.store.get(id).await {
        Ok(Some(user)) => {
            // Only cache through a working cache: a failed read means the write would fail too.
            if cache_error.is_none() {
                if let Err(error) = app.cache.put_user(id, &json!(user).to_string()).await {
                    cache_error = Some(error);
                }
            }
            Outcome::new(StatusCode::OK, json!(user), "user_fetched").with("id", id).with("source", "db")
        }
        Ok(None) => {
            Outcome::error(StatusCode::NOT_FOUND, format!("user {id} not found"), "user_not_found").with("id", id)
        }
        Err(error) => unavailable(&error, "user_fetch_failed").with("id", id),
    };
    match cache_error {
        Some(error) => outcome.with("cache_error", error),
        None => outcome,
    }
}

/// 503: the database could not answer (down, refused, timed out, or the statement failed).
fn unavailable(error: &StoreError, action: &str) -> Outcome {
    Outcome::error(StatusCode::SERVICE_UNAVAILABLE, error.to_string(), action)
}
