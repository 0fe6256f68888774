//! `acceptance.commands[]` → `Command` probes (ospec-format.md §5.5): the command line split
//! into words like a POSIX shell would (quotes and backslashes; no expansion), the expected
//! exit code (0), `stdout_contains`, `stdout_format` and a duration bound. Commands run only
//! with `--allow-shell` (decision D5); a `<placeholder>` in the line is unbound, so such a
//! command is skipped either way.

use ospecc_schema::plan::acceptance::{Check, Probe};

use super::context::Lowering;
use super::request::{self, TIMEOUT_KEYS};
use crate::syntax::yaml::{Node, Value};

pub(crate) const SHELL_NOT_ALLOWED: &str = "shell not allowed (use --allow-shell)";
/// How long a command may run when the spec does not say.
const DEFAULT_TIMEOUT_MS: u64 = 60_000;
/// Keys of the command line, in order of preference (`name` is the line only without `run`).
const LINE_KEYS: &[&str] = &["run", "command", "name"];
const STDOUT_KEYS: &[&str] = &["stdout_contains", "output_contains"];
const FORMAT_KEYS: &[&str] = &["stdout_format", "output_format"];
const DURATION_KEYS: &[(&str, u64)] = &[("max_duration_ms", 1), ("max_execution_time_ms", 1)];

/// The probes of the `commands` stage; `default_max_ms` bounds commands that give no bound.
pub(crate) fn lower(cx: &mut Lowering, acceptance: &Node, default_max_ms: Option<u64>) -> Vec<Probe> {
    let mut probes = Vec::new();
    for (index, item) in acceptance.field("commands").and_then(Node::as_seq).unwrap_or_default().iter().enumerate() {
        match item.as_map().and_then(|_| LINE_KEYS.iter().find_map(|k| item.field(k)?.as_str())) {
            Some(line) => probes.push(lower_command(cx, item, line, default_max_ms)),
            None => cx.unverifiable(
                item.span,
                &format!("acceptance.commands[{index}]"),
                "a command check needs `run` (or `name`) with the command line",
            ),
        }
    }
    probes
}

fn lower_command(cx: &mut Lowering, item: &Node, line: &str, default_max_ms: Option<u64>) -> Probe {
    let label = item.field("name").and_then(Node::as_str).unwrap_or(line);
    let (argv, mut skip) = match split(line) {
        Ok(argv) if argv.is_empty() => (argv, Some("empty command line".to_owned())),
        Ok(argv) => (argv, None),
        Err(reason) => (Vec::new(), Some(reason)),
    };
    if let Some(placeholder) = placeholder(line) {
        skip.get_or_insert(format!("unbound placeholder `{placeholder}`"));
    }
    if !cx.options.allow_shell {
        skip.get_or_insert(SHELL_NOT_ALLOWED.to_owned());
    }
    let expect_exit = match item.field("exit_code").map(|n| &n.value) {
        Some(Value::Int(code)) => i32::try_from(*code).unwrap_or(i32::MAX),
        _ => 0,
    };
    let check = Check::Command {
        argv,
        cwd: item.field("cwd").and_then(Node::as_str).map(str::to_owned),
        timeout_ms: request::duration_ms(item, TIMEOUT_KEYS).unwrap_or(DEFAULT_TIMEOUT_MS),
        expect_exit,
        stdout_contains: STDOUT_KEYS.iter().flat_map(|k| request::strings(item.field(k))).collect(),
        stdout_format: FORMAT_KEYS.iter().find_map(|k| item.field(k)?.as_str()).map(str::to_owned),
        max_duration_ms: request::duration_ms(item, DURATION_KEYS).or(default_max_ms),
    };
    cx.probe(format!("command.{label}"), item.span, check, skip)
}

/// The first `<name>` placeholder of a command line (`mytool show <id>`), not a redirection.
fn placeholder(line: &str) -> Option<&str> {
    let start = line.find('<')?;
    let rest = &line[start..];
    let end = rest.find('>')?;
    let inner = &rest[1..end];
    let is_name = !inner.is_empty() && inner.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if is_name {
        Some(&rest[..=end])
    } else {
        placeholder(&rest[1..])
    }
}

/// Splits a command line into words: whitespace separates, `'...'` is literal, `"..."` keeps
/// `\"` and `\\` escapes, a backslash outside quotes escapes the next character.
pub(crate) fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err("unbalanced `'` in the command line".to_owned()),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => current.push(c),
                            Some(c) => {
                                current.push('\\');
                                current.push(c);
                            }
                            None => return Err("unbalanced `\"` in the command line".to_owned()),
                        },
                        Some(c) => current.push(c),
                        None => return Err("unbalanced `\"` in the command line".to_owned()),
                    }
                }
            }
            '\\' => {
                if let Some(next) = chars.next() {
                    word.get_or_insert_with(String::new).push(next);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(split("mytool --version").unwrap(), ["mytool", "--version"]);
        assert_eq!(split(r#"git commit -m "a \"b\" c" 'd e'"#).unwrap(), ["git", "commit", "-m", r#"a "b" c"#, "d e"]);
        assert_eq!(split(r"a\ b ''").unwrap(), ["a b", ""]);
        assert!(split("echo 'open").is_err());
        assert!(split("echo \"open").is_err());
        assert_eq!(split("   ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn placeholders() {
        assert_eq!(placeholder("mytool show <task-id>"), Some("<task-id>"));
        assert_eq!(placeholder("sort < in.txt > out.txt"), None);
        assert_eq!(placeholder("mytool list"), None);
    }
}
