//! `ospecc run --jobs N`: independent test lifecycles at once on one machine. Every worker but
//! the first is a thread in network and mount namespaces of its own (loopback only, and a
//! `/dev/shm` of its own: [`namespaces`]), so the fixed ports of a spec never collide; the first
//! stays in the run's own namespaces, where it runs the acceptance probes (which may need the
//! host's network) before taking tests. Each worker runs its own async runtime (mocks, proxies,
//! healthchecks), and the services it starts, with their seccomp supervisors, share its
//! namespaces. Workers take units (a test with all its leaves, or one `--runs` repetition) from
//! one queue; each unit writes a log of its own, and the run puts the logs and results back
//! together in unit order (test name order), so a parallel run reports what a serial one
//! would. Unprivileged users get the namespaces through a user namespace of their own
//! ([`userns`]).

pub mod namespaces;
pub mod userns;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use ospecc_schema::plan::topology::Launch;
use ospecc_schema::plan::Plan;

/// Memory one job may need (a database, a cache and the service under test, with room): the
/// default number of jobs keeps this much available per job.
pub const MEMORY_PER_JOB: u64 = 768 * 1024 * 1024;

/// The default number of jobs: one per core, no more than the available memory holds.
pub fn default_jobs() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let by_memory = available_memory().map_or(cores as u64, |bytes| bytes / MEMORY_PER_JOB);
    cores.min(usize::try_from(by_memory).unwrap_or(usize::MAX)).max(1)
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = text.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?.trim().strip_suffix("kB")?;
    kib.trim().parse::<u64>().ok().map(|k| k * 1024)
}

/// Why the plan's tests must share the host's network (and so run one at a time), if they do:
/// a `remote=` service is reached on the host, and a container engine publishes ports there.
pub fn needs_host_network(plan: &Plan) -> Option<String> {
    let service = plan.services.iter().find(|s| !matches!(s.launch, Launch::Mock { .. } | Launch::Binary { .. }))?;
    let what = match service.launch {
        Launch::Remote { .. } => "is a remote= service, reached on the host's network",
        _ => "runs in a container, whose engine publishes ports on the host's network",
    };
    Some(format!("service `{}` {what}", service.name))
}

/// How many jobs a run gets and why it gets fewer than asked: `requested` (`--jobs`, or the
/// default) capped by the units there are, 1 when the plan needs the host's network or this
/// process cannot have network namespaces.
pub fn decide(plan: &Plan, requested: usize, units: usize) -> (usize, Option<String>) {
    let jobs = requested.min(units).max(1);
    if jobs == 1 {
        return (1, None);
    }
    if let Some(why) = needs_host_network(plan) {
        return (1, Some(format!("running the tests one at a time: {why}")));
    }
    // A reused service is one running service shared by the tests in turn.
    if let Some(reused) = plan.services.iter().find(|s| s.reuse) {
        return (
            1,
            Some(format!(
                "running the tests one at a time: service `{}` is kept across tests (reuse=True)",
                reused.name
            )),
        );
    }
    if let Err(why) = userns::prepare().and_then(|()| namespaces::probe()) {
        return (1, Some(format!("running the tests one at a time: no network namespace per job ({why})")));
    }
    (jobs, None)
}

/// Runs `work` on every unit with `workers` threads, each with the state `init` makes for it
/// (an async runtime). Job 1 stays in the run's own namespaces and first runs `first` (what
/// must see the host: the acceptance probes); every other job enters new namespaces. Results
/// come back in unit order; a unit no job could take (every job failed to start) gets the
/// first error, and so does `first` when job 1 could not start.
pub fn run<U, S, T, F>(
    units: &[U],
    workers: usize,
    stack_bytes: usize,
    init: impl Fn(usize) -> Result<S, String> + Sync,
    first: impl FnOnce(&S) -> F + Send,
    work: impl Fn(&S, usize, &U) -> T + Sync,
) -> (Vec<Result<T, String>>, Result<F, String>)
where
    U: Sync,
    T: Send,
    F: Send,
{
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<T>>> = Mutex::new(units.iter().map(|_| None).collect());
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let fail =
        |job: usize, why: String| failures.lock().unwrap_or_else(|p| p.into_inner()).push(format!("job {job}: {why}"));
    let take_units = |state: &S| loop {
        let index = next.fetch_add(1, Ordering::SeqCst);
        let Some(unit) = units.get(index) else { return };
        let result = work(state, index, unit);
        done.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(result);
    };
    let host_job = || match init(1) {
        Ok(state) => {
            let found = first(&state);
            take_units(&state);
            Some(found)
        }
        Err(why) => {
            fail(1, why);
            None
        }
    };
    let isolated_job = |job: usize| match namespaces::enter_new().and_then(|()| init(job)) {
        Ok(state) => take_units(&state),
        Err(why) => fail(job, why),
    };
    let thread = |job: usize| std::thread::Builder::new().name(format!("ospecc-job-{job}")).stack_size(stack_bytes);
    let first_found = std::thread::scope(|scope| {
        let host = thread(1).spawn_scoped(scope, host_job).map_err(|e| fail(1, format!("cannot start: {e}"))).ok();
        for job in 2..=workers.max(1) {
            if let Err(e) = thread(job).spawn_scoped(scope, move || isolated_job(job)) {
                fail(job, format!("cannot start: {e}"));
            }
        }
        host.and_then(|h| h.join().ok()).flatten()
    });
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    let why = failures.first().cloned().unwrap_or_else(|| "no job ran it".to_owned());
    let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    let results = done.into_iter().map(|result| result.ok_or_else(|| why.clone())).collect();
    (results, first_found.ok_or(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_at_least_one_job_and_at_most_one_per_core() {
        let jobs = default_jobs();
        assert!(jobs >= 1);
        assert!(jobs <= std::thread::available_parallelism().map_or(1, usize::from));
    }

    #[test]
    fn results_come_back_in_unit_order_and_job_1_stays_on_the_host() {
        if let Err(why) = namespaces::probe() {
            eprintln!("SKIP: {why}");
            return;
        }
        let units: Vec<u32> = (0..20).collect();
        let host = namespaces::current();
        let (results, first) = run(
            &units,
            3,
            1 << 20,
            Ok,
            |job| (*job, namespaces::current()),
            |job, index, unit| (*job, index, *unit, namespaces::current()),
        );
        assert_eq!(first, Ok((1, host)), "job 1 runs `first` in the run's own namespaces");
        for (i, result) in results.iter().enumerate() {
            let (job, index, unit, namespace) = result.as_ref().unwrap();
            assert_eq!((*index, *unit), (i, i as u32));
            assert!((1..=3).contains(job));
            assert_eq!(*job == 1, *namespace == host, "job {job}");
        }
    }

    #[test]
    fn units_no_worker_could_take_carry_the_reason() {
        let (results, first) =
            run(&[1, 2], 2, 1 << 20, |_| Err::<(), _>("no runtime".to_owned()), |_| (), |_, _, u: &i32| *u);
        assert!(results.iter().all(|r| r.as_ref().is_err_and(|e| e.contains("no runtime"))), "{results:?}");
        assert!(first.is_err_and(|e| e.contains("no runtime")));
    }
}
