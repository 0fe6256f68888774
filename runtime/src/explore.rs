//! Leaf exploration (reference §5.1): a test whose run meets a named `choose(name, options)`
//! axis (two or more options) or an exhaustive `max_fires = k` rule runs once per leaf of its
//! decision tree, each execution a full lifecycle.
//!
//! A [`Leaf`] is what one execution follows and records. Decision points are met on the
//! Starlark thread in a deterministic order: each named `choose` call (a repeat of a name the
//! execution already met returns the same option), and each install of an exhaustive rule (its
//! 2^k fire schedules are one axis; the rule is known by its install order). The execution
//! takes the option prescribed for each position and option 0 beyond the prescription, so the
//! first execution — the discovery run — is leaf 0: every `choose` takes its first option and
//! every exhaustive rule the schedule `none` (bitmask 0, it never fires).
//!
//! The next leaf is the depth-first successor of the path the last execution actually took
//! ([`next`]): the last decision with options left moves on, later ones start again at 0. Axes a
//! later leaf discovers (control flow that depends on an earlier choice) are therefore explored
//! too, under the prefix that led to them, and a leaf is never run twice. The order is
//! lexicographic in the order axes were met (the last axis varies fastest); the run's cap
//! (`--max-instances`) keeps the first N leaves of that order.

use std::sync::Mutex;

/// Bitmask schedules beyond this many fires would overflow the option count.
const MAX_SCHEDULE_BITS: u32 = 62;

/// What made a decision point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisKind {
    /// `choose(name, options)`.
    Choose,
    /// An exhaustive `max_fires` rule: option `b` fires on the i-th match iff bit i of b is set.
    Rule,
}

/// One decision an execution met, and the option it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub kind: AxisKind,
    /// The name in the leaf's label: the `choose` name, or `service.key` for a rule (`#n` added
    /// for the n-th install of the same rule in one execution).
    pub axis: String,
    /// How many options the axis has (at least 2).
    pub arity: u64,
    /// The option taken (0-based).
    pub index: u64,
    /// The option taken, for people: the chosen value, or `none` / `fire@1+2` for a rule.
    pub value: String,
}

/// What one execution follows (option indices by decision position) and what it met.
#[derive(Debug, Default)]
pub struct Leaf {
    prescribed: Vec<Decision>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    met: Vec<Decision>,
    /// The execution met an axis other than the one prescribed at that position: the rest
    /// of the prescription no longer describes this execution, so it takes option 0.
    diverged: bool,
    /// Orders of `parallel(..., interleavings=)` that ran only one of them.
    interleavings: Vec<u64>,
}

/// An exhaustive rule's fire schedule in one leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Bit i set: the rule fires on its (i+1)-th match.
    pub mask: u64,
    /// `max_fires`: matches from this one on never fire.
    pub bits: u32,
}

impl Schedule {
    /// Whether the rule fires on its match number `opportunity` (0-based).
    pub fn fires(self, opportunity: u64) -> bool {
        opportunity < u64::from(self.bits) && (self.mask >> opportunity) & 1 == 1
    }
}

impl Leaf {
    /// The leaf that follows `prescribed` (a path [`next`] returned); the empty path is leaf 0.
    pub fn new(prescribed: Vec<Decision>) -> Leaf {
        Leaf { prescribed, state: Mutex::default() }
    }

    /// `choose(name, options)`: the index of the option this leaf takes. Fewer than two
    /// options is no axis (the first option).
    pub fn choose(&self, name: &str, options: &[String]) -> usize {
        if options.len() < 2 {
            return 0;
        }
        let mut state = self.lock();
        if let Some(seen) = state.met.iter().find(|d| d.kind == AxisKind::Choose && d.axis == name) {
            // A named axis has one value per leaf, however often the body asks.
            return usize::try_from(seen.index).ok().filter(|i| *i < options.len()).unwrap_or(0);
        }
        let index = self.take(&mut state, AxisKind::Choose, name, options.len() as u64);
        let index = usize::try_from(index).unwrap_or(0);
        let value = options.get(index).cloned().unwrap_or_default();
        state.met.push(Decision {
            kind: AxisKind::Choose,
            axis: name.to_owned(),
            arity: options.len() as u64,
            index: index as u64,
            value,
        });
        index
    }

