//! Exact instance counts (reference §8 item 38): a test runs once per leaf of its plan tree:
//! the product of its named `choose()` axes (each as many leaves as its literal option list),
//! 2^max_fires for each exhaustive probabilistic syscall rule, and the interleavings each
//! `parallel(..., interleavings=)` asks for.

use std::collections::BTreeMap;

use ospecc_schema::plan::topology::SyscallRule;

use super::Cx;
use crate::topology::bodies::{BodyCall, Callee};
use crate::topology::functions::Function;
use crate::topology::Arg;

/// A fan-out beyond this many doublings saturates (the count is a budget, not a schedule).
const MAX_DOUBLINGS: u32 = 62;

/// The leaves of a test whose functions are `reachable` and whose rules are `rules`.
pub(super) fn count(cx: &Cx, reachable: &[&Function], rules: &[SyscallRule]) -> u64 {
    let mut total: u64 = 1;
    for leaves in choose_axes(cx, reachable).values() {
        total = total.saturating_mul(*leaves);
    }
    for leaves in interleavings(cx, reachable) {
        total = total.saturating_mul(leaves);
    }
    for rule in rules {
        let exhaustive = rule.mode.as_deref() == Some("exhaustive") && rule.probability < 1.0;
        if let (true, Some(fires)) = (exhaustive, rule.max_fires) {
            total = total.saturating_mul(1u64 << fires.min(MAX_DOUBLINGS));
        }
    }
    total
}

/// The calls of `builtin` in the reachable functions.
fn calls_in<'c>(cx: &'c Cx, reachable: &'c [&Function], builtin: &'c str) -> impl Iterator<Item = &'c BodyCall> + 'c {
    let functions = cx.functions.as_ref();
    cx.body_calls.iter().filter(move |call| {
        matches!(&call.callee, Callee::Builtin(b) if b.name == builtin)
            && functions
                .and_then(|f| f.enclosing(call.record.span))
                .is_some_and(|f| reachable.iter().any(|r| r.span == f.span))
    })
}

/// `parallel(f1, ..., fN, interleavings=X)`: `"all"` → N!, `"critical"` → min(2N−1, N!), an
/// integer n → min(n, N!); without `interleavings=` (or `"1"`) one order runs.
fn interleavings<'c>(cx: &'c Cx, reachable: &'c [&Function]) -> impl Iterator<Item = u64> + 'c {
    calls_in(cx, reachable, "parallel").map(|call| {
        let n = call.record.positional.len() as u64;
        let all = (1..=n).fold(1u64, u64::saturating_mul);
        match call.record.named("interleavings") {
            Some(Arg::Str(s)) if s == "all" => all,
            Some(Arg::Str(s)) if s == "critical" => (2 * n).saturating_sub(1).min(all).max(1),
            Some(Arg::Int(k)) if *k > 0 => (*k as u64).min(all),
            _ => 1,
        }
    })
}

/// Named `choose("axis", [options])` calls in the reachable functions: axis → option count.
/// Unnamed `choose([...])` does not fan out (it returns its first option).
fn choose_axes(cx: &Cx, reachable: &[&Function]) -> BTreeMap<String, u64> {
    let mut axes = BTreeMap::new();
    for call in calls_in(cx, reachable, "choose") {
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
