//! The run-mode builtins: what `assert_*`, `events()`, `sleep`, `parallel`, `choose` and the
//! step methods do while a test runs; the fault builtins are in [`super::faulting`].
//! Everything else a body calls (fault constructors, matchers, mock responses) stays a
//! recorded value, as at load time. Steps reach services through the test driver's proxy edge
//! when the lifecycle has one, so protocol faults and partitions apply to them too.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ospecc_compiler::topology::run::{Args, Runner};
use ospecc_compiler::topology::Recorded;
use ospecc_schema::plan::topology::Service;
use ospecc_schema::plan::Plan;
use ospecc_schema::topology::Builtin;
use starlark::eval::Evaluator;
use starlark::values::list::AllocList;
use starlark::values::Value;

use super::concurrent::{InFlight, OwnedArgs, PendingResponse};
use super::event_value::EventValue;
use super::filters;
use crate::events::{fields, Event, EventLog};
use crate::explore::Leaf;
use crate::faults::edges::TEST_DRIVER;
use crate::faults::Faults;
use crate::steps::response::Response;
use crate::steps::{self, Target};

/// Why a test body stopped early, when it is not an ordinary error.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// An `assert_*` failed.
    Assertion(String),
    /// The body needs a capability this runtime does not have (packet-level faults, a step
    /// over a protocol with no client here): the test is not run, with the reason.
    NeedsFaults(String),
    /// A fault could not be applied (not filterable, no proxy, no edge to cut).
    Fault(crate::faults::FaultError),
    /// `halt(reason)`.
    Halted(String),
}

/// One test's view of the run: the plan, the event log, where services listen, the deadline.
pub struct TestContext<'a> {
    pub plan: &'a Plan,
    pub events: &'a EventLog,
    pub client: &'a reqwest::blocking::Client,
    pub deadline: Instant,
    /// The first event of this test (assertions scan from here).
    pub first_seq: u64,
    pub assertions: Cell<u32>,
    pub stop: RefCell<Option<Stop>>,
    /// The lifecycle's fault machinery (`None` for runs that set none up).
    pub faults: Option<&'a Faults>,
    /// The file run-time fault calls are attributed to (the topology root).
    pub root: String,
    /// Monitors claimed by assumptions the body applied (`fault(db_down, run=...)`).
    pub claimed_monitors: RefCell<Vec<String>>,
    /// The leaf this execution runs: named `choose()` axes take its options.
    pub leaf: &'a Leaf,
    /// How many `parallel` calls are in progress (steps inside one run concurrently).
    pub parallel_depth: Cell<u32>,
    /// Steps sent concurrently and not yet joined.
    pub in_flight: InFlight,
    /// Where the assertion being evaluated is written (`file:line:column`), for its event:
    /// an editor shows a failure on that line.
    pub assert_at: RefCell<Option<String>>,
}

impl TestContext<'_> {
    /// Monitors an applied assumption brings along are checked for the rest of the test.
    pub(super) fn claim_monitors(&self, names: &[String]) {
        let mut claimed = self.claimed_monitors.borrow_mut();
        for name in names {
            if !claimed.contains(name) {
                claimed.push(name.clone());
            }
        }
    }

    /// Stops the test for a fault that cannot be applied; returns the message.
    pub(super) fn halt_fault(&self, error: crate::faults::FaultError) -> String {
        self.halt(Stop::Fault(error)).to_string()
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
    }

    /// Stops the body with `stop`, returning the error Starlark unwinds with.
    pub(super) fn halt(&self, stop: Stop) -> anyhow::Error {
        let message = match &stop {
            Stop::Assertion(m) | Stop::NeedsFaults(m) | Stop::Halted(m) => m.clone(),
            Stop::Fault(error) => error.to_string(),
        };
        self.stop.replace(Some(stop));
        anyhow::anyhow!(message)
    }

    fn assertion(&self, ok: bool, message: impl FnOnce() -> String) -> anyhow::Result<()> {
        self.assertions.set(self.assertions.get() + 1);
        let message = if ok { None } else { Some(message()) };
        let at = self.assert_at.borrow_mut().take();
        self.events.push(
            "test",
            "assertion",
            fields([("ok", ok.into()), ("message", message.clone().into()), ("at", at.into())]),
        );
        match message {
            None => Ok(()),
            Some(m) => Err(self.halt(Stop::Assertion(m))),
        }
    }

    /// This test's events so far, including every line the services wrote before the call.
    pub(super) fn test_events(&self) -> Vec<Event> {
        self.events.settle(super::SETTLE);
        self.events.since(self.first_seq)
    }

    fn service(&self, name: &str) -> Option<&Service> {
        self.plan.services.iter().find(|s| s.name == name)
    }
}

