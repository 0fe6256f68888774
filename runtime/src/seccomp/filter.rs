//! The classic-BPF program a filtered service runs under (runtime-mechanisms.md §2.3):
//!
//! ```text
//! ld [arch]; jeq NATIVE ? next : ret ALLOW       other ABIs pass (e.g. i386 on x86_64)
//! ld [nr];   jge 0x40000000 ? ret ALLOW : next   x86_64 only: the x32 ABI passes
//! per intercepted nr:  jeq nr ? ret USER_NOTIF : next
//!   write family:      jeq nr ? (args[0] in {1, 2} ? ret ALLOW : ret USER_NOTIF) : next
//!   sendmsg:           jeq nr ? (args[0] == handoff ? ret ALLOW : ret USER_NOTIF) : next
//! ret ALLOW
//! ```
//!
//! The program is built before fork (no allocation in the child). Two exceptions live in BPF
//! because no supervisor can answer them: writes to fds 1 and 2 (the service's own output is
//! never faulted or slowed), and the child's own `sendmsg` of the listener over the hand-off
//! socket (before the supervisor has the listener, nobody could answer it: gotcha 4). The
//! hand-off fd number is only known in the child, which patches [`Program::set_handoff_fd`]
//! in place (a store into memory allocated before fork).

use libc::sock_filter;

use super::names;

// BPF opcodes (linux/bpf_common.h).
const BPF_LD: u16 = 0x00;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_JEQ: u16 = 0x10;
const BPF_JGE: u16 = 0x30;
const BPF_K: u16 = 0x00;

// Offsets into `struct seccomp_data`: nr (u32), arch (u32), ip (u64), args[6] (u64 each).
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// The low 32 bits of args[0] (both supported architectures are little-endian); an fd is an
/// `int`, so the kernel only looks at those bits too.
const OFF_ARG0_LO: u32 = 16;

/// `AUDIT_ARCH_*` of the architecture this runtime was built for (libc does not define them).
#[cfg(target_arch = "x86_64")]
pub const NATIVE_ARCH: Option<u32> = Some(0xC000_003E);
#[cfg(target_arch = "aarch64")]
pub const NATIVE_ARCH: Option<u32> = Some(0xC000_00B7);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const NATIVE_ARCH: Option<u32> = None;

/// x86_64's x32 ABI marks its syscall numbers with this bit.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A filter program ready to install.
#[derive(Debug, Clone)]
pub struct Program {
    pub instructions: Vec<sock_filter>,
    /// Where the hand-off fd constant sits, when `sendmsg` is intercepted.
    handoff_slot: Option<usize>,
}

/// What a program notifies: the numbers, and the names that do not exist on this architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub numbers: Vec<(u32, &'static str)>,
    pub unknown: Vec<String>,
}

/// Resolves intercept names to this architecture's numbers (sorted, deduplicated).
pub fn select(intercept: &[String]) -> Selection {
    let mut numbers = Vec::new();
    let mut unknown = Vec::new();
    for name in intercept {
        match names::number(name).and_then(|nr| Some((nr, names::name(nr as i32)?))) {
            Some(entry) => numbers.push(entry),
            None => unknown.push(name.clone()),
        }
    }
    numbers.sort_unstable();
    numbers.dedup();
    Selection { numbers, unknown }
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Builds the program for `selection`; `None` on an architecture without seccomp support here.
pub fn build(selection: &Selection) -> Option<Program> {
    let arch = NATIVE_ARCH?;
    let allow = libc::SECCOMP_RET_ALLOW;
    let notify = libc::SECCOMP_RET_USER_NOTIF;
    let mut p = vec![
        stmt(BPF_LD | BPF_W | BPF_ABS, OFF_ARCH),
        jump(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        stmt(BPF_RET | BPF_K, allow),
        stmt(BPF_LD | BPF_W | BPF_ABS, OFF_NR),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        p.push(jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
        p.push(stmt(BPF_RET | BPF_K, allow));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = BPF_JGE;
    let mut handoff_slot = None;
    for &(nr, name) in &selection.numbers {
        if names::STDIO_EXEMPT.contains(&name) {
            // jeq nr; ld arg0; jeq 1 → allow; jeq 2 → allow; ret notify; ret allow
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 5));
            p.push(stmt(BPF_LD | BPF_W | BPF_ABS, OFF_ARG0_LO));
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 2, 0));
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, 2, 1, 0));
            p.push(stmt(BPF_RET | BPF_K, notify));
            p.push(stmt(BPF_RET | BPF_K, allow));
        } else if name == "sendmsg" {
            // jeq nr; ld arg0; jeq handoff → allow; ret notify; ret allow
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 4));
            p.push(stmt(BPF_LD | BPF_W | BPF_ABS, OFF_ARG0_LO));
            handoff_slot = Some(p.len());
            // u32::MAX is never an fd: until patched, the exception matches nothing.
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, u32::MAX, 1, 0));
            p.push(stmt(BPF_RET | BPF_K, notify));
            p.push(stmt(BPF_RET | BPF_K, allow));
        } else {
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1));
            p.push(stmt(BPF_RET | BPF_K, notify));
        }
    }
    p.push(stmt(BPF_RET | BPF_K, allow));
    Some(Program { instructions: p, handoff_slot })
}

