//! The fault builtins while a test runs: `fault`, `fault_all`, `trace` and `partition` with
//! `run=` (applied, the callable run, removed — also when it raises), their imperative
//! `_start`/`_stop` forms, and what cannot run here (packet-level faults need a netstack).
//! The rules come from the same lowering as the plan's (`scope_rules`), so a fault means the
//! same thing at load and at run time.

use anyhow::anyhow;
use ospecc_compiler::plan::topology::faults::scope_rules;
use ospecc_compiler::topology::run::Args;
use ospecc_compiler::topology::Recorded;
use ospecc_schema::plan::Origin;
use ospecc_schema::topology::{Builtin, Scope, ScopeForm, ScopeKind};
use starlark::eval::Evaluator;
use starlark::values::Value;

use super::runner::{Stop, TestContext};
use crate::faults::{FaultError, Layer};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Run,
    Start,
    Stop,
    Partition,
    PartitionStart,
    PartitionStop,
}

impl Kind {
    /// What a builtin's catalog `scope` does here.
    fn of(scope: Scope) -> Kind {
        match (scope.kind, scope.form) {
            (ScopeKind::Partition, ScopeForm::Run) => Kind::Partition,
            (ScopeKind::Partition, ScopeForm::Start) => Kind::PartitionStart,
            (ScopeKind::Partition, ScopeForm::Stop) => Kind::PartitionStop,
            (ScopeKind::Fault | ScopeKind::Trace, ScopeForm::Run) => Kind::Run,
            (ScopeKind::Fault | ScopeKind::Trace, ScopeForm::Start) => Kind::Start,
            (ScopeKind::Fault | ScopeKind::Trace, ScopeForm::Stop) => Kind::Stop,
        }
    }
}

impl TestContext<'_> {
    /// A fault builtin's run-time meaning, or `None` when `name` is not one.
    pub(super) fn fault_builtin<'v>(
        &self,
        builtin: &'static Builtin,
        args: &Args<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> Option<anyhow::Result<Value<'v>>> {
        let name = builtin.name.as_str();
        // Packet-level builtins: Faultbox runs them in a gVisor netstack gateway, which this
        // runtime does not have.
        if builtin.packet_level {
            let why = format!("needs packet-level fault injection (`{name}`), which this runtime does not do");
            return Some(Err(self.halt(Stop::NeedsFaults(why))));
        }
        let fault_scope = builtin.scope?;
        let Some(faults) = self.faults else {
            let why = format!("`{name}` needs the fault machinery, which this run did not set up");
            return Some(Err(self.halt(Stop::NeedsFaults(why))));
        };
        Some(self.apply_fault(fault_scope, builtin, args, eval, faults))
    }

    fn apply_fault<'v>(
        &self,
        fault_scope: Scope,
        builtin: &'static Builtin,
        args: &Args<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
        faults: &crate::faults::Faults,
    ) -> anyhow::Result<Value<'v>> {
        let name = builtin.name.as_str();
        let kind = Kind::of(fault_scope);
        match kind {
            Kind::Run | Kind::Start => {
                let record = args.to_record(builtin, &self.root);
                let scope = self.scope_name(name, &record);
                let rules = scope_rules(&record, &scope, &|r: &Recorded| origin(r));
                match faults.apply_scope(&scope, Layer::of(fault_scope.kind), &rules) {
                    Err(error) => Err(self.fault_error(error)),
                    Ok(applied) => {
                        self.claim_monitors(&rules.monitors);
                        if kind == Kind::Start {
                            Ok(Value::new_none())
                        } else {
                            let result = self.run_callable(args, eval);
                            faults.leave_scope(&applied);
                            result
                        }
                    }
                }
            }
            Kind::Stop => {
                for service in services(args) {
                    faults.clear_dynamic(&service, Layer::of(fault_scope.kind));
                }
                Ok(Value::new_none())
            }
            Kind::Partition | Kind::PartitionStart => {
                let [a, b] = two_services(args)?;
                let direction = args.named("direction").and_then(|v| v.unpack_str()).unwrap_or("both").to_owned();
                if let Err(error) = faults.partition(&a, &b, &direction) {
                    return Err(self.fault_error(error));
                }
                if kind == Kind::PartitionStart {
                    return Ok(Value::new_none());
                }
                let result = self.run_callable(args, eval);
                faults.heal(&a, &b);
                result
            }
            Kind::PartitionStop => {
                let [a, b] = two_services(args)?;
                if faults.heal(&a, &b) {
                    Ok(Value::new_none())
                } else {
                    Err(anyhow!("partition_stop(`{a}`, `{b}`): no partition between them is in force"))
                }
            }
        }
    }

    fn run_callable<'v>(&self, args: &Args<'v>, eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<Value<'v>> {
        let run = args.named("run").ok_or_else(|| anyhow!("needs run= (the function to run under the fault)"))?;
        eval.eval_function(run, &[], &[]).map_err(|e| anyhow!("{e}"))
    }

    fn fault_error(&self, error: FaultError) -> anyhow::Error {
        self.halt(Stop::Fault(error))
    }

    /// `fault(db_down)` is scope `db_down`; `fault(db, write=...)` is `fault(db)`.
    fn scope_name(&self, builtin: &str, record: &Recorded) -> String {
        let target = record.positional.first().and_then(|a| a.record()).and_then(|r| r.name().map(str::to_owned));
        match record.positional.first().and_then(|a| a.record()) {
            Some(r) if r.ty == "fault_assumption" => target.unwrap_or_else(|| builtin.to_owned()),
            _ => format!("{builtin}({})", target.unwrap_or_default()),
        }
    }
}

/// Run-time rules have no source position of their own (the call is in a running body).
fn origin(record: &Recorded) -> Origin {
    Origin { file: record.file.clone(), line: 0, column: 0 }
}

/// The service names of `fault_stop(svc)` / `trace_stop(svc)`.
fn services(args: &Args) -> Vec<String> {
    args.positional.iter().filter_map(|v| service_name(*v)).collect()
}

fn service_name(value: Value) -> Option<String> {
    let record = ospecc_compiler::topology::values::recorded_of(value)?;
    match record.ty.as_str() {
        "service" => record.name().map(str::to_owned),
        _ => None,
    }
}

/// `partition(a, b, ...)`'s two distinct services.
fn two_services(args: &Args) -> Result<[String; 2], anyhow::Error> {
    match (
        args.positional.first().and_then(|v| service_name(*v)),
        args.positional.get(1).and_then(|v| service_name(*v)),
    ) {
        (Some(a), Some(b)) if a != b => Ok([a, b]),
        (Some(a), Some(_)) => Err(anyhow!("partition needs two different services, got `{a}` twice")),
        _ => Err(anyhow!("partition needs two services: partition(a, b, ...)")),
    }
}