impl Runner for TestContext<'_> {
    fn builtin<'v>(
        &self,
        builtin: &'static Builtin,
        args: &Args<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> Option<anyhow::Result<Value<'v>>> {
        let name = builtin.name.as_str();
        if name.starts_with("assert_") {
            let at = eval.call_stack_top_location().map(|loc| {
                let position = loc.resolve_span();
                format!("{}:{}:{}", loc.filename(), position.begin.line + 1, position.begin.column + 1)
            });
            self.assert_at.replace(at);
        }
        if let Some(result) = self.fault_builtin(builtin, args, eval) {
            return Some(result);
        }
        Some(match name {
            "assert_true" => self.assert_true(args).map(|()| Value::new_none()),
            "assert_eq" => self.assert_eq(args).map(|()| Value::new_none()),
            "assert_eventually" | "assert_never" => {
                self.assert_events(name == "assert_never", args, eval).map(|()| Value::new_none())
            }
            "assert_before" => self.assert_before(args).map(|()| Value::new_none()),
            "events" => self.matching(args, eval).map(|found| {
                let heap = eval.heap();
                heap.alloc(AllocList(found.into_iter().map(|e| heap.alloc(EventValue(e))).collect::<Vec<_>>()))
            }),
            "sleep" => self.sleep(args).map(|()| Value::new_none()),
            "parallel" => self.parallel(args, eval),
            "choose" => Ok(self.choose(args)),
            "halt" => {
                let reason = args.positional.first().map(|v| v.to_str()).unwrap_or_else(|| "halted".into());
                Err(self.halt(Stop::Halted(reason)))
            }
            _ => return None,
        })
    }

    fn step<'v>(
        &self,
        interface: &Recorded,
        method: &str,
        args: &Args<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        let (service_name, iface_name) = match interface.positional.as_slice() {
            [a, b, ..] => (
                a.record().and_then(|r| r.name()).unwrap_or_default().to_owned(),
                b.record().and_then(|r| r.name()).unwrap_or_default().to_owned(),
            ),
            _ => anyhow::bail!("`{method}` is not on an interface"),
        };
        let service = self.service(&service_name).ok_or_else(|| anyhow::anyhow!("no service `{service_name}`"))?;
        let iface = service
            .interfaces
            .iter()
            .find(|i| i.name == iface_name)
            .ok_or_else(|| anyhow::anyhow!("`{service_name}` has no interface `{iface_name}`"))?;
        let port = iface.port.ok_or_else(|| anyhow::anyhow!("`{service_name}.{iface_name}` has no known port"))?;
        let edge = self.faults.and_then(|f| f.edges().get(TEST_DRIVER, &service_name, &iface_name));
        let target = Target {
            service,
            interface: &iface.name,
            protocol: &iface.protocol,
            address: edge.map_or_else(|| SocketAddr::from(([127, 0, 0, 1], port)), |e| e.proxy),
            timeout: self.remaining(),
        };
        if !STEP_PROTOCOLS.contains(&iface.protocol.as_str()) {
            // Not a failure of the system under test: the test is not run, with the reason
            // (`ospecc check` warns about it as TOP131).
            let why =
                format!("`{method}` steps over `{}`: this runtime has no {} client", iface.protocol, iface.protocol);
            return Err(self.halt(Stop::NeedsFaults(why)));
        }
        step_sent(self.events, &target, method);
        if iface.protocol == "tcp" {
            let reply = steps::tcp::send(&target, args);
            step_event(self.events, &target, method, reply.as_ref().map(|_| 0).map_err(|e| e.to_string()));
            return reply.map(|line| eval.heap().alloc(line));
        }
        if self.parallel_depth.get() > 0 {
            if let Some(owned) = OwnedArgs::of(args) {
                return Ok(eval.heap().alloc(self.send_concurrently(&target, method, owned)));
            }
        }
        let response = call_protocol(self.client, &target, method, args)
            .ok_or_else(|| anyhow::anyhow!("`{method}` is not a step of `{}`", iface.protocol))?;
        step_event(self.events, &target, method, outcome(&response));
        Ok(eval.heap().alloc(response))
    }
}