    /// An exhaustive rule with `max_fires = fires` is being installed: its schedule in this
    /// leaf. `rule` names it (`service.key`); installs of the same rule count up.
    pub fn schedule(&self, rule: &str, fires: u32) -> Schedule {
        let bits = fires.min(MAX_SCHEDULE_BITS);
        if bits == 0 {
            return Schedule { mask: 0, bits: 0 };
        }
        let mut state = self.lock();
        let installs = state.met.iter().filter(|d| d.kind == AxisKind::Rule && rule_of(&d.axis) == rule).count();
        let axis = if installs == 0 { rule.to_owned() } else { format!("{rule}#{}", installs + 1) };
        let arity = 1u64 << bits;
        let mask = self.take(&mut state, AxisKind::Rule, &axis, arity);
        state.met.push(Decision { kind: AxisKind::Rule, axis, arity, index: mask, value: schedule_label(mask, bits) });
        Schedule { mask, bits }
    }

    /// `parallel(..., interleavings=)` asked for `orders` orders and ran one.
    pub fn note_interleavings(&self, orders: u64) {
        if orders > 1 {
            self.lock().interleavings.push(orders);
        }
    }

    /// The decisions this execution met, in order.
    pub fn path(&self) -> Vec<Decision> {
        self.lock().met.clone()
    }

    /// The interleaving counts of the `parallel` calls that ran one order.
    pub fn interleavings(&self) -> Vec<u64> {
        self.lock().interleavings.clone()
    }

