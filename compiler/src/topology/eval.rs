//! Parsing, `load()` resolution and bounded evaluation of one topology file and the files it
//! loads, and the conversion of Starlark errors into located diagnostics.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use ospecc_schema::stdlib;
use ospecc_schema::topology::catalog;
use starlark::environment::{FrozenModule, Globals, GlobalsBuilder, LibraryExtension, Module};
use starlark::eval::{BeforeStmtFunc, Evaluator, ReturnFileLoader};
use starlark::syntax::{AstModule, Dialect, DialectTypes};
use starlark::values::{FrozenHeapName, ValueLike};
use starlark::ErrorKind;

use super::attrs::Addresses;
use super::eval_limits::{self, LimitError, StatementGuard};
use super::modules::{LoadedModule, ModuleLoader};
use super::session::{file_loaders, normalize, SandboxError, Session, MAX_READ_BYTES};
use super::syntax::Syntax;
use super::values::{recorded_of, Arg, BuiltinFn, Namespace};
use super::{Evaluated, Global, TopologyInput};
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::vfs::FileSystem;

/// The bounds of one evaluation (each file, the root and every loaded one, has its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Ticks (one function call or one loop iteration each).
    pub max_ticks: u64,
    /// Bytes of Starlark heap.
    pub max_heap_bytes: usize,
    /// Nested calls.
    pub max_call_depth: usize,
    /// Wall time for the whole check, as a last resort (the tick limit normally fires first).
    pub max_time: Duration,
    /// Files larger than this are not parsed.
    pub max_file_bytes: usize,
    /// Bracket nesting beyond this is refused before parsing (the parser recurses on it).
    pub max_nesting: usize,
    /// `load()` chains deeper than this are refused.
    pub max_load_depth: usize,
    /// Operators, attribute accesses and calls in one logical line beyond this are refused:
    /// each nests the syntax tree one level, and every stage recurses on it.
    pub max_expression_nodes: usize,
    /// Names and number literals longer than this are refused before parsing: no spec has
    /// one, and the parser's did-you-mean for an undefined name is quadratic in its length.
    pub max_word_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // A real spec needs a few thousand; 2 million take about a second in a debug build.
            max_ticks: 2_000_000,
            max_heap_bytes: 256 * 1024 * 1024,
            // Faultbox's dialect has no recursion at all; helpers nest a handful of calls.
            max_call_depth: 100,
            max_time: Duration::from_secs(5),
            max_file_bytes: 4 * 1024 * 1024,
            max_nesting: 64,
            max_load_depth: 32,
            // A 1 GiB analysis stack holds about 20,000 in a debug build; real specs stay
            // below a hundred.
            max_expression_nodes: 10_000,
            max_word_bytes: 4096,
        }
    }
}

/// Faultbox runs starlark-go's legacy dialect (no `while`, no recursion, no top-level
/// `if`/`for`). starlark-rust's standard dialect is the closest; the seed specs also need
/// top-level statements, and starlark-rust has no legacy switches, so the stricter rules are
/// left to the static checks.
pub(crate) const DIALECT: Dialect = Dialect {
    enable_def: true,
    enable_lambda: true,
    enable_load: true,
    enable_keyword_only_arguments: false,
    enable_positional_only_arguments: false,
    enable_types: DialectTypes::Disable,
    enable_load_reexport: true,
    enable_top_level_stmt: true,
    enable_f_strings: false,
    ..Dialect::Standard
};

/// The predeclared globals: the Starlark standard library (with `struct` and `print`), every
/// catalog builtin bound to the generic recorder, and the sandboxed file readers.
static GLOBALS: LazyLock<Globals> = LazyLock::new(|| {
    let standard = GlobalsBuilder::extended_by(&[LibraryExtension::StructType, LibraryExtension::Print]).build();
    let taken: Vec<String> = standard.names().map(|n| n.as_str().to_owned()).collect();
    let mut builder = GlobalsBuilder::extended_by(&[LibraryExtension::StructType, LibraryExtension::Print]);
    file_loaders(&mut builder);
    eval_limits::guarded_operators(&mut builder);
    eval_limits::guarded_functions(&mut builder);
    let sandboxed = ["load_file", "load_yaml", "load_json"];
    let mut namespaces: HashMap<&str, Vec<(String, usize)>> = HashMap::new();
    for (index, builtin) in catalog().builtins.iter().enumerate() {
        let name = builtin.name.as_str();
        // The standard library's own `fail`, `print`, `struct` stay; the file readers are the
        // sandbox's. Everything else binds generically.
        if taken.iter().any(|t| t == name) || sandboxed.contains(&name) {
            continue;
        }
        match name.split_once('.') {
            Some((prefix, member)) => namespaces.entry(prefix).or_default().push((member.to_owned(), index)),
            None => builder.set(name, BuiltinFn { index }),
        }
    }
    let mut namespaces: Vec<_> = namespaces.into_iter().collect();
    namespaces.sort();
    for (prefix, members) in namespaces {
        builder.set(prefix, Namespace { prefix: prefix.to_owned(), members });
    }
    builder.build()
});

/// What a predeclared name is bound to, as far as the skeleton cares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Predeclared {
    /// A catalog builtin bound to the recorder: a call only records its arguments.
    Recorder,
    /// A namespace of recorders (`match`, `observe`, ...).
    Namespace,
    Other,
}

/// The names every module sees before its own (what starlark-rust resolves a name against
/// after the module's bindings).
static PREDECLARED: LazyLock<std::collections::HashMap<String, Predeclared>> = LazyLock::new(|| {
    GLOBALS
        .iter()
        .map(|(name, value)| {
            let value = value.to_value();
            let kind = if value.downcast_ref::<BuiltinFn>().is_some() {
                Predeclared::Recorder
            } else if value.downcast_ref::<Namespace>().is_some() {
                Predeclared::Namespace
            } else {
                Predeclared::Other
            };
            (name.to_owned(), kind)
        })
        .collect()
});

