//! Topology (Starlark) features. `lex` tokenizes tolerantly, `index` reads the file's calls,
//! bindings, defs, loads and services from the tokens, `resolve` maps names to the catalog
//! (and, through `modules`, to the exports of the embedded `@faultbox/...` modules);
//! the features (`completion`, `hover`, `navigation`, `symbols`, `signature`, `tokens`)
//! combine them.

pub(crate) mod completion;
pub(crate) mod hover;
pub(crate) mod index;
pub(crate) mod lex;
pub mod modules;
pub(crate) mod navigation;
pub(crate) mod resolve;
pub(crate) mod signature;
pub(crate) mod symbols;
pub(crate) mod symbols_across;
pub(crate) mod tokens;
