//! The diagnostics reference stays true: `docs/diagnostics.md` equals what the registry
//! generates (`OSPECC_BLESS=1` rewrites it), and every code the sources mention is documented.

use std::path::{Path, PathBuf};

use ospecc_compiler::diagnostics::codes::{lookup, CODES};
use ospecc_compiler::report::docs::diagnostics_index;
use regex::Regex;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var_os("OSPECC_BLESS").is_some_and(|v| v == "1")
}

#[test]
fn diagnostics_reference_is_up_to_date() {
    let path = root().join("docs/diagnostics.md");
    let generated = diagnostics_index(CODES);
    if bless() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == generated,
        "docs/diagnostics.md is stale; regenerate it with `OSPECC_BLESS=1 cargo test --test docs`"
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_code_in_the_sources_is_documented() {
    let pattern = Regex::new(r#""((?:OSP|TOP|XSP|PLN|RUN|INI)[0-9]{3})""#).unwrap();
    let mut files = Vec::new();
    for dir in ["compiler/src", "src"] {
        rust_files(&root().join(dir), &mut files);
    }
    files.sort();
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for code in pattern.captures_iter(line) {
                if lookup(&code[1]).is_none() {
                    let shown = file.strip_prefix(root()).unwrap_or(file).display();
                    missing.push(format!(
                        "{shown}:{}: {} has no docs/diagnostics/{}.md",
                        number + 1,
                        &code[1],
                        &code[1]
                    ));
                }
            }
        }
    }
    assert!(files.len() > 10, "the source scan found too few files: {files:?}");
    assert!(missing.is_empty(), "undocumented codes:\n{}", missing.join("\n"));
}

#[test]
fn every_code_doc_has_a_title_and_a_long_explanation() {
    assert!(!CODES.is_empty());
    for doc in CODES {
        let first = doc.text.lines().next().unwrap_or_default();
        assert_eq!(first, format!("# {}: {}", doc.code, doc.title), "first line of docs/diagnostics/{}.md", doc.code);
        let body = doc.text[first.len()..].trim();
        assert!(
            body.len() >= 80,
            "docs/diagnostics/{}.md needs a long explanation (has {} chars)",
            doc.code,
            body.len()
        );
        assert!(!doc.title.trim().is_empty(), "{} has an empty title", doc.code);
    }
}
