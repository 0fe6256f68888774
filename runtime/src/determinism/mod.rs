//! Determinism mode (`determinism()`, `service(nondeterministic_ok=[...])`,
//! `--strict-determinism`): the I/O a service performs that the run does not mediate, and so
//! cannot reproduce, reported as `unmediated_io` events (category, syscall, pid, detail) and,
//! under strict mode, failing the test unless the spec or the service tolerates the category.
//!
//! The categories and the syscalls each is seen in are the catalog's `nondeterminism_category`
//! vocabulary (its values' `members`). Under detection every local process the run starts
//! (unless `seccomp=False`) gets a seccomp filter that also notifies those syscalls, and its
//! supervisor asks the [`Detector`] about each: a raw clock read or `getrandom` is a leak as
//! such (but for the C library's malloc key); an open is one when it opens a randomness device; a `connect` when no declared
//! interface (by port, as Faultbox matches) or proxy edge serves its destination (`dns` when
//! the port is 53); a `socket` when it is raw or packet. What seccomp cannot see — clock reads
//! through the vDSO, the usual path of `clock_gettime` and `gettimeofday` — is not reported
//! (docs/run.md).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use ospecc_compiler::topology::{Arg, Evaluated};
use ospecc_schema::plan::Plan;
use ospecc_schema::topology::catalog;
use serde_json::Value;

use crate::events::Event;
use crate::seccomp::names;
use crate::seccomp::target::{self, SockAddr};

/// The catalog vocabulary of categories (values) and the syscalls each is seen in (members).
const VOCABULARY: &str = "nondeterminism_category";
/// The level at which leaks are detected (`determinism(level=)`; L0 detects nothing).
const DETECTING_LEVEL: &str = "L1";
/// glibc's malloc key draw: `getrandom(buf, 8, GRND_NONBLOCK)`.
const ALLOCATOR_KEY: (u64, u64) = (8, libc::GRND_NONBLOCK as u64);
/// Files whose opening reads randomness.
const RANDOM_DEVICES: &[&str] = &["/dev/urandom", "/dev/random"];
/// The port of wire DNS.
const DNS_PORT: u16 = 53;

/// What a call of a category's syscall must show to be that category's leak (a syscall not
/// listed here is a leak whenever it is made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evidence {
    /// The path opened is a randomness device.
    RandomDevice,
    /// An inet destination on the DNS port that nothing declared serves.
    DnsDestination,
    /// An inet destination that nothing declared serves.
    UnservedDestination,
    /// A raw or packet socket.
    RawSocket,
    /// Random bytes a program asked for, not the C library's own: glibc (2.34 on) draws its
    /// malloc hardening key, which nothing can observe, with `getrandom(8 bytes,
    /// GRND_NONBLOCK)` at every program's start.
    ProgramRandomness,
}

const EVIDENCE: &[(&str, &str, Evidence)] = &[
    ("rand", "getrandom", Evidence::ProgramRandomness),
    ("rand", "open", Evidence::RandomDevice),
    ("rand", "openat", Evidence::RandomDevice),
    ("dns", "connect", Evidence::DnsDestination),
    ("network-unmediated", "connect", Evidence::UnservedDestination),
    ("network-unmediated", "socket", Evidence::RawSocket),
];

/// A spec's determinism settings, from the topology evaluated for the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Whether services are watched for leaks: `determinism()` at L1, or `--strict-determinism`.
    pub detect: bool,
    /// Whether a leak nobody tolerates fails the test.
    pub strict: bool,
    /// `determinism(allow=[...])`: tolerated for every service.
    allow: BTreeSet<String>,
    /// `service(nondeterministic_ok=[...])`, by service name.
    tolerated: BTreeMap<String, BTreeSet<String>>,
}

