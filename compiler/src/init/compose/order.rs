//! `depends_on` and the start order. A topology file names a service's variable only after
//! binding it, so every service is written after the services it depends on and the ones
//! its environment references. A `depends_on` cycle is an error (Compose refuses it too); a
//! reference that would close a cycle stays text, with a warning.

use super::super::{Part, Service};
use super::values::{scalar, Reader};
use super::Raw;

/// The order to write the services in (indices into `services`), or `None` after a cycle.
pub fn start_order(raws: &[Raw], services: &mut [Service], reader: &mut Reader) -> Option<Vec<usize>> {
    let n = services.len();
    // after[i] = the services i must come after.
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, raw) in raws.iter().enumerate() {
        for (name, span) in depends_on(raw, reader) {
            match raws.iter().position(|r| r.name == name) {
                Some(j) if j != i => {
                    after[i].push(j);
                    services[i].depends_on.push(name);
                }
                Some(_) => reader.warning("INI003", span, format!("`{name}` cannot depend on itself; ignored")),
                None => reader.warning(
                    "INI005",
                    span,
                    format!("`depends_on` names `{name}`, which is not a service of the generated spec; ignored"),
                ),
            }
        }
    }
    if let Some(cycle) = find_cycle(&after) {
        let names: Vec<&str> = cycle.iter().map(|&i| raws[i].name.as_str()).collect();
        let first = cycle[0];
        reader.error(
            "INI004",
            raws[first].name_span,
            format!("`depends_on` makes a cycle: {} -> {}", names.join(" -> "), names[0]),
        );
        return None;
    }
    for i in 0..n {
        keep_acyclic_references(i, services, &mut after, raws, reader);
    }
    Some(topological(&after))
}

/// The names in a service's `depends_on` (list, or mapping with conditions), with spans.
fn depends_on(raw: &Raw, reader: &mut Reader) -> Vec<(String, crate::Span)> {
    let Some(node) = raw.node.field("depends_on") else { return Vec::new() };
    if let Some(items) = node.as_seq() {
        return items.iter().filter_map(|item| scalar(item, reader.text).map(|name| (name, item.span))).collect();
    }
    if let Some(entries) = node.as_map() {
        return entries.iter().map(|e| (e.key_text(), e.key.span)).collect();
    }
    reader.warning("INI003", node.span, "`depends_on` should be a list or a mapping; it is ignored");
    Vec::new()
}

/// Adds the order constraints of service `i`'s references; one that would close a cycle
/// is turned back into text.
fn keep_acyclic_references(
    i: usize,
    services: &mut [Service],
    after: &mut [Vec<usize>],
    raws: &[Raw],
    reader: &mut Reader,
) {
    let mut env = std::mem::take(&mut services[i].env);
    for variable in &mut env {
        for part in &mut variable.parts {
            let Part::Ref { service, interface, attribute } = part else { continue };
            let Some(j) = services.iter().position(|s| s.name == *service) else { continue };
            if reaches(after, j, i) {
                let text = format!("{service}:{}", port_of(&services[j], interface));
                reader.warning(
                    "INI005",
                    raws[i].name_span,
                    format!(
                        "`{}` of `{}` names `{service}`, which starts after `{}`: left as text (`{attribute}` would \
                         need `{service}` declared first)",
                        variable.name, raws[i].name, raws[i].name
                    ),
                );
                *part = Part::Text(text);
            } else {
                // The runtime starts a service after its `depends_on`: one whose address is read
                // at start must be up by then (TOP124).
                if !after[i].contains(&j) {
                    after[i].push(j);
                }
                if !services[i].depends_on.contains(service) {
                    services[i].depends_on.push(service.clone());
                }
            }
        }
        merge_text(&mut variable.parts);
    }
    services[i].env = env;
}

fn port_of(service: &Service, interface: &str) -> u16 {
    service.interfaces.iter().find(|i| i.name == interface).map_or(0, |i| i.port)
}

/// Joins adjacent text parts (after a reference went back to text).
fn merge_text(parts: &mut Vec<Part>) {
    let mut merged: Vec<Part> = Vec::with_capacity(parts.len());
    for part in parts.drain(..) {
        match (merged.last_mut(), part) {
            (Some(Part::Text(previous)), Part::Text(text)) => previous.push_str(&text),
            (_, part) => merged.push(part),
        }
    }
    *parts = merged;
}

/// Whether `from` must (transitively) come after `to`.
fn reaches(after: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut stack = vec![from];
    let mut seen = vec![false; after.len()];
    while let Some(node) = stack.pop() {
        if node == to {
            return true;
        }
        if std::mem::replace(&mut seen[node], true) {
            continue;
        }
        stack.extend(after[node].iter().copied());
    }
    false
}

/// A cycle of `after`, as the services on it in order, if there is one.
fn find_cycle(after: &[Vec<usize>]) -> Option<Vec<usize>> {
    for start in 0..after.len() {
        for &next in &after[start] {
            if let Some(mut path) = path(after, next, start) {
                path.insert(0, start);
                path.pop();
                return Some(path);
            }
        }
    }
    None
}

/// A path from `from` to `to` along `after`, both ends included.
fn path(after: &[Vec<usize>], from: usize, to: usize) -> Option<Vec<usize>> {
    let mut previous: Vec<Option<usize>> = vec![None; after.len()];
    let mut seen = vec![false; after.len()];
    let mut queue = std::collections::VecDeque::from([from]);
    seen[from] = true;
    while let Some(node) = queue.pop_front() {
        if node == to {
            let mut path = vec![to];
            let mut at = to;
            while let Some(p) = previous[at] {
                path.push(p);
                at = p;
            }
            path.reverse();
            return Some(path);
        }
        for &next in &after[node] {
            if !std::mem::replace(&mut seen[next], true) {
                previous[next] = Some(node);
                queue.push_back(next);
            }
        }
    }
    None
}

/// Kahn's order, taking the earliest service written whenever several are ready (so a file
/// that is already in order keeps its order).
fn topological(after: &[Vec<usize>]) -> Vec<usize> {
    let n = after.len();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let ready = (0..n).find(|&i| !placed[i] && after[i].iter().all(|&j| placed[j]));
        // Acyclic by construction; should that ever fail, the rest keeps its written order.
        let next = ready.or_else(|| (0..n).find(|&i| !placed[i])).unwrap_or(0);
        placed[next] = true;
        order.push(next);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_cycles() {
        let after = vec![vec![2], vec![], vec![1]];
        assert_eq!(topological(&after), [1, 2, 0]);
        assert_eq!(find_cycle(&after), None);
        let cyclic = vec![vec![1], vec![2], vec![0]];
        assert_eq!(find_cycle(&cyclic), Some(vec![0, 1, 2]));
        assert!(reaches(&after, 0, 1));
        assert!(!reaches(&after, 1, 0));
    }
}
