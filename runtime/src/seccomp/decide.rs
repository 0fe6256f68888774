//! Deciding one notified syscall: what it is about (its [`Target`]: a path, an fd's file, a
//! connect destination), which live rule fires on it (first match, probability, `max_fires`,
//! all in [`crate::faults::rules::Table::first_firing`]), and the verdict.
//!
//! Path scoping (`op(..., path=GLOB)`): a glob's `*` also crosses `/` (`/var/data/*` covers
//! subdirectories), and a glob ending in `/` means everything below. System paths (`/proc`,
//! `/sys`, `/dev`, `/lib`, `/usr`, `/etc`, ...) are never faulted unless the glob itself starts
//! with that directory: a `read` fault must not break the dynamic loader or `/proc` reads.
//!
//! Connect destination scoping: an AF_INET/AF_INET6 destination is the string `IP:PORT`
//! (`127.0.0.1:15433`, `[::1]:80`); a glob is matched against it and against the upstream the
//! address stands for (a proxy edge's port → the service it fronts), so `*:5432` catches a
//! connect to the edge proxy in front of port 5432 too. A rule without `path` matches every
//! inet connect but never an AF_UNIX one (local IPC such as a logger's socket).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};
use ospecc_schema::plan::topology::{SyscallAction, SyscallRule};
use serde_json::Value;

use super::names::{self, Subject};
use super::target::{self, SockAddr};
use super::SyscallRules;
use crate::faults::rules::Active;

/// Directories below the system directories that hold ordinary data: `/dev/shm` is a tmpfs
/// services (and tests) keep files in, so its files are faulted like any other.
const DATA_DIRS: &[&str] = &["/dev/shm"];

/// Directories whose files are never faulted unless a rule's glob names them.
const SYSTEM_DIRS: &[&str] = &["/proc", "/sys", "/dev", "/lib", "/lib32", "/lib64", "/usr", "/etc", "/bin", "/sbin"];

/// What a notified syscall is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file path (from a path argument, or the file behind an fd).
    Path(String),
    /// An fd that is not a file: `socket:[123]`, `pipe:[9]`, `anon_inode:[eventfd]`.
    Object(String),
    /// An inet connect/bind destination and the upstream it stands for.
    Inet { addr: SocketAddr, upstream: Option<SocketAddr> },
    /// An AF_UNIX socket path (`@name` when abstract).
    Unix(String),
    /// Another address family.
    OtherFamily(u16),
    /// Nothing to match (the syscall has no subject, or it could not be read).
    Unknown,
}

impl Target {
    /// Reads the target of syscall `name` from the stopped task `tid`.
    pub fn resolve(
        name: &str,
        tid: i32,
        args: &[u64; 6],
        upstream_of: &(dyn Fn(SocketAddr) -> Option<SocketAddr> + Send + Sync),
    ) -> Target {
        match names::subject(name) {
            Subject::Path { path, dirfd } => match target::read_c_string(tid, args[path]) {
                Some(p) => Target::Path(target::absolute_path(tid, p, dirfd.map(|i| args[i]))),
                None => Target::Unknown,
            },
            Subject::Fd => match target::fd_link(tid, args[0]) {
                Some(link) if link.starts_with('/') => Target::Path(link),
                Some(link) => Target::Object(link),
                None => Target::Unknown,
            },
            Subject::SockAddr => match target::read_sockaddr(tid, args[1], args[2]) {
                Some(SockAddr::Inet(addr)) => Target::Inet { addr, upstream: upstream_of(addr) },
                Some(SockAddr::Unix(path)) => Target::Unix(path),
                Some(SockAddr::Other(family)) => Target::OtherFamily(family),
                None => Target::Unknown,
            },
            Subject::Nothing => Target::Unknown,
        }
    }

    /// The `path` event field: a file or unix socket path, or what an fd points at.
    pub fn path(&self) -> Option<&str> {
        match self {
            Target::Path(p) | Target::Object(p) | Target::Unix(p) => Some(p),
            _ => None,
        }
    }

    /// The `dest` event field: an inet destination as `IP:PORT`.
    pub fn dest(&self) -> Option<String> {
        match self {
            Target::Inet { addr, .. } => Some(addr.to_string()),
            _ => None,
        }
    }
}

