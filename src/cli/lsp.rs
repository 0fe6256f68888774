//! `ospecc lsp`: serves the language server on stdin/stdout.
//!
//! The server's policy comes from this binary (`ospecc_lsp::Host`): the same discovery,
//! `ospecc.toml` resolution and workspace roots as `ospecc check`, so an editor and the CLI
//! report the identical set of diagnostics for the same text.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use ospecc_compiler::ospec::CheckOptions;
use ospecc_compiler::Language as AnalysisLanguage;

use super::config::{self, Overrides};
use super::discover::{self, Language, Source};
use super::{report_error, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct LspArgs {
    /// Serve over stdin/stdout (the only transport; accepted because editors pass it).
    #[arg(long)]
    stdio: bool,
}

/// Exits 0 after a `shutdown` request, 1 when the client left without one (LSP's rule).
pub fn run(args: &LspArgs) -> u8 {
    let _ = args.stdio;
    match ospecc_lsp::run_stdio(Arc::new(CliHost)) {
        Ok(true) => EXIT_OK,
        Ok(false) => EXIT_FINDINGS,
        Err(message) => {
            report_error(&message);
            EXIT_USAGE
        }
    }
}

/// `ospecc check`'s policy, for the server.
struct CliHost;

impl ospecc_lsp::Host for CliHost {
    fn language_of(&self, file_name: &str) -> Option<AnalysisLanguage> {
        discover::language_of(file_name).map(|language| match language {
            Language::OSpec => AnalysisLanguage::OSpec,
            Language::Topology => AnalysisLanguage::Topology,
        })
    }

    fn discover(&self, root: &Path) -> Vec<PathBuf> {
        let excludes = config::resolve(config::find(root).as_deref(), Overrides::default())
            .map(|settings| settings.excludes)
            .unwrap_or_default();
        let (sources, _unreadable) = discover::discover(&[root.to_path_buf()], &excludes, root);
        sources
            .into_iter()
            .filter_map(|source| match source {
                Source::File { path, .. } => Some(path),
                Source::Stdin => None,
            })
            .collect()
    }

    fn options(&self, file: &Path) -> Result<CheckOptions, String> {
        config::resolve(config::find(file).as_deref(), Overrides::default()).map(|settings| settings.options)
    }

    fn workspace_root(&self, file: &Path) -> PathBuf {
        super::check::workspace_root(file)
    }

    fn executable(&self) -> Option<PathBuf> {
        std::env::current_exe().ok()
    }

    fn fmt_options(&self, file: &Path) -> ospecc_compiler::fmt::Options {
        config::resolve_fmt(config::find(file).as_deref()).map(|settings| settings.options).unwrap_or_default()
    }

    fn confinement(&self, file: &Path) -> ospecc_compiler::vfs::Confinement {
        // As `check` confines it: the root and the config's `[workspace] allow_outside`.
        let allowed = config::resolve(config::find(file).as_deref(), Overrides::default())
            .map(|settings| settings.allow_outside)
            .unwrap_or_default();
        let root = self.workspace_root(file);
        ospecc_compiler::vfs::Confinement::new(std::iter::once(root).chain(allowed))
    }
}
