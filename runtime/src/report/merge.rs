//! `ospecc report merge`: the reports of a plan's `--shard K/N` runs combined into the report
//! its unsharded run gives: the results in plan order (test by test, each test's leaves as its
//! shard ran them, then the acceptance probes of shard 1), the services' fates, the summary.
//! Shards of different plans (plan digests differ), a missing or a duplicated shard, or a
//! result in the wrong shard are refused before anything is written.

use std::collections::BTreeMap;

use super::model::{ItemResult, RunReport, ServiceResult, Summary};
use crate::events::Event;

/// One shard's report, with the run's events when its input had them (a bundle).
pub struct ShardInput {
    /// How the user named it (a path), for error messages.
    pub label: String,
    pub report: RunReport,
    pub events: Option<Vec<Event>>,
}

/// The merged run: the report and, when every input had events, the events (renumbered so
/// each result's slice still points at its own).
pub struct Merged {
    pub report: RunReport,
    pub events: Vec<Event>,
}

/// `K/N` of a report (`1/1` when it was not sharded).
fn shard_of(input: &ShardInput) -> Result<(u32, u32), String> {
    let Some(text) = input.report.shard.as_deref() else { return Ok((1, 1)) };
    crate::run::Shard::parse(text)
        .map(|s| (s.index, s.count))
        .map_err(|why| format!("{}: its shard {why}", input.label))
}

/// Checks that the inputs are the N shards of one plan, each once; returns N and the inputs
/// ordered by shard index.
fn order_shards(inputs: Vec<ShardInput>) -> Result<(u32, Vec<ShardInput>), String> {
    let first = inputs.first().ok_or("nothing to merge: name the JSON reports (or bundles) of the shards")?;
    let identity = first.report.plan.clone().ok_or_else(|| no_digest(first))?;
    let mut by_index: BTreeMap<u32, ShardInput> = BTreeMap::new();
    let mut count = None;
    for input in inputs {
        let plan = input.report.plan.as_ref().ok_or_else(|| no_digest(&input))?;
        if plan.digest != identity.digest {
            return Err(format!(
                "{} and {} are runs of different plans (plan digest {} vs {}): only the shards of one plan merge",
                first_label(&by_index, &input),
                input.label,
                short(&identity.digest),
                short(&plan.digest)
            ));
        }
        let (k, n) = shard_of(&input)?;
        match count {
            None => count = Some(n),
            Some(c) if c != n => {
                return Err(format!("{} is shard {k}/{n}, but the other inputs are shards of {c}", input.label))
            }
            Some(_) => {}
        }
        if let Some(earlier) = by_index.get(&k) {
            return Err(format!("shard {k}/{n} is given twice: {} and {}", earlier.label, input.label));
        }
        by_index.insert(k, input);
    }
    let n = count.unwrap_or(1);
    let missing: Vec<String> = (1..=n).filter(|k| !by_index.contains_key(k)).map(|k| format!("{k}/{n}")).collect();
    if !missing.is_empty() {
        let (noun, verb) = if missing.len() == 1 { ("shard", "is") } else { ("shards", "are") };
        return Err(format!("{noun} {} {verb} missing: a merge needs all {n} shards of the plan", missing.join(", ")));
    }
    Ok((n, by_index.into_values().collect()))
}

fn first_label(seen: &BTreeMap<u32, ShardInput>, fallback: &ShardInput) -> String {
    seen.values().next().map_or_else(|| fallback.label.clone(), |s| s.label.clone())
}

