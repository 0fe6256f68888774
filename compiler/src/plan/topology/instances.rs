//! Exact instance counts (reference §8 item 38): a test runs once per leaf of its plan tree:
//! the product of its named `choose()` axes (each as many leaves as its literal option list)
//! and 2^max_fires for each exhaustive probabilistic syscall rule.

use std::collections::BTreeMap;

use ospecc_schema::plan::topology::SyscallRule;

use super::Cx;
use crate::topology::bodies::Callee;
use crate::topology::checks::dialect::graph::Function;
use crate::topology::Arg;

/// A fan-out beyond this many doublings saturates (the count is a budget, not a schedule).
const MAX_DOUBLINGS: u32 = 62;

/// The leaves of a test whose functions are `reachable` and whose rules are `rules`.
pub(super) fn count(cx: &Cx, reachable: &[&Function], rules: &[SyscallRule]) -> u64 {
    let mut total: u64 = 1;
    for leaves in choose_axes(cx, reachable).values() {
        total = total.saturating_mul(*leaves);
    }
    for rule in rules {
        let exhaustive = rule.mode.as_deref() == Some("exhaustive") && rule.probability < 1.0;
        if let (true, Some(fires)) = (exhaustive, rule.max_fires) {
            total = total.saturating_mul(1u64 << fires.min(MAX_DOUBLINGS));
        }
    }
    total
}

/// Named `choose("axis", [options])` calls in the reachable functions: axis → option count.
/// Unnamed `choose([...])` does not fan out (it returns its first option).
fn choose_axes(cx: &Cx, reachable: &[&Function]) -> BTreeMap<String, u64> {
    let mut axes = BTreeMap::new();
    let Some(functions) = &cx.functions else { return axes };
    for call in &cx.body_calls {
        let is_choose = matches!(&call.callee, Callee::Builtin(b) if b.name == "choose");
        let inside = functions.enclosing(call.record.span).is_some_and(|f| reachable.iter().any(|r| r.span == f.span));
        if !is_choose || !inside {
            continue;
        }
        if let [Arg::Str(name), options, ..] = call.record.positional.as_slice() {
            let leaves = match options {
                Arg::List(items) | Arg::Tuple(items) if !items.is_empty() => items.len() as u64,
                _ => 1,
            };
            axes.insert(name.clone(), leaves);
        }
    }
    axes
}
