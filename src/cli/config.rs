//! `ospecc.toml`: project settings for `check`, merged with the command line.
//!
//! The file is found by walking up from the first path checked (or the working directory),
//! or named with `--config`. Every problem in it — unknown keys, wrong types, unknown codes,
//! bad globs — is a usage error that names the file and the line and column.

use std::path::{Path, PathBuf};

use ospecc_compiler::ospec::{CheckOptions, Policy};
use ospecc_compiler::topology::Limits;
use ospecc_compiler::LineIndex;
use ospecc_schema::Profile;
use serde::Deserialize;
use toml::Spanned;

use super::discover::Excludes;
use super::known_code;

pub const CONFIG_FILE: &str = "ospecc.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    check: CheckSection,
    #[serde(default)]
    workspace: WorkspaceSection,
    #[serde(default)]
    limits: LimitsSection,
    #[serde(default)]
    fmt: FmtSection,
    #[serde(default)]
    run: RunSection,
}

/// `[fmt]`: the layout `ospecc fmt` writes (docs/fmt.md); unset keys keep the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FmtSection {
    /// Spaces per block level in topology files.
    indent_width: Option<Spanned<usize>>,
    /// Spaces per nesting level in OSpec YAML.
    yaml_indent_width: Option<Spanned<usize>>,
    /// Longest line before a bracketed list is broken (topology files).
    line_width: Option<Spanned<usize>>,
    /// Sort the symbols of `load()` statements.
    sort_loads: Option<bool>,
    /// Globs left unformatted (besides `[check] exclude`).
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
}

/// The effective settings of `ospecc fmt`.
#[derive(Debug, Default)]
pub struct FmtSettings {
    pub options: ospecc_compiler::fmt::Options,
    /// `[check] exclude` and `[fmt] exclude`.
    pub excludes: Excludes,
}

/// Reads the `[fmt]` settings of the config at `path` (if any).
pub fn resolve_fmt(path: Option<&Path>) -> Result<FmtSettings, String> {
    use ospecc_compiler::fmt::{INDENT_RANGE, LINE_WIDTH_RANGE};
    let Some(path) = path else { return Ok(FmtSettings::default()) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config `{}`: {}", path.display(), super::discover::describe(&e)))?;
    let at = |span: std::ops::Range<usize>| location(path, &text, Some(span));
    let file: ConfigFile =
        toml::from_str(&text).map_err(|e| format!("{}: {}", location(path, &text, e.span()), e.message().trim()))?;
    let section = &file.fmt;
    let mut options = ospecc_compiler::fmt::Options::default();
    let ranged = |value: &Option<Spanned<usize>>, key: &str, range: std::ops::RangeInclusive<usize>| match value {
        Some(v) if !range.contains(v.get_ref()) => {
            Err(format!("{}: `fmt.{key}` must be between {} and {}", at(v.span()), range.start(), range.end()))
        }
        Some(v) => Ok(Some(*v.get_ref())),
        None => Ok(None),
    };
    options.indent_width = ranged(&section.indent_width, "indent_width", INDENT_RANGE)?.unwrap_or(options.indent_width);
    options.yaml_indent_width =
        ranged(&section.yaml_indent_width, "yaml_indent_width", INDENT_RANGE)?.unwrap_or(options.yaml_indent_width);
    options.line_width = ranged(&section.line_width, "line_width", LINE_WIDTH_RANGE)?.unwrap_or(options.line_width);
    options.sort_loads = section.sort_loads.unwrap_or(options.sort_loads);
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let patterns = file.check.exclude.iter().chain(&section.exclude);
    for pattern in patterns.clone() {
        Excludes::new(base.clone(), std::slice::from_ref(pattern.get_ref()))
            .map_err(|e| format!("{}: {e}", at(pattern.span())))?;
    }
    let patterns: Vec<String> = patterns.map(|p| p.get_ref().clone()).collect();
    Ok(FmtSettings { options, excludes: Excludes::new(base, &patterns)? })
}

/// `[run]`: settings of `ospecc run`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunSection {
    /// Where a failed run leaves its bundle, relative to the config file's directory.
    bundle_dir: Option<PathBuf>,
}

/// `[run] bundle_dir` of the config at `path`, resolved against its directory.
pub fn run_bundle_dir(path: &Path) -> Result<Option<PathBuf>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config `{}`: {}", path.display(), super::discover::describe(&e)))?;
    let file: ConfigFile =
        toml::from_str(&text).map_err(|e| format!("{}: {}", location(path, &text, e.span()), e.message().trim()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(file.run.bundle_dir.map(|dir| base.join(dir)))
}

/// `[limits]`: the bounds of topology evaluation (docs/security.md); unset keys keep the
/// defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    /// Memory one file's evaluation may hold, in MiB.
    max_memory_mib: Option<Spanned<u64>>,
    /// Wall time of one check's evaluation, in milliseconds.
    max_time_ms: Option<Spanned<u64>>,
    /// Steps (calls, loop iterations, elements a native call walks).
    max_steps: Option<Spanned<u64>>,
}

