//! PostgreSQL steps: `query(sql=...)` returns the rows as a list of dicts, `exec(sql=...)`
//! returns `{rows_affected: n}`. Credentials default from the service's env (`POSTGRES_USER`,
//! `POSTGRES_PASSWORD`, `POSTGRES_DB`), as Faultbox's plugin does.

use std::time::Instant;

use postgres::types::Type;
use postgres::{Client, Config, NoTls, Row};

use super::response::Response;
use super::{text_arg, Target};
use ospecc_compiler::topology::run::Args;

pub fn call(target: &Target, method: &str, args: &Args) -> Option<Response> {
    if !matches!(method, "query" | "exec") {
        return None;
    }
    let started = Instant::now();
    let ms = || started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    let Some(sql) = text_arg(args, "sql") else { return Some(Response::failed("`sql=` is required".into(), 0)) };
    let result = connect(target, args).and_then(|mut client| match method {
        "query" => client.simple_query_rows(&sql),
        _ => client.execute(sql.as_str(), &[]).map(|n| serde_json::json!({ "rows_affected": n })),
    });
    Some(match result {
        Ok(data) => Response::data(data, ms()),
        Err(e) => Response::failed(e.to_string(), ms()),
    })
}

fn connect(target: &Target, args: &Args) -> Result<Client, postgres::Error> {
    if let Some(connstr) = text_arg(args, "connstr") {
        return connstr.parse::<Config>()?.connect_timeout(target.timeout).connect(NoTls);
    }
    let user = text_arg(args, "user").or_else(|| target.env("POSTGRES_USER")).unwrap_or_else(|| "postgres".into());
    let mut config = Config::new();
    config
        .host(&target.address.ip().to_string())
        .port(target.address.port())
        .user(&user)
        .connect_timeout(target.timeout);
    if let Some(password) = text_arg(args, "password").or_else(|| target.env("POSTGRES_PASSWORD")) {
        config.password(password);
    }
    if let Some(db) = text_arg(args, "database").or_else(|| target.env("POSTGRES_DB")) {
        config.dbname(&db);
    }
    config.connect(NoTls)
}

/// Rows with typed columns as JSON.
trait Rows {
    fn simple_query_rows(&mut self, sql: &str) -> Result<serde_json::Value, postgres::Error>;
}

impl Rows for Client {
    fn simple_query_rows(&mut self, sql: &str) -> Result<serde_json::Value, postgres::Error> {
        let rows = self.query(sql, &[])?;
        Ok(serde_json::Value::Array(rows.iter().map(row_json).collect()))
    }
}

fn row_json(row: &Row) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        object.insert(column.name().to_owned(), cell(row, i, column.type_()));
    }
    serde_json::Value::Object(object)
}

/// One cell as JSON: numbers, booleans, text and JSON natively; anything else as text when it
/// reads as text, else null.
fn cell(row: &Row, i: usize, ty: &Type) -> serde_json::Value {
    use serde_json::Value;
    let number = |n: Option<i64>| n.map_or(Value::Null, Value::from);
    match *ty {
        Type::INT2 => number(row.try_get::<_, Option<i16>>(i).ok().flatten().map(i64::from)),
        Type::INT4 => number(row.try_get::<_, Option<i32>>(i).ok().flatten().map(i64::from)),
        Type::INT8 => number(row.try_get::<_, Option<i64>>(i).ok().flatten()),
        Type::FLOAT4 => {
            row.try_get::<_, Option<f32>>(i).ok().flatten().map_or(Value::Null, |f| Value::from(f64::from(f)))
        }
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).ok().flatten().map_or(Value::Null, Value::from),
        Type::BOOL => row.try_get::<_, Option<bool>>(i).ok().flatten().map_or(Value::Null, Value::Bool),
        Type::JSON | Type::JSONB => row.try_get::<_, Option<Value>>(i).ok().flatten().unwrap_or(Value::Null),
        _ => row.try_get::<_, Option<String>>(i).ok().flatten().map_or(Value::Null, Value::String),
    }
}