/// Compiled path globs, kept across decisions (rules come and go; their globs repeat).
#[derive(Default)]
pub struct Globs(HashMap<String, Option<GlobMatcher>>);

impl Globs {
    /// Compiles every glob of `rules` not seen yet.
    fn prepare(&mut self, rules: &[Arc<Active<SyscallRule>>]) {
        for rule in rules {
            if let Some(glob) = &rule.rule.path {
                if !self.0.contains_key(glob) {
                    self.0.insert(glob.clone(), compile(glob));
                }
            }
        }
    }

    /// Whether `glob` matches `text`; a glob that does not compile is compared literally. A
    /// rule installed after [`Globs::prepare`] ran has its glob compiled here, uncached.
    fn is_match(&self, glob: &str, text: &str) -> bool {
        match self.0.get(glob) {
            Some(Some(matcher)) => matcher.is_match(text),
            Some(None) => glob == text,
            None => compile(glob).map_or(glob == text, |m| m.is_match(text)),
        }
    }
}

/// A path glob: `*` crosses `/`, and a trailing `/` means everything below the directory.
fn compile(glob: &str) -> Option<GlobMatcher> {
    let pattern = if glob.ends_with('/') { format!("{glob}**") } else { glob.to_owned() };
    GlobBuilder::new(&pattern).literal_separator(false).build().ok().map(|g| g.compile_matcher())
}

fn system_dir(path: &str) -> Option<&'static str> {
    let below = |dir: &&str| path == *dir || path.strip_prefix(*dir).is_some_and(|r| r.starts_with('/'));
    if DATA_DIRS.iter().any(below) {
        return None;
    }
    SYSTEM_DIRS.iter().copied().find(below)
}

/// Whether a rule's `path` (glob) admits the target.
pub fn path_matches(glob: Option<&str>, target: &Target, globs: &Globs) -> bool {
    match (glob, target) {
        (None, Target::Path(path)) => system_dir(path).is_none(),
        (None, Target::Unix(_)) => false,
        (None, _) => true,
        (Some(glob), Target::Path(path)) => {
            globs.is_match(glob, path) && system_dir(path).is_none_or(|dir| system_dir(glob) == Some(dir))
        }
        (Some(glob), Target::Object(text) | Target::Unix(text)) => globs.is_match(glob, text),
        (Some(glob), Target::Inet { addr, upstream }) => {
            globs.is_match(glob, &addr.to_string()) || upstream.is_some_and(|u| globs.is_match(glob, &u.to_string()))
        }
        (Some(_), Target::OtherFamily(_) | Target::Unknown) => false,
    }
}

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let the kernel run the syscall.
    Continue,
    /// Fail it with this (positive) errno.
    Deny(i32),
    /// Let it run after this long.
    Delay(Duration),
}

/// A decision where a rule fired.
pub struct Fired {
    pub rule: Arc<Active<SyscallRule>>,
    pub verdict: Verdict,
    /// The rule's errno name was unknown (EIO was used instead).
    pub unknown_errno: Option<String>,
}

/// Whether any live rule names syscall `name`: when none does, the call continues without
/// reading anything from the target (the cheap path for intercepted-but-unfaulted calls).
pub fn any_candidate(rules: &[Arc<Active<SyscallRule>>], name: &str) -> bool {
    rules.iter().any(|r| r.rule.syscalls.iter().any(|s| s == name))
}

/// The first rule of `table` that matches and fires on syscall `name` about `target`.
pub fn decide(table: &SyscallRules, globs: &mut Globs, name: &str, target: &Target) -> Option<Fired> {
    globs.prepare(&table.snapshot());
    let globs = &*globs;
    let rule = table
        .first_firing(|r| r.syscalls.iter().any(|s| s == name) && path_matches(r.path.as_deref(), target, globs))?;
    let (verdict, unknown_errno) = match &rule.rule.action {
        SyscallAction::Deny { errno } => match names::errno(errno) {
            Some(e) => (Verdict::Deny(e), None),
            None => (Verdict::Deny(libc::EIO), Some(errno.clone())),
        },
        SyscallAction::Delay { ms } => (Verdict::Delay(Duration::from_millis(*ms)), None),
        SyscallAction::Allow => (Verdict::Continue, None),
    };
    Some(Fired { rule, verdict, unknown_errno })
}