impl LimitsSection {
    /// The limits with this section applied; zero is refused (it would stop every file).
    fn apply(&self, at: impl Fn(std::ops::Range<usize>) -> String) -> Result<Limits, String> {
        let mut limits = Limits::default();
        let positive = |value: &Option<Spanned<u64>>, key: &str| -> Result<Option<u64>, String> {
            match value {
                Some(v) if *v.get_ref() == 0 => Err(format!("{}: `limits.{key}` must be at least 1", at(v.span()))),
                Some(v) => Ok(Some(*v.get_ref())),
                None => Ok(None),
            }
        };
        if let Some(mib) = positive(&self.max_memory_mib, "max_memory_mib")? {
            limits.max_heap_bytes = usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        }
        if let Some(ms) = positive(&self.max_time_ms, "max_time_ms")? {
            limits.max_time = std::time::Duration::from_millis(ms);
        }
        if let Some(steps) = positive(&self.max_steps, "max_steps")? {
            limits.max_ticks = steps;
        }
        Ok(limits)
    }
}

/// `[workspace]`: where reads may go besides the workspace root.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceSection {
    /// Directories or files outside the workspace that specs may read (monorepos), relative
    /// to the config file's directory.
    #[serde(default)]
    allow_outside: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckSection {
    profile: Option<Spanned<String>>,
    strict: Option<bool>,
    #[serde(default)]
    deny: Vec<Spanned<String>>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
}

/// What the command line says; `None`/empty means "not given".
#[derive(Debug, Default)]
pub struct Overrides {
    pub profile: Option<Profile>,
    pub strict: bool,
    pub deny: Vec<String>,
    pub allow: Vec<String>,
}

/// The effective settings of a check run.
#[derive(Debug, Default)]
pub struct Settings {
    pub options: CheckOptions,
    pub excludes: Excludes,
    /// `[workspace] allow_outside`, resolved against the config file's directory.
    pub allow_outside: Vec<PathBuf>,
    /// `[limits]`: the bounds of topology evaluation.
    pub limits: Limits,
}

/// The nearest `ospecc.toml` in `start` or one of its ancestors.
pub fn find(start: &Path) -> Option<PathBuf> {
    let dir = if start.is_dir() { start } else { start.parent()? };
    dir.ancestors().map(|d| d.join(CONFIG_FILE)).find(|p| p.is_file())
}

