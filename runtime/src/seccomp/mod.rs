//! Syscall faults by seccomp user notification (filled in by the seccomp work).
