//! Builtin names in code are held to the catalog, as diagnostic codes are held to their docs:
//! code that asks about a builtin by name (`call.is(..)`, `calls_of(..)`, `builtin == ..`)
//! names one the catalog has, or a comparison would silently never match. Where the
//! per-builtin facts moved into the catalog (the static checks, the topology lowering, native
//! builtins, the runtime's fault scopes), names are the generated `builtins::` constants only,
//! so a typo there is a build error; elsewhere a string literal must at least be a catalog name.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

mod sources;
use sources::rust_files;

use ospecc_schema::topology::builtins;
use regex::Regex;

/// A string literal where code names a builtin.
static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:\.is\(|calls_of\(|root_calls\(|\.builtin\(|builtin\s*[=!]=\s*|builtin\.as_str\(\)\s*[=!]=\s*)"([^"]*)""#,
    )
    .unwrap()
});

/// Record names that are not builtins: `svc.iface` records its interface as `interface_ref`
/// (`topology/attrs.rs`), attribute access as `.name`.
fn pseudo_record(name: &str) -> bool {
    name == "interface_ref" || name.starts_with('.')
}

/// The builtin names a source text compares against, with their 1-based lines.
fn named_builtins(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        out.extend(NAMED.captures_iter(line).map(|c| (number + 1, c[1].to_owned())));
    }
    out
}

/// The names among `found` that are not builtins of the catalog.
fn unknown(found: &[(usize, String)]) -> Vec<&(usize, String)> {
    found.iter().filter(|(_, name)| !builtins::is_builtin(name) && !pseudo_record(name)).collect()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files_under(dirs: &[&str]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(&root().join(dir), &mut files);
    }
    files.sort();
    files
}

fn shown(file: &Path) -> String {
    file.strip_prefix(root()).unwrap_or(file).display().to_string()
}

#[test]
fn every_builtin_name_in_the_sources_is_in_the_catalog() {
    let files = files_under(&["compiler/src", "runtime/src", "lsp/src", "src"]);
    assert!(files.len() > 50, "the source scan found too few files: {}", files.len());
    let mut bad = Vec::new();
    let mut seen = 0;
    for file in &files {
        let found = named_builtins(&std::fs::read_to_string(file).unwrap());
        seen += found.len();
        bad.extend(unknown(&found).into_iter().map(|(line, name)| format!("{}:{line}: `{name}`", shown(file))));
    }
    assert!(seen > 0, "the scan found no builtin name at all: the pattern is stale");
    assert!(
        bad.is_empty(),
        "names that are not catalog builtins (a comparison that never matches):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_catalog_readers_name_builtins_by_generated_constant() {
    let files = files_under(&[
        "compiler/src/topology/checks",
        "compiler/src/plan/topology",
        "compiler/src/topology/native",
        "runtime/src/scenario/faulting.rs",
        "runtime/src/faults/mod.rs",
    ]);
    assert!(files.len() > 30, "the source scan found too few files: {}", files.len());
    let mut literal = Vec::new();
    for file in &files {
        for (line, name) in named_builtins(&std::fs::read_to_string(file).unwrap()) {
            if !pseudo_record(&name) {
                literal.push(format!("{}:{line}: `\"{name}\"`", shown(file)));
            }
        }
    }
    assert!(
        literal.is_empty(),
        "name these builtins with `ospecc_schema::topology::builtins::` constants:\n{}",
        literal.join("\n")
    );
}

#[test]
fn a_name_not_in_the_catalog_is_caught() {
    let source = "fn f(call: &Call) -> bool {\n    call.is(\"fault_strat\") || call.is(builtins::FAULT_START)\n}\n\
                  let n = model.calls_of(\"fault_start\").count();\nif record.builtin == \"parition\" {}\n";
    let found = named_builtins(source);
    assert_eq!(
        found,
        [(2, "fault_strat".to_owned()), (4, "fault_start".to_owned()), (5, "parition".to_owned())],
        "the scan reads every literal name"
    );
    let bad: Vec<&str> = unknown(&found).into_iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(bad, ["fault_strat", "parition"]);
    assert!(builtins::is_builtin(builtins::FAULT_START));
}
