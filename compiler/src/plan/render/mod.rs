//! Plans for people: a text tree and a Graphviz graph.
//!
//! `ospecc plan FILE --format text|dot` prints one of these; `--format json` is the plan
//! itself. Both renderings are pure functions of the plan, deterministic (same plan, same
//! bytes), and show what the plan will do, not how it was written: services in start order,
//! tests with their resolved fault rules, matrix cells grouped by the call that made them,
//! acceptance probes by stage with the reasons some will be skipped.

mod dot;
mod text;

#[cfg(test)]
mod sample;

pub use dot::dot;
pub use text::text;
