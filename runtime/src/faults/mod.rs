//! Fault injection for one test: the rule tables the syscall supervisors and proxies read,
//! the scopes that install and remove rules, partitions, and the run diagnostics about faults
//! that never fired.

pub mod rules;
