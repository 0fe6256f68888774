//! The compiler's layers (ARCHITECTURE.md § Layers inside the compiler), kept by reading the
//! sources: every `use` tree and every `crate::`/`super::`/`self::`/child-module path of every
//! module is resolved (through `pub use` re-exports, to where the item is defined) and must
//! not point to a higher layer:
//!
//! foundation (`span`, `diagnostics`, `suggest`, `vfs`) → `syntax` → model (`ospec`,
//! `topology`) → checks (`ospec::checks`, `topology::checks`) → `crossfile` → `plan` →
//! `ide` (with `db` and `report`).
//!
//! Two more rules: the internals of a `checks` module (its submodules) are reached only from
//! inside it (and from its language's root module, which runs it); what another layer needs
//! from them moves down into the model. And any other top-level module (`fmt`, `init`, ones not
//! written yet) is a tool beside the pipeline: it may use the foundation, syntax and model
//! layers, and nothing in the pipeline may use it. Test-only modules are exempt.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod sources;
use sources::rust_files;

use regex::Regex;

type ModPath = Vec<String>;

/// The pipeline's layers, lowest first: top-level module names (and `lang::checks`).
const LAYERS: &[(&str, &[&str])] = &[
    ("foundation", &["span", "diagnostics", "suggest", "vfs"]),
    ("syntax", &["syntax"]),
    ("model", &["ospec", "topology"]),
    ("checks", &["ospec::checks", "topology::checks"]),
    ("crossfile", &["crossfile"]),
    ("plan", &["plan"]),
    ("ide", &["ide", "report", "db"]),
    ("authoring", &["fmt", "init", "coverage"]),
];

/// The highest layer a tool (a top-level module not in [`LAYERS`]) may use.
const TOOLS_MAY_USE: &str = "model";

/// Edges into `checks` internals that other sessions still have to move down (each is a
/// module prefix that uses a `checks` submodule). The test fails when one is gone, so the list
/// only shrinks.
const KNOWN_INTERNALS: &[(&str, &str)] = &[
    ("ide::search", "ospec::checks::graph"),
    ("ide::ospec::completion", "ospec::checks::graph"),
    ("ide::ospec::entities", "ospec::checks::graph"),
    ("ide::ospec::hover", "ospec::checks::graph"),
    ("plan::ospec::targets", "ospec::checks::graph"),
    ("plan::ospec::targets", "ospec::checks::services"),
];

/// Where a module sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Layer(usize),
    Tool,
}

fn layer_rank(name: &str) -> usize {
    LAYERS.iter().position(|(n, _)| *n == name).unwrap()
}

fn place(path: &[String]) -> Option<Place> {
    let first = path.first()?;
    let two = path.get(1).map(|second| format!("{first}::{second}"));
    let mut best: Option<(usize, usize)> = None;
    for (rank, (_, members)) in LAYERS.iter().enumerate() {
        for member in *members {
            let matches = Some(member.to_string()) == two || *member == first.as_str();
            let depth = member.matches("::").count();
            if matches && best.is_none_or(|(_, d)| depth > d) {
                best = Some((rank, depth));
            }
        }
    }
    Some(best.map_or(Place::Tool, |(rank, _)| Place::Layer(rank)))
}

fn show(path: &[String]) -> String {
    path.join("::")
}

/// One source file as a module.
struct Module {
    path: ModPath,
    file: PathBuf,
    code: String,
}

