//! Run bundles: one self-contained archive of a run that a colleague can inspect, replay and
//! diff. A bundle is a gzip-compressed tar (any system opens it) holding
//! `manifest.json` (format, tool version, environment, seed and options, the digest of every
//! part), `plan.json` (the plan with its source bundle), `report.json` (the JSON report),
//! `events.jsonl` (the run's whole event log), `traces/NAME.jsonl` (each result's slice) and
//! `logs/SERVICE.log` (each service's output, test by test). Everything in it is redacted
//! before it is written; it is written to a temporary file and renamed, so a failed write
//! leaves nothing. Reading checks the format, every part's presence and digest, and refuses a
//! truncated or foreign file with a message saying which.

pub mod diff;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use ospecc_schema::plan::topology::Launch;
use ospecc_schema::plan::Plan;

use crate::events::Event;
use crate::report::{self, Redactor, RunReport};

/// The `format` of a bundle's manifest.
pub const FORMAT: &str = "ospecc-bundle";
/// The manifest version this ospecc writes and reads.
pub const VERSION: u32 = 1;
/// The manifest's name in the archive (always its first entry).
pub const MANIFEST: &str = "manifest.json";
/// The most bytes a bundle's parts may hold together once unpacked (a hostile archive must
/// not exhaust memory).
const MAX_UNPACKED_BYTES: u64 = 1 << 30;
/// The most entries a bundle may hold.
const MAX_ENTRIES: usize = 100_000;

/// What a bundle says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// `ospecc --version` of the run.
    pub tool_version: String,
    /// Seconds since the Unix epoch when the bundle was written.
    pub created_unix: u64,
    pub environment: Environment,
    pub run: RunSettings,
    /// The plan's digest (as reports name it).
    pub plan_digest: String,
    /// Every part but the manifest, in archive order.
    pub parts: Vec<Part>,
}

/// The machine a run ran on, as far as it changes what a run does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// `uname -r` (seccomp and namespace features depend on it).
    pub kernel: String,
    pub os: String,
    pub arch: String,
    /// How services were run: `process`, `mock`, `container`, `remote`, by the plan's launches.
    pub engine: Vec<String>,
}

/// The options of the run that decide what it does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub seed: u64,
    pub max_instances: u64,
    pub runs: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// `--test` selections (empty: every test).
    #[serde(default)]
    pub tests: Vec<String>,
    pub grace_seconds: u64,
    pub allow_shell: bool,
    /// The directory relative paths of the plan resolved in.
    pub workdir: String,
    /// `--engine` for container services, when given (a replay uses the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_engine: Option<String>,
    /// `--strict-determinism`, when given (a replay judges leaks the same way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_determinism: Option<bool>,
}

/// One part: its name in the archive, size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A bundle in memory: its manifest and parts by name.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: Manifest,
    parts: BTreeMap<String, Vec<u8>>,
}

/// What `ospecc run` hands over to make a bundle (already redacted report and events).
pub struct Contents<'a> {
    pub tool_version: &'a str,
    pub run: RunSettings,
    pub plan: &'a Plan,
    pub report: &'a RunReport,
    pub events: &'a [Event],
    pub redactor: &'a Redactor,
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The engines a plan's services run on.
fn engines(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = plan
        .services
        .iter()
        .map(|s| match s.launch {
            Launch::Binary { .. } => "process",
            Launch::Image { .. } | Launch::Build { .. } => "container",
            Launch::Remote { .. } => "remote",
            Launch::Mock { .. } => "mock",
        })
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

impl Environment {
    /// This machine, for `plan`.
    pub fn here(plan: &Plan) -> Environment {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|k| k.trim().to_owned());
        Environment {
            kernel: kernel.unwrap_or_else(|_| "unknown".to_owned()),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            engine: engines(plan),
        }
    }
}

/// Each service's output lines, test by test: `logs/SERVICE.log`.
fn service_logs(report: &RunReport, events: &[Event]) -> BTreeMap<String, String> {
    let mut logs: BTreeMap<String, String> = BTreeMap::new();
    for item in &report.results {
        for event in item.events(events) {
            if event.kind != "stdout" && event.kind != "stderr" {
                continue;
            }
            let line = event.fields.get("line").and_then(serde_json::Value::as_str).unwrap_or_default();
            let log = logs.entry(event.service.clone()).or_default();
            log.push_str(&format!("[{}] {} {}: {line}\n", item.name, event.kind, format_at(event.at_ms)));
        }
    }
    logs
}

fn format_at(ms: f64) -> String {
    format!("{ms:.1}ms")
}

