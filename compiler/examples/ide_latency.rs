//! Latency of the editor's per-request features on big files: completion and hover at 400
//! cursor positions of a generated 5,000-line spec and a 2,000-line topology, p50/p95/max
//! milliseconds printed (nothing asserted: a measurement, not a timed test).
//!
//! `cargo run --release -p ospecc-compiler --example ide_latency`

use std::path::Path;
use std::time::Instant;

use ospecc_compiler::ide::{completions, hover, FileContext};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_compiler::Language;
use ospecc_schema::Profile;

fn main() {
    let mut spec = String::from("ospec_version: \"1.0.0\"\nid: big\nname: Big spec\ndescription: A large generated spec for latency.\noutcome_type: api\nservices:\n");
    for i in 0..750usize {
        spec.push_str(&format!(
            "  svc{i}:\n    image: repo/svc{i}:1\n    depends_on: [svc{}]\n    replicas: 2\n",
            i.saturating_sub(1)
        ));
    }
    spec.push_str("tasks:\n");
    for i in 0..660usize {
        spec.push_str(&format!(
            "  - id: task{i}\n    title: Task {i}\n    dependencies: [task{}]\n",
            i.saturating_sub(1)
        ));
    }
    let mut star = String::new();
    for i in 0..167 {
        star.push_str(&format!("s{i} = service(\"s{i}\", \"bin/s{i}\",\n    interface(\"http\", \"http\", {}),\n    env = {{\"A\": \"b\"}},\n)\n", 8000 + i));
        star.push_str(&format!("def probe{i}():\n    resp = s{i}.http.get(path = \"/\")\n    assert_eq(resp.status, 200)\n    return resp\n\nscenario(probe{i})\n"));
        star.push_str(&format!("f{i} = fault_assumption(\"f{i}\", target = s{i}, write = deny(\"EIO\"))\n\n"));
    }
    println!("spec: {} lines, topology: {} lines", spec.lines().count(), star.lines().count());
    let fs = MemoryFs::default();
    for (path, text, language) in
        [("/w/big.ospec.yml", &spec, Language::OSpec), ("/w/big.star", &star, Language::Topology)]
    {
        let file =
            FileContext { path: Path::new(path), text, language, fs: &fs, workspace_files: &[], profile: Profile::Ext };
        let step = text.len() / 400;
        for (what, f) in [("completion", 0), ("hover", 1)] {
            let mut times: Vec<f64> = (0..400)
                .map(|i| {
                    let offset = i * step;
                    let started = Instant::now();
                    if f == 0 {
                        std::hint::black_box(completions(&file, offset));
                    } else {
                        std::hint::black_box(hover(&file, offset));
                    }
                    started.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
            println!("{path} {what}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms", pct(0.5), pct(0.95), pct(1.0));
        }
    }
}
