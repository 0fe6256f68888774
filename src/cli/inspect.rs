//! `ospecc inspect BUNDLE [PART] [--extract DIR]`: what a bundle holds (its manifest and
//! parts), one part on stdout, or parts extracted into a directory. A truncated or foreign
//! bundle, or an unknown part, is exit 2.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use ospecc_runtime::bundle::{safe_name, Bundle};

use super::{report_error, write_stdout, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The bundle.
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
    /// A part (`report.json`, `plan.json`, `traces/NAME.jsonl`, `logs/SERVICE.log`, ...) or a
    /// directory of parts (`traces/`): printed, or extracted with `--extract`.
    #[arg(value_name = "PART")]
    part: Option<String>,
    /// Extract the bundle's parts (or PART) into this directory.
    #[arg(long, value_name = "DIR")]
    extract: Option<PathBuf>,
}

pub fn run(args: &InspectArgs) -> u8 {
    match inspect(args) {
        Ok(()) => EXIT_OK,
        Err(why) => {
            report_error(&why);
            EXIT_USAGE
        }
    }
}

fn inspect(args: &InspectArgs) -> Result<(), String> {
    let bundle = Bundle::read(&args.bundle)?;
    let names: Vec<String> = match &args.part {
        None => bundle.list().into_iter().map(|(name, _)| name).collect(),
        Some(part) => select(&bundle, part)?,
    };
    match (&args.extract, &args.part) {
        (Some(dir), _) => extract(&bundle, &names, dir),
        (None, Some(_)) if names.len() == 1 => {
            let bytes = bundle.part(&names[0]).unwrap_or_default();
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&bytes).and_then(|()| out.flush());
            Ok(())
        }
        (None, _) => {
            write_stdout(&listing(&bundle, &names));
            Ok(())
        }
    }
}

/// The part named, or every part under a directory name.
fn select(bundle: &Bundle, part: &str) -> Result<Vec<String>, String> {
    let all: Vec<String> = bundle.list().into_iter().map(|(name, _)| name).collect();
    if all.iter().any(|n| n == part) {
        return Ok(vec![part.to_owned()]);
    }
    let prefix = format!("{}/", part.trim_end_matches('/'));
    let under: Vec<String> = all.iter().filter(|n| n.starts_with(&prefix)).cloned().collect();
    if !under.is_empty() {
        return Ok(under);
    }
    let hint = ospecc_compiler::suggest::did_you_mean(part, all.iter().map(String::as_str))
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    Err(format!("the bundle has no part `{part}`{hint}; `ospecc inspect {}` lists them", "BUNDLE"))
}

fn extract(bundle: &Bundle, names: &[String], dir: &Path) -> Result<(), String> {
    let fail = |path: &Path, e: std::io::Error| {
        format!("cannot write {}: {}", path.display(), ospecc_compiler::vfs::describe_io(&e))
    };
    for name in names {
        if !safe_name(name) {
            return Err(format!("the bundle's part `{name}` would land outside {}", dir.display()));
        }
        let target = dir.join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
        }
        std::fs::write(&target, bundle.part(name).unwrap_or_default()).map_err(|e| fail(&target, e))?;
    }
    eprintln!("extracted {} part(s) into {}", names.len(), dir.display());
    Ok(())
}

fn listing(bundle: &Bundle, names: &[String]) -> String {
    let m = &bundle.manifest;
    let env = &m.environment;
    let run = &m.run;
    let results = bundle
        .report()
        .map(|r| {
            let s = r.summary;
            format!(
                "{} ({} passed, {} failed, {} errored, {} skipped, {} not run, {} unverifiable)",
                r.root, s.passed, s.failed, s.errored, s.skipped, s.not_run, s.unverifiable
            )
        })
        .unwrap_or_else(|e| e);
    let mut out = format!(
        "ospecc bundle, format {}\n\
         run:         {results}\n\
         plan digest: {}\n\
         written by:  ospecc {} on {} {} (kernel {}), engines: {}\n\
         options:     seed {}, max-instances {}, runs {}, shard {}, tests {}\n\
         workdir:     {}\nparts:\n",
        m.version,
        m.plan_digest,
        m.tool_version,
        env.os,
        env.arch,
        env.kernel,
        if env.engine.is_empty() { "none".to_owned() } else { env.engine.join(", ") },
        run.seed,
        run.max_instances,
        run.runs,
        run.shard.as_deref().unwrap_or("none"),
        if run.tests.is_empty() { "all".to_owned() } else { run.tests.join(", ") },
        run.workdir,
    );
    let sizes = bundle.list();
    for name in names {
        let size = sizes.iter().find(|(n, _)| n == name).map_or(0, |(_, s)| *s);
        out.push_str(&format!("  {size:>10}  {name}\n"));
    }
    out
}
