//! Start order (reference §8.2 items 13 and 22). Faultbox starts services in `depends_on` order
//! without checking it: an unknown name becomes a phantom that is later dereferenced, a cycle
//! silently falls back to name order. And a service whose `env` carries another service's
//! address needs that service started first, which only `depends_on` guarantees.

use std::collections::{BTreeMap, BTreeSet};

use crate::topology::hash::{HashMap, HashSet};
use std::sync::Arc;

use super::{dependencies, interfaces, port, Cx};
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::topology::values::{Arg, Recorded};

pub(super) fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let names: Vec<&str> = cx.services().filter_map(|s| s.name()).collect();
    let known: HashSet<&str> = names.iter().copied().collect();
    // Built once for the file, not once per service: every service's env is matched against
    // the same addresses (minus its own), so a per-service book made the check quadratic.
    let book = AddressBook::of(cx);
    for service in cx.root_services() {
        entries(cx, service, &names, &known, out);
        env_edges(cx, service, &book, out);
    }
    cycles(cx, out);
}

/// Each `depends_on` entry with its span.
fn entry_spans(cx: &Cx, service: &Recorded) -> Vec<(Option<String>, Option<Span>)> {
    let deps = dependencies(service);
    let spans: Vec<Option<Span>> = match cx.value(service, "depends_on") {
        Some(at) => cx.literals.items(at, deps.len()).into_iter().map(Some).collect(),
        None => vec![None; deps.len()],
    };
    deps.into_iter().zip(spans).collect()
}

fn entries(cx: &Cx, service: &Recorded, names: &[&str], known: &HashSet<&str>, out: &mut Vec<Diagnostic>) {
    let own = service.name().unwrap_or("?");
    for (dep, at) in entry_spans(cx, service) {
        let (Some(dep), Some(at)) = (dep, at) else { continue };
        if dep == own {
            out.push(
                Diagnostic::warning("TOP114", at, format!("service `{own}` lists itself in `depends_on`"))
                    .with_help("remove it: a service cannot start before itself (Faultbox treats it as a cycle and falls back to name order)"),
            );
        } else if cx.complete() && !known.contains(dep.as_str()) {
            out.push(unknown(cx, own, &dep, at, names));
        }
    }
}

fn unknown(cx: &Cx, own: &str, dep: &str, at: Span, names: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        "TOP112",
        at,
        format!("`depends_on` of `{own}` names `{dep}`, which is not a declared service"),
    );
    let candidates = names.iter().copied().filter(|n| *n != own);
    match did_you_mean(dep, candidates) {
        Some(best) if cx.literals.is_str(at) => d
            .with_help(format!("did you mean `{best}`?"))
            .with_replacement(format!("depend on `{best}`"), at, format!("{best:?}")),
        _ => d.with_help("declare that service, or fix the name (passing the service value instead of its name lets Starlark catch typos)"),
    }
}

/// Dependency cycles of length two or more, each reported once.
fn cycles(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let mut graph: HashMap<String, Vec<(String, Option<Span>)>> = HashMap::default();
    for service in cx.services() {
        let Some(name) = service.name() else { continue };
        let edges = graph.entry(name.to_owned()).or_default();
        for (dep, at) in entry_spans(cx, service) {
            if let Some(dep) = dep.filter(|d| d != name) {
                edges.push((dep, at));
            }
        }
    }
    let mut starts: Vec<&String> = graph.keys().collect();
    starts.sort();
    // A cycle through a service stays inside its strongly connected component: searching
    // only from services in a component of two or more (and only inside it) finds the same
    // cycles, where a search from every service was quadratic on a long `depends_on` chain.
    let component = components(&graph);
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    for start in starts {
        if covered.contains(start.as_str()) {
            continue;
        }
        let Some(&(own, size)) = component.get(start.as_str()) else { continue };
        if size < 2 {
            continue;
        }
        let within = |node: &str| component.get(node).is_some_and(|&(c, _)| c == own);
        let Some((path, closing)) = shortest_cycle(&graph, start, &within) else { continue };
        report_cycle(&path, closing, out);
        covered.extend(path.iter().filter_map(|n| graph.get_key_value(n.as_str()).map(|(k, _)| k.as_str())));
    }
}

type Graph = HashMap<String, Vec<(String, Option<Span>)>>;