impl Settings {
    /// The settings of the evaluated topology; `strict_flag` is `--strict-determinism[=BOOL]`,
    /// which overrides the spec's `strict=` (and, when true, watches even without
    /// `determinism()`).
    pub fn of(evaluated: &Evaluated, strict_flag: Option<bool>) -> Settings {
        let call = evaluated.calls.iter().rev().find(|c| c.builtin == "determinism");
        let level = call.and_then(|c| c.named("level")).and_then(Arg::as_str).map_or_else(default_level, str::to_owned);
        let declared = call.is_some() && level == DETECTING_LEVEL;
        let spec_strict = declared && !matches!(call.and_then(|c| c.named("strict")), Some(Arg::Bool(false)));
        let mut tolerated = BTreeMap::new();
        // The last declaration of a name wins, as it does for the services themselves.
        for service in evaluated.services() {
            if let Some(name) = service.name() {
                tolerated.insert(name.to_owned(), strings(service.named("nondeterministic_ok")));
            }
        }
        Settings {
            detect: declared || strict_flag == Some(true),
            strict: strict_flag.unwrap_or(spec_strict),
            allow: strings(call.and_then(|c| c.named("allow"))),
            tolerated,
        }
    }

    /// Whether `service` may do I/O of `category` even under strict mode.
    pub fn tolerates(&self, service: &str, category: &str) -> bool {
        self.allow.contains(category) || self.tolerated.get(service).is_some_and(|ok| ok.contains(category))
    }

    /// Under strict mode, the failure of a test whose events are `events`: the first
    /// `unmediated_io` nobody tolerates, said with the ways out.
    pub fn violation(&self, events: &[Event]) -> Option<String> {
        if !self.strict {
            return None;
        }
        let text = |event: &Event, key: &str| event.fields.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        let leak = events
            .iter()
            .filter(|e| e.kind == "unmediated_io")
            .find(|e| !self.tolerates(&e.service, &text(e, "category")))?;
        let (service, category) = (&leak.service, text(leak, "category"));
        let detail =
            Some(text(leak, "detail")).filter(|d| !d.is_empty()).map(|d| format!(" on {d}")).unwrap_or_default();
        Some(format!(
            "strict determinism: service `{service}` did unmediated I/O of category `{category}` ({}{detail}); \
             tolerate it with determinism(allow=[\"{category}\"]) or service(\"{service}\", \
             nondeterministic_ok=[\"{category}\"]), or route it through a declared interface",
            text(leak, "syscall")
        ))
    }
}

/// `determinism(level=)`'s default, as the catalog states it (a Starlark string literal).
fn default_level() -> String {
    catalog()
        .builtin("determinism")
        .and_then(|b| b.params.iter().find(|p| p.name == "level"))
        .and_then(|p| p.default.as_deref())
        .map_or_else(|| DETECTING_LEVEL.to_owned(), |d| d.trim_matches('"').to_owned())
}

/// The strings of a list argument.
fn strings(arg: Option<&Arg>) -> BTreeSet<String> {
    match arg {
        Some(Arg::List(items) | Arg::Tuple(items)) => items.iter().filter_map(Arg::as_str).map(str::to_owned).collect(),
        _ => BTreeSet::new(),
    }
}

/// A leak found in one notified syscall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    pub category: String,
    /// What it was about: a destination, a device, a socket kind.
    pub detail: Option<String>,
}

/// What a lifecycle's seccomp supervisors ask about each watched syscall.
#[derive(Debug, Clone)]
pub struct Detector {
    /// `(category, syscalls)` in catalog order.
    categories: Vec<(String, Vec<String>)>,
    /// Every port a declared interface listens on (or a container publishes).
    declared: BTreeSet<u16>,
}

impl Detector {
    /// The detector for `plan`'s services.
    pub fn new(plan: &Plan) -> Detector {
        let interfaces = plan.services.iter().flat_map(|s| s.interfaces.iter().filter_map(|i| i.port));
        let published = plan.services.iter().flat_map(|s| s.ports.iter().map(|p| p.host));
        Detector::serving(interfaces.chain(published).collect())
    }

    /// The detector for services whose declared interfaces listen on `declared`.
    fn serving(declared: BTreeSet<u16>) -> Detector {
        let categories = catalog()
            .vocabulary(VOCABULARY)
            .map(|v| v.values.iter().map(|c| (c.value.clone(), c.members.clone())).collect())
            .unwrap_or_default();
        Detector { categories, declared }
    }

    /// The syscalls to notify (those this architecture has).
    pub fn syscalls(&self) -> Vec<String> {
        let all: BTreeSet<&String> = self.categories.iter().flat_map(|(_, members)| members).collect();
        all.into_iter().filter(|name| names::number(name).is_some()).cloned().collect()
    }

    /// Whether syscall `name` may be a leak.
    pub fn watches(&self, name: &str) -> bool {
        self.categories.iter().any(|(_, members)| members.iter().any(|m| m == name))
    }

