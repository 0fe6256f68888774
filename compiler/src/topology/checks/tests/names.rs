//! Test discovery with locations (reference §4.1) and name uniqueness (§8.4 item 32).
//! Faultbox keeps one test per name: a global `test_*` function beats `scenario(fn)`, which
//! beats `fault_scenario` and matrix cells (the later registration of those two overwrites the
//! earlier), which beat `test()`; two `test()` calls of one name are a load error.

use std::collections::BTreeMap;

use crate::topology::hash::HashSet;

use super::{item_spans, key_name, Functions};
use crate::diagnostics::Diagnostic;
use crate::span::Span;
use crate::topology::checks::{Call, Model, Origin};
use crate::topology::values::Arg;

/// Where a test comes from, in Faultbox's precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Source {
    Def,
    Scenario,
    FaultScenario,
    Matrix,
    Test,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::Def => "a `def`",
            Source::Scenario => "`scenario()`",
            Source::FaultScenario => "`fault_scenario()`",
            Source::Matrix => "a `fault_matrix` cell",
            Source::Test => "`test()`",
        }
    }

    /// Faultbox's precedence rank (fault_scenario and matrix cells share one map).
    fn rank(self) -> u8 {
        match self {
            Source::Def => 1,
            Source::Scenario => 2,
            Source::FaultScenario | Source::Matrix => 3,
            Source::Test => 4,
        }
    }
}

/// One discovered test.
#[derive(Debug, Clone)]
pub(super) struct Entry<'m> {
    pub name: String,
    pub source: Source,
    /// Where it is named: the def's name, the registering argument, the matrix scenario.
    pub at: Span,
    /// The registering call (none for a def).
    pub call: Option<&'m Call>,
    /// For a matrix cell: (scenario, assumption) names.
    pub cell: Option<(String, String)>,
}

/// Whether [`entries`] lists the cells of `fault_matrix` calls (the vacuity checks do not
/// read them, and a big matrix's cells cost the most to list).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Cells {
    Listed,
    Skipped,
}

/// Every test of the file, in registration order.
pub(super) fn entries<'m>(model: &'m Model, functions: &Functions, cells_too: Cells) -> Vec<Entry<'m>> {
    let mut out = Vec::new();
    // A set, not a list: a big file has a thousand test functions.
    let mut seen_defs: HashSet<&str> = HashSet::default();
    for f in functions.all.iter().filter(|f| f.top_level && f.name.starts_with("test_")) {
        if seen_defs.insert(f.name.as_str()) {
            out.push(Entry { name: f.name.clone(), source: Source::Def, at: f.name_span, call: None, cell: None });
        }
    }
    for g in &model.evaluated.globals {
        if g.name.starts_with("test_") && matches!(g.value, Arg::Function(_)) && !seen_defs.contains(g.name.as_str()) {
            out.push(Entry { name: g.name.clone(), source: Source::Def, at: Span::at(0), call: None, cell: None });
        }
    }
    for call in model.every_call().iter().filter(|c| c.origin == Origin::Load) {
        let source = match call.builtin().map(|b| b.name.as_str()) {
            Some("scenario") => Source::Scenario,
            Some("fault_scenario") => Source::FaultScenario,
            Some("test") => Source::Test,
            Some("fault_matrix") => {
                if cells_too == Cells::Listed {
                    out.extend(cells(model, call));
                }
                continue;
            }
            _ => continue,
        };
        let name = match source {
            Source::Scenario => match call.record.positional.first() {
                Some(Arg::Function(f)) => f.name.clone(),
                _ => continue,
            },
            _ => match call.record.name() {
                Some(n) => n.to_owned(),
                None => continue,
            },
        };
        let at = match call.record.positional.first() {
            Some(_) => model.positional_span(call, 0),
            None => model.value_span(call, "name"),
        };
        out.push(Entry { name: format!("test_{name}"), source, at, call: Some(call), cell: None });
    }
    out
}

