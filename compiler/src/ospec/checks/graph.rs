//! Named things that reference each other: tasks, services, phases, environments.
//!
//! One engine, driven by the [`GRAPHS`] table: names are unique, every reference resolves
//! (with a did-you-mean), and the reference graph has no cycle (the cycle is named).

use std::collections::HashMap;

use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::suggest::did_you_mean;
use crate::syntax::yaml::{Node, Value};

/// How the named things are laid out under their root key.
pub enum Shape {
    /// A sequence of objects named by `id_key` (`tasks: [{id: a}, …]`).
    Seq { id_key: &'static str },
    /// A mapping from name to object (`services: {api: {…}}`).
    Map,
}

/// One kind of named thing and the keys through which its members reference each other.
pub struct GraphSpec {
    /// Singular, for messages ("task").
    pub what: &'static str,
    pub root_key: &'static str,
    pub shape: Shape,
    pub ref_keys: &'static [&'static str],
}

pub const GRAPHS: &[GraphSpec] = &[
    GraphSpec { what: "task", root_key: "tasks", shape: Shape::Seq { id_key: "id" }, ref_keys: &["dependencies"] },
    GraphSpec { what: "service", root_key: "services", shape: Shape::Map, ref_keys: &["dependencies", "depends_on"] },
    GraphSpec { what: "phase", root_key: "phases", shape: Shape::Map, ref_keys: &["depends_on", "dependencies"] },
    GraphSpec {
        what: "environment",
        root_key: "environments",
        shape: Shape::Map,
        ref_keys: &["extends", "inherits", "depends_on"],
    },
];

/// A member: its name, where the name is written, and its outgoing references.
struct Member<'a> {
    name: &'a str,
    span: Span,
    refs: Vec<(&'a str, Span)>,
}

/// Runs every graph of [`GRAPHS`] over the document.
pub fn check(root: &Node, out: &mut Vec<Diagnostic>) {
    for spec in GRAPHS {
        if let Some(collection) = root.field(spec.root_key) {
            check_graph(spec, collection, out);
        }
    }
}

fn check_graph(spec: &GraphSpec, collection: &Node, out: &mut Vec<Diagnostic>) {
    let members = collect_members(spec, collection);
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, member) in members.iter().enumerate() {
        if let Some(&first) = index.get(member.name) {
            out.push(duplicate(spec, member, &members[first]));
        } else {
            index.insert(member.name, i);
        }
    }
    for member in &members {
        for &(target, span) in &member.refs {
            if !index.contains_key(target) {
                out.push(unknown_reference(spec, member.name, target, span, index.keys().copied()));
            }
        }
    }
    for cycle in find_cycles(&members, &index) {
        out.push(cycle_diagnostic(spec, &members, &cycle));
    }
}

fn collect_members<'a>(spec: &GraphSpec, collection: &'a Node) -> Vec<Member<'a>> {
    let named: Vec<(&'a str, Span, &'a Node)> = match (&spec.shape, &collection.value) {
        (Shape::Seq { id_key }, Value::Seq(items)) => items
            .iter()
            .filter_map(|item| {
                let id = item.field(id_key)?;
                Some((id.as_str()?, id.span, item))
            })
            .collect(),
        (Shape::Map, Value::Map(entries)) => {
            entries.iter().filter_map(|e| Some((e.key.as_str()?, e.key.span, &e.value))).collect()
        }
        _ => Vec::new(),
    };
    named.into_iter().map(|(name, span, node)| Member { name, span, refs: references(spec, node) }).collect()
}

/// The names a member references: a string or a list of strings under any `ref_keys`.
fn references<'a>(spec: &GraphSpec, node: &'a Node) -> Vec<(&'a str, Span)> {
    let mut refs = Vec::new();
    for key in spec.ref_keys {
        match node.field(key).map(|n| &n.value) {
            Some(Value::String(s)) => refs.push((s.as_str(), node.field(key).map(|n| n.span).unwrap_or_default())),
            Some(Value::Seq(items)) => refs.extend(items.iter().filter_map(|i| Some((i.as_str()?, i.span)))),
            _ => {}
        }
    }
    refs
}

