//! Running a plan's topology tests: each test's body (and setup and expectation) is called
//! by its callable id in the bundle evaluated for running, with the run-mode builtins of
//! [`runner`]; then the test's monitors read its events. The outcome is a result, never a
//! crash: assertion failures fail the test, a raising or hanging body errors it (the deadline
//! stops Starlark), a fault that cannot be applied errors it with its code. The test's own
//! fault rules are in force from after its setup until the lifecycle ends; the run
//! diagnostics ([`crate::faults::diagnose`]) read their counters afterwards.

mod concurrent;
pub mod dynamic;
pub mod event_value;
mod faulting;
pub mod filters;
pub mod runner;

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use ospecc_compiler::topology::run::{CallLimits, Loaded};
use ospecc_schema::plan::topology::{Monitor, Test};
use ospecc_schema::plan::Plan;
use starlark::eval::Evaluator;
use starlark::values::Value;

use crate::events::{fields, EventLog};
use crate::explore::Leaf;
use crate::faults::diagnose::{self, TestFacts};
use crate::faults::Faults;
use crate::report::{ItemKind, ItemResult, Outcome, RunDiagnostic};
use event_value::EventValue;
use runner::{Stop, TestContext};

/// Nested calls a test body may make.
const MAX_CALL_DEPTH: usize = 200;
/// How long a post-hoc scan waits for output the services already wrote to become events
/// (normally no time at all: only a starved reader thread makes it wait).
const SETTLE: Duration = Duration::from_secs(2);

/// What every test of a run shares.
pub struct Suite<'a> {
    pub plan: &'a Plan,
    pub loaded: &'a Loaded,
    pub events: &'a EventLog,
    pub client: reqwest::blocking::Client,
    /// Services that died after becoming ready, with the cause (asked after each test).
    pub crashed: &'a (dyn Fn() -> Vec<(String, String)> + Sync),
    /// The lifecycle's fault machinery.
    pub faults: Option<&'a Faults>,
    /// The leaf of the test's decision tree this execution runs.
    pub leaf: &'a Leaf,
    /// Determinism mode: under strict mode a leak nobody tolerates fails a passing test.
    pub determinism: &'a crate::determinism::Settings,
    /// The services' `seed=`/`reset=` hooks this lifecycle owes, run before the test's setup.
    pub hooks: &'a [crate::supervisor::Hook],
}

/// How the body part of a test ended.
struct Executed {
    outcome: Outcome,
    message: Option<String>,
    assertions: u32,
    timed_out: bool,
    diagnostics: Vec<RunDiagnostic>,
}

