//! The `LanguageServer` implementation: the lifecycle (`initialize` with the negotiated
//! capabilities, `initialized`, `shutdown`), workspace notifications, and the editor
//! requests, each answered by its module under `features/`.
//!
//! Document sync (`didOpen`/`didChange`/`didClose`) never reaches these handlers: the
//! ordering layer (`ordered.rs`) applies it in wire order before any handler runs.

use std::path::PathBuf;
use std::sync::Arc;

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{
    CodeActionKind, CodeActionOptions, CodeActionParams, CodeActionProviderCapability, CodeActionResponse, CodeLens,
    CodeLensOptions, CodeLensParams, CompletionOptions, CompletionParams, CompletionResponse,
    DidChangeWatchedFilesParams, DidChangeWatchedFilesRegistrationOptions, DidChangeWorkspaceFoldersParams,
    DidSaveTextDocumentParams, DocumentFormattingParams, DocumentRangeFormattingParams, DocumentSymbolParams,
    DocumentSymbolResponse, ExecuteCommandOptions, ExecuteCommandParams, FileChangeType, FileSystemWatcher,
    FoldingRange, FoldingRangeParams, FoldingRangeProviderCapability, GlobPattern, GotoDefinitionParams,
    GotoDefinitionResponse, Hover, HoverParams, HoverProviderCapability, InitializeParams, InitializeResult,
    InitializedParams, Location, MessageType, OneOf, PrepareRenameResponse, ReferenceParams, Registration,
    RenameOptions, RenameParams, SaveOptions, SemanticTokensFullOptions, SemanticTokensOptions, SemanticTokensParams,
    SemanticTokensResult, SemanticTokensServerCapabilities, ServerCapabilities, ServerInfo, SignatureHelp,
    SignatureHelpOptions, SignatureHelpParams, TextDocumentPositionParams, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, TextEdit, WorkDoneProgressOptions,
    WorkspaceEdit, WorkspaceFoldersServerCapabilities, WorkspaceServerCapabilities, WorkspaceSymbolParams,
    WorkspaceSymbolResponse,
};
use tower_lsp_server::LanguageServer;

use crate::config::Settings;
use crate::encoding::PositionEncoding;
use crate::features;
use crate::scheduler::Event;
use crate::state::{Session, Shared};
use crate::workspace::path_of;

/// The files whose changes on disk matter: specs, topologies, and the config.
const WATCHED: &[&str] = &[
    "**/*.star",
    "**/*.ospec.yml",
    "**/*.ospec.yaml",
    "**/*.ospec",
    "**/outcome.yml",
    "**/outcome.yaml",
    "**/ospecc.toml",
];

/// With this set in its environment, the server answers `ospecc/crashTest` by panicking (the
/// stdio tests prove a panicking request costs only its own answer).
pub const CRASH_TEST_ENV: &str = "OSPECC_LSP_CRASH_TEST";

pub struct Backend {
    shared: Arc<Shared>,
}

impl Backend {
    pub fn new(shared: Arc<Shared>) -> Backend {
        Backend { shared }
    }

    /// `ospecc/crashTest`: panics when [`CRASH_TEST_ENV`] is set, else is an unknown method.
    pub async fn crash_test(&self) -> Result<()> {
        if std::env::var_os(CRASH_TEST_ENV).is_some() {
            panic!("crash test requested");
        }
        Err(Error::method_not_found())
    }

    async fn register_watchers(&self) {
        let watchers = WATCHED
            .iter()
            .map(|glob| FileSystemWatcher { glob_pattern: GlobPattern::String((*glob).to_string()), kind: None })
            .collect();
        let options = DidChangeWatchedFilesRegistrationOptions { watchers };
        let registration = Registration {
            id: "ospecc/watched-files".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(options).ok(),
        };
        if let Err(error) = self.shared.client.register_capability(vec![registration]).await {
            self.shared.log(MessageType::WARNING, format!("could not register file watchers: {error}"));
        }
    }
}

/// The workspace folders of `initialize` (or its deprecated `rootUri`).
fn roots(params: &InitializeParams) -> Vec<PathBuf> {
    if let Some(folders) = &params.workspace_folders {
        return folders.iter().map(|f| path_of(&f.uri)).filter(|p| p.is_absolute()).collect();
    }
    #[allow(deprecated)] // Older clients send only `rootUri`.
    let root = params.root_uri.as_ref().map(path_of);
    root.into_iter().filter(|p| p.is_absolute()).collect()
}

