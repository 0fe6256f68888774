//! `ospecc init`: writes a starter topology and OSpec file, from a Compose file
//! (`--from-compose [FILE]`) or from one executable (`--name --port --protocol BINARY`).
//! The compiler makes the files from text (`ospecc_compiler::init`); this command finds and
//! reads the input, places paths relative to the output directory, and writes the files,
//! never over existing ones without `--force`.

use std::path::{Component, Path, PathBuf};

use clap::Args;
use ospecc_compiler::init::{self, BinaryInput, ComposeInput, Generated};
use ospecc_compiler::report::{self, FileResult};
use ospecc_compiler::syntax::text::decode;
use ospecc_compiler::vfs::describe_io;

use super::{report_error, write_stdout, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// The names Compose looks for, in its order of preference.
const COMPOSE_FILES: &[&str] = &["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The executable to start (without --from-compose), as a path from here.
    #[arg(value_name = "BINARY", required_unless_present = "from_compose", conflicts_with = "from_compose")]
    binary: Option<PathBuf>,
    /// Generate from a Compose file [default: compose.yaml or docker-compose.yml here].
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    from_compose: Option<Option<PathBuf>>,
    /// The service's name (with BINARY), or the generated files' name (with --from-compose).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The port the executable listens on.
    #[arg(long, value_name = "PORT", default_value_t = 8080, conflicts_with = "from_compose")]
    port: u16,
    /// The protocol the executable speaks on it.
    #[arg(long, value_name = "PROTOCOL", default_value = "http", conflicts_with = "from_compose")]
    protocol: String,
    /// Enable a Compose profile (repeatable): services of other profiles are left out.
    #[arg(long, value_name = "NAME", requires = "from_compose")]
    profile: Vec<String>,
    /// Where to write the files.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Overwrite files that already exist.
    #[arg(long)]
    force: bool,
    /// Print the files on stdout instead of writing them.
    #[arg(long)]
    stdout: bool,
}

pub fn run(args: &InitArgs) -> u8 {
    let generated = match &args.from_compose {
        Some(file) => match from_compose(args, file) {
            Ok(generated) => generated,
            Err(code) => return code,
        },
        None => match from_binary(args) {
            Ok(generated) => generated,
            Err(message) => {
                report_error(&message);
                return EXIT_USAGE;
            }
        },
    };
    if generated.has_errors() {
        return EXIT_FINDINGS;
    }
    if args.stdout {
        let texts: Vec<String> =
            generated.files.iter().map(|f| format!("# ---- {} ----\n{}", f.name, f.text)).collect();
        write_stdout(&texts.join("\n"));
        return EXIT_OK;
    }
    write_files(&generated, &args.out, args.force)
}

fn from_binary(args: &InitArgs) -> Result<Generated, String> {
    let binary = args.binary.as_deref().ok_or("a BINARY is needed without --from-compose")?;
    let stem = binary.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "app".into());
    let name = args.name.clone().unwrap_or(stem);
    let path = relative_to(&args.out, binary);
    init::from_binary(&BinaryInput { name: &name, port: args.port, protocol: &args.protocol, binary: &path })
}

fn from_compose(args: &InitArgs, given: &Option<PathBuf>) -> Result<Generated, u8> {
    let file = match given {
        Some(file) => file.clone(),
        None => find_compose_file()?,
    };
    let bytes = std::fs::read(&file).map_err(|e| {
        report_error(&format!("cannot read {}: {}", file.display(), describe_io(&e)));
        EXIT_USAGE
    })?;
    let shown = file.display().to_string();
    let text = match decode(&bytes) {
        Ok(text) => text,
        Err(diagnostic) => {
            print_diagnostics(&shown, &String::from_utf8_lossy(&bytes), &[diagnostic]);
            return Err(EXIT_FINDINGS);
        }
    };
    let directory = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let absolute = std::path::absolute(&directory).unwrap_or_else(|_| directory.clone());
    let default_name = absolute.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "app".into());
    let base = relative_to(&args.out, &directory);
    let base = if base == "." { String::new() } else { base };
    let generated = init::from_compose(&ComposeInput {
        text,
        file_name: &shown,
        default_name: &default_name,
        profiles: &args.profile,
        base: &base,
        spec_name: args.name.as_deref(),
    });
    print_diagnostics(&shown, text, &generated.diagnostics);
    Ok(generated)
}