/// The shortest cycle through `start` (breadth-first, so linear per start even on dense
/// graphs), as its nodes from `start` and the span of the edge that closes it.
/// Nodes outside `within` are not searched: a caller passes the start's component, from which
/// no path leaves and comes back, so the result is the one of an unrestricted search.
fn shortest_cycle(graph: &Graph, start: &str, within: &dyn Fn(&str) -> bool) -> Option<(Vec<String>, Option<Span>)> {
    let mut parent: HashMap<&str, &str> = HashMap::default();
    let mut queue: std::collections::VecDeque<&str> = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for (next, at) in graph.get(node).map(Vec::as_slice).unwrap_or_default() {
            if next == start {
                let mut path = vec![node.to_owned()];
                let mut cursor = node;
                while let Some(&up) = parent.get(cursor) {
                    path.push(up.to_owned());
                    cursor = up;
                }
                path.reverse();
                return Some((path, *at));
            }
            if !parent.contains_key(next.as_str()) && graph.contains_key(next) && within(next) {
                parent.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

/// The strongly connected components of the graph (Tarjan's algorithm, iterative): for each
/// node, its component's id and size. Edges to names that are not nodes are ignored.
fn components(graph: &Graph) -> HashMap<&str, (usize, usize)> {
    let mut names: Vec<&str> = graph.keys().map(String::as_str).collect();
    names.sort_unstable();
    let id: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let edges: Vec<Vec<usize>> = names
        .iter()
        .map(|n| graph.get(*n).into_iter().flatten().filter_map(|(next, _)| id.get(next.as_str()).copied()).collect())
        .collect();
    let n = names.len();
    let (mut index, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut component, mut sizes) = (Vec::new(), vec![usize::MAX; n], Vec::new());
    let mut next_index = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, position of the next edge to follow)
        let mut work = vec![(root, 0usize)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut edge)) = work.last_mut() {
            if let Some(&next) = edges[node].get(*edge) {
                *edge += 1;
                if index[next] == usize::MAX {
                    index[next] = next_index;
                    low[next] = next_index;
                    next_index += 1;
                    stack.push(next);
                    on_stack[next] = true;
                    work.push((next, 0));
                } else if on_stack[next] {
                    low[node] = low[node].min(index[next]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                let id = sizes.len();
                let mut size = 0;
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component[member] = id;
                    size += 1;
                    if member == node {
                        break;
                    }
                }
                sizes.push(size);
            }
        }
    }
    names.iter().enumerate().map(|(i, name)| (*name, (component[i], sizes[component[i]]))).collect()
}

fn report_cycle(path: &[String], closing: Option<Span>, out: &mut Vec<Diagnostic>) {
    let Some(at) = closing else { return };
    let chain: Vec<String> = path.iter().chain(path.first()).map(|n| format!("`{n}`")).collect();
    out.push(Diagnostic::warning("TOP113", at, format!("dependency cycle: {}", chain.join(" → "))).with_help(
        "break the cycle: Faultbox cannot order these services and silently starts them in name order instead",
    ));
}

/// Services whose `env` embeds another service's address but which do not depend on it.
fn env_edges(cx: &Cx, service: &Arc<Recorded>, book: &AddressBook, out: &mut Vec<Diagnostic>) {
    let Some(Arg::Dict(env)) = service.named("env") else { return };
    let Some(own) = service.name() else { return };
    let depends: Vec<String> = dependencies(service).into_iter().flatten().collect();
    let spans = match cx.value(service, "env") {
        Some(at) => cx.literals.entries(at, env.len()),
        None => return,
    };
    let mut reported: Vec<&str> = Vec::new();
    for ((key, value), (_, value_span)) in env.iter().zip(spans) {
        let (Some(key), Some(value)) = (key.as_str(), value.as_str()) else { continue };
        for target in book.mentioned(value, own) {
            if depends.iter().any(|d| d == target) || reported.contains(&target) {
                continue;
            }
            reported.push(target);
            out.push(missing_edge(cx, service, own, key, target, value_span));
        }
    }
}

fn missing_edge(cx: &Cx, service: &Recorded, own: &str, key: &str, target: &str, at: Span) -> Diagnostic {
    let d = Diagnostic::warning(
        "TOP124",
        at,
        format!("`{own}` reads the address of `{target}` (env `{key}`) but does not list `{target}` in `depends_on`"),
    )
    .with_help(format!(
        "add `{target}` to `depends_on` of `{own}`: without it Faultbox may start `{own}` before `{target}` is up"
    ));
    match dependency_insertion(cx, service, target) {
        Some((span, text)) => d.with_replacement(format!("add `{target}` to `depends_on`"), span, text),
        None => d,
    }
}

/// Where and what to insert to add `target` to the service's `depends_on` list literal, or a
/// new `depends_on=` before `env=`.
fn dependency_insertion(cx: &Cx, service: &Recorded, target: &str) -> Option<(Span, String)> {
    let quoted = format!("{target:?}");
    match cx.value(service, "depends_on") {
        Some(list) => match cx.literals.list_items(list)? {
            [] => Some((Span::at(list.start + 1), quoted)),
            items => Some((Span::at(items.last()?.end), format!(", {quoted}"))),
        },
        None => {
            let env = cx.keyword(service, "env")?;
            Some((Span::at(env.start), format!("depends_on=[{quoted}], ")))
        }
    }
}

/// The address forms the services' interfaces have at load: `localhost:PORT` (`.addr`, a
/// binary's `.internal_addr`), `NAME:PORT` (a container's `.internal_addr`), and the
/// late-bound proxy placeholders. A port two services declare points at neither.
struct AddressBook<'c> {
    /// (token, service), in a fixed order: each service's `NAME:PORT` forms and placeholders in
    /// declaration order, then the `localhost`/`127.0.0.1` forms by port.
    tokens: Vec<(String, &'c str)>,
    /// The indexes into `tokens` of the `host:PORT` forms, by their port as written after `:`.
    by_port: HashMap<String, Vec<usize>>,
    /// The indexes of the placeholders (`__FB_PROXY_…`).
    placeholders: Vec<usize>,
}

const PLACEHOLDER_PREFIX: &str = "__FB_PROXY_";

impl<'c> AddressBook<'c> {
    fn of(cx: &'c Cx) -> AddressBook<'c> {
        // Ordered by port so the book (and the order of findings in one value) is the same
        // on every run.
        let mut owners_by_port: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
        let mut book = AddressBook { tokens: Vec::new(), by_port: HashMap::default(), placeholders: Vec::new() };
        for service in cx.services() {
            let Some(name) = service.name() else { continue };
            for iface in interfaces(service) {
                if let Some(p) = port(iface) {
                    owners_by_port.entry(p).or_default().insert(name);
                    book.push_address(format!("{name}:{p}"), p, name);
                }
            }
            for placeholder in ["ADDR", "HOST", "PORT"] {
                book.placeholders.push(book.tokens.len());
                book.tokens.push((format!("{PLACEHOLDER_PREFIX}{placeholder}_{name}__"), name));
            }
        }
        for (p, owners) in owners_by_port {
            let mut owners = owners.into_iter();
            if let (Some(owner), None) = (owners.next(), owners.next()) {
                book.push_address(format!("localhost:{p}"), p, owner);
                book.push_address(format!("127.0.0.1:{p}"), p, owner);
            }
        }
        book
    }

    fn push_address(&mut self, token: String, port: i64, name: &'c str) {
        self.by_port.entry(port.to_string()).or_default().push(self.tokens.len());
        self.tokens.push((token, name));
    }

    /// The services other than `own` whose addresses occur in `value` (as whole host:port
    /// tokens), in book order. Only the tokens that can occur are searched for: a `host:PORT`
    /// token needs `:PORT` in the value with no digit after it (the port is exactly the digits
    /// written after a colon), a placeholder needs the placeholder prefix.
    fn mentioned(&self, value: &str, own: &str) -> Vec<&'c str> {
        let mut candidates: Vec<usize> = Vec::new();
        for port in ports_after_colons(value) {
            if let Some(indexes) = self.by_port.get(port) {
                candidates.extend(indexes);
            }
        }
        if value.contains(PLACEHOLDER_PREFIX) {
            candidates.extend(&self.placeholders);
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut found: Vec<&str> = Vec::new();
        for (token, name) in candidates.into_iter().map(|i| &self.tokens[i]) {
            if *name != own && occurs(value, token) && !found.contains(name) {
                found.push(name);
            }
        }
        found
    }
}

/// What follows each `:` of `text` as a port would be written: an optional `-` and the whole
/// run of digits after it (a `host:PORT` token ends right after its digits, or it is glued to
/// a longer port).
fn ports_after_colons(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices(':').filter_map(|(i, _)| {
        let rest = &text[i + 1..];
        let sign = usize::from(rest.starts_with('-'));
        let digits = rest[sign..].bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0).then(|| &rest[..sign + digits])
    })
}

/// Whether `token` occurs in `text` not glued to a longer host name or port.
fn occurs(text: &str, token: &str) -> bool {
    text.match_indices(token).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + token.len()..].chars().next();
        let host_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        // A placeholder ends in `__` and is followed by the interface name; an address must
        // not run on into a longer port (`localhost:80` inside `localhost:8080`).
        let glued_port = after.is_some_and(|c| c.is_ascii_digit()) && !token.ends_with("__");
        !before.is_some_and(host_char) && !glued_port
    })
}
