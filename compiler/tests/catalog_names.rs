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

/// A constant list of string literals, every one the name of a builtin the catalog keeps (a
/// removed builtin's name, `stdout`, is also an ordinary word): a per-builtin fact written as
/// a Rust table instead of a catalog field.
static TABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)const\s+([A-Z_]+)\s*:\s*&\[[^=]*=\s*&\[(.*?)\];").unwrap());
static LITERAL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""([^"]*)""#).unwrap());

/// The constant tables of `text` (outside its test module) that list only live builtins.
fn builtin_tables(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let live = |name: &str| ospecc_schema::topology::catalog().builtin(name).is_some_and(|b| b.removed.is_none());
    TABLE
        .captures_iter(code)
        .filter(|table| {
            let names: Vec<&str> =
                LITERAL.captures_iter(&table[2]).map(|l| l.get(1).map_or("", |m| m.as_str())).collect();
            names.len() >= 2 && names.iter().all(|name| live(name))
        })
        .map(|table| table[1].to_owned())
        .collect()
}

#[test]
fn no_rust_table_lists_builtins() {
    let files = files_under(&["compiler/src", "runtime/src", "lsp/src", "src"]);
    let mut bad = Vec::new();
    for file in &files {
        let tables = builtin_tables(&std::fs::read_to_string(file).unwrap());
        bad.extend(tables.into_iter().map(|table| format!("{}: `{table}`", shown(file))));
    }
    assert!(bad.is_empty(), "make these facts catalog fields (schema/topology/catalog.json):\n{}", bad.join("\n"));
}

#[test]
fn a_table_of_builtins_is_caught() {
    let source = "const SERVICE_BUILTINS: &[&str] = &[\"service\", \"mock_service\"];\n\
                  const STREAMS: &[&str] = &[\"stdout\", \"stderr\"];\n\
                  const MIXED: &[(&str, &str)] = &[(\"drop\", \"drop()\")];\n\
                  #[cfg(test)]\nconst IN_TESTS: &[&str] = &[\"service\", \"test\"];\n";
    assert_eq!(builtin_tables(source), ["SERVICE_BUILTINS"]);
}