/// Reads the config at `path` (if any) and applies the command line over it.
pub fn resolve(path: Option<&Path>, cli: Overrides) -> Result<Settings, String> {
    let cli = Overrides {
        deny: cli.deny.iter().map(|c| known_code(c).map(str::to_string)).collect::<Result<_, _>>()?,
        allow: cli.allow.iter().map(|c| known_code(c).map(str::to_string)).collect::<Result<_, _>>()?,
        ..cli
    };
    let Some(path) = path else { return Ok(merge(FileSettings::default(), cli, Excludes::default())) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config `{}`: {}", path.display(), super::discover::describe(&e)))?;
    let at = |span: std::ops::Range<usize>| location(path, &text, Some(span));
    let file: ConfigFile =
        toml::from_str(&text).map_err(|e| format!("{}: {}", location(path, &text, e.span()), e.message().trim()))?;
    let section = &file.check;
    let profile = match &section.profile {
        None => None,
        Some(name) => Some(Profile::from_name(name.get_ref()).ok_or_else(|| {
            format!("{}: unknown profile `{}` (expected `core` or `ext`)", at(name.span()), name.get_ref())
        })?),
    };
    let codes = |list: &[Spanned<String>]| -> Result<Vec<String>, String> {
        list.iter()
            .map(|c| known_code(c.get_ref()).map(str::to_string).map_err(|e| format!("{}: {e}", at(c.span()))))
            .collect()
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for pattern in &section.exclude {
        Excludes::new(base.clone(), std::slice::from_ref(pattern.get_ref()))
            .map_err(|e| format!("{}: {e}", at(pattern.span())))?;
    }
    let patterns: Vec<String> = section.exclude.iter().map(|p| p.get_ref().clone()).collect();
    let excludes = Excludes::new(base.clone(), &patterns)?;
    let allow_outside = file.workspace.allow_outside.iter().map(|p| base.join(p)).collect();
    let limits = file.limits.apply(at)?;
    let settings = FileSettings {
        profile,
        strict: section.strict.unwrap_or(false),
        deny: codes(&section.deny)?,
        allow: codes(&section.allow)?,
    };
    Ok(Settings { allow_outside, limits, ..merge(settings, cli, excludes) })
}

/// The config file's settings after validation.
#[derive(Debug, Default)]
struct FileSettings {
    profile: Option<Profile>,
    strict: bool,
    deny: Vec<String>,
    allow: Vec<String>,
}

/// The command line wins: a code the command line allows is no longer denied by the file, and
/// the other way round.
fn merge(file: FileSettings, cli: Overrides, excludes: Excludes) -> Settings {
    let without = |list: Vec<String>, removed: &[String]| -> Vec<String> {
        list.into_iter().filter(|c| !removed.contains(c)).collect()
    };
    let mut deny = without(file.deny, &cli.allow);
    deny.extend(cli.deny.iter().cloned());
    let mut allow = without(file.allow, &cli.deny);
    allow.extend(cli.allow);
    let policy = Policy { strict: cli.strict || file.strict, deny, allow };
    let profile = cli.profile.or(file.profile).unwrap_or_default();
    Settings {
        options: CheckOptions { profile, policy },
        excludes,
        allow_outside: Vec::new(),
        limits: Limits::default(),
    }
}

/// `path:line:column` of a byte span of the config text (or just the path).
fn location(path: &Path, text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let at = LineIndex::new(text).line_col(text, span.start);
            format!("{}:{}:{}", path.display(), at.line, at.column)
        }
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn command_line_wins_over_the_file() {
        let file = FileSettings {
            profile: Some(Profile::Core),
            strict: true,
            deny: codes(&["OSP100", "OSP101"]),
            allow: codes(&["OSP102"]),
        };
        let cli = Overrides {
            profile: Some(Profile::Ext),
            strict: false,
            deny: codes(&["OSP102"]),
            allow: codes(&["OSP101"]),
        };
        let settings = merge(file, cli, Excludes::default());
        assert_eq!(settings.options.profile, Profile::Ext);
        let policy = settings.options.policy;
        assert!(policy.strict, "strict in the file stays on");
        assert_eq!(policy.deny, codes(&["OSP100", "OSP102"]));
        assert_eq!(policy.allow, codes(&["OSP101"]));
    }

    #[test]
    fn defaults_without_a_file() {
        let settings = resolve(None, Overrides { deny: codes(&["osp001"]), ..Overrides::default() }).unwrap();
        assert_eq!(settings.options.profile, Profile::Ext);
        assert_eq!(settings.options.policy.deny, codes(&["OSP001"]), "codes are normalised to the registry's spelling");
        assert!(resolve(None, Overrides { allow: codes(&["nope"]), ..Overrides::default() }).is_err());
    }

    #[test]
    fn workspace_and_limits_sections_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(
            &path,
            "[workspace]\nallow_outside = [\"../shared\"]\n[limits]\nmax_memory_mib = 64\nmax_time_ms = 1500\n",
        )
        .unwrap();
        let settings = resolve(Some(&path), Overrides::default()).unwrap();
        assert_eq!(settings.allow_outside, vec![dir.path().join("../shared")]);
        assert_eq!(settings.limits.max_heap_bytes, 64 << 20);
        assert_eq!(settings.limits.max_time, std::time::Duration::from_millis(1500));
        std::fs::write(&path, "[limits]\nmax_steps = 0\n").unwrap();
        let error = resolve(Some(&path), Overrides::default()).unwrap_err();
        assert!(error.contains("ospecc.toml:2:") && error.contains("max_steps"), "{error}");
    }

    #[test]
    fn fmt_section_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(
            &path,
            "[fmt]\nindent_width = 2\nline_width = 80\nsort_loads = false\nexclude = [\"fixtures\"]\n",
        )
        .unwrap();
        let settings = resolve_fmt(Some(&path)).unwrap();
        assert_eq!((settings.options.indent_width, settings.options.line_width), (2, 80));
        assert!(!settings.options.sort_loads);
        assert!(settings.excludes.is_excluded(Path::new("fixtures/a.star"), dir.path()));
        std::fs::write(&path, "[fmt]\nindent_width = 0\n").unwrap();
        let error = resolve_fmt(Some(&path)).unwrap_err();
        assert!(error.contains("ospecc.toml:2:") && error.contains("fmt.indent_width"), "{error}");
        assert!(resolve(Some(&path), Overrides::default()).is_ok(), "`check` accepts a [fmt] section");
    }

    #[test]
    fn config_is_found_in_ancestors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "").unwrap();
        assert_eq!(find(&dir.path().join("a/b")), Some(dir.path().join(CONFIG_FILE)));
        assert_eq!(find(&dir.path().join("a/b/missing.ospec.yml")), Some(dir.path().join(CONFIG_FILE)));
    }
}