/// Whether `name` is predeclared (a builtin of Starlark's, the sandbox's or the catalog's).
pub(crate) fn is_predeclared(name: &str) -> bool {
    PREDECLARED.contains_key(name)
}

/// Whether `name` is bound to a catalog builtin that only records its call.
pub(crate) fn records_only(name: &str) -> bool {
    PREDECLARED.get(name) == Some(&Predeclared::Recorder)
}

/// Whether `name` is a namespace of recording builtins.
pub(crate) fn is_namespace(name: &str) -> bool {
    PREDECLARED.get(name) == Some(&Predeclared::Namespace)
}

/// `+`, `*`, `%` as the guarded functions that check the budget first.
static GUARDED_OPERATORS: LazyLock<HashMap<String, String>> =
    LazyLock::new(|| eval_limits::GUARDED.iter().map(|(op, f)| ((*op).to_owned(), (*f).to_owned())).collect());

/// From this size on, the root file's syntax index is built on a second thread while the file
/// evaluates (below it, starting the thread costs more than the index).
const INDEX_ASIDE_BYTES: usize = 16 * 1024;

/// What went wrong in a loaded file, to be reported at the `load()` that reached it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadFailure {
    code: &'static str,
    message: String,
    help: String,
}

/// The whole check's evaluation state.
struct Run<'a, 's> {
    /// The workspace root `load()` is confined to, and the bounds.
    root: &'a Path,
    limits: Limits,
    fs: &'a dyn FileSystem,
    session: &'s Session<'a>,
    /// Where loaded modules may come from already evaluated (else they are evaluated here).
    loader: Option<&'a dyn ModuleLoader>,
    /// In a loaded module's own evaluation: the modules it took from the loader, in order, for
    /// its importers to replay (`None` in a root file's run, which replays them at once).
    taken: Option<Vec<Arc<LoadedModule>>>,
    /// Evaluated modules by key (normalised path, or stdlib id).
    cache: HashMap<String, FrozenModule>,
    /// Keys of files being evaluated (for cycle detection), outermost first.
    stack: Vec<String>,
    deadline: Instant,
    root_globals: Vec<Global>,
    root_syntax: Option<Syntax>,
    root_module: Option<FrozenModule>,
    complete: bool,
    diagnostics: Vec<Diagnostic>,
}

pub(super) fn evaluate(input: &TopologyInput, addresses: Addresses) -> Evaluated {
    evaluate_keeping(input, addresses, false).evaluated
}

/// An evaluation with what running its functions later needs.
pub(crate) struct Kept {
    pub evaluated: Evaluated,
    /// The root module, frozen (when evaluation completed).
    pub module: Option<FrozenModule>,
    /// Functions passed to builtins: (file, local id), in the order of the module's extra tuple.
    pub captured: Vec<(String, String)>,
}

pub(crate) fn evaluate_keeping(input: &TopologyInput, addresses: Addresses, capture: bool) -> Kept {
    evaluate_with(input, addresses, capture, None)
}

/// An evaluation whose loaded modules may come from `loader` (shared by every importer).
pub(crate) fn evaluate_with(
    input: &TopologyInput,
    addresses: Addresses,
    capture: bool,
    loader: Option<&dyn ModuleLoader>,
) -> Kept {
    super::values::reset_function_indexes();
    super::attrs::set_addresses(addresses);
    let root_file = input.path.display().to_string();
    let spec_dir = input.path.parent().map(Path::to_path_buf).unwrap_or_default();
    let session = Session {
        fs: input.fs,
        spec_dir,
        calls: RefCell::new(Vec::new()),
        diagnostics: RefCell::new(Vec::new()),
        sources: RefCell::new(Vec::new()),
        capture,
        captured: RefCell::new(Vec::new()),
    };
    let mut run = Run {
        root: input.root,
        limits: input.limits,
        fs: input.fs,
        session: &session,
        loader,
        taken: None,
        cache: HashMap::new(),
        stack: Vec::new(),
        deadline: Instant::now() + input.limits.max_time,
        root_globals: Vec::new(),
        root_syntax: None,
        root_module: None,
        complete: false,
        diagnostics: Vec::new(),
    };
    let key = normalize(input.path).display().to_string();
    if let Some(text_problem) = precheck(input.text, &input.limits) {
        run.diagnostics.push(text_problem);
    } else {
        let _ = run.file(&key, &root_file, input.path.parent(), input.text.to_owned(), true);
    }
    let mut diagnostics = run.diagnostics;
    diagnostics.extend(session.diagnostics.take());
    let evaluated = Evaluated {
        calls: session.calls.take(),
        globals: run.root_globals,
        syntax: run.root_syntax,
        root: root_file,
        complete: run.complete,
        diagnostics,
        sources: session.sources.take(),
    };
    Kept { evaluated, module: run.root_module, captured: session.captured.take() }
}

/// TOP003 for a file over the size limit.
fn oversized(text: &str, limits: &Limits) -> Option<Diagnostic> {
    (text.len() > limits.max_file_bytes).then(|| {
        Diagnostic::error(
            "TOP003",
            Span::new(0, 0),
            format!(
                "this file has {} bytes; topology files are checked up to {} bytes",
                text.len(),
                limits.max_file_bytes
            ),
        )
        .with_help("split the topology into files joined with `load()`, or move data into `load_yaml` files")
    })
}