impl Suite<'_> {
    /// Runs one test to its result. Its assertions and monitors see the events from
    /// `first_seq` on (the start of its lifecycle, so services' startup output counts).
    pub fn run(&self, test: &Test, first_seq: u64) -> ItemResult {
        let started = Instant::now();
        self.events.push("test", "test_started", fields([("test", test.name.clone().into())]));
        let executed = self.execute(test, first_seq);
        let crashed = self.crash(first_seq);
        let (outcome, message) = match (executed.outcome, &crashed) {
            (Outcome::Passed | Outcome::Failed, Some((service, cause))) => {
                (Outcome::Errored, Some(format!("service `{service}` crashed during the test: {cause}")))
            }
            (outcome, _) => (outcome, executed.message),
        };
        let (outcome, message) = match outcome {
            Outcome::Passed => match self.determinism.violation(&self.events.since(first_seq)) {
                Some(leak) => (Outcome::Failed, Some(leak)),
                None => (outcome, message),
            },
            _ => (outcome, message),
        };
        let end = self.events.push(
            "test",
            "test_finished",
            fields([("test", test.name.clone().into()), ("outcome", outcome.name().into())]),
        );
        let mut result = ItemResult {
            name: test.name.clone(),
            kind: ItemKind::Test,
            outcome,
            message,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            origin: Some(test.origin.clone()),
            matrix: test.matrix.as_ref().map(|m| (m.scenario.clone(), m.fault.clone())),
            first_seq,
            end_seq: end + 1,
            assertions: executed.assertions,
            diagnostics: executed.diagnostics,
        };
        let installed = self.faults.map(Faults::installed).unwrap_or_default();
        let facts = TestFacts { test, installed: &installed, timed_out: executed.timed_out, crashed };
        diagnose::test(&facts, &mut result);
        result
    }

    /// A service that crashed during the test. A process that dies mid-request closes its
    /// connections while it is still exiting, before anything can see it gone: after a failed
    /// step, the check waits a moment for such an exit to land.
    fn crash(&self, first_seq: u64) -> Option<(String, String)> {
        let failed_step = self
            .events
            .since(first_seq)
            .iter()
            .any(|e| e.kind == "step" && e.fields.get("ok").and_then(serde_json::Value::as_bool) == Some(false));
        let settle = Instant::now() + Duration::from_millis(if failed_step { 300 } else { 0 });
        loop {
            let found = (self.crashed)().into_iter().next();
            if found.is_some() || Instant::now() >= settle {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn execute(&self, test: &Test, first_seq: u64) -> Executed {
        let deadline = Instant::now() + Duration::from_millis(test.timeout_ms.max(1));
        let context = TestContext {
            plan: self.plan,
            events: self.events,
            client: &self.client,
            deadline,
            first_seq,
            assertions: Cell::new(0),
            stop: RefCell::new(None),
            faults: self.faults,
            root: self.loaded.root().to_owned(),
            claimed_monitors: RefCell::new(Vec::new()),
            leaf: self.leaf,
            parallel_depth: Cell::new(0),
            in_flight: Default::default(),
            assert_at: Default::default(),
        };
        let limits = CallLimits { deadline, max_call_depth: MAX_CALL_DEPTH };
        let verdict = self.loaded.with_evaluator(&context, limits, |eval| self.phases(test, &context, eval));
        let assertions = context.assertions.get();
        let stop = context.stop.take();
        let timed_out = Instant::now() >= deadline;
        let mut diagnostics = Vec::new();
        let (outcome, message) = match verdict {
            Ok(()) => (Outcome::Passed, None),
            Err((phase, error)) => match (stop, phase) {
                (Some(Stop::NeedsFaults(why)), _) => (Outcome::NotRun, Some(why)),
                (Some(Stop::Fault(error)), _) => {
                    diagnostics.push(RunDiagnostic {
                        level: "error".into(),
                        code: error.code.into(),
                        message: error.message.clone(),
                        suggestion: error.hint.clone(),
                    });
                    (Outcome::Errored, Some(error.to_string()))
                }
                (Some(Stop::Assertion(m)), Phase::Expect) => {
                    (Outcome::Failed, Some(format!("expectation violated: {m}")))
                }
                (Some(Stop::Assertion(m)), _) => (Outcome::Failed, Some(m)),
                (Some(Stop::Halted(m)), _) => (Outcome::Errored, Some(format!("halted: {m}"))),
                (None, _) if timed_out => (
                    Outcome::Errored,
                    Some(format!("timed out after {:.1}s (the test's timeout)", test.timeout_ms as f64 / 1000.0)),
                ),
                (None, Phase::Expect) => (Outcome::Failed, Some(format!("expectation violated: {error}"))),
                (None, Phase::Monitor) => (Outcome::Failed, Some(error)),
                (None, phase) => (Outcome::Errored, Some(format!("the {} raised: {error}", phase.name()))),
            },
        };
        Executed { outcome, message, assertions, timed_out: timed_out && outcome == Outcome::Errored, diagnostics }
    }

    /// Setup, body, expectation, monitors; the first failure stops the rest.
    fn phases<'v>(
        &self,
        test: &Test,
        context: &TestContext,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> Result<(), (Phase, String)> {
        for hook in self.hooks {
            let name = hook.callable.name.clone();
            self.events.push(&hook.service, hook.kind.event(), fields([("callable", name.into())]));
            self.call(eval, &hook.callable.id, &[])
                .map_err(|e| (Phase::Hook, format!("`{}` ({}): {e}", hook.service, hook.callable.name)))?;
        }
        if let Some(setup) = &test.setup {
            self.call(eval, &setup.id, &[]).map_err(|e| (Phase::Setup, e))?;
        }
        if let Some(faults) = self.faults {
            // As Faultbox: the test's faults hold through the body, its monitors and its
            // expectation (which may check what the fault did).
            faults.apply_test(test).map_err(|error| (Phase::Faults, context.halt_fault(error)))?;
        }
        let result = self.call(eval, &test.body.id, &[]).map_err(|e| (Phase::Body, e))?;
        let claimed = context.claimed_monitors.borrow().clone();
        let monitors = test.monitors.iter().chain(claimed.iter().filter(|m| !test.monitors.contains(m)));
        for name in monitors {
            if let Some(monitor) = self.plan.monitors.iter().find(|m| &m.name == name) {
                self.monitor(monitor, context, eval).map_err(|e| (Phase::Monitor, e))?;
            }
        }
        if let Some(expect) = &test.expect {
            self.call(eval, &expect.id, &[result]).map_err(|e| (Phase::Expect, e))?;
        }
        Ok(())
    }

    fn call<'v>(&self, eval: &mut Evaluator<'v, '_, '_>, id: &str, args: &[Value<'v>]) -> Result<Value<'v>, String> {
        let function = self.loaded.callable(id).ok_or_else(|| format!("the bundle has no callable `{id}`"))?;
        eval.eval_function(function.to_value(), args, &[]).map_err(|e| first_line(&e.to_string()))
    }

    /// A monitor over the test's events, in order. The `on` form passes each matching event to
    /// its function: a raise or a `False` is a violation. The stateful form threads
    /// `state = update(event, state)` from `state_init` and asks `check(event, state)`, which
    /// must return True.
    fn monitor<'v>(
        &self,
        monitor: &Monitor,
        context: &TestContext,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> Result<(), String> {
        let events = context.test_events();
        let wanted = filters::compile(&monitor.filters);
        let on = match (&monitor.update, &monitor.check) {
            (None, None) => monitor.callables.first(),
            _ => None,
        };
        let mut state = eval.heap().alloc(monitor.state_init.clone().unwrap_or(serde_json::Value::Null));
        for event in events.iter().filter(|e| filters::matches(e, &wanted)) {
            let value = eval.heap().alloc(EventValue(event.clone()));
            let violated = |why: String| format!("monitor `{}` violated at event #{}{why}", monitor.name, event.seq);
            if let Some(update) = &monitor.update {
                state = self.call(eval, &update.id, &[value, state]).map_err(|e| violated(format!(": {e}")))?;
            }
            let decider = monitor.check.as_ref().or(on);
            let Some(decider) = decider else { continue };
            let args: &[Value<'v>] = if monitor.check.is_some() { &[value, state] } else { &[value] };
            match self.call(eval, &decider.id, args) {
                Ok(verdict) if verdict.unpack_bool() == Some(false) => return Err(violated(String::new())),
                Ok(verdict) if monitor.check.is_some() && verdict.unpack_bool() != Some(true) => {
                    return Err(violated(format!(": check returned {}, not True", verdict.to_repr())));
                }
                Ok(_) => {}
                Err(e) => return Err(violated(format!(": {e}"))),
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Hook,
    Setup,
    Faults,
    Body,
    Expect,
    Monitor,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Hook => "seed/reset hook",
            Phase::Setup => "setup",
            Phase::Faults => "faults",
            Phase::Body => "scenario",
            Phase::Expect => "expectation",
            Phase::Monitor => "monitor",
        }
    }
}

/// Starlark errors carry a traceback after the message; reports want the message.
fn first_line(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // starlark-rust prints `error: <message>` after the traceback lines.
    lines
        .iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(|| lines.last().map_or_else(String::new, |l| l.trim().to_owned()), |m| m.to_owned())
}
