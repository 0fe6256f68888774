//! ospecc's runtime: executes a plan (DESIGN.md §7). It starts the plan's services as local
//! processes in start order ([`supervisor`]) and its `image=`/`build=` services on Podman or
//! Docker ([`container`]), serves mock services in-process ([`mock`]), runs
//! each test's Starlark callables with run-mode builtins ([`scenario`], [`steps`]) and the OSpec
//! probes ([`probes`]), records every observation in one event log ([`events`]), and reports
//! ([`report`]); a test with named `choose()` axes or exhaustive `max_fires` rules runs once per
//! leaf ([`explore`]); a run can be kept as one archive to replay and compare ([`bundle`]). Teardown happens on success, failure, panic and SIGINT/SIGTERM.

pub mod bundle;
pub mod container;
pub mod determinism;
pub mod events;
pub mod explore;
pub mod faults;
pub mod jobs;
pub mod mock;
pub mod probes;
pub mod proxy;
pub mod report;
pub mod run;
pub mod scenario;
pub mod seccomp;
pub mod steps;
pub mod supervisor;

/// The exit code of a run stopped by SIGINT or SIGTERM (it did not complete).
pub const EXIT_INTERRUPTED: i32 = 2;