/// TOP002 for a name or number literal (`start..end`) past the word-length limit.
fn too_long_word(start: usize, end: usize, limits: &Limits) -> Diagnostic {
    Diagnostic::error(
        "TOP002",
        Span::new(start, end),
        format!("this name or number is {} bytes long; the limit is {}", end - start, limits.max_word_bytes),
    )
    .with_help("names are for people: shorten it (data belongs in a string, or in a file read with load_file)")
}

/// TOP004 for brackets opened at `at` past the nesting limit.
fn too_deep(at: usize, limits: &Limits) -> Diagnostic {
    Diagnostic::error(
        "TOP004",
        Span::new(at, at + 1),
        format!("brackets nest more than {} levels deep here", limits.max_nesting),
    )
    .with_help("flatten the expression: bind inner parts to names first")
}

/// TOP004 for a statement (from `start` to the byte at `at`) past the expression-node limit.
fn too_many_nodes(start: usize, at: usize, limits: &Limits) -> Diagnostic {
    Diagnostic::error(
        "TOP004",
        Span::new(start, at + 1),
        format!("this statement has more than {} operators, calls and attribute accesses", limits.max_expression_nodes),
    )
    .with_help("split the expression: bind parts to names first, or move data into a `load_yaml` file")
}

/// Refuses text the parser should not see: too large, or nested deeply enough to exhaust
/// the parser's stack.
pub(crate) fn precheck(text: &str, limits: &Limits) -> Option<Diagnostic> {
    if let Some(too_large) = oversized(text, limits) {
        return Some(too_large);
    }
    let (mut depth, mut nodes, mut line_start) = (0usize, 0usize, 0usize);
    let bytes = text.as_bytes();
    let mut i = 0;
    // Whole runs are skipped at once (comments, string contents, words): this scan runs on
    // every keystroke in an editor, before the parse.
    while i < bytes.len() {
        if is_word_byte(bytes[i]) {
            // Words, to count the nesting keywords (`a and b and …`, `x if c else y if …`).
            // A word counts once the byte after it is reached, so one ending the text does not.
            let start = i;
            i += bytes[i..].iter().position(|&c| !is_word_byte(c)).unwrap_or(bytes.len() - i);
            if i - start > limits.max_word_bytes {
                return Some(too_long_word(start, i, limits));
            }
            if i == bytes.len() {
                break;
            }
            nodes += usize::from(matches!(&bytes[start..i], b"and" | b"or" | b"not" | b"if" | b"lambda"));
            // The byte that ended the word is looked at now, like any other.
        }
        let b = bytes[i];
        // A comment's newline ends the statement at top level, after the check below.
        let mut statement_from = None;
        let next = match b {
            b'#' => match bytes[i..].iter().position(|&c| c == b'\n') {
                Some(p) => {
                    statement_from = (depth == 0).then_some(i + p + 1);
                    i + p + 1
                }
                None => bytes.len(),
            },
            b'"' | b'\'' => string_end(bytes, i + 1, b),
            b'(' | b'[' | b'{' => {
                depth += 1;
                nodes += 1;
                if depth > limits.max_nesting {
                    return Some(too_deep(i, limits));
                }
                i + 1
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i + 1
            }
            b'\n' if depth == 0 => {
                (nodes, line_start) = (0, i + 1);
                i + 1
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'&' | b'^' | b'<' | b'>' | b'~' => {
                nodes += 1;
                i + 1
            }
            b'.' if bytes.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_') => {
                nodes += 1;
                i + 1
            }
            _ => i + 1,
        };
        // Checked at the byte that was looked at (a comment's newline and a string's contents
        // add nothing).
        if nodes > limits.max_expression_nodes {
            return Some(too_many_nodes(line_start, i, limits));
        }
        if let Some(start) = statement_from {
            (nodes, line_start) = (0, start);
        }
        i = next;
    }
    None
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The index just past the closing `quote` of a string whose contents start at `from` (the
/// text's end when it is unterminated). A backslash escapes the byte after it.
fn string_end(bytes: &[u8], mut from: usize, quote: u8) -> usize {
    while from < bytes.len() {
        match bytes[from] {
            b'\\' => from += 2,
            b if b == quote => return from + 1,
            _ => from += 1,
        }
    }
    bytes.len()
}

impl<'a, 's> Run<'a, 's> {
    /// Parses, loads the dependencies of, and evaluates one file. For the root file problems
    /// become diagnostics; for loaded files the first problem is returned to the `load()`.
    fn file(
        &mut self,
        key: &str,
        name: &str,
        dir: Option<&Path>,
        text: String,
        is_root: bool,
    ) -> Result<FrozenModule, LoadFailure> {
        self.session.sources.borrow_mut().push((name.to_owned(), text.clone()));
        let text_for_recovery = if is_root { text.clone() } else { String::new() };
        let text_len = text.len();
        let mut ast = match AstModule::parse(name, text, &DIALECT) {
            Ok(ast) => ast,
            Err(e) => {
                let first = syntax_error(&e);
                if is_root {
                    // The parser stops at the first error; the later ones are found by re-parsing
                    // with each bad line blanked, so one run shows them all.
                    self.diagnostics.extend(later_syntax_errors(name, &text_for_recovery, first.span));
                }
                return Err(self.report(is_root, name, first));
            }
        };
        // The root's syntax index is built from a copy of the tree (evaluation consumes the
        // tree); for a big file, on a second thread while the file evaluates.
        let tree = is_root.then(|| ast.statement().clone());
        let index_aside = is_root && text_len >= INDEX_ASIDE_BYTES;
        let mut tree = match tree {
            Some(tree) if !index_aside => {
                self.root_syntax = Some(Syntax::new(tree));
                None
            }
            other => other,
        };
        // Only the evaluated tree calls the guarded operators; the index keeps the text's own.
        ast.replace_binary_operators(&GUARDED_OPERATORS);
        self.stack.push(key.to_owned());
        let mut modules: Vec<(String, FrozenModule)> = Vec::new();
        let mut failed = None;
        for load in ast.loads() {
            let span = Span::new(load.span.span.begin().get() as usize, load.span.span.end().get() as usize);
            match self.load(load.module_id, dir, is_root) {
                Ok(module) => modules.push((load.module_id.to_owned(), module)),
                Err(failure) => {
                    let d =
                        Diagnostic::error(failure.code, span, failure.message.clone()).with_help(failure.help.clone());
                    failed = Some(self.report(is_root, name, d));
                    if !is_root {
                        break;
                    }
                }
            }
        }
        self.stack.pop();
        if let Some(failure) = failed {
            // Nothing evaluates: the index is built here.
            if let Some(tree) = tree.take() {
                self.root_syntax = Some(Syntax::new(tree));
            }
            return Err(failure);
        }
        let map: HashMap<&str, &FrozenModule> = modules.iter().map(|(id, m)| (id.as_str(), m)).collect();
        let loader = ReturnFileLoader { modules: &map };
        let limits = self.limits;
        let deadline = self.deadline;
        let session = self.session;
        let evaluate = || {
            eval_limits::with_budget(deadline, limits.max_heap_bytes, limits.max_ticks, || {
                Module::with_temp_heap(|module| {
                    let result = {
                        let mut eval = Evaluator::new(&module);
                        eval.set_loader(&loader);
                        eval.extra = Some(session);
                        // Setting each bound once on a fresh evaluator cannot fail.
                        let _ = eval.set_max_tick_count(limits.max_ticks);
                        let _ = eval.set_max_heap_size(limits.max_heap_bytes);
                        let _ = eval.set_max_callstack_size(limits.max_call_depth);
                        eval.set_check_cancelled(Box::new(eval_limits::cancelled));
                        eval.before_stmt_for_dap(BeforeStmtFunc::from_dyn(Box::new(StatementGuard)));
                        eval.set_print_handler(&SilentPrint);
                        // Function values are numbered by identity (`values::Function`): a collection
                        // between statements would move them. Heap growth stays bounded by the limit.
                        eval.disable_gc();
                        eval.eval_module(ast, &GLOBALS).map(|_| ())
                    };
                    if is_root && session.capture && result.is_ok() {
                        // Global functions (`def test_*`) are callables too, whether or not a builtin saw them.
                        // In the order `module_globals` meets them, so function indexes match a check's.
                        let mut names: Vec<String> = module.names().map(|n| n.as_str().to_owned()).collect();
                        names.sort();
                        let functions: Vec<_> =
                            names.iter().filter_map(|n| module.get(n)).filter(|v| v.get_type() == "function").collect();
                        super::values::capture_functions(&module, session, &functions);
                    }
                    // After a failed evaluation the module's slots may not exist (a name that did not
                    // resolve stops evaluation before they are allocated): only a finished module is read.
                    let globals = if is_root && result.is_ok() { module_globals(&module) } else { Vec::new() };
                    // Loaded modules are frozen for the files that load them, the root only for a run
                    // (which calls its functions later): a check reads the recorded calls and globals,
                    // and freezing copies the whole heap.
                    let frozen = (!is_root || session.capture)
                        .then(|| module.freeze_named(FrozenHeapName::User(Box::new(key.to_owned()))));
                    (result, globals, frozen)
                })
            })
        };
        let (result, globals, frozen) = match tree.take() {
            Some(tree) => {
                let (outcome, syntax) = super::threads::join(evaluate, move || Syntax::new(tree));
                self.root_syntax = Some(syntax);
                outcome
            }
            None => evaluate(),
        };
        if is_root {
            self.root_globals = globals;
        }
        if let Err(e) = result {
            return Err(self.report(is_root, name, runtime_error(&e, name)));
        }
        if is_root {
            self.complete = true;
            self.root_module = frozen.as_ref().and_then(|f| f.as_ref().ok()).cloned();
        }
        match frozen {
            Some(frozen) => {
                frozen.map_err(|e| LoadFailure { code: "TOP010", message: format!("{e:?}"), help: String::new() })
            }
            // Only the root goes unfrozen, and nothing loads the root (a load of it is a cycle).
            None => Err(LoadFailure {
                code: "TOP010",
                message: "the root module is not kept by a check".into(),
                help: String::new(),
            }),
        }
    }

    /// Records a problem of the root file, or turns one of a loaded file into a failure for
    /// the `load()` that reached it.
    fn report(&mut self, is_root: bool, name: &str, diagnostic: Diagnostic) -> LoadFailure {
        let failure = LoadFailure {
            code: "TOP024",
            message: format!("the loaded file `{name}` cannot be evaluated: {}", diagnostic.message),
            help: format!("run `ospecc check {name}` for the details"),
        };
        if is_root {
            self.diagnostics.push(diagnostic);
        }
        failure
    }

    /// Resolves and evaluates one `load()` target.
    fn load(&mut self, id: &str, dir: Option<&Path>, from_root: bool) -> Result<FrozenModule, LoadFailure> {
        let _ = from_root;
        if self.stack.len() > self.limits.max_load_depth {
            return Err(LoadFailure {
                code: "TOP022",
                message: format!("`load()` chains are limited to {} files", self.limits.max_load_depth),
                help: "flatten the chain of loads".into(),
            });
        }
        if id.starts_with('@') {
            let Some(text) = stdlib::module(id) else {
                let known: Vec<&str> = stdlib::MODULES.iter().map(|(p, _)| *p).collect();
                let help = match crate::suggest::did_you_mean(id, known.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("the embedded modules are: {}", known.join(", ")),
                };
                return Err(LoadFailure { code: "TOP023", message: format!("no embedded module `{id}`"), help });
            };
            return self.cached(id.to_owned(), id, None, text.to_owned());
        }
        let Some(dir) = dir else {
            return Err(LoadFailure {
                code: "TOP021",
                message: format!("the embedded stdlib cannot load workspace file `{id}`"),
                help: "embedded modules load only other embedded modules".into(),
            });
        };
        let target = normalize(&dir.join(id));
        let root = normalize(self.root);
        if !target.starts_with(&root) {
            return Err(LoadFailure {
                code: "TOP021",
                message: format!("`{id}` is outside the workspace ({})", root.display()),
                help: "`load()` reaches only files inside the workspace; copy the file in or open the enclosing directory as the workspace".into(),
            });
        }
        let key = target.display().to_string();
        if let Some(start) = self.stack.iter().position(|k| *k == key) {
            let mut cycle: Vec<String> = self.stack[start..].to_vec();
            cycle.push(key.clone());
            return Err(LoadFailure {
                code: "TOP022",
                message: format!("`load()` cycle: {}", cycle.join(" → ")),
                help: "move the shared definitions into a third file that both load".into(),
            });
        }
        let text = self.fs.read_to_string(&target, MAX_READ_BYTES).map_err(|e| match crate::vfs::outside(&e) {
            // Text inside the workspace that resolves outside it (a symbolic link).
            Some(refused) => LoadFailure {
                code: "TOP021",
                message: format!("`{id}` is outside the workspace: {refused}"),
                help: "`load()` reaches only files inside the workspace; copy the file in, or allow its directory with `--allow-outside`".into(),
            },
            None => LoadFailure {
                code: "TOP020",
                message: format!("cannot load `{id}`: {}", crate::vfs::describe_io(&e)),
                help: "`load()` paths are relative to the loading file's directory".into(),
            },
        })?;
        if let Some(problem) = precheck(&text, &self.limits) {
            return Err(LoadFailure {
                code: "TOP024",
                message: format!("the loaded file `{id}` cannot be evaluated: {}", problem.message),
                help: format!("run `ospecc check {}` for the details", target.display()),
            });
        }
        let parent = target.parent().map(Path::to_path_buf);
        self.cached(key, &target.display().to_string(), parent.as_deref(), text)
    }

    fn cached(
        &mut self,
        key: String,
        name: &str,
        dir: Option<&Path>,
        text: String,
    ) -> Result<FrozenModule, LoadFailure> {
        if let Some(module) = self.cache.get(&key) {
            return Ok(module.clone());
        }
        if let Some(loader) = self.loader.filter(|_| self.shareable(&key)) {
            return self.take(loader.module(&key));
        }
        let module = self.file(&key, name, dir, text, false)?;
        self.cache.insert(key, module.clone());
        Ok(module)
    }
}

impl Run<'_, '_> {
    /// Whether the module at `key` may come from the loader: nothing it loads, directly or
    /// not, is on the stack or loads itself again, and its chain of loads stays inside the
    /// depth bound. Then its evaluation is the same whoever loads it; otherwise it is evaluated
    /// here, where the cycle or the bound is reported as this run sees it.
    fn shareable(&self, key: &str) -> bool {
        let Some(loader) = self.loader else { return false };
        let mut path: Vec<String> = self.stack.clone();
        let mut heights: HashMap<String, usize> = HashMap::new();
        self.height(loader, key, &mut path, &mut heights)
            .is_some_and(|h| self.stack.len() + h < self.limits.max_load_depth)
    }

    /// How many files deep the loads below `key` go (1 for a file that loads nothing), or
    /// `None` when they reach a file on `path` (a cycle) or go past the depth bound.
    fn height(
        &self,
        loader: &dyn ModuleLoader,
        key: &str,
        path: &mut Vec<String>,
        heights: &mut HashMap<String, usize>,
    ) -> Option<usize> {
        if path.iter().any(|k| k == key) || path.len() >= self.limits.max_load_depth {
            return None;
        }
        if let Some(&known) = heights.get(key) {
            return Some(known);
        }
        path.push(key.to_owned());
        let mut below = 0;
        let mut clean = true;
        for next in loader.imports(key).iter() {
            match self.height(loader, next, path, heights) {
                Some(h) => below = below.max(h),
                None => {
                    clean = false;
                    break;
                }
            }
        }
        path.pop();
        let height = below + 1;
        clean.then(|| {
            heights.insert(key.to_owned(), height);
            height
        })
    }

    /// Uses a module the loader evaluated: its effects (sources, calls, findings, function
    /// numbering) are replayed here in the order its own evaluation would have made them, or,
    /// inside another loaded module's evaluation, kept for that module's importers.
    fn take(&mut self, module: Arc<LoadedModule>) -> Result<FrozenModule, LoadFailure> {
        let result = module.result.clone();
        match self.taken.as_mut() {
            Some(taken) => taken.push(Arc::clone(&module)),
            None => self.replay(&module),
        }
        if let Ok(frozen) = &result {
            self.cache.insert(module.key.clone(), frozen.clone());
        }
        result
    }

    fn replay(&mut self, module: &LoadedModule) {
        self.session.sources.borrow_mut().push(module.source.clone());
        for dep in &module.deps {
            // A module this run already has is not evaluated again (as `cached` would not).
            if dep.result.is_ok() && self.cache.contains_key(&dep.key) {
                continue;
            }
            self.replay(dep);
            if let Ok(frozen) = &dep.result {
                self.cache.insert(dep.key.clone(), frozen.clone());
            }
        }
        self.session.calls.borrow_mut().extend(module.calls.iter().cloned());
        self.session.diagnostics.borrow_mut().extend(module.diagnostics.iter().cloned());
        self.session.sources.borrow_mut().extend(module.data_sources.iter().cloned());
        super::values::advance_function_indexes(&module.functions);
    }
}

/// One loaded module to evaluate on its own (see [`LoadedModule`]).
pub struct ModuleRequest<'a> {
    /// The module's key: its normalised path, or the stdlib id.
    pub key: &'a str,
    /// Its name as calls and messages show it.
    pub name: &'a str,
    /// Its directory (`None` for the embedded stdlib).
    pub dir: Option<&'a Path>,
    pub text: String,
    /// The importing spec's directory: `load_file` and friends read below it.
    pub spec_dir: &'a Path,
    pub root: &'a Path,
    pub limits: Limits,
    pub fs: &'a dyn FileSystem,
}

/// Evaluates one loaded module as its importers' runs would, recording what it did.
pub fn evaluate_module(request: &ModuleRequest, loader: &dyn ModuleLoader) -> LoadedModule {
    // The module numbers its own functions; its importers add that numbering to theirs.
    let outer = super::values::take_function_indexes();
    let session = Session {
        fs: request.fs,
        spec_dir: request.spec_dir.to_path_buf(),
        calls: RefCell::new(Vec::new()),
        diagnostics: RefCell::new(Vec::new()),
        sources: RefCell::new(Vec::new()),
        capture: false,
        captured: RefCell::new(Vec::new()),
    };
    let mut run = Run {
        root: request.root,
        limits: request.limits,
        fs: request.fs,
        session: &session,
        loader: Some(loader),
        taken: Some(Vec::new()),
        cache: HashMap::new(),
        stack: Vec::new(),
        deadline: Instant::now() + request.limits.max_time,
        root_globals: Vec::new(),
        root_syntax: None,
        root_module: None,
        complete: false,
        diagnostics: Vec::new(),
    };
    let result = run.file(request.key, request.name, request.dir, request.text.clone(), false);
    let deps = run.taken.take().unwrap_or_default();
    let functions = super::values::function_counts();
    super::values::restore_function_indexes(outer);
    let mut sources = session.sources.take().into_iter();
    let source = sources.next().unwrap_or_else(|| (request.name.to_owned(), request.text.clone()));
    LoadedModule {
        key: request.key.to_owned(),
        source,
        deps,
        calls: session.calls.take(),
        diagnostics: session.diagnostics.take(),
        data_sources: sources.collect(),
        functions,
        result,
    }
}

/// The keys of the modules a module's text loads (its `load()` targets resolved as
/// [`Run::load`] resolves them), or nothing when it does not pass the precheck or parse.
pub fn imports_of(name: &str, dir: Option<&Path>, text: &str, limits: &Limits) -> Vec<String> {
    if precheck(text, limits).is_some() {
        return Vec::new();
    }
    let Ok(ast) = AstModule::parse(name, text.to_owned(), &DIALECT) else { return Vec::new() };
    let loads = ast.loads();
    loads
        .iter()
        .filter_map(|load| match (load.module_id.starts_with('@'), dir) {
            (true, _) => Some(load.module_id.to_owned()),
            (false, Some(dir)) => Some(normalize(&dir.join(load.module_id)).display().to_string()),
            (false, None) => None,
        })
        .collect::<Vec<_>>()
}

/// `print()` output is not part of a check.
struct SilentPrint;

impl starlark::PrintHandler for SilentPrint {
    fn println(&self, _text: &str) -> starlark::Result<()> {
        Ok(())
    }
}

fn module_globals(module: &Module) -> Vec<Global> {
    let mut names: Vec<String> = module.names().map(|n| n.as_str().to_owned()).collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let value = module.get(&name)?;
            let value = recorded_of(value).map_or_else(|| Arg::from_value(value, 0), Arg::Record);
            Some(Global { name, value })
        })
        .collect()
}

