//! The embedded Starlark stdlib of topology files: the modules a spec reaches with
//! `load("@faultbox/<area>/<name>.star", ...)` (areas `recipes`, `mocks`, `discovery`). They are
//! ordinary Starlark text written for ospecc from Faultbox's published API (names, parameters,
//! defaults, the builtin each export calls, error messages), evaluated like workspace files.
//! Each exports one struct: named after the file, except `mocks/mongodb.star`'s `mongo`.
//! `docs/stdlib.md` lists them; `compiler/tests/stdlib_api.rs` holds them to Faultbox's table.

/// One embedded module as (the path users write in `load()`, its text).
macro_rules! module {
    ($path:literal) => {
        (concat!("@faultbox/", $path), include_str!(concat!("../topology/stdlib/", $path)))
    };
}

/// The embedded modules, by the path users write in `load()`, sorted by path.
pub const MODULES: &[(&str, &str)] = &[
    module!("discovery/k8s.star"),
    module!("mocks/grpc.star"),
    module!("mocks/http.star"),
    module!("mocks/jwt.star"),
    module!("mocks/kafka.star"),
    module!("mocks/mongodb.star"),
    module!("mocks/redis.star"),
    module!("recipes/amqp.star"),
    module!("recipes/cassandra.star"),
    module!("recipes/clickhouse.star"),
    module!("recipes/grpc.star"),
    module!("recipes/http.star"),
    module!("recipes/http2.star"),
    module!("recipes/kafka.star"),
    module!("recipes/memcached.star"),
    module!("recipes/mongodb.star"),
    module!("recipes/mysql.star"),
    module!("recipes/nats.star"),
    module!("recipes/postgres.star"),
    module!("recipes/redis.star"),
    module!("recipes/tcp.star"),
    module!("recipes/udp.star"),
];

/// Modules ospecc embeds that Faultbox does not (a spec loading them runs only under ospecc).
pub const EXTENSIONS: &[&str] = &["@faultbox/recipes/tcp.star"];

/// The text of an embedded module, if there is one at `path`.
pub fn module(path: &str) -> Option<&'static str> {
    MODULES.iter().find(|(p, _)| *p == path).map(|(_, text)| *text)
}

/// The name of the struct a module exports: the file's stem, except for the MongoDB mock.
pub fn export_name(path: &str) -> Option<&'static str> {
    let (path, _) = MODULES.iter().find(|(p, _)| *p == path)?;
    let stem = path.rsplit('/').next()?.strip_suffix(".star")?;
    Some(if *path == "@faultbox/mocks/mongodb.star" { "mongo" } else { stem })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_is_listed_once_in_order_and_exports_its_struct() {
        let paths: Vec<&str> = MODULES.iter().map(|(p, _)| *p).collect();
        let mut sorted = paths.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(paths, sorted);
        for (path, text) in MODULES {
            let name = export_name(path).unwrap();
            assert!(text.contains(&format!("\n{name} = struct(")), "{path} does not export `{name}`");
        }
        assert!(EXTENSIONS.iter().all(|p| module(p).is_some()));
    }
}