impl Bundle {
    /// Assembles a bundle from a finished run. The plan's JSON is redacted like every output.
    pub fn assemble(contents: &Contents) -> Bundle {
        let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
        let plan_json = serde_json::to_string_pretty(contents.plan).unwrap_or_default();
        parts.push(("plan.json".into(), contents.redactor.apply(&plan_json).into_bytes()));
        parts.push(("report.json".into(), report::json::render(contents.report).into_bytes()));
        let mut log = Vec::new();
        for event in contents.events {
            let _ = serde_json::to_writer(&mut log, event);
            log.push(b'\n');
        }
        parts.push(("events.jsonl".into(), log));
        for (item, file) in contents.report.results.iter().zip(report::trace::file_names(contents.report)) {
            let mut trace = Vec::new();
            for event in item.events(contents.events) {
                let _ = serde_json::to_writer(&mut trace, event);
                trace.push(b'\n');
            }
            parts.push((format!("traces/{file}"), trace));
        }
        for (service, text) in service_logs(contents.report, contents.events) {
            parts.push((format!("logs/{}.log", report::trace::sanitise(&service)), text.into_bytes()));
        }
        let manifest = Manifest {
            format: FORMAT.to_owned(),
            version: VERSION,
            tool_version: contents.tool_version.to_owned(),
            created_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            environment: Environment::here(contents.plan),
            run: contents.run.clone(),
            plan_digest: contents.report.plan.as_ref().map(|p| p.digest.clone()).unwrap_or_default(),
            parts: parts
                .iter()
                .map(|(name, bytes)| Part { name: name.clone(), bytes: bytes.len() as u64, sha256: sha256(bytes) })
                .collect(),
        };
        Bundle { manifest, parts: parts.into_iter().collect() }
    }