    /// The leak syscall `name` of task `tid` (stopped in it, with `args`) is, if any: the first
    /// category, in catalog order, whose evidence the call shows.
    pub fn classify(
        &self,
        name: &str,
        tid: i32,
        args: &[u64; 6],
        upstream_of: &(dyn Fn(SocketAddr) -> Option<SocketAddr> + Send + Sync),
    ) -> Option<Leak> {
        let mut facts = Facts { name, tid, args, upstream_of, declared: &self.declared, sockaddr: None };
        for (category, members) in &self.categories {
            if !members.iter().any(|m| m == name) {
                continue;
            }
            let evidence = EVIDENCE.iter().find(|(c, s, _)| c == category && *s == name).map(|&(_, _, e)| e);
            let found = match evidence {
                None => Some(None),
                Some(evidence) => facts.shows(evidence),
            };
            if let Some(detail) = found {
                return Some(Leak { category: category.clone(), detail });
            }
        }
        None
    }
}

/// What a notified call shows, read from the stopped task once.
struct Facts<'a> {
    name: &'a str,
    tid: i32,
    args: &'a [u64; 6],
    upstream_of: &'a (dyn Fn(SocketAddr) -> Option<SocketAddr> + Send + Sync),
    declared: &'a BTreeSet<u16>,
    sockaddr: Option<Option<SockAddr>>,
}

impl Facts<'_> {
    /// `Some(detail)` when the call shows `evidence`.
    fn shows(&mut self, evidence: Evidence) -> Option<Option<String>> {
        match evidence {
            Evidence::RandomDevice => {
                let names::Subject::Path { path, dirfd } = names::subject(self.name) else { return None };
                let opened = target::read_c_string(self.tid, self.args[path])?;
                let opened = target::absolute_path(self.tid, opened, dirfd.map(|i| self.args[i]));
                RANDOM_DEVICES.contains(&opened.as_str()).then_some(Some(opened))
            }
            Evidence::DnsDestination => self.unserved().filter(|a| a.port() == DNS_PORT).map(|a| Some(a.to_string())),
            Evidence::UnservedDestination => self.unserved().map(|a| Some(a.to_string())),
            Evidence::RawSocket => raw_socket(self.args[0], self.args[1]).map(|kind| Some(kind.to_owned())),
            Evidence::ProgramRandomness => ((self.args[1], self.args[2]) != ALLOCATOR_KEY).then_some(None),
        }
    }

    /// The call's inet destination when no declared interface or proxy edge serves it.
    fn unserved(&mut self) -> Option<SocketAddr> {
        let (tid, args) = (self.tid, self.args);
        let read = self.sockaddr.get_or_insert_with(|| target::read_sockaddr(tid, args[1], args[2]));
        let Some(SockAddr::Inet(addr)) = read else { return None };
        let served = self.declared.contains(&addr.port()) || (self.upstream_of)(*addr).is_some();
        (!served).then_some(*addr)
    }
}