fn no_digest(input: &ShardInput) -> String {
    format!(
        "{} names no plan digest (a report of an older ospecc, or not a run's report): rerun the shard with this ospecc",
        input.label
    )
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// Merges the shards of one plan; an error says what is wrong with the inputs.
pub fn merge(inputs: Vec<ShardInput>) -> Result<Merged, String> {
    let (n, shards) = order_shards(inputs)?;
    let identity = shards[0].report.plan.clone().ok_or("no plan digest")?;
    let root = shards[0].report.root.clone();
    let with_events = shards.iter().all(|s| s.events.is_some());
    // Each shard's results grouped by plan test; the rest (probes, run errors) kept in order.
    let mut per_test: Vec<Vec<ItemResult>> = vec![Vec::new(); identity.tests.len()];
    let mut rest: Vec<ItemResult> = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let mut services: Vec<ServiceResult> = Vec::new();
    let mut diagnostics = Vec::new();
    let mut duration_ms: f64 = 0.0;
    for (position, shard) in shards.into_iter().enumerate() {
        let k = position as u32 + 1;
        let offset = events.len() as u64;
        let shard_events = if with_events { shard.events.unwrap_or_default() } else { Vec::new() };
        let base = shard_events.first().map_or(0, |e| e.seq);
        events.extend(shard_events.into_iter().map(|e| Event { seq: e.seq - base + offset, ..e }));
        duration_ms = duration_ms.max(shard.report.duration_ms);
        for fate in shard.report.services {
            merge_fate(&mut services, fate);
        }
        for diagnostic in shard.report.diagnostics {
            if !diagnostics.contains(&diagnostic) {
                diagnostics.push(diagnostic);
            }
        }
        for mut result in shard.report.results {
            if with_events {
                result.first_seq = result.first_seq.saturating_sub(base) + offset;
                result.end_seq = result.end_seq.saturating_sub(base) + offset;
                result.message = result.message.map(|m| renumber(&m, |seq| seq.saturating_sub(base) + offset));
            } else {
                (result.first_seq, result.end_seq) = (0, 0);
            }
            match identity.test_of(&result.name) {
                Some(i) if i % n as usize != position => {
                    return Err(format!(
                        "{}: `{}` is in shard {k}/{n}, but the plan's test #{} runs in shard {}/{n}",
                        shard.label,
                        result.name,
                        i + 1,
                        i % n as usize + 1
                    ))
                }
                Some(i) => per_test[i].push(result),
                None => rest.push(result),
            }
        }
    }
    let results: Vec<ItemResult> = per_test.into_iter().flatten().chain(rest).collect();
    let report = RunReport {
        root,
        shard: None,
        duration_ms,
        services,
        summary: Summary::of(&results),
        results,
        diagnostics,
        plan: Some(identity),
    };
    Ok(Merged { report, events })
}

/// A message's `event #N` (a monitor's verdict names the event it failed at) in the merged
/// numbering, so the message still points at its event in the merged log.
pub(crate) fn renumber(message: &str, shift: impl Fn(u64) -> u64) -> String {
    const MARK: &str = "event #";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        let (before, after) = rest.split_at(at + MARK.len());
        out.push_str(before);
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        match after[..digits].parse::<u64>() {
            Ok(seq) => out.push_str(&shift(seq).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Keeps the first failure of each service, as one run does.
fn merge_fate(seen: &mut Vec<ServiceResult>, fate: ServiceResult) {
    match seen.iter_mut().find(|s| s.name == fate.name) {
        Some(existing) if existing.state == "failed" => {}
        Some(existing) => *existing = fate,
        None => seen.push(fate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Outcome, PlanIdentity};

    fn shard(label: &str, shard: &str, digest: &str, names: &[(&str, Outcome)]) -> ShardInput {
        let results: Vec<ItemResult> = names.iter().map(|(n, o)| ItemResult::sample(n, *o)).collect();
        ShardInput {
            label: label.into(),
            report: RunReport {
                root: "spec.star".into(),
                shard: Some(shard.into()),
                duration_ms: 10.0,
                services: Vec::new(),
                summary: Summary::of(&results),
                results,
                diagnostics: Vec::new(),
                plan: Some(PlanIdentity {
                    digest: digest.into(),
                    tests: vec!["test_a".into(), "test_b".into(), "test_c".into()],
                }),
            },
            events: None,
        }
    }

    #[test]
    fn shards_interleave_back_into_plan_order() {
        let merged = merge(vec![
            shard("two.json", "2/2", "d1", &[("test_b[mode=x]", Outcome::Passed), ("test_b[mode=y]", Outcome::Failed)]),
            shard(
                "one.json",
                "1/2",
                "d1",
                &[("test_a", Outcome::Passed), ("test_c", Outcome::Passed), ("probe.x", Outcome::Passed)],
            ),
        ])
        .unwrap();
        let names: Vec<&str> = merged.report.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["test_a", "test_b[mode=x]", "test_b[mode=y]", "test_c", "probe.x"]);
        assert_eq!(merged.report.summary.failed, 1);
        assert_eq!(merged.report.shard, None);
    }

    #[test]
    fn event_numbers_in_messages_follow_the_merged_log() {
        assert_eq!(
            renumber("monitor `m` violated at event #12: x", |s| s + 100),
            "monitor `m` violated at event #112: x"
        );
        assert_eq!(renumber("no event here", |s| s + 1), "no event here");
    }

    #[test]
    fn mismatched_missing_and_duplicated_shards_are_refused() {
        let a = || shard("a.json", "1/2", "d1", &[("test_a", Outcome::Passed)]);
        let err = |inputs| merge(inputs).err().unwrap();
        assert!(err(vec![a(), shard("b.json", "2/2", "d2", &[])]).contains("different plans"));
        assert!(err(vec![a()]).contains("shard 2/2 is missing"));
        assert!(err(vec![a(), shard("c.json", "1/2", "d1", &[])]).contains("shard 1/2 is given twice"));
        assert!(err(vec![a(), shard("d.json", "2/3", "d1", &[])]).contains("shards of 2"));
        assert!(
            err(vec![a(), shard("e.json", "2/2", "d1", &[("test_a", Outcome::Passed)])]).contains("runs in shard 1/2")
        );
    }
}