/// The cells of one `fault_matrix` call (reference §4.2), excluded ones left out.
fn cells<'m>(model: &Model, call: &'m Call) -> Vec<Entry<'m>> {
    let list = |kw: &str| match call.record.named(kw) {
        Some(Arg::List(items)) => items.clone(),
        _ => Vec::new(),
    };
    let (scenarios, faults) = (list("scenarios"), list("faults"));
    let spans = item_spans(model, model.value_span(call, "scenarios"), scenarios.len());
    let excluded: Vec<(Option<String>, Option<String>)> = list("exclude")
        .iter()
        .filter_map(|e| match e {
            Arg::Tuple(pair) if pair.len() == 2 => Some((key_name(&pair[0]), key_name(&pair[1]))),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        let Some(s) = key_name(s) else { continue };
        let at = spans.as_ref().and_then(|v| v.get(i).copied()).unwrap_or_else(|| model.callee_span(call));
        for f in faults.iter().filter_map(key_name) {
            if excluded.iter().any(|(es, ef)| es.as_deref() == Some(s.as_str()) && ef.as_deref() == Some(f.as_str())) {
                continue;
            }
            out.push(Entry {
                name: format!("test_matrix_{s}_{f}"),
                source: Source::Matrix,
                at,
                call: Some(call),
                cell: Some((s.clone(), f)),
            });
        }
    }
    out
}

/// TOP300 (two `test()` of one name) and TOP301 (any other clash).
pub(super) fn check(entries: &[Entry], out: &mut Vec<Diagnostic>) {
    let mut by_name: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        by_name.entry(e.name.as_str()).or_default().push(e);
    }
    for (name, group) in by_name {
        for (i, later) in group.iter().enumerate().skip(1) {
            let Some(first) = group[..i].iter().find(|e| !same_cell(e, later)) else { continue };
            if group[..i].iter().any(|e| same_cell(e, later)) {
                continue;
            }
            out.push(clash(name, first, later, &group));
        }
    }
}

/// Two cells of one matrix with the same scenario and assumption names: a duplicate entry of
/// the matrix lists (reported by the matrix checks), not a second test.
fn same_cell(a: &Entry, b: &Entry) -> bool {
    a.cell.is_some()
        && a.cell == b.cell
        && match (a.call, b.call) {
            (Some(x), Some(y)) => std::ptr::eq(x, y),
            _ => false,
        }
}

fn clash(name: &str, first: &Entry, later: &Entry, group: &[&Entry]) -> Diagnostic {
    if first.source == Source::Test && later.source == Source::Test {
        return Diagnostic::error("TOP300", later.at, format!("a `test()` named `{name}` is already registered"))
            .with_label(first.at, "first registered here")
            .with_help("give each `test()` its own name: Faultbox refuses a duplicate when it loads the file");
    }
    let winner = winner(group);
    let mut d = Diagnostic::warning(
        "TOP301",
        later.at,
        format!(
            "test name `{name}` comes from {} here and from {} as well",
            later.source.describe(),
            first.source.describe()
        ),
    )
    .with_label(first.at, format!("`{name}` is first produced here"))
    .with_note(format!(
        "Faultbox keeps one test per name, here the one from {}; the other silently never runs",
        winner.describe()
    ))
    .with_help("rename one of them (the scenario function, the `fault_scenario` name or the assumption)");
    if let (Some((s1, f1)), Some((s2, f2))) = (&first.cell, &later.cell) {
        d = d.with_note(format!(
            "matrix cells are named `test_matrix_<scenario>_<fault>`: (`{s1}`, `{f1}`) and (`{s2}`, `{f2}`) give the same name"
        ));
    }
    d
}

/// The source whose test Faultbox keeps: the best rank; among fault_scenario and matrix
/// registrations, the last.
fn winner(group: &[&Entry]) -> Source {
    let best = group.iter().map(|e| e.source.rank()).min().unwrap_or(4);
    group.iter().rev().find(|e| e.source.rank() == best).map_or(Source::Test, |e| e.source)
}