/// The protocols with step clients (`tcp`'s `send` answers a line, not a response). The
/// catalog's `steps_run` must agree (`runtime/tests/catalog_protocols.rs`).
pub const STEP_PROTOCOLS: &[&str] = &["http", "http2", "postgres", "redis", "grpc", "mongodb", "kafka", "tcp"];

/// A step through its protocol's client: the response, or `None` for a method the protocol
/// does not have.
fn call_protocol(client: &reqwest::blocking::Client, target: &Target, method: &str, args: &Args) -> Option<Response> {
    match target.protocol {
        "http" | "http2" => steps::http::call(client, target, method, args),
        "postgres" => steps::postgres::call(target, method, args),
        "redis" => steps::redis::call(target, method, args),
        "grpc" => steps::grpc::call(target, method, args),
        "mongodb" => steps::mongodb::call(target, method, args),
        "kafka" => steps::kafka::call(target, method, args),
        _ => None,
    }
}

fn outcome(response: &Response) -> Result<i32, String> {
    if response.ok {
        Ok(response.status)
    } else {
        Err(response.error.clone())
    }
}

/// The test driver sent a step (`step_send`; its reply is the `step` event).
fn step_sent(events: &EventLog, target: &Target, method: &str) {
    events.push(
        "test",
        "step_send",
        fields([
            ("target", target.service.name.clone().into()),
            ("interface", target.interface.into()),
            ("protocol", target.protocol.into()),
            ("method", method.into()),
        ]),
    );
}

/// A step's reply (or failure) as the `step` event.
fn step_event(events: &EventLog, target: &Target, method: &str, outcome: Result<i32, String>) {
    let (ok, status, error) = match outcome {
        Ok(status) => (true, status, None),
        Err(e) => (false, 0, Some(e)),
    };
    events.push(
        "test",
        "step",
        fields([
            ("target", target.service.name.clone().into()),
            ("interface", target.interface.into()),
            ("protocol", target.protocol.into()),
            ("method", method.into()),
            ("ok", ok.into()),
            ("status", status.into()),
            ("error", error.into()),
        ]),
    );
}

impl TestContext<'_> {
    /// Sends a step on its own thread (inside `parallel`); the reply comes later.
    fn send_concurrently(&self, target: &Target, method: &str, args: OwnedArgs) -> PendingResponse {
        let service = target.service.clone();
        let (interface, protocol) = (target.interface.to_owned(), target.protocol.to_owned());
        let (address, timeout) = (target.address, target.timeout);
        let (client, events, method) = (self.client.clone(), self.events.clone(), method.to_owned());
        self.in_flight.send(move || {
            let target = Target { service: &service, interface: &interface, protocol: &protocol, address, timeout };
            let response = args
                .with_args(|args| call_protocol(&client, &target, &method, args))
                .unwrap_or_else(|| Response::failed(format!("`{method}` is not a step of `{protocol}`"), 0));
            step_event(&events, &target, &method, outcome(&response));
            response
        })
    }
}