/// The Compose file of the current directory, as Compose itself would pick it.
fn find_compose_file() -> Result<PathBuf, u8> {
    match COMPOSE_FILES.iter().map(PathBuf::from).find(|p| p.is_file()) {
        Some(found) => Ok(found),
        None => {
            report_error(&format!(
                "no Compose file here (looked for {}); name one: --from-compose FILE",
                COMPOSE_FILES.join(", ")
            ));
            Err(EXIT_USAGE)
        }
    }
}

fn print_diagnostics(path: &str, text: &str, diagnostics: &[ospecc_compiler::Diagnostic]) {
    if diagnostics.is_empty() {
        return;
    }
    let files = [FileResult { path: path.to_owned(), text: text.into(), diagnostics: diagnostics.to_vec() }];
    let color = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), report::human::render(&files, color).as_bytes());
}

/// Writes every file, or none when one exists and `--force` is not given.
fn write_files(generated: &Generated, out: &Path, force: bool) -> u8 {
    let place = |name: &str| if out == Path::new(".") { PathBuf::from(name) } else { out.join(name) };
    let targets: Vec<PathBuf> = generated.files.iter().map(|f| place(&f.name)).collect();
    let existing: Vec<String> = targets.iter().filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
    if !existing.is_empty() && !force {
        report_error(&format!(
            "{} already exist{}; nothing written (--force overwrites)",
            existing.join(", "),
            if existing.len() == 1 { "s" } else { "" }
        ));
        return EXIT_USAGE;
    }
    if let Err(e) = std::fs::create_dir_all(out) {
        report_error(&format!("cannot create {}: {}", out.display(), describe_io(&e)));
        return EXIT_USAGE;
    }
    for (file, path) in generated.files.iter().zip(&targets) {
        if let Err(e) = std::fs::write(path, &file.text) {
            report_error(&format!("cannot write {}: {}", path.display(), describe_io(&e)));
            return EXIT_USAGE;
        }
        eprintln!("wrote {}", path.display());
    }
    EXIT_OK
}

/// `target` (a path from the working directory) as a path from directory `from`, for files
/// written in `from` to name it; absolute paths stay absolute.
fn relative_to(from: &Path, target: &Path) -> String {
    if target.is_absolute() {
        return target.display().to_string();
    }
    let normal = |p: &Path| -> Option<Vec<String>> {
        let absolute = std::path::absolute(p).ok()?;
        let mut parts: Vec<String> = Vec::new();
        for component in absolute.components() {
            match component {
                Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
                Component::ParentDir => {
                    parts.pop();
                }
                _ => {}
            }
        }
        Some(parts)
    };
    let (Some(from), Some(to)) = (normal(from), normal(target)) else {
        return target.display().to_string();
    };
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(to[common..].iter().cloned());
    let joined = parts.join("/");
    match joined.as_str() {
        "" => ".".to_owned(),
        _ if !joined.starts_with("..") && target.starts_with(".") && target != Path::new(".") => format!("./{joined}"),
        _ => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_relative_to_the_output_directory() {
        assert_eq!(relative_to(Path::new("."), Path::new("./bin/api")), "./bin/api");
        assert_eq!(relative_to(Path::new("."), Path::new("bin/api")), "bin/api");
        assert_eq!(relative_to(Path::new("specs"), Path::new("bin/api")), "../bin/api");
        assert_eq!(relative_to(Path::new("a/b"), Path::new("a/c")), "../c");
        assert_eq!(relative_to(Path::new("specs"), Path::new(".")), "..");
        assert_eq!(relative_to(Path::new("."), Path::new(".")), ".");
        assert_eq!(relative_to(Path::new("x"), Path::new("/usr/bin/redis")), "/usr/bin/redis");
    }
}
