//! ospecc's analysis: syntax trees, spanned models, checks and diagnostics. No IO happens
//! here: files come in as text, and questions about the disk go through [`vfs::FileSystem`].
//!
//! The entry point for OSpec files is [`ospec::check`].

pub mod coverage;
pub mod crossfile;
pub mod db;
pub mod diagnostics;
pub mod fmt;
pub mod ide;
pub mod init;
pub mod ospec;
pub mod plan;
pub mod report;
pub mod span;
pub mod suggest;
pub mod syntax;
pub mod topology;
pub mod vfs;

pub use diagnostics::{Diagnostic, Severity};
pub use ospecc_schema::Profile;
pub use span::{LineIndex, Span};
pub use syntax::Language;