impl TestContext<'_> {
    fn assert_true(&self, args: &Args) -> anyhow::Result<()> {
        let condition = args.positional.first().is_some_and(|v| v.to_bool());
        self.assertion(condition, || message(args, 1, "assert_true failed"))
    }

    fn assert_eq(&self, args: &Args) -> anyhow::Result<()> {
        let (Some(actual), Some(expected)) = (args.positional.first(), args.positional.get(1)) else {
            anyhow::bail!("assert_eq needs two values");
        };
        let equal = actual.equals(*expected).unwrap_or(false);
        self.assertion(equal, || {
            let text = format!("assert_eq failed: {} != {}", actual.to_repr(), expected.to_repr());
            match args.positional.get(2) {
                Some(m) => format!("{text} ({})", m.unpack_str().map_or_else(|| m.to_str(), str::to_owned)),
                None => text,
            }
        })
    }

    /// The test's events matching `where=` (a callable) or else the keyword filters.
    fn matching<'v>(&self, args: &Args<'v>, eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<Vec<Event>> {
        let events = self.test_events();
        if let Some(predicate) = args.named("where") {
            let mut found = Vec::new();
            for event in events {
                let value = eval.heap().alloc(EventValue(event.clone()));
                let hit = eval.eval_function(predicate, &[value], &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
                if hit.to_bool() {
                    found.push(event);
                }
            }
            return Ok(found);
        }
        let wanted: Vec<(String, String)> = args
            .named
            .iter()
            .filter(|(k, _)| k != "where")
            .map(|(k, v)| (k.clone(), v.unpack_str().map_or_else(|| v.to_str(), str::to_owned)))
            .collect();
        let wanted = filters::compile(&wanted);
        Ok(events.into_iter().filter(|e| filters::matches(e, &wanted)).collect())
    }

    fn assert_events<'v>(&self, never: bool, args: &Args<'v>, eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<()> {
        let found = self.matching(args, eval)?;
        if never {
            let first = found.first().map(|e| format!("#{} {} {}", e.seq, e.service, e.kind));
            self.assertion(found.is_empty(), || {
                format!("assert_never failed: event {} matched", first.unwrap_or_default())
            })
        } else {
            self.assertion(!found.is_empty(), || "assert_eventually failed: no event matched".to_owned())
        }
    }

    fn assert_before(&self, args: &Args) -> anyhow::Result<()> {
        let filter = |name: &str| -> Vec<(String, String)> {
            let Some(dict) = args.named(name).and_then(starlark::values::dict::DictRef::from_value) else {
                return Vec::new();
            };
            dict.iter().map(|(k, v)| (k.to_str(), v.unpack_str().map_or_else(|| v.to_str(), str::to_owned))).collect()
        };
        let events = self.test_events();
        let seq = |pairs: &[(String, String)]| {
            let compiled = filters::compile(pairs);
            events.iter().find(|e| filters::matches(e, &compiled)).map(|e| e.seq)
        };
        let (first, then) = (seq(&filter("first")), seq(&filter("then")));
        self.assertion(matches!((first, then), (Some(a), Some(b)) if a < b), || match (first, then) {
            (None, _) => "assert_before failed: no event matched `first`".to_owned(),
            (_, None) => "assert_before failed: no event matched `then`".to_owned(),
            (Some(a), Some(b)) => format!("assert_before failed: `then` (#{b}) came before `first` (#{a})"),
        })
    }

    fn sleep(&self, args: &Args) -> anyhow::Result<()> {
        let text = args.positional.first().and_then(|v| v.unpack_str()).unwrap_or("0s");
        let duration = parse_duration(text).ok_or_else(|| anyhow::anyhow!("sleep: `{text}` is not a duration"))?;
        if duration > self.remaining() {
            anyhow::bail!("sleep({text}) is longer than the test's remaining time");
        }
        std::thread::sleep(duration);
        Ok(())
    }

    /// `parallel(f, g, ...)`: every function runs, in one order; the other orders
    /// `interleavings=` asks for are noted as not explored.
    fn parallel<'v>(&self, args: &Args<'v>, eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<Value<'v>> {
        self.leaf.note_interleavings(interleavings(args));
        if self.parallel_depth.get() == 0 {
            // Every branch sends before any step goes out (released by `join_all` below).
            self.in_flight.hold();
        }
        self.parallel_depth.set(self.parallel_depth.get() + 1);
        let mut results = Vec::new();
        let mut failed = None;
        for function in &args.positional {
            match eval.eval_function(*function, &[], &[]) {
                Ok(value) => results.push(value),
                Err(e) => {
                    failed = Some(anyhow::anyhow!("{e}"));
                    break;
                }
            }
        }
        self.parallel_depth.set(self.parallel_depth.get() - 1);
        // Every step sent is answered (and its event logged) before the test goes on.
        self.in_flight.join_all();
        if let Some(error) = failed {
            return Err(error);
        }
        let heap = eval.heap();
        let results: Vec<Value> = results
            .into_iter()
            .map(|v| PendingResponse::from_value(v).map_or(v, |pending| heap.alloc(pending.wait())))
            .collect();
        Ok(heap.alloc(AllocList(results)))
    }

    /// `choose(options)` or `choose(name, options)`: the option this leaf takes for a named
    /// axis; an anonymous `choose` is no axis and takes its first option.
    fn choose<'v>(&self, args: &Args<'v>) -> Value<'v> {
        let options: Vec<Value<'v>> = args
            .positional
            .last()
            .and_then(|v| starlark::values::list::ListRef::from_value(*v))
            .map(|list| list.iter().collect())
            .unwrap_or_default();
        let index = match args.positional.as_slice() {
            [name, _] => match name.unpack_str() {
                Some(name) => {
                    let labels: Vec<String> =
                        options.iter().map(|v| v.unpack_str().map_or_else(|| v.to_repr(), str::to_owned)).collect();
                    self.leaf.choose(name, &labels)
                }
                None => 0,
            },
            _ => 0,
        };
        options.get(index).copied().unwrap_or_else(Value::new_none)
    }
}

