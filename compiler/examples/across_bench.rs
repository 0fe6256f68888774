//! What references and rename of an OSpec service cost across a workspace: 200 specs (20 per
//! topology) and 10 topologies of 100 services each, each topology loading a module. The
//! service `s3` is asked for from one spec; p50 and max of 20 runs are printed.
//!
//! `cargo run --release -p ospecc-compiler --example across_bench`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ospecc_compiler::ide::{references, rename, FileContext};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_compiler::{Language, Profile};

/// Each spec's `s3` is named 3 times; the topology declares it once and names it once.
const EXPECTED: usize = 20 * 3 + 2;

fn workspace() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for t in 0..10 {
        let mut star = format!("load(\"lib{t}.star\", \"helper\")\n");
        for i in 0..100 {
            star.push_str(&format!(
                "s{i} = service(\"s{i}\", \"bin\", interface(\"http\", \"http\", {}), depends_on = [\"s{}\"])\n",
                8000 + i,
                (i + 1) % 100
            ));
        }
        files.insert(format!("/w/t{t}.star"), star);
        files.insert(format!("/w/lib{t}.star"), "def helper():\n    return 1\n".into());
        for s in 0..20 {
            let mut spec = format!("topology: t{t}.star\nservices:\n");
            for i in 0..50 {
                spec.push_str(&format!("  s{i}:\n    dependencies: [s{}]\n", (i + 1) % 50));
            }
            spec.push_str("acceptance:\n  service_health:\n    - service: s3\n      endpoint: /h\n");
            files.insert(format!("/w/spec{t}_{s}.ospec.yml"), spec);
        }
    }
    files
}

fn main() {
    let files = workspace();
    let fs = files.iter().fold(MemoryFs::default(), |fs, (p, t)| fs.with_file(p.as_str(), t.clone()));
    let list: Vec<PathBuf> = files.keys().map(PathBuf::from).collect();
    let path = "/w/spec0_0.ospec.yml";
    let text = &files[path];
    let file = FileContext {
        path: Path::new(path),
        text,
        language: Language::OSpec,
        fs: &fs,
        workspace_files: &list,
        profile: Profile::Ext,
    };
    let Some(offset) = text.find("  s3:").map(|at| at + 3) else { return eprintln!("no s3 in {path}") };
    for what in ["references", "rename"] {
        let mut times = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let count = match what {
                "references" => references(&file, offset, true).len(),
                _ => rename(&file, offset, "s3x").map(|l| l.len()).unwrap_or(0),
            };
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if count != EXPECTED {
                return eprintln!("{what} found {count} places, not {EXPECTED}");
            }
        }
        times.sort_by(f64::total_cmp);
        println!("{what} across {} files: p50 {:.1} ms, max {:.1} ms", files.len(), times[10], times[19]);
    }
}
