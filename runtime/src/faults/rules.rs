//! Live rule tables shared by the fault mechanisms. A syscall supervisor and a protocol proxy
//! each read a [`Table`] on every decision; the fault controller installs and removes rules as
//! scopes open and close (`fault(..., run=)`, `fault_start`/`fault_stop`, a whole test).
//!
//! What every mechanism shares lives here: first-match-wins order, match and fire counts (for
//! FAULT_NOT_FIRED and `require_faults_fire`), `max_fires`, and a seeded probability, so that
//! `--seed` reproduces the same decisions. What a rule *matches* (a syscall number and path, an
//! HTTP method and path, a SQL text) is the mechanism's business: it passes a predicate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use crate::explore::Schedule;

/// One installed rule with its counters.
#[derive(Debug)]
pub struct Active<R> {
    /// Unique within the run (removal and reports name rules by it).
    pub id: u64,
    pub rule: R,
    /// What installed it: the assumption, `fault(...)` site or partition, for reports.
    pub scope: String,
    /// The probability of firing on a match (1.0 = every match).
    pub probability: f64,
    /// At most this many fires; later matches pass through.
    pub max_fires: Option<u64>,
    /// An exhaustive rule's fire schedule in this leaf (it decides instead of the draw).
    pub schedule: Option<Schedule>,
    matched: AtomicU64,
    fired: AtomicU64,
    rng: Mutex<SplitMix64>,
}

impl<R> Active<R> {
    /// Calls that matched the rule's criteria (fired or not).
    pub fn matched(&self) -> u64 {
        self.matched.load(Ordering::SeqCst)
    }

    /// Calls the rule acted on.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::SeqCst)
    }

    /// Whether the leaf deliberately gives this rule no fire (an exhaustive rule's `none`
    /// schedule): then its not firing says nothing about the scenario.
    pub fn silent_by_schedule(&self) -> bool {
        self.schedule.is_some_and(|s| s.mask == 0)
    }

    /// Records a match and decides whether the rule fires on it: by the leaf's schedule for an
    /// exhaustive rule; otherwise under `max_fires`, and the seeded draw under `probability`.
    pub fn decide(&self) -> bool {
        let opportunity = self.matched.fetch_add(1, Ordering::SeqCst);
        if let Some(schedule) = self.schedule {
            let fires = schedule.fires(opportunity);
            if fires {
                self.fired.fetch_add(1, Ordering::SeqCst);
            }
            return fires;
        }
        if self.max_fires.is_some_and(|max| self.fired() >= max) {
            return false;
        }
        if self.probability < 1.0 {
            let draw = self.rng.lock().unwrap_or_else(|p| p.into_inner()).next_unit();
            if draw >= self.probability {
                return false;
            }
        }
        self.fired.fetch_add(1, Ordering::SeqCst);
        true
    }
}

/// How a rule is installed.
#[derive(Debug, Clone)]
pub struct Install<R> {
    pub rule: R,
    pub scope: String,
    pub probability: f64,
    pub max_fires: Option<u64>,
}

/// A live, ordered set of rules (cheap to clone; clones share the rules).
#[derive(Debug)]
pub struct Table<R> {
    rules: Arc<RwLock<Vec<Arc<Active<R>>>>>,
    /// The seed; each rule's generator derives from it and the rule's install position, so
    /// the same seed and the same sequence of installs give the same decisions.
    seed: u64,
    installs: Arc<AtomicU64>,
}

impl<R> Clone for Table<R> {
    fn clone(&self) -> Table<R> {
        Table { rules: self.rules.clone(), seed: self.seed, installs: self.installs.clone() }
    }
}

