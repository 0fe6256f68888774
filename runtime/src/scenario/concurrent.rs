//! Steps inside `parallel(f1, f2, ...)` run concurrently, as Faultbox's hold-and-release
//! scheduler runs them: each branch's step goes to its own thread and the branch gets a
//! [`PendingResponse`] at once; the threads are held until every branch has sent, then
//! released together, so every branch sends before any reply comes (without the hold, a fast
//! reply to the first branch could be logged before the second branch sent, and the trace
//! would depend on the machine's load). A branch that reads its reply (`r.ok`) releases the
//! held steps and waits for its own; `parallel` releases and waits for all of them before it
//! returns, so every `step` (reply) event is in the log when the test goes on.
//!
//! Starlark values belong to the evaluator's heap and cannot cross threads, so a step's
//! arguments travel as JSON and are rebuilt on the step's own heap; a step whose arguments do
//! not convert (a function, say) runs in line, as outside `parallel`.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use allocative::Allocative;
use ospecc_compiler::topology::run::Args;
use starlark::starlark_simple_value;
use starlark::values::{
    starlark_value, Heap, NoSerialize, ProvidesStaticType, StarlarkPagablePanic, StarlarkValue, Value,
};

use crate::steps::response::Response;

/// A step's arguments as plain data, for another thread.
pub struct OwnedArgs {
    positional: Vec<serde_json::Value>,
    named: Vec<(String, serde_json::Value)>,
}

impl OwnedArgs {
    /// The arguments as JSON, or `None` when one of them is not plain data.
    pub fn of(args: &Args) -> Option<OwnedArgs> {
        Some(OwnedArgs {
            positional: args.positional.iter().map(|v| v.to_json_value().ok()).collect::<Option<_>>()?,
            named: args
                .named
                .iter()
                .map(|(name, v)| v.to_json_value().ok().map(|json| (name.clone(), json)))
                .collect::<Option<_>>()?,
        })
    }

    /// Rebuilds the arguments on `heap` and calls `f` with them.
    pub fn with_args<R>(&self, f: impl for<'v> FnOnce(&Args<'v>) -> R) -> R {
        Heap::temp(|heap| {
            let args = Args {
                positional: self.positional.iter().map(|j| heap.alloc(j.clone())).collect(),
                named: self.named.iter().map(|(n, j)| (n.clone(), heap.alloc(j.clone()))).collect(),
            };
            f(&args)
        })
    }
}

/// The reply slot one step thread fills.
#[derive(Default)]
struct Slot {
    reply: Mutex<Option<Response>>,
    filled: Condvar,
}

impl Slot {
    fn fill(&self, response: Response) {
        *self.reply.lock().unwrap_or_else(|p| p.into_inner()) = Some(response);
        self.filled.notify_all();
    }

    fn wait(&self) -> Response {
        let mut reply = self.reply.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(response) = reply.as_ref() {
                return response.clone();
            }
            reply = self.filled.wait(reply).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Where the step threads of a `parallel` wait until every branch has sent.
#[derive(Default)]
struct Gate {
    held: Mutex<bool>,
    released: Condvar,
}

impl Gate {
    fn hold(&self) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = true;
    }

    fn release(&self) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.released.notify_all();
    }

    /// Returns once the gate is not held.
    fn pass(&self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        while *held {
            held = self.released.wait(held).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A step sent on its own thread: reading it waits for the reply.
#[derive(Clone, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub struct PendingResponse {
    #[allocative(skip)]
    slot: Arc<Slot>,
    #[allocative(skip)]
    gate: Arc<Gate>,
}
starlark_simple_value!(PendingResponse);

impl PendingResponse {
    /// The reply (releases the held steps, then waits for this one's).
    pub fn wait(&self) -> Response {
        self.gate.release();
        self.slot.wait()
    }
}

impl fmt::Debug for PendingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingResponse")
    }
}

impl fmt::Display for PendingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.wait().fmt(f)
    }
}

#[starlark_value(type = "response")]
impl<'v> StarlarkValue<'v> for PendingResponse {
    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        self.wait().get_attr(attribute, heap)
    }

    fn has_attr(&self, attribute: &str, heap: Heap<'v>) -> bool {
        self.wait().has_attr(attribute, heap)
    }

    fn dir_attr(&self) -> Vec<String> {
        self.wait().dir_attr()
    }

    fn to_bool(&self) -> bool {
        self.wait().ok
    }
}

/// The steps sent inside the `parallel` calls in progress.
#[derive(Default)]
pub struct InFlight {
    threads: Mutex<Vec<JoinHandle<()>>>,
    gate: Arc<Gate>,
}

impl InFlight {
    /// Holds the steps sent from now on until [`InFlight::release`].
    pub fn hold(&self) {
        self.gate.hold();
    }

    /// Lets the held steps go.
    pub fn release(&self) {
        self.gate.release();
    }

    /// Runs `step` on its own thread once the steps are released; the returned value is its
    /// reply once it comes.
    pub fn send(&self, step: impl FnOnce() -> Response + Send + 'static) -> PendingResponse {
        let slot = Arc::new(Slot::default());
        let filled = Arc::clone(&slot);
        let gate = Arc::clone(&self.gate);
        let thread = std::thread::Builder::new().name("ospecc-step".into()).spawn(move || {
            gate.pass();
            // A panicking client must still fill the slot, or a reader would wait forever.
            let response = std::panic::catch_unwind(std::panic::AssertUnwindSafe(step))
                .unwrap_or_else(|_| Response::failed("the step's client panicked".to_owned(), 0));
            filled.fill(response);
        });
        match thread {
            Ok(handle) => self.threads.lock().unwrap_or_else(|p| p.into_inner()).push(handle),
            Err(e) => slot.fill(Response::failed(format!("cannot start a step thread: {e}"), 0)),
        }
        PendingResponse { slot, gate: Arc::clone(&self.gate) }
    }

    /// Releases and waits for every step sent so far.
    pub fn join_all(&self) {
        self.release();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for thread in threads {
            // A panicking step thread never filled its slot; nothing else can be done here.
            let _ = thread.join();
        }
    }
}

impl Drop for InFlight {
    /// A test that stops in the middle of a `parallel` does not leave its steps held.
    fn drop(&mut self) {
        self.release();
    }
}