fn module_path(src: &Path, file: &Path) -> ModPath {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: ModPath = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The code of a file: full-line comments dropped, an inline `#[cfg(test)] mod … {}` (by
/// convention last) cut off.
fn code(text: &str) -> String {
    let inline_tests = Regex::new(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{").unwrap();
    let text = match inline_tests.find(text) {
        Some(m) => &text[..m.start()],
        None => text,
    };
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The modules declared in `code` (`mod x;`), with whether each is test-only.
fn declared(code: &str) -> Vec<(String, bool)> {
    let decl = Regex::new(r"(?m)((?:#\[[^\]]*\]\s*)*)(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;").unwrap();
    decl.captures_iter(code).map(|c| (c[2].to_owned(), c[1].contains("cfg(test)"))).collect()
}

fn modules() -> Vec<Module> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let all: Vec<Module> = files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            Module { path: module_path(&src, file), file: file.clone(), code: code(&text) }
        })
        .collect();
    let mut test_only: BTreeSet<ModPath> = BTreeSet::new();
    for module in &all {
        for (name, test) in declared(&module.code) {
            if test {
                let mut child = module.path.clone();
                child.push(name);
                test_only.insert(child);
            }
        }
    }
    all.into_iter().filter(|m| !test_only.iter().any(|t| m.path.starts_with(t))).collect()
}

/// A `use` tree, expanded: every path it imports, with the name it binds (`None` for `*`).
fn use_paths(tree: &str) -> Vec<(Vec<String>, Option<String>)> {
    let tokens: Vec<String> =
        Regex::new(r"\w+|::|[{},*]").unwrap().find_iter(tree).map(|m| m.as_str().to_owned()).collect();
    let mut out = Vec::new();
    let mut at = 0;
    expand(&tokens, &mut at, Vec::new(), &mut out);
    out
}

fn expand(tokens: &[String], at: &mut usize, prefix: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    let mut path = prefix;
    while *at < tokens.len() {
        let token = tokens[*at].as_str();
        *at += 1;
        match token {
            "::" => {}
            "{" => {
                loop {
                    expand(tokens, at, path.clone(), out);
                    match tokens.get(*at).map(String::as_str) {
                        Some(",") => *at += 1,
                        Some("}") => {
                            *at += 1;
                            break;
                        }
                        _ => break,
                    }
                }
                return;
            }
            "}" | "," => {
                *at -= 1;
                break;
            }
            "*" => {
                out.push((path.clone(), None));
                return;
            }
            "as" => {
                let alias = tokens.get(*at).cloned();
                *at += 1;
                out.push((path.clone(), alias));
                return;
            }
            "self" if !path.is_empty() => {}
            name => path.push(name.to_owned()),
        }
    }
    if let Some(last) = path.last().cloned() {
        out.push((path, Some(last)));
    }
}

/// Resolves a path written in `module` to a crate path, or `None` for an outside crate.
fn absolute(module: &[String], written: &[String], children: &BTreeSet<String>) -> Option<ModPath> {
    let (first, rest) = written.split_first()?;
    let mut base: ModPath = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => module[..module.len().checked_sub(1)?].to_vec(),
        name if children.contains(name) => {
            let mut child = module.to_vec();
            child.push(name.to_owned());
            child
        }
        _ => return None,
    };
    let mut rest = rest;
    while let Some(("super", tail)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
        base.pop();
        rest = tail;
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

struct Crate {
    modules: BTreeSet<ModPath>,
    /// Module → name it re-exports → the path it stands for.
    reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
}

impl Crate {
    /// Follows re-exports to where an item is defined.
    fn defined(&self, path: &[String]) -> ModPath {
        let mut path = path.to_vec();
        for _ in 0..16 {
            let module_len = (0..=path.len()).rev().find(|&n| self.modules.contains(&path[..n])).unwrap_or(0);
            let Some(name) = path.get(module_len) else { break };
            let Some(target) = self.reexports.get(&path[..module_len]).and_then(|r| r.get(name)) else {
                break;
            };
            let mut next = target.clone();
            next.extend(path[module_len + 1..].iter().cloned());
            if next == path {
                break;
            }
            path = next;
        }
        path
    }

    /// The `checks` submodule a path reaches into (`topology::checks::arguments`), if any.
    fn checks_internal(&self, path: &[String]) -> Option<ModPath> {
        let internal = path.get(..3)?.to_vec();
        (internal[1] == "checks" && self.modules.contains(&internal)).then_some(internal)
    }
}

/// Every (module, path it uses) of the crate, paths resolved to their definitions.
fn edges(modules: &[Module]) -> (Crate, Vec<(ModPath, ModPath, PathBuf)>) {
    let paths: BTreeSet<ModPath> = modules.iter().map(|m| m.path.clone()).collect();
    let children = |module: &ModPath| -> BTreeSet<String> {
        paths
            .iter()
            .filter(|p| p.len() == module.len() + 1 && p.starts_with(module))
            .map(|p| p[module.len()].clone())
            .collect()
    };
    let use_stmt = Regex::new(r"(?s)\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);").unwrap();
    let inline = Regex::new(r"\b(?:crate|super|self)(?:::\w+)+").unwrap();
    let mut reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>> = BTreeMap::new();
    let mut raw: Vec<(ModPath, Vec<String>, PathBuf)> = Vec::new();
    for module in modules {
        let kids = children(&module.path);
        for c in use_stmt.captures_iter(&module.code) {
            let public = c.get(1).is_some();
            for (written, name) in use_paths(&c[2]) {
                let Some(path) = absolute(&module.path, &written, &kids) else { continue };
                if public {
                    if let Some(name) = name {
                        reexports.entry(module.path.clone()).or_default().insert(name, path.clone());
                    }
                }
                raw.push((module.path.clone(), path, module.file.clone()));
            }
        }
        let without_uses = use_stmt.replace_all(&module.code, "");
        for m in inline.find_iter(&without_uses) {
            let written: Vec<String> = m.as_str().split("::").map(str::to_owned).collect();
            if let Some(path) = absolute(&module.path, &written, &kids) {
                raw.push((module.path.clone(), path, module.file.clone()));
            }
        }
        // Paths through a child module (`checks::run(..)` in `topology`).
        for kid in &kids {
            let through = Regex::new(&format!(r"(?:^|[^\w:]){kid}((?:::\w+)+)")).unwrap();
            for c in through.captures_iter(&without_uses) {
                let mut path = module.path.clone();
                path.push(kid.clone());
                path.extend(c[1].split("::").filter(|s| !s.is_empty()).map(str::to_owned));
                raw.push((module.path.clone(), path, module.file.clone()));
            }
        }
    }
    let krate = Crate { modules: paths, reexports };
    let resolved = raw.into_iter().map(|(from, to, file)| (from, krate.defined(&to), file)).collect();
    (krate, resolved)
}

/// Every violation of the layer rules, as readable lines, and the known internals still used.
fn violations(modules: &[Module]) -> (Vec<String>, BTreeSet<(String, String)>) {
    let (krate, edges) = edges(modules);
    let tools_may_use = layer_rank(TOOLS_MAY_USE);
    let mut bad = BTreeSet::new();
    let mut known_used = BTreeSet::new();
    for (from, to, file) in &edges {
        let (Some(source), Some(target)) = (place(from), place(to)) else { continue };
        let facade = from.len() == 1 && to.len() >= 2 && to[0] == from[0] && to[1] == "checks";
        let same_top = from.first() == to.first();
        let upward = match (source, target) {
            (Place::Layer(a), Place::Layer(b)) => b > a && !facade,
            (Place::Layer(_), Place::Tool) => true,
            (Place::Tool, Place::Layer(b)) => b > tools_may_use,
            (Place::Tool, Place::Tool) => !same_top,
        };
        let shown = file.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap_or(file).display();
        if upward {
            bad.insert(format!("{shown}: `{}` uses `{}`, a higher layer", show(from), show(to)));
        }
        if let Some(internal) = krate.checks_internal(to) {
            let inside = from.starts_with(&internal[..2]) || facade;
            if !inside {
                let known = KNOWN_INTERNALS
                    .iter()
                    .find(|(module, target)| show(from).starts_with(module) && show(&internal) == *target);
                match known {
                    Some(&(module, target)) => {
                        known_used.insert((module.to_owned(), target.to_owned()));
                    }
                    None => {
                        bad.insert(format!(
                            "{shown}: `{}` reaches into `{}`, an internal of the checks (move what it needs into the model)",
                            show(from),
                            show(&internal)
                        ));
                    }
                }
            }
        }
    }
    (bad.into_iter().collect(), known_used)
}

#[test]
fn no_module_uses_a_higher_layer() {
    let modules = modules();
    assert!(modules.len() > 100, "the source scan found too few modules: {}", modules.len());
    let (bad, known_used) = violations(&modules);
    assert!(bad.is_empty(), "layering violations (ARCHITECTURE.md § Layers inside the compiler):\n{}", bad.join("\n"));
    let stale: Vec<String> = KNOWN_INTERNALS
        .iter()
        .filter(|(m, t)| !known_used.contains(&((*m).to_owned(), (*t).to_owned())))
        .map(|(m, t)| format!("{m} → {t}"))
        .collect();
    assert!(stale.is_empty(), "fixed: remove from KNOWN_INTERNALS:\n{}", stale.join("\n"));
}

#[test]
fn every_top_level_module_has_a_place() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let tops: Vec<String> = declared(&code(&lib)).into_iter().map(|(name, _)| name).collect();
    assert!(tops.len() > 10, "lib.rs declares too few modules: {tops:?}");
    for (_, members) in LAYERS {
        for member in *members {
            let top = member.split("::").next().unwrap();
            assert!(tops.iter().any(|t| t == top), "LAYERS names `{member}`, which lib.rs does not declare");
        }
    }
    // Whatever is not in a layer is a tool: it gets the tool rule, never a free pass.
    for top in &tops {
        assert!(place(std::slice::from_ref(top)).is_some());
    }
}

/// The checker itself: an upward edge, a reach into checks internals, a tool used by the
/// pipeline and a tool above its layers are all found; re-exports are followed.
#[test]
fn the_rules_catch_upward_edges() {
    let module = |path: &str, code: &str| Module {
        path: if path.is_empty() { Vec::new() } else { path.split("::").map(str::to_owned).collect() },
        file: PathBuf::from(format!("{path}.rs")),
        code: code.to_owned(),
    };
    let modules = vec![
        module("", "pub mod topology;\npub mod plan;\npub mod syntax;\npub mod sketch;\npub mod report;"),
        module("syntax", "pub use crate::report::Language;"),
        module("report", "pub enum Language {}"),
        module("topology", "pub mod checks;\npub mod run;\nfn f() { checks::arguments::g(); }"),
        module("topology::run", "use crate::plan::Bundle;"),
        module("topology::checks", "pub mod arguments;"),
        module("topology::checks::arguments", "pub fn g() {}"),
        module("plan", "use crate::topology::checks::arguments::g;\nuse crate::sketch::x;"),
        module("sketch", "use crate::syntax::Language;\nfn f() { crate::plan::lower(); }"),
    ];
    let (bad, _) = violations(&modules);
    let joined = bad.join("\n");
    assert!(joined.contains("`topology::run` uses `plan::Bundle`"), "{joined}");
    assert!(joined.contains("`plan` reaches into `topology::checks::arguments`"), "{joined}");
    assert!(joined.contains("`plan` uses `sketch::x`"), "{joined}");
    assert!(joined.contains("`sketch` uses `plan::lower`"), "{joined}");
    // `syntax` re-exports an item of `report`: using it is using `report`.
    assert!(joined.contains("`syntax` uses `report::Language`"), "{joined}");
    assert!(joined.contains("`sketch` uses `report::Language`"), "{joined}");
    // The language root runs its own checks: not a violation.
    assert!(!joined.contains("`topology` uses"), "{joined}");
    assert_eq!(bad.len(), 6, "{joined}");
}
