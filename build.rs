//! Build script of the `ospecc` binary: stamps the version with the commit it was built from.
//!
//! `OSPECC_VERSION` is `CARGO_PKG_VERSION (hash)`, the hash from `git rev-parse --short HEAD`,
//! or from the `OSPECC_GIT_HASH` environment variable when set (release tarballs, distro
//! builds), or `unknown` when neither is available. Nothing here can fail the build: no git,
//! no checkout, or a broken repository all just give `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=OSPECC_GIT_HASH");
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
    let hash = match std::env::var("OSPECC_GIT_HASH") {
        Ok(hash) if !hash.trim().is_empty() => hash.trim().to_string(),
        _ => git_hash(&manifest_dir).unwrap_or_else(|| "unknown".to_string()),
    };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_else(|_| "0.0.0".to_string());
    println!("cargo:rustc-env=OSPECC_VERSION={version} ({hash})");
}

/// The short hash of HEAD, and the files whose change means HEAD moved (so the version is
/// rebuilt after a commit or a checkout, and not otherwise).
fn git_hash(dir: &Path) -> Option<String> {
    let hash = git(dir, &["rev-parse", "--short", "HEAD"])?;
    if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if let Some(git_dir) = git(dir, &["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        watch(&git_dir.join("HEAD"));
        watch(&git_dir.join("packed-refs"));
        if let Some(reference) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
            watch(&git_dir.join(reference));
        }
    }
    Some(hash)
}

/// Asks cargo to rerun the script when `path` changes (only existing paths: a missing one
/// would make cargo rerun the script on every build).
fn watch(path: &Path) {
    if path.is_file() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// The trimmed stdout of `git ARGS` run in `dir`, or `None` if git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).current_dir(dir).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
