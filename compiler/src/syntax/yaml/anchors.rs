//! Anchors and aliases: every alias becomes a copy of its anchored node, within a budget.
//!
//! Copies make the tree self-contained (later stages never see an alias), but copying is what
//! an alias bomb ("billion laughs") exploits: nine aliases of nine aliases of… a few hundred
//! bytes that expand to a billion nodes. Every copy (and every anchored node kept for later
//! copies) is charged to one budget of nodes and string bytes proportional to the input; past
//! it, expansion stops with one located error and the alias becomes `null`.

use super::tree::Node;
use crate::span::Span;

/// Copies always allowed, however small the input (real files reuse a few defaults blocks).
const NODE_FLOOR: usize = 1_000_000;
const BYTE_FLOOR: usize = 64 << 20;
/// Beyond the floor, copies may add this many times the source's own nodes and bytes.
const GROWTH: usize = 2;

/// The size of a subtree, accumulated while it is built.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Metrics {
    pub nodes: usize,
    /// Bytes of string content (what a copy allocates besides nodes).
    pub bytes: usize,
    /// Levels of nesting: 1 for a scalar.
    pub height: usize,
}

impl Metrics {
    pub(super) fn scalar(bytes: usize) -> Metrics {
        Metrics { nodes: 1, bytes, height: 1 }
    }

    /// Adds a child's size to a collection's running total.
    pub(super) fn add_child(&mut self, child: Metrics) {
        self.nodes += child.nodes;
        self.bytes += child.bytes;
        self.height = self.height.max(child.height);
    }

    /// The collection's own size once its children are summed.
    pub(super) fn collection(children: Metrics) -> Metrics {
        Metrics { nodes: children.nodes + 1, bytes: children.bytes, height: children.height + 1 }
    }
}

/// Why an alias could not be expanded.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AliasError {
    /// The anchor's node is still open: the alias is inside what it names.
    Recursive,
    /// The anchored node was too large to keep a copy of, or the copy budget is spent.
    Budget,
}

struct Anchored {
    node: Node,
    metrics: Metrics,
}

enum Slot {
    /// Not defined yet, or still open (its node is being built).
    Open,
    /// Over the budget when it was defined: aliases to it fail.
    Dropped,
    Kept(Anchored),
}

/// The anchors of one parse. saphyr numbers every anchor occurrence uniquely from 1, so a
/// redefined anchor simply gets a new number.
#[derive(Default)]
pub(super) struct Anchors {
    slots: Vec<Slot>,
    copied_nodes: usize,
    copied_bytes: usize,
}

impl Anchors {
    fn allows(&self, metrics: Metrics, source: Metrics) -> bool {
        let node_budget = NODE_FLOOR.max(GROWTH.saturating_mul(source.nodes));
        let byte_budget = BYTE_FLOOR.max(GROWTH.saturating_mul(source.bytes));
        self.copied_nodes.saturating_add(metrics.nodes) <= node_budget
            && self.copied_bytes.saturating_add(metrics.bytes) <= byte_budget
    }

    fn charge(&mut self, metrics: Metrics) {
        self.copied_nodes += metrics.nodes;
        self.copied_bytes += metrics.bytes;
    }

    /// Keeps a copy of the node anchored as `id`. `source` is the size of the input so far.
    pub(super) fn define(&mut self, id: usize, node: &Node, metrics: Metrics, source: Metrics) {
        if id >= self.slots.len() {
            self.slots.resize_with(id + 1, || Slot::Open);
        }
        self.slots[id] = if self.allows(metrics, source) {
            self.charge(metrics);
            Slot::Kept(Anchored { node: node.clone(), metrics })
        } else {
            Slot::Dropped
        };
    }

    /// A copy of the node anchored as `id`, placed at the alias's span.
    pub(super) fn expand(&mut self, id: usize, span: Span, source: Metrics) -> Result<(Node, Metrics), AliasError> {
        let metrics = match self.slots.get(id) {
            Some(Slot::Kept(anchored)) => anchored.metrics,
            Some(Slot::Dropped) => return Err(AliasError::Budget),
            Some(Slot::Open) | None => return Err(AliasError::Recursive),
        };
        if !self.allows(metrics, source) {
            return Err(AliasError::Budget);
        }
        let Some(Slot::Kept(anchored)) = self.slots.get(id) else {
            return Err(AliasError::Recursive);
        };
        let mut node = anchored.node.clone();
        self.charge(metrics);
        node.span = span;
        Ok((node, metrics))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::yaml::tree::{Style, Value};

    fn node() -> Node {
        Node { span: Span::new(0, 1), value: Value::Int(1), style: Style::Plain, tag: None }
    }

    #[test]
    fn copies_take_the_alias_span() {
        let mut anchors = Anchors::default();
        let source = Metrics::scalar(1);
        anchors.define(1, &node(), Metrics::scalar(0), source);
        let (copy, _) = anchors.expand(1, Span::new(10, 12), source).unwrap();
        assert_eq!((copy.span, copy.value), (Span::new(10, 12), Value::Int(1)));
        assert_eq!(anchors.expand(2, Span::at(0), source).unwrap_err(), AliasError::Recursive);
    }

    #[test]
    fn the_budget_stops_expansion() {
        let mut anchors = Anchors::default();
        let source = Metrics::scalar(1);
        let big = Metrics { nodes: NODE_FLOOR / 2 + 1, bytes: 0, height: 2 };
        anchors.define(1, &node(), Metrics::scalar(0), source);
        if let Slot::Kept(anchored) = &mut anchors.slots[1] {
            anchored.metrics = big;
        }
        assert!(anchors.expand(1, Span::at(0), source).is_ok());
        assert_eq!(anchors.expand(1, Span::at(0), source).unwrap_err(), AliasError::Budget);
    }
}
