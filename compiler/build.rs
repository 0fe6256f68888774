//! Generates the diagnostic code registry from `docs/diagnostics/*.md`.
//!
//! Each code's long explanation lives in one Markdown file whose first line is
//! `# CODE: title`. The docs are the source of truth; `ospecc explain` and the registry are
//! generated from them, so a code cannot be documented twice or drift.

use std::{env, fs, path::Path};

fn main() {
    // Read at run time: a build script copied with its target directory still finds its crate.
    let manifest = env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let docs = Path::new(&manifest).join("../docs/diagnostics");
    println!("cargo:rerun-if-changed={}", docs.display());
    let mut entries: Vec<(String, String, String)> = Vec::new();
    // Without the docs every code would be undocumented: fail the build, not the binary.
    let dir = fs::read_dir(&docs).unwrap_or_else(|e| panic!("{}: {e}", docs.display()));
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path).unwrap_or_default();
        let first = text.lines().next().unwrap_or_default();
        let Some((code, title)) = first.trim_start_matches("# ").split_once(": ") else {
            panic!("{}: first line must be `# CODE: title`", path.display());
        };
        let canonical = path.canonicalize().unwrap_or(path.clone());
        entries.push((code.to_string(), title.to_string(), canonical.display().to_string()));
    }
    entries.sort();
    let mut out =
        String::from("/// Every documented diagnostic code, sorted by code.\npub static CODES: &[CodeDoc] = &[\n");
    for (code, title, path) in &entries {
        out.push_str(&format!("    CodeDoc {{ code: {code:?}, title: {title:?}, text: include_str!({path:?}) }},\n"));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").unwrap_or_default()).join("codes.rs");
    fs::write(dest, out).unwrap_or_else(|e| panic!("writing codes.rs: {e}"));
}