/// `AF_PACKET` or `SOCK_RAW` for `socket(family, type, _)` arguments that make one.
fn raw_socket(family: u64, kind: u64) -> Option<&'static str> {
    // The type carries SOCK_NONBLOCK and SOCK_CLOEXEC in its upper bits.
    if family as i32 == libc::AF_PACKET {
        return Some("AF_PACKET");
    }
    (kind as i32 & 0xf == libc::SOCK_RAW).then_some("SOCK_RAW")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap as Map;

    fn event(service: &str, category: &str) -> Event {
        let fields: Map<String, Value> =
            [("category".to_owned(), Value::from(category)), ("syscall".to_owned(), Value::from("clock_gettime"))]
                .into_iter()
                .collect();
        Event { seq: 0, at_ms: 0.0, service: service.into(), kind: "unmediated_io".into(), fields }
    }

    fn settings(strict: bool, allow: &[&str], ok: &[(&str, &[&str])]) -> Settings {
        Settings {
            detect: true,
            strict,
            allow: allow.iter().map(|s| s.to_string()).collect(),
            tolerated: ok.iter().map(|(s, c)| (s.to_string(), c.iter().map(|c| c.to_string()).collect())).collect(),
        }
    }

    #[test]
    fn strict_mode_fails_on_the_first_leak_nobody_tolerates() {
        let events = [event("api", "clock"), event("api", "rand"), event("db", "dns")];
        let all_ok = settings(true, &["clock"], &[("api", &["rand"]), ("db", &["dns"])]);
        assert_eq!(all_ok.violation(&events), None);
        let strict = settings(true, &["clock"], &[("db", &["dns"])]);
        let message = strict.violation(&events).unwrap();
        assert!(message.contains("service `api`") && message.contains("category `rand`"), "{message}");
        assert!(message.contains("nondeterministic_ok=[\"rand\"]"), "{message}");
        assert_eq!(settings(false, &[], &[]).violation(&events), None, "not strict: reported only");
    }

    #[test]
    fn the_categories_and_their_syscalls_come_from_the_catalog() {
        let detector = Detector::serving(BTreeSet::new());
        let names: Vec<&str> = detector.categories.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["clock", "rand", "dns", "network-unmediated", "fs-unmediated"]);
        let watched = detector.syscalls();
        for name in ["clock_gettime", "getrandom", "openat", "connect", "socket"] {
            assert!(watched.iter().any(|w| w == name), "{name} in {watched:?}");
        }
        for (category, syscall, _) in EVIDENCE {
            let members = &detector.categories.iter().find(|(c, _)| c == category).unwrap().1;
            assert!(members.iter().any(|m| m == syscall), "{category}/{syscall} has evidence but is not watched");
        }
        assert!(detector.watches("clock_gettime") && !detector.watches("write"));
    }

    /// Calls made by this process, read back from its own memory as from a stopped task.
    #[test]
    fn calls_are_classified_by_what_they_show() {
        let detector = Detector::serving([8080].into_iter().collect());
        let me = std::process::id() as i32;
        let edge = |addr: SocketAddr| (addr.port() == 40000).then(|| "127.0.0.1:8080".parse().unwrap());
        let connect = |addr: [u8; 4], port: u16| {
            let mut raw = [0u8; 16];
            raw[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            raw[2..4].copy_from_slice(&port.to_be_bytes());
            raw[4..8].copy_from_slice(&addr);
            let leak = detector.classify("connect", me, &[3, raw.as_ptr() as u64, 16, 0, 0, 0], &edge);
            leak.map(|l| (l.category, l.detail.unwrap_or_default()))
        };
        assert_eq!(connect([127, 0, 0, 1], 8080), None, "a declared interface");
        assert_eq!(connect([127, 0, 0, 1], 40000), None, "a proxy edge");
        assert_eq!(connect([8, 8, 8, 8], 53), Some(("dns".into(), "8.8.8.8:53".into())));
        assert_eq!(connect([127, 0, 0, 1], 19999), Some(("network-unmediated".into(), "127.0.0.1:19999".into())));
        let open = |path: &str| {
            let path = std::ffi::CString::new(path).unwrap();
            let at_cwd = libc::AT_FDCWD as u32 as u64;
            detector.classify("openat", me, &[at_cwd, path.as_ptr() as u64, 0, 0, 0, 0], &edge).map(|l| l.category)
        };
        assert_eq!(open("/dev/urandom").as_deref(), Some("rand"));
        assert_eq!(open("/tmp/data"), None);
        let clock = detector.classify("clock_gettime", me, &[0; 6], &edge).map(|l| l.category);
        assert_eq!(clock.as_deref(), Some("clock"));
        let random = |len: u64, flags: u64| detector.classify("getrandom", me, &[0, len, flags, 0, 0, 0], &edge);
        assert_eq!(random(16, 0).map(|l| l.category).as_deref(), Some("rand"));
        assert_eq!(random(8, libc::GRND_NONBLOCK as u64), None, "glibc's malloc key");
        let stream =
            detector.classify("socket", me, &[libc::AF_INET as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0], &edge);
        assert_eq!(stream, None);
    }

    #[test]
    fn raw_and_packet_sockets() {
        assert_eq!(raw_socket(libc::AF_PACKET as u64, libc::SOCK_DGRAM as u64), Some("AF_PACKET"));
        let raw = (libc::SOCK_RAW | libc::SOCK_CLOEXEC) as u64;
        assert_eq!(raw_socket(libc::AF_INET as u64, raw), Some("SOCK_RAW"));
        assert_eq!(raw_socket(libc::AF_INET as u64, (libc::SOCK_STREAM | libc::SOCK_NONBLOCK) as u64), None);
    }
}
