//! Front ends: text to error-tolerant, spanned syntax trees.

pub mod text;
pub mod yaml;