fn duplicate(spec: &GraphSpec, member: &Member, first: &Member) -> Diagnostic {
    Diagnostic::error("OSP200", member.span, format!("duplicate {} id `{}`", spec.what, member.name))
        .with_label(first.span, "first defined here")
        .with_help(format!("give each {} a unique id; references to `{}` are ambiguous", spec.what, member.name))
}

fn unknown_reference<'a>(
    spec: &GraphSpec,
    from: &str,
    target: &str,
    span: Span,
    known: impl Iterator<Item = &'a str>,
) -> Diagnostic {
    let mut known: Vec<&str> = known.collect();
    known.sort_unstable();
    let suggestion = did_you_mean(target, known.iter().copied());
    let diagnostic = Diagnostic::error(
        "OSP201",
        span,
        format!("{} `{from}` depends on `{target}`, which is not a {} in `{}`", spec.what, spec.what, spec.root_key),
    );
    match suggestion {
        Some(name) => diagnostic.with_help(format!("did you mean `{name}`?")).with_replacement(
            format!("replace with `{name}`"),
            span,
            format!("\"{name}\""),
        ),
        None if known.is_empty() => diagnostic.with_help(format!("`{}` defines no {}s", spec.root_key, spec.what)),
        None => diagnostic.with_help(format!("known {}s: {}", spec.what, known.join(", "))),
    }
}

/// Every elementary cycle found by a depth-first search, each reported once, as member indices
/// in order (the last member references the first).
fn find_cycles(members: &[Member], index: &HashMap<&str, usize>) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let edges: Vec<Vec<usize>> =
        members.iter().map(|m| m.refs.iter().filter_map(|(t, _)| index.get(t).copied()).collect()).collect();
    let mut marks = vec![Mark::New; members.len()];
    let mut cycles = Vec::new();
    for start in 0..members.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next edge to follow); `path` mirrors the stack.
        let mut stack = vec![(start, 0usize)];
        let mut path = vec![start];
        marks[start] = Mark::OnStack;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&target) = edges[node].get(*next) {
                *next += 1;
                match marks[target] {
                    Mark::New => {
                        marks[target] = Mark::OnStack;
                        stack.push((target, 0));
                        path.push(target);
                    }
                    Mark::OnStack => {
                        let from = path.iter().position(|&n| n == target).unwrap_or(0);
                        cycles.push(path[from..].to_vec());
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                stack.pop();
                path.pop();
            }
        }
    }
    cycles
}

fn cycle_diagnostic(spec: &GraphSpec, members: &[Member], cycle: &[usize]) -> Diagnostic {
    let names: Vec<&str> = cycle.iter().map(|&i| members[i].name).collect();
    let last = &members[cycle[cycle.len() - 1]];
    let first_name = names[0];
    let closing = last.refs.iter().find(|(t, _)| *t == first_name).map(|&(_, s)| s).unwrap_or(last.span);
    if cycle.len() == 1 {
        return Diagnostic::error("OSP202", closing, format!("{} `{first_name}` depends on itself", spec.what))
            .with_help("remove the self-reference");
    }
    let mut chain = names.join(" → ");
    chain.push_str(" → ");
    chain.push_str(first_name);
    let mut diagnostic = Diagnostic::error("OSP202", closing, format!("{} dependency cycle: {chain}", spec.what))
        .with_help(format!(
            "a {} cannot (even indirectly) depend on itself; remove one of these references",
            spec.what
        ));
    for pair in cycle.windows(2) {
        let (from, to) = (&members[pair[0]], members[pair[1]].name);
        if let Some(&(_, span)) = from.refs.iter().find(|(t, _)| *t == to) {
            diagnostic = diagnostic.with_label(span, format!("`{}` depends on `{to}`", from.name));
        }
    }
    diagnostic
}