/// How many orders `parallel(f1, ..., fN, interleavings=X)` asks for, as the plan counts them:
/// `"all"` → N!, `"critical"` → min(2N−1, N!), an integer n → min(n, N!), else one.
fn interleavings(args: &Args) -> u64 {
    let n = args.positional.len() as u64;
    let all = (1..=n).fold(1u64, u64::saturating_mul);
    let Some(value) = args.named("interleavings") else { return 1 };
    match (value.unpack_str(), value.unpack_i32()) {
        (Some("all"), _) => all,
        (Some("critical"), _) => (2 * n).saturating_sub(1).min(all).max(1),
        (_, Some(k)) if k > 0 => (k as u64).min(all),
        _ => 1,
    }
}

/// The optional positional message of an assertion.
fn message(args: &Args, index: usize, default: &str) -> String {
    match args.positional.get(index) {
        Some(m) => format!("{default}: {}", m.unpack_str().map_or_else(|| m.to_str(), str::to_owned)),
        None => default.to_owned(),
    }
}

/// A Go-style duration (`500ms`, `1.5s`, `2m`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let units: &[(&str, f64)] =
        &[("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)];
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut seconds = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let (unit, scale) = units.iter().filter(|(u, _)| rest.starts_with(u)).max_by_key(|(u, _)| u.len())?;
        seconds += number * scale;
        rest = &rest[unit.len()..];
    }
    Duration::try_from_secs_f64(seconds).ok()
}