/// What the server offers: incremental sync in the negotiated encoding, workspace folders,
/// and the editor features.
pub fn capabilities(encoding: PositionEncoding) -> ServerCapabilities {
    let sync = TextDocumentSyncOptions {
        open_close: Some(true),
        change: Some(TextDocumentSyncKind::INCREMENTAL),
        save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions { include_text: Some(false) })),
        ..TextDocumentSyncOptions::default()
    };
    let folders =
        WorkspaceFoldersServerCapabilities { supported: Some(true), change_notifications: Some(OneOf::Left(true)) };
    ServerCapabilities {
        position_encoding: Some(encoding.kind()),
        text_document_sync: Some(TextDocumentSyncCapability::Options(sync)),
        workspace: Some(WorkspaceServerCapabilities { workspace_folders: Some(folders), file_operations: None }),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(features::completion::TRIGGERS.iter().map(|t| t.to_string()).collect()),
            ..CompletionOptions::default()
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        code_lens_provider: Some(CodeLensOptions { resolve_provider: Some(false) }),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: features::run::COMMANDS.iter().map(|c| c.to_string()).collect(),
            ..ExecuteCommandOptions::default()
        }),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".into(), ",".into()]),
            retrigger_characters: Some(vec!["=".into()]),
            ..SignatureHelpOptions::default()
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_range_formatting_provider: Some(OneOf::Left(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: features::tokens::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: None,
                ..SemanticTokensOptions::default()
            },
        )),
        ..ServerCapabilities::default()
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let encoding = PositionEncoding::negotiate(&params.capabilities);
        let (settings, warnings) = Settings::from_options(params.initialization_options.as_ref());
        let client = &params.capabilities;
        let progress = client.window.as_ref().and_then(|w| w.work_done_progress).unwrap_or(false);
        let watch_files = client
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        self.shared.begin(Session { encoding, settings, roots: roots(&params), progress, watch_files });
        for warning in warnings {
            self.shared.log(MessageType::WARNING, warning);
        }
        Ok(InitializeResult {
            capabilities: capabilities(encoding),
            server_info: Some(ServerInfo { name: "ospecc".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let Some(session) = self.shared.session().cloned() else { return };
        if session.watch_files {
            self.register_watchers().await;
        }
        self.shared.send(Event::Folders { added: session.roots, removed: Vec::new() });
    }

    async fn shutdown(&self) -> Result<()> {
        self.shared.shut_down();
        Ok(())
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        // An open spec's saved text is the text already analysed; only a saved config
        // changes what the checks do (clients without file watchers tell us only this way).
        let path = path_of(&params.text_document.uri);
        if path.file_name().is_some_and(|n| n == "ospecc.toml") {
            self.shared.send(Event::Disk(vec![(path, FileChangeType::CHANGED)]));
        }
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let changes = params.changes.into_iter().map(|c| (path_of(&c.uri), c.typ)).collect();
        self.shared.send(Event::Disk(changes));
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        let paths = |folders: Vec<tower_lsp_server::ls_types::WorkspaceFolder>| {
            folders.iter().map(|f| path_of(&f.uri)).filter(|p| p.is_absolute()).collect()
        };
        let added = paths(params.event.added);
        let removed = paths(params.event.removed);
        self.shared.send(Event::Folders { added, removed });
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        Ok(features::completion::completion(&self.shared, params))
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        Ok(features::hover::hover(&self.shared, params))
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        Ok(features::navigation::definition(&self.shared, params))
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        Ok(features::navigation::references(&self.shared, params))
    }

    async fn prepare_rename(&self, params: TextDocumentPositionParams) -> Result<Option<PrepareRenameResponse>> {
        features::navigation::prepare_rename(&self.shared, params)
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        features::navigation::rename(&self.shared, params)
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        Ok(features::symbols::symbols(&self.shared, params))
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        Ok(features::folding::folding_ranges(&self.shared, params))
    }

    async fn symbol(&self, params: WorkspaceSymbolParams) -> Result<Option<WorkspaceSymbolResponse>> {
        // Reads and outlines up to every spec file of the workspace: off the async workers, so
        // edits and other requests are not held up behind it.
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || features::workspace_symbols::workspace_symbols(&shared, params))
            .await
            .map_err(|_| Error::internal_error())
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        Ok(features::actions::code_actions(&self.shared, params))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        // Lowers the document to its plan: off the async workers.
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || features::lenses::code_lenses(&shared, params))
            .await
            .map_err(|_| Error::internal_error())
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<serde_json::Value>> {
        features::run::execute(Arc::clone(&self.shared), params).await
    }

    async fn signature_help(&self, params: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        Ok(features::signature::signature_help(&self.shared, params))
    }

    async fn semantic_tokens_full(&self, params: SemanticTokensParams) -> Result<Option<SemanticTokensResult>> {
        Ok(features::tokens::semantic_tokens(&self.shared, params))
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        Ok(features::formatting::formatting(&self.shared, params))
    }

    async fn range_formatting(&self, params: DocumentRangeFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        Ok(features::formatting::range_formatting(&self.shared, params))
    }
}