    /// The prescribed option at the next position, or 0 past the prescription or once the
    /// execution left it.
    fn take(&self, state: &mut State, kind: AxisKind, axis: &str, arity: u64) -> u64 {
        if state.diverged {
            return 0;
        }
        match self.prescribed.get(state.met.len()) {
            Some(p) if p.kind == kind && p.axis == axis && p.arity == arity => p.index,
            Some(_) => {
                state.diverged = true;
                0
            }
            None => 0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `write@db#2` → `write@db`.
fn rule_of(axis: &str) -> &str {
    axis.rsplit_once('#').filter(|(_, n)| n.parse::<u32>().is_ok()).map_or(axis, |(rule, _)| rule)
}

/// `none`, or the 1-based matches that fire: `fire@1+2`.
fn schedule_label(mask: u64, bits: u32) -> String {
    let fires: Vec<String> = (0..bits).filter(|i| (mask >> i) & 1 == 1).map(|i| (i + 1).to_string()).collect();
    if fires.is_empty() {
        "none".to_owned()
    } else {
        format!("fire@{}", fires.join("+"))
    }
}

/// The depth-first successor of the path an execution took, or `None` when it was the last
/// leaf: the last decision with an option left moves to it, and everything after it goes.
pub fn next(path: &[Decision]) -> Option<Vec<Decision>> {
    let position = path.iter().rposition(|d| d.index + 1 < d.arity)?;
    let mut prescribed = path[..=position].to_vec();
    prescribed[position].index += 1;
    Some(prescribed)
}

/// The leaves after this path, counted as if every later branch had this path's shape (exact
/// unless an axis depends on an earlier choice). Saturates.
pub fn remaining(path: &[Decision]) -> u64 {
    let mut below: u64 = 1;
    let mut total: u64 = 0;
    for decision in path.iter().rev() {
        let siblings = decision.arity.saturating_sub(decision.index + 1);
        total = total.saturating_add(siblings.saturating_mul(below));
        below = below.saturating_mul(decision.arity);
    }
    total
}

/// `test_x[mode=b, front.connect=fire@1]`: the test's name with the leaf's decisions; the plain
/// name when the execution met none.
pub fn leaf_name(test: &str, path: &[Decision]) -> String {
    if path.is_empty() {
        return test.to_owned();
    }
    let parts: Vec<String> = path.iter().map(|d| format!("{}={}", d.axis, d.value)).collect();
    format!("{test}[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Runs a body against every leaf, as the runner does; returns the leaf names in order.
    fn explore(body: impl Fn(&Leaf)) -> Vec<String> {
        let mut names = Vec::new();
        let mut prescribed = Vec::new();
        loop {
            let leaf = Leaf::new(prescribed);
            body(&leaf);
            let path = leaf.path();
            names.push(leaf_name("t", &path));
            match next(&path) {
                Some(n) => prescribed = n,
                None => return names,
            }
        }
    }

    #[test]
    fn a_choose_axis_and_an_exhaustive_rule_give_their_product_in_order() {
        let names = explore(|leaf| {
            leaf.choose("mode", &options(&["a", "b", "c"]));
            leaf.schedule("front.connect", 2);
        });
        assert_eq!(names.len(), 12);
        assert_eq!(names[0], "t[mode=a, front.connect=none]", "the discovery run is leaf 0");
        assert_eq!(names[1], "t[mode=a, front.connect=fire@1]");
        assert_eq!(names[2], "t[mode=a, front.connect=fire@2]");
        assert_eq!(names[3], "t[mode=a, front.connect=fire@1+2]");
        assert_eq!(names[4], "t[mode=b, front.connect=none]");
        assert_eq!(names[11], "t[mode=c, front.connect=fire@1+2]");
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), 12, "no leaf runs twice");
    }

    #[test]
    fn no_axis_is_one_plain_execution() {
        assert_eq!(
            explore(|leaf| {
                let _ = leaf.choose("one", &options(&["only"]));
            }),
            vec!["t"]
        );
    }

    #[test]
    fn a_repeated_name_is_one_axis() {
        let names = explore(|leaf| {
            let first = leaf.choose("x", &options(&["p", "q"]));
            assert_eq!(leaf.choose("x", &options(&["p", "q"])), first);
        });
        assert_eq!(names, vec!["t[x=p]", "t[x=q]"]);
    }

    #[test]
    fn an_axis_behind_a_choice_is_explored_under_that_choice_only() {
        let names = explore(|leaf| {
            if leaf.choose("mode", &options(&["a", "b"])) == 1 {
                leaf.choose("extra", &options(&["x", "y", "z"]));
            }
        });
        assert_eq!(names, vec!["t[mode=a]", "t[mode=b, extra=x]", "t[mode=b, extra=y]", "t[mode=b, extra=z]"]);
    }

    #[test]
    fn schedules_fire_on_their_bits_and_never_after_max_fires() {
        let schedule = Schedule { mask: 0b10, bits: 2 };
        assert_eq!((0..4).map(|i| schedule.fires(i)).collect::<Vec<_>>(), vec![false, true, false, false]);
        let leaf = Leaf::new(Vec::new());
        assert_eq!(leaf.schedule("db.write", 3), Schedule { mask: 0, bits: 3 });
        leaf.schedule("db.write", 1);
        let axes: Vec<String> = leaf.path().into_iter().map(|d| d.axis).collect();
        assert_eq!(axes, vec!["db.write", "db.write#2"], "installs of one rule are told apart by order");
    }

    #[test]
    fn a_diverging_execution_takes_first_options_past_the_divergence() {
        let first = Leaf::new(Vec::new());
        first.choose("a", &options(&["1", "2"]));
        first.choose("b", &options(&["1", "2"]));
        let prescribed = next(&first.path()).unwrap_or_default();
        let leaf = Leaf::new(prescribed);
        assert_eq!(leaf.choose("a", &options(&["1", "2"])), 0);
        assert_eq!(leaf.choose("c", &options(&["1", "2"])), 0, "not the axis prescribed here");
        assert_eq!(leaf.choose("b", &options(&["1", "2"])), 0);
    }

    #[test]
    fn remaining_counts_the_unexplored_leaves_of_the_same_shape() {
        let leaf = Leaf::new(Vec::new());
        leaf.choose("mode", &options(&["a", "b", "c"]));
        leaf.schedule("r", 2);
        assert_eq!(remaining(&leaf.path()), 11);
        let last = Leaf::new(vec![
            Decision { kind: AxisKind::Choose, axis: "mode".into(), arity: 3, index: 2, value: String::new() },
            Decision { kind: AxisKind::Rule, axis: "r".into(), arity: 4, index: 3, value: String::new() },
        ]);
        last.choose("mode", &options(&["a", "b", "c"]));
        last.schedule("r", 2);
        assert_eq!(remaining(&last.path()), 0);
        assert!(next(&last.path()).is_none());
        assert_eq!(leaf_name("t", &last.path()), "t[mode=c, r=fire@1+2]");
    }
}