/// Rule ids are unique across every table of the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl<R> Table<R> {
    pub fn new(seed: u64) -> Table<R> {
        Table { rules: Arc::default(), seed, installs: Arc::default() }
    }

    /// Adds a rule after the existing ones (earlier rules win).
    pub fn install(&self, install: Install<R>) -> Arc<Active<R>> {
        self.install_scheduled(install, None)
    }

    /// Adds a rule whose fires follow `schedule` (an exhaustive rule in one leaf), if given.
    pub fn install_scheduled(&self, install: Install<R>, schedule: Option<Schedule>) -> Arc<Active<R>> {
        let id = NEXT_ID.fetch_add(1, Ordering::SeqCst);
        let position = self.installs.fetch_add(1, Ordering::SeqCst) + 1;
        let active = Arc::new(Active {
            id,
            rule: install.rule,
            scope: install.scope,
            probability: install.probability.clamp(0.0, 1.0),
            max_fires: install.max_fires,
            schedule,
            matched: AtomicU64::new(0),
            fired: AtomicU64::new(0),
            rng: Mutex::new(SplitMix64(self.seed ^ position.wrapping_mul(0x9E37_79B9_7F4A_7C15))),
        });
        self.rules.write().unwrap_or_else(|p| p.into_inner()).push(active.clone());
        active
    }

    /// Removes a rule; its counters stay readable through the `Arc` the caller holds.
    pub fn remove(&self, id: u64) {
        self.rules.write().unwrap_or_else(|p| p.into_inner()).retain(|r| r.id != id);
    }

    /// The rules now in force, in order.
    pub fn snapshot(&self) -> Vec<Arc<Active<R>>> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the rule with `id` is in force.
    pub fn contains(&self, id: u64) -> bool {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).iter().any(|r| r.id == id)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// The first rule that matches and decides to fire. Rules that match but do not fire
    /// (probability, `max_fires`) let later rules try, as a missed draw means "no fault here".
    pub fn first_firing(&self, matches: impl Fn(&R) -> bool) -> Option<Arc<Active<R>>> {
        let rules = self.rules.read().unwrap_or_else(|p| p.into_inner());
        rules.iter().find(|r| matches(&r.rule) && r.decide()).cloned()
    }
}

/// A small seeded generator (SplitMix64): reproducible draws without a dependency.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A draw in `[0, 1)`.
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install(
        table: &Table<&'static str>,
        rule: &'static str,
        probability: f64,
        max: Option<u64>,
    ) -> Arc<Active<&'static str>> {
        table.install(Install { rule, scope: "t".into(), probability, max_fires: max })
    }

    #[test]
    fn first_match_wins_and_counts() {
        let table = Table::new(1);
        let a = install(&table, "a", 1.0, None);
        let b = install(&table, "a", 1.0, None);
        assert_eq!(table.first_firing(|r| *r == "a").map(|r| r.id), Some(a.id));
        assert_eq!((a.matched(), a.fired(), b.matched()), (1, 1, 0));
        assert!(table.first_firing(|r| *r == "z").is_none());
    }

    #[test]
    fn max_fires_passes_later_matches_to_later_rules() {
        let table = Table::new(1);
        let once = install(&table, "a", 1.0, Some(1));
        let always = install(&table, "a", 1.0, None);
        assert_eq!(table.first_firing(|_| true).map(|r| r.id), Some(once.id));
        assert_eq!(table.first_firing(|_| true).map(|r| r.id), Some(always.id));
        assert_eq!((once.matched(), once.fired()), (2, 1));
    }

    #[test]
    fn probability_draws_are_seeded() {
        let table = Table::new(7);
        let rule = install(&table, "a", 0.5, None);
        (0..64).for_each(|_| drop(table.first_firing(|_| true)));
        assert!(rule.fired() > 10 && rule.fired() < 54, "about half of 64 draws fire, got {}", rule.fired());
        assert_eq!(rule.matched(), 64);
        let stream = |seed| {
            let mut g = SplitMix64(seed);
            (0..8).map(|_| g.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(stream(42), stream(42));
        assert_ne!(stream(42), stream(43));
        let decisions = || {
            let table = Table::new(7);
            install(&table, "a", 0.5, None);
            (0..32).map(|_| table.first_firing(|_| true).is_some()).collect::<Vec<_>>()
        };
        assert_eq!(decisions(), decisions(), "the same seed and installs decide the same");
    }

    #[test]
    fn a_schedule_decides_instead_of_the_draw() {
        let table = Table::new(7);
        let rule = table.install_scheduled(
            Install { rule: "a", scope: "t".into(), probability: 0.5, max_fires: Some(2) },
            Some(Schedule { mask: 0b10, bits: 2 }),
        );
        let decisions: Vec<bool> = (0..4).map(|_| table.first_firing(|_| true).is_some()).collect();
        assert_eq!(decisions, vec![false, true, false, false]);
        assert_eq!((rule.matched(), rule.fired(), rule.silent_by_schedule()), (4, 1, false));
    }

    #[test]
    fn removed_rules_stop_matching() {
        let table = Table::new(1);
        let a = install(&table, "a", 1.0, None);
        table.remove(a.id);
        assert!(table.first_firing(|_| true).is_none());
        assert!(table.is_empty());
    }
}
