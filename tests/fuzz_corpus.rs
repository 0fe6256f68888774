//! The short fuzzing run of every test run: each file of the fuzzing corpus (`fuzz/corpus/`,
//! which the cargo-fuzz targets in `fuzz/` grow) goes through the same entry points the targets
//! call, whole and under a fixed set of mutations (truncations, byte flips, spliced halves):
//! the front ends must return diagnostics and the LSP session must end, never a panic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ospecc_compiler::db::check_untrusted;
use ospecc_compiler::Language;

fn corpus(dir: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(dir);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no corpus", dir.display());
    files
}

/// The input whole, cut at 16 points, with 16 bytes flipped (one at a time), and its halves
/// swapped: deterministic, so a failure names an input that reproduces.
fn mutations(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![bytes.to_vec()];
    let n = bytes.len().max(1);
    for k in 1..=16 {
        out.push(bytes[..bytes.len() * k / 17].to_vec());
        let mut flipped = bytes.to_vec();
        if let Some(b) = flipped.get_mut((n * k / 17).min(n - 1)) {
            *b ^= [0x80, 0x0a, 0x22, 0x5b, 0xff, 0x3a, 0x7b, 0x00][k % 8];
        }
        out.push(flipped);
    }
    let (a, b) = bytes.split_at(bytes.len() / 2);
    out.push([b, a].concat());
    out
}

fn each_mutation(dir: &str, check: impl Fn(&[u8])) {
    let mut count = 0;
    for (path, bytes) in corpus(dir) {
        for input in mutations(&bytes) {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input)));
            assert!(outcome.is_ok(), "{}: a mutation panicked: {:?}", path.display(), String::from_utf8_lossy(&input));
            count += 1;
        }
    }
    println!("fuzz corpus `{dir}`: {count} inputs, no panic");
}

#[test]
fn ospec_corpus_and_its_mutations_never_panic() {
    each_mutation("ospec", |input| {
        let _ = check_untrusted("spec.ospec.yml", input, Language::OSpec);
    });
}

#[test]
fn topology_corpus_and_its_mutations_never_panic() {
    each_mutation("topology", |input| {
        let _ = check_untrusted("spec.star", input, Language::Topology);
    });
}

#[test]
fn lsp_sessions_and_their_mutations_end_without_a_panic() {
    each_mutation("lsp", |input| {
        assert!(ospecc_lsp::serve_untrusted(input.to_vec(), Duration::from_secs(30)), "the session did not end");
    });
}
