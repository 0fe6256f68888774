//! OSpec go-to-definition: a service, task, phase or environment reference to its definition
//! (a service also to its `service(...)` in the topology), `topology:` to the topology file.
//! References and rename are `across`'s: they follow a service into other files.

use super::entities::{Entities, Topology};
use crate::ide::{FileContext, Location};
use crate::span::Span;

pub fn definition(file: &FileContext, offset: usize) -> Vec<Location> {
    let entities = Entities::cached(file.text);
    if let Some((value, _)) = entities.topology.as_ref().filter(|(_, s)| s.start <= offset && offset <= s.end) {
        let path = super::entities::resolve(file.path, value);
        return file.fs.exists(&path).then(|| Location { path: Some(path), span: Span::at(0) }).into_iter().collect();
    }
    let Some((what, name, _)) = entities.at(offset) else { return Vec::new() };
    let mut found: Vec<Location> =
        entities.names(what).filter(|d| d.name == name).map(|d| Location::here(d.span)).collect();
    if what == "service" {
        found.extend(topology_service(file, &entities, name));
    }
    found
}

/// The `service("NAME", …)` of the topology the spec names.
fn topology_service(file: &FileContext, entities: &Entities, name: &str) -> Option<Location> {
    let topology = entities.topology.as_ref().and_then(|(v, _)| Topology::load(file, v))?;
    let service = topology.index.services(&topology.text).into_iter().rev().find(|s| s.name == name)?;
    Some(Location { path: Some(topology.path), span: service.name_span })
}
