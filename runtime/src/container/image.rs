//! Images: present (pulled only when absent), built from a context directory (cached by the
//! hash of its contents), and the entrypoint and command they run by default.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::engine::Engine;

/// How long a pull may take before the run gives up on it.
const PULL_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a build may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);
const INSPECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A build context larger than this is refused rather than hashed for minutes.
const MAX_CONTEXT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Whether the engine has `image` locally.
pub fn exists(engine: &Engine, image: &str) -> Result<bool, String> {
    let args = ["image", "inspect", "--format", "{{.Id}}", image].map(str::to_owned);
    Ok(engine.run(&args, INSPECT_TIMEOUT)?.success)
}

/// Images this process has seen present: services restart for every test, and asking the
/// engine again each time would cost a CLI call per container per test.
static PRESENT: Mutex<BTreeSet<(Engine, String)>> = Mutex::new(BTreeSet::new());

fn known(engine: &Engine, image: &str) -> bool {
    PRESENT.lock().unwrap_or_else(|p| p.into_inner()).contains(&(engine.clone(), image.to_owned()))
}

fn remember(engine: &Engine, image: &str) {
    PRESENT.lock().unwrap_or_else(|p| p.into_inner()).insert((engine.clone(), image.to_owned()));
}

/// Makes sure `image` is present: nothing when it is, else a pull (bounded). A failed pull is an
/// error that names the image and how to provide it.
pub fn ensure(engine: &Engine, image: &str) -> Result<(), String> {
    if known(engine, image) {
        return Ok(());
    }
    if exists(engine, image)? {
        remember(engine, image);
        return Ok(());
    }
    let out = engine.run(&["pull".to_owned(), image.to_owned()], PULL_TIMEOUT);
    let why = match out {
        Ok(out) if out.success => {
            remember(engine, image);
            return Ok(());
        }
        Ok(out) => out.reason(),
        Err(e) => e,
    };
    let cli = engine.kind.name();
    Err(format!(
        "the image `{image}` is not on this machine and pulling it failed ({why}); build or load it first \
         (`{cli} build -t {image} DIR`, `{cli} load -i IMAGE.tar`) or make its registry reachable"
    ))
}

/// Builds the image of a `build=` service from `context` unless an image of the same contents
/// exists; returns its tag (`localhost/ospecc-build-SERVICE:HASH`).
pub fn build(engine: &Engine, service: &str, context: &Path) -> Result<String, String> {
    if !context.is_dir() {
        return Err(format!("the build context `{}` is not a directory", context.display()));
    }
    let hash = context_hash(context)?;
    let tag = format!("localhost/ospecc-build-{}:{}", super::sanitize(service), &hash[..16]);
    if exists(engine, &tag)? {
        return Ok(tag);
    }
    let args = ["build", "--label", &format!("{}={hash}", super::LABEL_BUILD), "-t", &tag]
        .map(str::to_owned)
        .into_iter()
        .chain([context.display().to_string()])
        .collect::<Vec<_>>();
    let out = engine.run(&args, BUILD_TIMEOUT)?;
    if !out.success {
        let tail: Vec<&str> = out.stderr.lines().chain(out.stdout.lines()).filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(8)..].join("\n  ");
        return Err(format!("building `{}` failed:\n  {tail}", context.display()));
    }
    Ok(tag)
}

/// The image's default argv: its entrypoint followed by its command, with `args` (a service's
/// `args=`) replacing the command as Docker does.
pub fn default_argv(engine: &Engine, image: &str, args: &[String]) -> Result<Vec<String>, String> {
    type Entries = BTreeMap<(Engine, String), (Vec<String>, Vec<String>)>;
    static ENTRIES: Mutex<Entries> = Mutex::new(BTreeMap::new());
    let key = (engine.clone(), image.to_owned());
    let cached = ENTRIES.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
    let (entrypoint, command) = match cached {
        Some(entry) => entry,
        None => {
            let format = "{{json .Config.Entrypoint}}\t{{json .Config.Cmd}}";
            let args = ["image", "inspect", "--format", format, image].map(str::to_owned);
            let out = engine.call(&args, INSPECT_TIMEOUT)?;
            let entry = parse_entry(&out).ok_or_else(|| format!("cannot read the entrypoint of `{image}`: {out}"))?;
            ENTRIES.lock().unwrap_or_else(|p| p.into_inner()).insert(key, entry.clone());
            entry
        }
    };
    let command = if args.is_empty() { command } else { args.to_vec() };
    Ok(entrypoint.into_iter().chain(command).collect())
}

/// `ENTRYPOINT-JSON \t CMD-JSON`, each `null` or a list of strings.
fn parse_entry(text: &str) -> Option<(Vec<String>, Vec<String>)> {
    let (entrypoint, command) = text.trim().split_once('\t')?;
    let list = |json: &str| -> Option<Vec<String>> {
        match serde_json::from_str::<serde_json::Value>(json).ok()? {
            serde_json::Value::Null => Some(Vec::new()),
            serde_json::Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_owned)).collect(),
            serde_json::Value::String(s) => Some(vec![s]),
            _ => None,
        }
    };
    Some((list(entrypoint)?, list(command)?))
}

/// SHA-256 over every file of the context (relative path, mode, contents), in path order;
/// `.git` is left out.
pub fn context_hash(context: &Path) -> Result<String, String> {
    let mut files = Vec::new();
    collect(context, context, &mut files).map_err(|e| format!("cannot read the build context: {e}"))?;
    files.sort();
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    for (relative, path) in files {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        hasher.update(relative.as_bytes());
        hasher.update([0]);
        hasher.update(meta.permissions().mode().to_le_bytes());
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            hasher.update(target.as_os_str().as_encoded_bytes());
        } else {
            total += meta.len();
            if total > MAX_CONTEXT_BYTES {
                return Err(format!("the build context `{}` holds more than 2 GiB", context.display()));
            }
            let bytes = std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if entry.file_name() != ".git" {
                collect(root, &path, out)?;
            }
        } else {
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
            out.push((relative, path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse() {
        let (e, c) = parse_entry("[\"/docker-entrypoint.sh\"]\t[\"postgres\"]\n").unwrap();
        assert_eq!((e, c), (vec!["/docker-entrypoint.sh".to_owned()], vec!["postgres".to_owned()]));
        let (e, c) = parse_entry("null\t[\"nginx\",\"-g\",\"daemon off;\"]").unwrap();
        assert!(e.is_empty());
        assert_eq!(c.len(), 3);
        assert!(parse_entry("garbage").is_none());
        assert!(parse_entry("[1]\tnull").is_none());
    }

    #[test]
    fn the_context_hash_follows_contents() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Containerfile"), "FROM scratch\n").unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a"), "a").unwrap();
        let first = context_hash(dir.path()).unwrap();
        assert_eq!(first, context_hash(dir.path()).unwrap());
        std::fs::write(dir.path().join("src/a"), "b").unwrap();
        assert_ne!(first, context_hash(dir.path()).unwrap());
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "x").unwrap();
        std::fs::write(dir.path().join("src/a"), "a").unwrap();
        assert_eq!(first, context_hash(dir.path()).unwrap());
    }
}