/// The fields of the `syscall` event of a fired decision.
pub fn event_fields(name: &str, tid: u32, target: &Target, fired: &Fired) -> std::collections::BTreeMap<String, Value> {
    let mut f = std::collections::BTreeMap::new();
    f.insert("syscall".to_owned(), Value::from(name));
    f.insert("pid".to_owned(), Value::from(tid));
    let decision = match fired.verdict {
        Verdict::Continue => "allow",
        Verdict::Deny(_) => "deny",
        Verdict::Delay(_) => "delay",
    };
    f.insert("decision".to_owned(), Value::from(decision));
    match fired.verdict {
        Verdict::Deny(errno) => {
            let name = match &fired.rule.rule.action {
                SyscallAction::Deny { errno: name } if fired.unknown_errno.is_none() => name.to_ascii_uppercase(),
                _ => "EIO".to_owned(),
            };
            f.insert("errno".to_owned(), Value::from(name));
            f.insert("errno_code".to_owned(), Value::from(errno));
        }
        Verdict::Delay(d) => {
            f.insert("delay_ms".to_owned(), Value::from(d.as_millis() as u64));
        }
        Verdict::Continue => {}
    }
    if let Some(path) = target.path() {
        f.insert("path".to_owned(), Value::from(path));
    }
    if let Some(dest) = target.dest() {
        f.insert("dest".to_owned(), Value::from(dest));
    }
    if let Target::Inet { upstream: Some(upstream), .. } = target {
        f.insert("upstream".to_owned(), Value::from(upstream.to_string()));
    }
    f.insert("rule".to_owned(), Value::from(fired.rule.id));
    f.insert("scope".to_owned(), Value::from(fired.rule.scope.clone()));
    f.insert("key".to_owned(), Value::from(fired.rule.rule.key.clone()));
    if let Some(label) = &fired.rule.rule.label {
        f.insert("label".to_owned(), Value::from(label.clone()));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(list: &[&str]) -> Globs {
        let mut g = Globs::default();
        for glob in list {
            g.0.insert(glob.to_string(), compile(glob));
        }
        g
    }

    #[test]
    fn paths_and_system_dirs() {
        let g = globs(&["/var/data/*", "/var/data/", "*", "/etc/*"]);
        let p = |s: &str| Target::Path(s.into());
        assert!(path_matches(Some("/var/data/*"), &p("/var/data/a.txt"), &g));
        assert!(path_matches(Some("/var/data/*"), &p("/var/data/sub/a.txt"), &g));
        assert!(path_matches(Some("/var/data/"), &p("/var/data/sub/a.txt"), &g));
        assert!(!path_matches(Some("/var/data/*"), &p("/var/other"), &g));
        assert!(!path_matches(Some("*"), &p("/etc/passwd"), &g), "a glob must name a system dir");
        assert!(path_matches(Some("/etc/*"), &p("/etc/passwd"), &g));
        assert!(!path_matches(None, &p("/usr/lib/libc.so.6"), &g));
        assert!(path_matches(None, &p("/tmp/x"), &g));
        assert!(path_matches(None, &Target::Object("socket:[1]".into()), &g));
        assert!(!path_matches(Some("/var/data/*"), &Target::Unknown, &g));
        assert!(path_matches(Some("/srv/*.db"), &p("/srv/a.db"), &g), "an uncached glob still compiles");
    }

    #[test]
    fn connect_destinations() {
        let g = globs(&["*:15433"]);
        let inet = |a: &str, u: Option<&str>| Target::Inet {
            addr: a.parse().unwrap(),
            upstream: u.map(|u| u.parse().unwrap()),
        };
        assert!(path_matches(None, &inet("127.0.0.1:80", None), &g));
        assert!(!path_matches(None, &Target::Unix("/tmp/s".into()), &g), "unix sockets need a glob");
        assert!(path_matches(Some("*:15433"), &inet("127.0.0.1:15433", None), &g));
        assert!(!path_matches(Some("*:15433"), &inet("127.0.0.1:15434", None), &g));
        assert!(path_matches(Some("*:15433"), &inet("127.0.0.1:40000", Some("127.0.0.1:15433")), &g));
        assert!(path_matches(Some("*:15433"), &inet("[::1]:15433", None), &g));
    }
}