fn span_of(file_span: &starlark::codemap::FileSpan) -> Span {
    Span::new(file_span.span.begin().get() as usize, file_span.span.end().get() as usize)
}

/// How many syntax errors one file reports (later ones are mostly consequences).
const MAX_SYNTAX_ERRORS: usize = 10;

/// Syntax errors after the first: the line of each error is neutralised (replaced by `pass`
/// at its indentation, padded with spaces so offsets stay true) and the text parsed again. An
/// error on the neutralised line itself, on the line right after it, or at the end of the file
/// is usually a consequence (a dangling block or bracket), so the search stops there.
fn later_syntax_errors(name: &str, text: &str, first: Span) -> Vec<Diagnostic> {
    let mut bytes = text.as_bytes().to_vec();
    let content_end = text.trim_end().len();
    let mut found = Vec::new();
    let mut line_end = neutralise_line(&mut bytes, first.start);
    while found.len() + 1 < MAX_SYNTAX_ERRORS {
        let Ok(candidate) = String::from_utf8(bytes.clone()) else { break };
        let Err(e) = AstModule::parse(name, candidate, &DIALECT) else { break };
        let d = syntax_error(&e);
        let following_line_end = bytes
            .get(line_end + 1..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            .map_or(bytes.len(), |p| line_end + 1 + p);
        if d.span.start <= following_line_end || d.span.start >= content_end {
            break;
        }
        line_end = neutralise_line(&mut bytes, d.span.start);
        found.push(d);
    }
    found
}

/// Replaces the line holding `offset` by `pass` at its indentation (or by spaces when the
/// line is too short), newline kept; returns the line's end.
fn neutralise_line(bytes: &mut [u8], offset: usize) -> usize {
    let offset = offset.min(bytes.len());
    let start = bytes[..offset].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let end = bytes[offset..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| offset + p);
    let indent = bytes[start..end].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    // Multi-byte characters become spaces byte by byte, which keeps the text valid UTF-8.
    for b in &mut bytes[start + indent..end] {
        *b = b' ';
    }
    if end - start - indent >= 4 {
        bytes[start + indent..start + indent + 4].copy_from_slice(b"pass");
    }
    end
}

pub(crate) fn syntax_error(e: &starlark::Error) -> Diagnostic {
    let span = e.span().map_or(Span::at(0), span_of);
    let message = first_line(&e.without_diagnostic().to_string());
    Diagnostic::error("TOP001", span, format!("syntax error: {message}")).with_help(
        "topology files are Starlark (a Python-like language): check brackets, quotes, colons and indentation here",
    )
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

/// starlark-rust's messages that name its internals (positional parameters `a1`, the file path
/// in a function's name, `i32`), or arrive cut off, in the user's terms: (pattern, replacement),
/// the first match wins.
const REWRITES: &[(&str, &str)] = &[
    (
        r"^Type of parameter `a(\d+)` doesn't match, expected `([^`]*)`, actual `([^`(]*?) ?\(repr: (.*)\)`$",
        "argument ${1} must be `${2}`, got `${3}` ${4}",
    ),
    (
        r"^Type of parameter `(\w+)` doesn't match, expected `([^`]*)`, actual `([^`(]*?) ?\(repr: (.*)\)`$",
        "parameter `${1}` must be `${2}`, got `${3}` ${4}",
    ),
    (r"^Error unpacking value for parameter `a(\d+)` of type `([^`]*)`?$", "argument ${1} must be `${2}`"),
    (r"^Error unpacking value for parameter `(\w+)` of type `([^`]*)`?$", "parameter `${1}` must be `${2}`"),
    (
        r"^Integer value is too big to fit in i32: (-?\d+)$",
        "${1} is too large here: integers in this place take at most 2^31−1 (2147483647)",
    ),
    (r"^(.*) for call to \S*?\.star\.([A-Za-z_]\w*)$", "${1} for call to `${2}()`"),
];

static REWRITE_TABLE: LazyLock<Vec<(regex::Regex, &'static str)>> = LazyLock::new(|| {
    REWRITES.iter().filter_map(|(pattern, to)| regex::Regex::new(pattern).ok().map(|re| (re, *to))).collect()
});

/// `message` rewritten by the first matching entry of [`REWRITES`], else unchanged.
fn rewrite(message: String) -> String {
    match REWRITE_TABLE.iter().find(|(re, _)| re.is_match(&message)) {
        Some((re, to)) => re.replace(&message, *to).into_owned(),
        None => message,
    }
}

/// A located diagnostic for an evaluation error. The span is the innermost location in
/// `file` (an error inside a loaded function is shown at the call in this file).
fn runtime_error(e: &starlark::Error, file: &str) -> Diagnostic {
    // A stack overflow is shown at the innermost call of a user function: the guarded
    // operators are calls too, and the one that crossed the bound is not the recursion.
    let overflow = matches!(e.kind(), ErrorKind::StackOverflow(_));
    let mut span = e.span().filter(|s| s.filename() == file && !overflow).map(span_of);
    if span.is_none() {
        span = e
            .call_stack()
            .frames
            .iter()
            .rev()
            .filter_map(|f| f.location.as_ref())
            .find(|l| l.filename() == file)
            .map(span_of);
    }
    if let ErrorKind::Native(inner) = e.kind() {
        if let Some(limit) = inner.downcast_ref::<LimitError>() {
            let at = limit.at.as_ref().filter(|(f, _)| f == file).map(|(_, s)| *s);
            return limit_diagnostic(limit.limit, limit.message.clone(), at.or(span).unwrap_or(Span::at(0)));
        }
    }
    let span = span.unwrap_or(Span::at(0));
    let message = rewrite(first_line(&e.without_diagnostic().to_string()));
    if message.contains("Evaluation cancelled") {
        let limit = eval_limits::take_tripped().unwrap_or(eval_limits::Limit::Time);
        let message = match limit {
            eval_limits::Limit::Time => "evaluation did not finish within its time limit",
            eval_limits::Limit::Memory => "evaluation exceeded its memory limit",
        };
        // The statement running when the hook fired (the error itself has no location).
        let at = eval_limits::last_statement(file).unwrap_or(span);
        return limit_diagnostic(limit, message.into(), at);
    }
    let (code, help) = match e.kind() {
        ErrorKind::StackOverflow(_) => (
            "TOP014",
            "calls nest too deeply (Faultbox's dialect has no recursion at all): rewrite the recursion as a loop"
                .to_owned(),
        ),
        ErrorKind::Fail(_) => ("TOP010", "`fail()` was called while the file was evaluated".to_owned()),
        ErrorKind::Scope(_) => {
            ("TOP011", "define the name before using it, `load()` it, or check its spelling".to_owned())
        }
        ErrorKind::Native(inner) => match inner.downcast_ref::<SandboxError>() {
            Some(sandbox) => (sandbox.code, sandbox.help.clone()),
            None if inner.downcast_ref::<eval_limits::RangeError>().is_some() => (
                "TOP010",
                "starlark ranges are 32-bit: loop over a smaller range, or compute the value without one".to_owned(),
            ),
            None => ("TOP010", "fix the value or call shown here".to_owned()),
        },
        _ if message.contains("ticks has been exceeded") || message.contains("Evaluation cancelled") => (
            "TOP012",
            "evaluation is bounded so a check always ends: look for a loop or comprehension over a huge range"
                .to_owned(),
        ),
        _ if message.contains("Heap memory limit") => (
            "TOP013",
            "evaluation is bounded in memory: look for a huge list, string repetition or comprehension".to_owned(),
        ),
        _ => ("TOP010", "fix the value or call shown here".to_owned()),
    };
    let message = match code {
        "TOP012" => "evaluation did not finish within its step limit".to_owned(),
        "TOP013" => "evaluation exceeded its memory limit".to_owned(),
        "TOP014" => format!("call stack too deep: {message}"),
        _ => message,
    };
    Diagnostic::error(code, span, message).with_help(help)
}

/// TOP012/TOP013 for an evaluation its budget stopped, at the statement or operation.
fn limit_diagnostic(limit: eval_limits::Limit, message: String, span: Span) -> Diagnostic {
    let help = match limit {
        eval_limits::Limit::Time => {
            "evaluation is bounded so a check always ends: look for a loop or comprehension over a huge range"
        }
        eval_limits::Limit::Memory => {
            "evaluation is bounded in memory: look for a huge list, string repetition or comprehension"
        }
    };
    Diagnostic::error(limit.code(), span, message).with_help(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time scan `precheck` replaced, kept as the reference it must agree with.
    fn reference(text: &str, limits: &Limits) -> Option<Diagnostic> {
        if let Some(too_large) = oversized(text, limits) {
            return Some(too_large);
        }
        let (mut depth, mut quote, mut comment, mut escaped) = (0usize, None::<u8>, false, false);
        let (mut nodes, mut line_start, mut word_start) = (0usize, 0usize, None::<usize>);
        let bytes = text.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if comment {
                comment = b != b'\n';
                if !comment && depth == 0 {
                    (nodes, line_start) = (0, i + 1);
                }
                continue;
            }
            if let Some(q) = quote {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    _ if b == q => quote = None,
                    _ => {}
                }
                continue;
            }
            // Words, to count the nesting keywords (`a and b and …`, `x if c else y if …`).
            let in_word = b.is_ascii_alphanumeric() || b == b'_';
            match (word_start, in_word) {
                (None, true) => word_start = Some(i),
                (Some(start), false) => {
                    if i - start > limits.max_word_bytes {
                        return Some(too_long_word(start, i, limits));
                    }
                    nodes += usize::from(matches!(&bytes[start..i], b"and" | b"or" | b"not" | b"if" | b"lambda"));
                    word_start = None;
                }
                _ => {}
            }
            match b {
                b'#' => comment = true,
                b'"' | b'\'' => quote = Some(b),
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    nodes += 1;
                    if depth > limits.max_nesting {
                        return Some(too_deep(i, limits));
                    }
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                b'\n' if depth == 0 => (nodes, line_start) = (0, i + 1),
                b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'&' | b'^' | b'<' | b'>' | b'~' => nodes += 1,
                b'.' if bytes.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_') => nodes += 1,
                _ => {}
            }
            if nodes > limits.max_expression_nodes {
                return Some(too_many_nodes(line_start, i, limits));
            }
        }
        // A word that ends the text.
        match word_start {
            Some(start) if bytes.len() - start > limits.max_word_bytes => {
                Some(too_long_word(start, bytes.len(), limits))
            }
            _ => None,
        }
    }

    #[test]
    fn a_huge_name_is_refused_before_parsing() {
        let limits = Limits::default();
        for text in [
            format!("x = {}\n", "a".repeat(5000)),
            format!("x = {}", "a".repeat(5000)),
            format!("y = {}", "9".repeat(5000)),
        ] {
            let found = precheck(&text, &limits).map(|d| (d.code, d.span));
            assert_eq!(found, Some(("TOP002", Span::new(4, 5004))), "{:?}", &text[..8]);
        }
        // In a string or a comment it is data, not a name.
        assert!(precheck(&format!("x = \"{}\"  # {}\n", "a".repeat(5000), "b".repeat(5000)), &limits).is_none());
    }

    #[test]
    fn raw_starlark_messages_are_rewritten() {
        let cases = [
            (
                "Type of parameter `a1` doesn't match, expected `int`, actual `string (repr: \"a\")`",
                "argument 1 must be `int`, got `string` \"a\"",
            ),
            (
                "Type of parameter `needle` doesn't match, expected `str`, actual `int (repr: 9)`",
                "parameter `needle` must be `str`, got `int` 9",
            ),
            ("Error unpacking value for parameter `a1` of type `int", "argument 1 must be `int`"),
            (
                "Integer value is too big to fit in i32: 99999999999",
                "99999999999 is too large here: integers in this place take at most 2^31−1 (2147483647)",
            ),
            (
                "Found 1 extra positional argument(s) for call to /tmp/w/m.star.f",
                "Found 1 extra positional argument(s) for call to `f()`",
            ),
            ("Variable `x` not found", "Variable `x` not found"),
        ];
        for (raw, shown) in cases {
            assert_eq!(rewrite(raw.to_owned()), shown);
        }
        assert_eq!(REWRITE_TABLE.len(), REWRITES.len(), "every pattern compiles");
    }

    #[test]
    fn precheck_agrees_with_the_byte_at_a_time_scan() {
        let limits = Limits {
            max_nesting: 3,
            max_expression_nodes: 4,
            max_file_bytes: 4096,
            max_word_bytes: 6,
            ..Limits::default()
        };
        let alphabet: &[&str] =
            &["a", "and", " ", "\n", "#", "\"", "'", "\\", "(", ")", "[", "]", "+", ".", ".x", "if", "or", "x_1"];
        // A fixed linear congruential sequence: the same inputs on every run.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut text = String::new();
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let len = (state >> 59) as usize;
            for _ in 0..len {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                text.push_str(alphabet[(state >> 33) as usize % alphabet.len()]);
            }
            let summary = |d: Option<Diagnostic>| d.map(|d| (d.code, d.span, d.message));
            assert_eq!(summary(precheck(&text, &limits)), summary(reference(&text, &limits)), "{text:?}");
        }
    }
}