    /// Writes the archive to `path` through a temporary file beside it: either the whole
    /// bundle is there afterwards or nothing is.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temporary = dir.join(format!(".{name}.{}.partial", std::process::id()));
        let written = self.write_to(&temporary).and_then(|()| std::fs::rename(&temporary, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written
    }

    fn write_to(&self, path: &Path) -> std::io::Result<()> {
        let file = std::fs::File::create(path)?;
        let gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let manifest = serde_json::to_vec_pretty(&self.manifest).map_err(std::io::Error::other)?;
        let mtime = self.manifest.created_unix;
        append(&mut tar, MANIFEST, &manifest, mtime)?;
        for part in &self.manifest.parts {
            append(&mut tar, &part.name, self.parts.get(&part.name).map_or(&[][..], Vec::as_slice), mtime)?;
        }
        let gz = tar.into_inner()?;
        let mut out = gz.finish()?;
        out.flush()?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    /// Reads and checks a bundle: a clear error for a file that is not one, is truncated or
    /// damaged, or is of a newer format.
    pub fn read(path: &Path) -> Result<Bundle, String> {
        let shown = path.display();
        let mut file = std::fs::File::open(path)
            .map_err(|e| format!("cannot read {shown}: {}", ospecc_compiler::vfs::describe_io(&e)))?;
        let mut magic = [0u8; 2];
        let read = file.read(&mut magic).map_err(|e| format!("cannot read {shown}: {e}"))?;
        if read < 2 || magic != [0x1f, 0x8b] {
            return Err(format!("{shown} is not an ospecc bundle (not a gzip-compressed tar archive)"));
        }
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        Bundle::from_reader(file).map_err(|why| format!("{shown} {why}"))
    }

    fn from_reader(reader: impl Read) -> Result<Bundle, String> {
        let damaged = |e: std::io::Error| format!("is not a complete ospecc bundle (truncated or damaged: {e})");
        let mut gz = flate2::read::GzDecoder::new(reader);
        let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut total: u64 = 0;
        {
            let mut archive = tar::Archive::new(&mut gz);
            for entry in archive.entries().map_err(damaged)? {
                let mut entry = entry.map_err(damaged)?;
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                let name = entry.path().map_err(damaged)?.to_string_lossy().into_owned();
                if !safe_name(&name) {
                    return Err(format!("is not an ospecc bundle (it holds `{name}`, a path outside the bundle)"));
                }
                total = total.saturating_add(entry.size());
                if total > MAX_UNPACKED_BYTES || entries.len() >= MAX_ENTRIES {
                    return Err(format!(
                        "is not an ospecc bundle (it unpacks to more than {} MiB or {MAX_ENTRIES} files)",
                        MAX_UNPACKED_BYTES >> 20
                    ));
                }
                let mut bytes = Vec::with_capacity(entry.size().min(1 << 20) as usize);
                entry.read_to_end(&mut bytes).map_err(damaged)?;
                entries.insert(name, bytes);
            }
        }
        // The gzip trailer (length and CRC) is checked only once the stream is read to its end.
        std::io::copy(&mut gz, &mut std::io::sink()).map_err(damaged)?;
        let manifest_bytes = entries
            .remove(MANIFEST)
            .ok_or_else(|| format!("is not an ospecc bundle (a tar archive without `{MANIFEST}`)"))?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| format!("is not an ospecc bundle (its `{MANIFEST}` does not read: {e})"))?;
        if manifest.format != FORMAT {
            return Err(format!("is not an ospecc bundle (its manifest's format is `{}`)", manifest.format));
        }
        if manifest.version != VERSION {
            return Err(format!(
                "is a version {} bundle; this ospecc reads version {VERSION} (use the ospecc that wrote it: {})",
                manifest.version, manifest.tool_version
            ));
        }
        for part in &manifest.parts {
            match entries.get(&part.name) {
                None => return Err(format!("is not a complete ospecc bundle (the part `{}` is missing)", part.name)),
                Some(bytes) if sha256(bytes) != part.sha256 => {
                    return Err(format!(
                        "is damaged: the part `{}` does not match the digest its manifest records",
                        part.name
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(Bundle { manifest, parts: entries })
    }

    /// A part's bytes (`manifest.json` included).
    pub fn part(&self, name: &str) -> Option<Vec<u8>> {
        if name == MANIFEST {
            return serde_json::to_vec_pretty(&self.manifest).ok();
        }
        self.parts.get(name).cloned()
    }

    /// Every part's name and size, the manifest first.
    pub fn list(&self) -> Vec<(String, u64)> {
        let manifest = self.part(MANIFEST).map_or(0, |m| m.len() as u64);
        std::iter::once((MANIFEST.to_owned(), manifest))
            .chain(self.manifest.parts.iter().map(|p| (p.name.clone(), p.bytes)))
            .collect()
    }

    fn text(&self, name: &str) -> Result<String, String> {
        let bytes = self.parts.get(name).ok_or_else(|| format!("the bundle has no `{name}`"))?;
        String::from_utf8(bytes.clone()).map_err(|_| format!("the bundle's `{name}` is not UTF-8 text"))
    }

    /// The plan that ran.
    pub fn plan(&self) -> Result<Plan, String> {
        serde_json::from_str(&self.text("plan.json")?).map_err(|e| format!("the bundle's plan does not read: {e}"))
    }

    /// The run's report.
    pub fn report(&self) -> Result<RunReport, String> {
        report::json::parse(&self.text("report.json")?).map_err(|e| format!("the bundle's report: {e}"))
    }

    /// The run's events, in order.
    pub fn events(&self) -> Result<Vec<Event>, String> {
        self.text("events.jsonl")?
            .lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| format!("the bundle's events.jsonl line {}: {e}", i + 1))
            })
            .collect()
    }
}

/// A relative path with no `..`, root or prefix: what may be extracted below a directory.
pub fn safe_name(name: &str) -> bool {
    !name.is_empty() && Path::new(name).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8], mtime: u64) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Bundle {
        let parts: Vec<(String, Vec<u8>)> =
            vec![("report.json".into(), b"{}".to_vec()), ("logs/a.log".into(), b"x\n".to_vec())];
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            tool_version: "test".into(),
            created_unix: 0,
            environment: Environment { kernel: "k".into(), os: "linux".into(), arch: "x".into(), engine: vec![] },
            run: RunSettings::default(),
            plan_digest: "d".into(),
            parts: parts
                .iter()
                .map(|(n, b)| Part { name: n.clone(), bytes: b.len() as u64, sha256: sha256(b) })
                .collect(),
        };
        Bundle { manifest, parts: parts.into_iter().collect() }
    }

    #[test]
    fn a_bundle_round_trips_and_a_cut_or_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ospecc-bundle");
        sample().write(&path).unwrap();
        let back = Bundle::read(&path).unwrap();
        assert_eq!(back.manifest, sample().manifest);
        assert_eq!(back.part("logs/a.log").unwrap(), b"x\n");
        let bytes = std::fs::read(&path).unwrap();
        for cut in [bytes.len() - 4, bytes.len() / 2, 10] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let err = Bundle::read(&path).unwrap_err();
            assert!(err.contains("not a complete ospecc bundle"), "cut at {cut}: {err}");
        }
        std::fs::write(&path, b"{\"results\": []}").unwrap();
        assert!(Bundle::read(&path).unwrap_err().contains("not a gzip-compressed tar archive"));
        let entries: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(entries, ["run.ospecc-bundle"], "no temporary file is left");
    }

    #[test]
    fn only_relative_paths_below_the_bundle_are_safe() {
        assert!(safe_name("traces/a.jsonl"));
        assert!(!safe_name("../x") && !safe_name("/etc/passwd") && !safe_name("a/../../b") && !safe_name(""));
    }
}
