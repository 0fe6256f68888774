//! Run mode: a plan's bundle evaluated again, every callable the plan names found by its id,
//! and test bodies run with builtins and steps dispatched to a runner.

use std::cell::RefCell;
use std::path::Path;
use std::time::{Duration, Instant};

use ospecc_compiler::plan::{self, PlanInput, PlanOptions};
use ospecc_compiler::topology::run::{self, Args, CallLimits, Runner};
use ospecc_compiler::topology::{Limits, Recorded};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_schema::plan::Plan;
use ospecc_schema::topology::Builtin;
use starlark::eval::Evaluator;
use starlark::values::Value;

fn plan_of(name: &str, text: &str, files: &[(&str, &str)]) -> Plan {
    let mut fs = MemoryFs::default();
    for (file, content) in files {
        fs = fs.with_file(Path::new("/ws").join(file), *content);
    }
    let path = Path::new("/ws").join(name);
    fs = fs.with_file(&path, text);
    let options = PlanOptions::default();
    let input = PlanInput { path: &path, text, fs: &fs, root: Path::new("/ws"), options: &options };
    let built = plan::build(&input);
    built.plan.unwrap_or_else(|| panic!("no plan: {:#?}", built.diagnostics))
}

fn repo_file(relative: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)).unwrap()
}

/// Records what the test body asked for; answers steps with a status-200 struct.
#[derive(Default)]
struct Recording {
    calls: RefCell<Vec<String>>,
}

impl Runner for Recording {
    fn builtin<'v>(
        &self,
        builtin: &'static Builtin,
        args: &Args<'v>,
        _: &mut Evaluator<'v, '_, '_>,
    ) -> Option<anyhow::Result<Value<'v>>> {
        if builtin.name.starts_with("assert_") {
            self.calls.borrow_mut().push(format!("{}({})", builtin.name, args.positional.len()));
            return Some(Ok(Value::new_none()));
        }
        None
    }

    fn step<'v>(
        &self,
        interface: &Recorded,
        method: &str,
        args: &Args<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        let path = args.named("path").and_then(|v| v.unpack_str()).unwrap_or("").to_owned();
        self.calls.borrow_mut().push(format!("{}.{method} {path}", interface.builtin));
        let heap = eval.heap();
        Ok(heap.alloc(starlark::values::structs::AllocStruct([
            ("status", heap.alloc(200)),
            ("duration_ms", heap.alloc(3)),
        ])))
    }
}

fn limits() -> CallLimits {
    CallLimits { deadline: Instant::now() + Duration::from_secs(5), max_call_depth: 100 }
}

#[test]
fn every_callable_of_a_plan_is_found_again() {
    for fixture in ["tests/fixtures/topology/pattern-1.star", "tests/plans/binaries.star", "tests/plans/mocks.star"] {
        let name = Path::new(fixture).file_name().unwrap().to_str().unwrap();
        let plan = plan_of(name, &repo_file(fixture), &[]);
        let loaded = run::load(&plan.root, &plan.sources, Limits::default()).unwrap();
        let mut ids: Vec<&str> = Vec::new();
        for test in &plan.tests {
            ids.push(&test.body.id);
            ids.extend(test.expect.iter().map(|c| c.id.as_str()));
            ids.extend(test.setup.iter().map(|c| c.id.as_str()));
        }
        for monitor in &plan.monitors {
            ids.extend(monitor.callables.iter().map(|c| c.id.as_str()));
        }
        assert!(!ids.is_empty());
        for id in ids {
            assert!(loaded.callable(id).is_some(), "{fixture}: no callable {id}");
        }
    }
}

#[test]
fn a_scenario_runs_with_steps_and_assertions_dispatched() {
    let spec = "api = service(\"api\", \"/bin/api\", interface(\"http\", \"http\", 8080))\n\
                def create():\n    r = api.http.post(path = \"/users\")\n    assert_eq(r.status, 200)\n    return r\n\
                def read():\n    return api.get(path = \"/users/1\")\n\
                scenario(create)\nfault_matrix(scenarios = [create, read], faults = [fault_assumption(\"f\", target = api, connect = deny(\"EIO\"))],\n    default_expect = lambda r: assert_true(r.status == 200))\n";
    let plan = plan_of("spec.star", spec, &[]);
    let loaded = run::load(&plan.root, &plan.sources, Limits::default()).unwrap();
    let runner = Recording::default();
    let cell = plan.tests.iter().find(|t| t.name == "test_matrix_read_f").unwrap();
    let status = loaded.with_evaluator(&runner, limits(), |eval| {
        let body = loaded.callable(&cell.body.id).unwrap().to_value();
        let result = eval.eval_function(body, &[], &[]).unwrap();
        let expect = loaded.callable(&cell.expect.as_ref().unwrap().id).unwrap().to_value();
        eval.eval_function(expect, &[result], &[]).unwrap();
        result.get_attr("status", eval.heap()).unwrap().unwrap().unpack_i32()
    });
    assert_eq!(status, Some(200));
    assert_eq!(*runner.calls.borrow(), ["interface_ref.get /users/1", "assert_true(1)"]);
    let scenario = plan.tests.iter().find(|t| t.name == "test_create").unwrap();
    loaded.with_evaluator(&runner, limits(), |eval| {
        let body = loaded.callable(&scenario.body.id).unwrap().to_value();
        eval.eval_function(body, &[], &[]).unwrap();
    });
    assert_eq!(runner.calls.borrow()[2..], ["interface_ref.post /users", "assert_eq(2)"]);
}

#[test]
fn a_body_that_loops_forever_stops_at_the_deadline() {
    let spec = "def test_spin():\n    for i in range(1000000000):\n        pass\n";
    let plan = plan_of("spec.star", spec, &[]);
    let loaded = run::load(&plan.root, &plan.sources, Limits::default()).unwrap();
    let limits = CallLimits { deadline: Instant::now() + Duration::from_millis(200), max_call_depth: 100 };
    let started = Instant::now();
    let outcome = loaded.with_evaluator(&Recording::default(), limits, |eval| {
        let body = loaded.callable("spec.star#test_spin").unwrap().to_value();
        eval.eval_function(body, &[], &[]).map(|_| ()).map_err(|e| e.to_string())
    });
    assert!(outcome.is_err(), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "cancelled in time");
}

#[test]
fn steps_at_load_time_are_refused_with_a_reason() {
    let spec = "api = service(\"api\", \"/bin/api\", interface(\"http\", \"http\", 8080))\ndef test_x():\n    pass\n";
    let plan = plan_of("spec.star", spec, &[("lib.star", "x = 1\n")]);
    assert!(run::load(&plan.root, &plan.sources, Limits::default()).is_ok());
    let bad = vec![ospecc_schema::plan::SourceFile {
        path: "spec.star".into(),
        sha256: String::new(),
        text: "api = service(\"api\", \"/bin/api\", interface(\"http\", \"http\", 8080))\napi.http.get(path = \"/\")\n"
            .into(),
    }];
    let errors = run::load("spec.star", &bad, Limits::default()).err().unwrap();
    assert!(errors.iter().any(|d| d.message.contains("runs only inside a test")), "{errors:#?}");
}
