//! OSpec YAML features. `context` reads the cursor's place from the text (tolerant of
//! half-typed lines), `schema` answers questions about the compiled schema at a path,
//! `entities` collects named things and references from the spanned tree; the features
//! (`completion`, `hover`, `navigation`, `symbols`, `tokens`) combine them, and `across`
//! follows a name into the other files that share it (references and rename).

pub(crate) mod across;
pub(crate) mod completion;
pub(crate) mod context;
pub(crate) mod entities;
pub(crate) mod hover;
mod layout;
pub(crate) mod navigation;
pub(crate) mod schema;
pub(crate) mod symbols;
pub(crate) mod tokens;
