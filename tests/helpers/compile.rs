//! Builds the leaker service (`tests/helpers/leaker.rs`, standard library only) with the
//! toolchain's `rustc`, once per test binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The leaker's binary, built into a directory that lives as long as the test binary; `None`
/// (with the reason printed as a SKIP) when `rustc` cannot build it.
pub fn leaker() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = tempfile::tempdir().ok()?;
            let binary = dir.path().join("leaker");
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/leaker.rs");
            let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
            let built = Command::new(rustc).args(["--edition", "2021", "-O", "-o"]).arg(&binary).arg(&source).output();
            match built {
                Ok(out) if out.status.success() => Some((dir, binary)),
                Ok(out) => {
                    eprintln!("SKIP: rustc cannot build the leaker:\n{}", String::from_utf8_lossy(&out.stderr));
                    None
                }
                Err(e) => {
                    eprintln!("SKIP: rustc cannot be run ({e}) to build the leaker");
                    None
                }
            }
        })
        .as_ref()
        .map(|(_, binary)| binary.as_path())
}