impl Program {
    /// Lets `sendmsg` on `fd` pass without notification. Async-signal-safe: a plain store.
    pub fn set_handoff_fd(&mut self, fd: i32) {
        if let Some(slot) = self.handoff_slot {
            if let Some(ins) = self.instructions.get_mut(slot) {
                ins.k = fd as u32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter of the subset the builder emits, to check the jumps.
    fn run(p: &[sock_filter], arch: u32, nr: u32, arg0: u32) -> u32 {
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let ins = p[pc];
            match ins.code {
                c if c == BPF_LD | BPF_W | BPF_ABS => {
                    acc = match ins.k {
                        OFF_NR => nr,
                        OFF_ARCH => arch,
                        OFF_ARG0_LO => arg0,
                        other => panic!("unexpected load offset {other}"),
                    };
                    pc += 1;
                }
                c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                    pc += 1 + if acc == ins.k { ins.jt } else { ins.jf } as usize;
                }
                c if c == BPF_JMP | BPF_JGE | BPF_K => {
                    pc += 1 + if acc >= ins.k { ins.jt } else { ins.jf } as usize;
                }
                c if c == BPF_RET | BPF_K => return ins.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_program_notifies_exactly_the_selection() {
        let names: Vec<String> = ["write", "connect", "fsync", "sendmsg", "nonexistent_call"].map(String::from).into();
        let selection = select(&names);
        assert_eq!(selection.unknown, vec!["nonexistent_call".to_owned()]);
        let mut program = build(&selection).unwrap();
        let arch = NATIVE_ARCH.unwrap();
        let (allow, notify) = (libc::SECCOMP_RET_ALLOW, libc::SECCOMP_RET_USER_NOTIF);
        let p = program.instructions.clone();
        let nr = |n: &str| names::number(n).unwrap();
        assert_eq!(run(&p, arch, nr("connect"), 5), notify);
        assert_eq!(run(&p, arch, nr("fsync"), 5), notify);
        assert_eq!(run(&p, arch, nr("read"), 5), allow);
        assert_eq!(run(&p, arch, nr("write"), 7), notify);
        assert_eq!(run(&p, arch, nr("write"), 1), allow, "stdout is never notified");
        assert_eq!(run(&p, arch, nr("write"), 2), allow, "stderr is never notified");
        assert_eq!(run(&p, 0x4000_0003, nr("connect"), 5), allow, "i386 passes");
        assert_eq!(run(&p, arch, nr("connect") | 0x4000_0000, 5), allow, "x32 passes");
        assert_eq!(run(&p, arch, nr("sendmsg"), 900), notify);
        program.set_handoff_fd(900);
        let p = program.instructions;
        assert_eq!(run(&p, arch, nr("sendmsg"), 900), allow, "the hand-off socket passes");
        assert_eq!(run(&p, arch, nr("sendmsg"), 901), notify);
        assert_eq!(run(&p, arch, nr("fsync"), 1), notify, "fd exceptions are for writes only");
    }
}
