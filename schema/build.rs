//! Generates `builtins.rs` from `topology/catalog.json`: one constant per builtin name, so
//! code that names a builtin (`builtins::FAULT_START`) fails to build when the catalog has no
//! such builtin, as code that names a diagnostic code is held to `docs/diagnostics/`.

use std::{env, fs, path::Path};

fn main() {
    // Read at run time: a build script copied with its target directory still finds its crate.
    let manifest = env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let catalog = Path::new(&manifest).join("topology/catalog.json");
    println!("cargo:rerun-if-changed={}", catalog.display());
    let text = fs::read_to_string(&catalog).unwrap_or_else(|e| panic!("{}: {e}", catalog.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", catalog.display()));
    let names: Vec<&str> = json["builtins"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no `builtins` array", catalog.display()))
        .iter()
        .map(|b| b["name"].as_str().unwrap_or_else(|| panic!("{}: a builtin without a name", catalog.display())))
        .collect();
    let mut out = String::new();
    let mut constants: Vec<String> = Vec::new();
    for name in &names {
        let constant = constant_name(name);
        if constants.contains(&constant) {
            panic!("{}: two builtins make the constant {constant}", catalog.display());
        }
        out.push_str(&format!("/// The builtin `{name}`.\npub const {constant}: &str = {name:?};\n"));
        constants.push(constant);
    }
    out.push_str("\n/// Every builtin name, in catalog order.\npub const ALL: &[&str] = &[\n");
    for constant in &constants {
        out.push_str(&format!("    {constant},\n"));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").unwrap_or_default()).join("builtins.rs");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
}

/// `match.prefix` → `MATCH_PREFIX`.
fn constant_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}
