//! The embedded Starlark stdlib of topology files: the modules a spec reaches with
//! `load("@faultbox/recipes/<name>.star", ...)`. They are ordinary Starlark text written for
//! ospecc (the names and meanings follow Faultbox's recipes), evaluated like workspace files.

/// The embedded modules, by the path users write in `load()`.
pub const MODULES: &[(&str, &str)] = &[
    ("@faultbox/recipes/http.star", include_str!("../topology/stdlib/http.star")),
    ("@faultbox/recipes/postgres.star", include_str!("../topology/stdlib/postgres.star")),
    ("@faultbox/recipes/redis.star", include_str!("../topology/stdlib/redis.star")),
    ("@faultbox/recipes/tcp.star", include_str!("../topology/stdlib/tcp.star")),
];

/// The text of an embedded module, if there is one at `path`.
pub fn module(path: &str) -> Option<&'static str> {
    MODULES.iter().find(|(p, _)| *p == path).map(|(_, text)| *text)
}
