//! `reuse=True`: a service kept running from one test to the next, as Faultbox keeps it.
//!
//! At the end of a lifecycle, [`super::Services::stop_keeping`] moves every healthy service that
//! asks for reuse into [`Kept`] instead of stopping it; the next lifecycle's start adopts it in
//! its turn (no start, no healthcheck) when it would be started exactly as it was: the same
//! environment (address references render per test, to a proxy edge or directly) and no
//! seccomp filter either time (a filter's rules are fixed at its start). Otherwise the kept
//! one is stopped and the service starts afresh. A fresh start runs the service's `seed=`; an
//! adopted service runs its `reset=` (else its `seed=`) before the test ([`hooks`]). Whatever
//! is still kept at the end of the run is torn down by [`Kept::stop_all`] (or killed when
//! `Kept` is dropped), and the run's end removes every container it made regardless.
//!
//! Events: `service_kept` (service; after a test, instead of its teardown),
//! `service_started` and `service_ready` with `reused: true` when a test adopts it,
//! `service_not_reused` (reason) when a kept service had to be restarted.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ospecc_schema::plan::topology::{Callable, Launch};
use ospecc_schema::plan::Service;

use super::{teardown, teardown_entry, Entry};
use crate::events::{fields, EventLog};

/// How a service was started: what must be equal for a later test to adopt it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Launched {
    pub env: BTreeMap<String, String>,
    pub filtered: bool,
}

/// Whether `service` can be kept across tests: it asks for it, and it is a process or a
/// container (mocks are served per lifecycle; remote services are never ours to stop).
pub(super) fn reusable(service: &Service) -> bool {
    service.reuse && matches!(service.launch, Launch::Binary { .. } | Launch::Image { .. } | Launch::Build { .. })
}

/// Why a kept service cannot be adopted by a test that would start it as `wanted`.
pub(super) fn refusal(kept: &KeptService, wanted: &Launched) -> Option<&'static str> {
    let exited = kept.entry.proc.as_ref().is_none_or(|p| p.exit().is_some());
    if exited {
        Some("it exited after the previous test")
    } else if kept.launched.filtered || wanted.filtered {
        Some("a test faults its syscalls, and a seccomp filter's rules are fixed when the service starts")
    } else if kept.launched.env != wanted.env {
        Some("its environment renders differently in this test (a proxy edge or partition in front of a dependency)")
    } else {
        None
    }
}

/// One kept service.
pub(super) struct KeptService {
    pub service: Service,
    pub entry: Entry,
    pub launched: Launched,
}

/// The services kept between the lifecycles of a run, in the order they were kept.
pub struct Kept {
    kept: Vec<KeptService>,
    grace: Duration,
    events: EventLog,
}

impl Kept {
    pub fn new(events: EventLog, grace: Duration) -> Kept {
        Kept { kept: Vec::new(), grace, events }
    }

    /// Names of the services kept now.
    pub fn names(&self) -> Vec<String> {
        self.kept.iter().map(|k| k.service.name.clone()).collect()
    }

    pub(super) fn keep(&mut self, kept: KeptService) {
        self.events.push(&kept.service.name, "service_kept", fields([]));
        self.kept.push(kept);
    }

    /// Takes the kept `service`, if any.
    pub(super) fn take(&mut self, service: &str) -> Option<KeptService> {
        let index = self.kept.iter().position(|k| k.service.name == service)?;
        Some(self.kept.remove(index))
    }

    /// Stops one kept service that cannot be adopted, saying why.
    pub(super) async fn discard(&self, mut kept: KeptService, reason: &str) {
        self.events.push(&kept.service.name, "service_not_reused", fields([("reason", reason.into())]));
        teardown_entry(&kept.service.name, &mut kept.entry, self.grace, &self.events).await;
    }

    /// Tears down every kept service, the last kept first (dependents before their
    /// dependencies, since services are kept in start order).
    pub async fn stop_all(&mut self) {
        while let Some(mut kept) = self.kept.pop() {
            teardown_entry(&kept.service.name, &mut kept.entry, self.grace, &self.events).await;
        }
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        let pids: Vec<i32> = self
            .kept
            .iter()
            .rev()
            .filter_map(|k| k.entry.proc.as_ref())
            .map(|p| {
                p.stopping.store(true, Ordering::SeqCst);
                p.pid
            })
            .collect();
        teardown::kill_now(pids);
        for kept in &self.kept {
            if let Some(container) = &kept.entry.container {
                container.remove_now();
            }
        }
    }
}

/// Which lifecycle hook a service runs before a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// `seed=` after a fresh start.
    Seed,
    /// `reset=` (or `seed=` when there is no `reset=`) of a service kept from the last test.
    Reset,
}

impl HookKind {
    /// The event recorded when the hook runs (Faultbox's names).
    pub fn event(self) -> &'static str {
        match self {
            HookKind::Seed => "service_seed",
            HookKind::Reset => "service_reset",
        }
    }
}

/// A hook to call before the test, in the services' start order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub service: String,
    pub kind: HookKind,
    pub callable: Callable,
}

/// The hooks of one lifecycle: `seed=` of each service started afresh, `reset=` (else
/// `seed=`) of each adopted one. `adopted` says, per service in start order, whether it was.
pub(super) fn hooks<'a>(started: impl Iterator<Item = (&'a Service, bool)>) -> Vec<Hook> {
    started
        .filter_map(|(service, adopted)| {
            let (kind, callable) = if adopted {
                (HookKind::Reset, service.reset.as_ref().or(service.seed.as_ref())?)
            } else {
                (HookKind::Seed, service.seed.as_ref()?)
            };
            Some(Hook { service: service.name.clone(), kind, callable: callable.clone() })
        })
        .collect()
}
