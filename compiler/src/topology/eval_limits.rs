//! The memory and time budget of one topology evaluation, enforced where it can hold.
//!
//! starlark-rust's own heap and tick limits are checked every thousand ticks and count only
//! its own heap, so one native operation (`[0] * 10**9`, `s + s` in a loop) runs to many
//! gigabytes before any check. The budget here is checked at three points instead:
//!
//! - before `+`, `*` and `%` (the evaluated tree calls [`guarded_operators`] for them): the
//!   result's size is estimated from the operands and refused before anything is allocated;
//! - before every statement ([`StatementGuard`]), which bounds loops of in-place growth
//!   (`x += x`, `append`);
//! - in starlark-rust's periodic cancellation hook, which interrupts long comprehensions.
//!
//! Memory is measured by [`Metered`], an accounting global allocator the binary installs: the
//! bytes live on the evaluating thread, which includes everything native code allocates
//! outside the Starlark heap. (A global allocator cannot turn a refusal into an error: Rust
//! aborts the process on a failed allocation, so the refusal happens in the guards, before
//! the allocation.) Without it (library users, unit tests) the Starlark heap's size is used.
//!
//! Some native operations cannot be sized beforehand because they are methods of `str`, which
//! starlark-rust gives no hook to wrap (`s.replace("a", s)`, `sep.join(big)`,
//! `"{0}{0}".format(s)`). For those the allocator itself holds a hard ceiling, twice the
//! budget: crossing it ends the process at once with a located TOP013 message ([`overrun`]),
//! since neither an error nor a panic can leave an allocator.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::time::Instant;

use allocative::Allocative;
use starlark::codemap::{CodeMap, FileSpanRef};
use starlark::environment::{Globals, GlobalsBuilder, LibraryExtension};
use starlark::eval::{Arguments, BeforeStmtFuncDyn, Evaluator};
use starlark::values::{
    starlark_value, FrozenValue, NoSerialize, ProvidesStaticType, StarlarkPagablePanic, StarlarkValue, Value,
};
use starlark::{starlark_module, starlark_simple_value};

use crate::span::Span;

thread_local! {
    /// Bytes allocated minus bytes freed on this thread (by [`Metered`]).
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The budget of the evaluation running on this thread, if any.
    static ACTIVE: RefCell<Option<Budget>> = const { RefCell::new(None) };
    /// Which limit stopped the evaluation through the cancellation hook (its error says only
    /// "cancelled").
    static TRIPPED: Cell<Option<Limit>> = const { Cell::new(None) };
    /// The statement running now and its file: where a cancellation is reported.
    static STATEMENT: Cell<Option<Span>> = const { Cell::new(None) };
    static STATEMENT_FILE: RefCell<String> = const { RefCell::new(String::new()) };
    /// The running statement's file, to turn its span into a line in [`overrun`].
    static STATEMENT_CODEMAP: RefCell<Option<CodeMap>> = const { RefCell::new(None) };
    /// [`LIVE`] past which an allocation ends the process (0: no evaluation is running).
    static CEILING: Cell<isize> = const { Cell::new(0) };
    /// The ceiling's budget, for the message.
    static CEILING_BUDGET: Cell<usize> = const { Cell::new(0) };
}

/// A global allocator that counts, per thread, the bytes it hands out and takes back.
pub struct Metered<A>(pub A);

/// Ends the process when `grow` more bytes would take this thread past the ceiling of the
/// evaluation running on it.
fn guard_ceiling(grow: usize) {
    let Ok(ceiling) = CEILING.try_with(Cell::get) else { return };
    if ceiling != 0 && live().saturating_add(isize::try_from(grow).unwrap_or(isize::MAX)) > ceiling {
        overrun(grow);
    }
}

/// Reports the statement that ran past the ceiling as TOP013 and exits with status 1 (the
/// status of a check that found errors).
#[cold]
fn overrun(grow: usize) -> ! {
    // Off first: what follows allocates, and must not come back here.
    let _ = CEILING.try_with(|c| c.set(0));
    let budget = CEILING_BUDGET.try_with(Cell::get).unwrap_or(0);
    let at = STATEMENT.try_with(Cell::get).ok().flatten();
    let place = STATEMENT_CODEMAP
        .try_with(|m| {
            let map = m.try_borrow().ok()?;
            let map = map.as_ref()?;
            let at = at?;
            let span = starlark::codemap::Span::new(
                starlark::codemap::Pos::new(u32::try_from(at.start).ok()?),
                starlark::codemap::Pos::new(u32::try_from(at.end).ok()?),
            );
            let line = map.resolve_span(span);
            Some(format!("{}:{}:{}", map.filename(), line.begin.line + 1, line.begin.column + 1))
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| "<evaluation>".to_owned());
    eprintln!(
        "error[TOP013]: {place}: an operation of this statement needed {} more, past the \
         evaluation's memory limit of {}; ospecc stopped\n  = hint: a string method \
         (`replace`, `join`, `format`) built a result too large for a spec; build less data at \
         load time, or raise `[limits] max_memory_mib` in ospecc.toml",
        mib(grow),
        mib(budget)
    );
    std::process::exit(1)
}

fn count(delta: isize) {
    // `try_with`: allocations during thread teardown are not counted rather than panicking.
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_add(delta)));
}

// SAFETY: every call is forwarded unchanged to the inner allocator; only counters change.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Metered<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        guard_ceiling(layout.size());
        let ptr = self.0.alloc(layout);
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        guard_ceiling(layout.size());
        let ptr = self.0.alloc_zeroed(layout);
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.dealloc(ptr, layout);
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        guard_ceiling(new_size.saturating_sub(layout.size()));
        let moved = self.0.realloc(ptr, layout, new_size);
        if !moved.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

/// Which bound an evaluation ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    Time,
    Memory,
}

impl Limit {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Limit::Time => "TOP012",
            Limit::Memory => "TOP013",
        }
    }
}

/// The budget of one evaluation (one file; the deadline is the whole check's).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    pub deadline: Instant,
    pub max_bytes: usize,
    /// Elements one native call may walk (the tick limit: a loop iteration is a tick).
    pub max_steps: u64,
    /// [`LIVE`] when the evaluation started.
    base: isize,
}

impl Budget {
    /// Bytes the evaluation holds now: what the allocator counted since it started, or the
    /// Starlark heap when no metering allocator is installed.
    fn used(&self, heap_bytes: usize) -> usize {
        let metered = usize::try_from(live().saturating_sub(self.base)).unwrap_or(0);
        metered.max(heap_bytes)
    }

    fn check(&self, heap_bytes: usize, more: usize) -> Result<(), LimitError> {
        if Instant::now() > self.deadline {
            return Err(LimitError::time());
        }
        let total = self.used(heap_bytes).saturating_add(more);
        if total > self.max_bytes {
            return Err(LimitError::memory(more, self.max_bytes));
        }
        Ok(())
    }
}

fn live() -> isize {
    LIVE.try_with(Cell::get).unwrap_or(0)
}

/// Makes `budget` the current thread's for the duration of `work`.
pub(crate) fn with_budget<T>(deadline: Instant, max_bytes: usize, max_steps: u64, work: impl FnOnce() -> T) -> T {
    let budget = Budget { deadline, max_bytes, max_steps, base: live() };
    let previous = ACTIVE.with(|a| a.replace(Some(budget)));
    let previous_ceiling = CEILING.with(|c| c.replace(ceiling(&budget)));
    let previous_ceiling_budget = CEILING_BUDGET.with(|c| c.replace(max_bytes));
    TRIPPED.with(|t| t.set(None));
    STATEMENT.with(|s| s.set(None));
    // The same file name may come back with new text (an editor's next version).
    STATEMENT_FILE.with(|f| f.borrow_mut().clear());
    STATEMENT_CODEMAP.with(|m| *m.borrow_mut() = None);
    // Restored on unwinding too: a caught panic must not leave the budget (and the quiet
    // panic hook) in force for whatever runs next on this thread.
    struct Restore(Option<Budget>, isize, usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = ACTIVE.try_with(|a| *a.borrow_mut() = previous);
            let _ = CEILING.try_with(|c| c.set(self.1));
            let _ = CEILING_BUDGET.try_with(|c| c.set(self.2));
        }
    }
    let _restore = Restore(previous, previous_ceiling, previous_ceiling_budget);
    work()
}

/// Installs a panic hook that stays silent for panics inside a budgeted evaluation: those are
/// caught and reported as TOP013 at the statement (starlark-rust panics on some single
/// allocations past 4 GiB), so the message would only repeat the diagnostic on stderr. Every
/// other panic reaches the previous hook.
pub fn quiet_caught_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_evaluation = ACTIVE.try_with(|a| a.try_borrow().is_ok_and(|b| b.is_some())).unwrap_or(false);
        if !in_evaluation {
            previous(info);
        }
    }));
}

/// Two budgets above where the evaluation started: the guards refuse at the budget when they
/// can size an operation, and the heap's arena grows by doubling (one chunk can be as large as
/// the heap already is), so only an operation the guards cannot see gets this far.
fn ceiling(budget: &Budget) -> isize {
    let bytes = budget.max_bytes.saturating_mul(2);
    budget.base.saturating_add(isize::try_from(bytes).unwrap_or(isize::MAX)).max(1)
}

fn active() -> Option<Budget> {
    ACTIVE.with(|a| *a.borrow())
}

/// The cancellation hook: past the deadline or over the budget (the cause is kept for
/// [`take_tripped`]).
pub(crate) fn cancelled() -> bool {
    let Some(budget) = active() else { return false };
    match budget.check(0, 0) {
        Ok(()) => false,
        Err(e) => {
            TRIPPED.with(|t| t.set(Some(e.limit)));
            true
        }
    }
}

/// Which limit the cancellation hook last tripped on this thread.
pub(crate) fn take_tripped() -> Option<Limit> {
    TRIPPED.with(Cell::take)
}

/// The statement that was running in `file` when the budget stopped the evaluation.
pub(crate) fn last_statement(file: &str) -> Option<Span> {
    let same_file = STATEMENT_FILE.with(|f| f.borrow().as_str() == file);
    same_file.then(|| STATEMENT.with(Cell::get)).flatten()
}

fn enter_statement(span: FileSpanRef) -> Span {
    let at = Span::new(span.span.begin().get() as usize, span.span.end().get() as usize);
    STATEMENT.with(|s| s.set(Some(at)));
    STATEMENT_FILE.with(|f| {
        // Compared first: the name changes only when a loaded file's function runs.
        if f.borrow().as_str() != span.filename() {
            *f.borrow_mut() = span.filename().to_owned();
            STATEMENT_CODEMAP.with(|m| *m.borrow_mut() = Some(span.file.clone()));
        }
    });
    at
}

/// An evaluation stopped by its budget; `at` is the statement, when known.
#[derive(Debug)]
pub(crate) struct LimitError {
    pub limit: Limit,
    pub message: String,
    pub at: Option<(String, Span)>,
}

impl LimitError {
    fn time() -> LimitError {
        LimitError { limit: Limit::Time, message: "evaluation did not finish within its time limit".into(), at: None }
    }

    fn memory(more: usize, max: usize) -> LimitError {
        let message = match more {
            0 => format!("evaluation exceeded its memory limit of {}", mib(max)),
            more => format!("this operation would allocate about {}; evaluation is limited to {}", mib(more), mib(max)),
        };
        LimitError { limit: Limit::Memory, message, at: None }
    }
}

fn mib(bytes: usize) -> String {
    match bytes >> 20 {
        0 => format!("{bytes} bytes"),
        m => format!("{m} MiB"),
    }
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LimitError {}

/// Checks the budget before every statement, so that a loop growing a value in place stops
/// at the statement that crossed it.
pub(crate) struct StatementGuard;

impl<'e> BeforeStmtFuncDyn<'e> for StatementGuard {
    fn call<'v>(
        &mut self,
        span: FileSpanRef,
        _continued: bool,
        eval: &mut Evaluator<'v, '_, 'e>,
    ) -> starlark::Result<()> {
        let at = enter_statement(span);
        let Some(budget) = active() else { return Ok(()) };
        budget.check(eval.heap().allocated_bytes(), 0).map_err(|mut e| {
            e.at = Some((span.filename().to_owned(), at));
            starlark::Error::new_native(e)
        })
    }
}

/// The operators the evaluated tree calls instead of `+`, `*`, `%` (see
/// `AstModule::replace_binary_operators`), by operator.
pub(crate) const GUARDED: &[(&str, &str)] = &[("+", "__ospecc_add"), ("*", "__ospecc_mul"), ("%", "__ospecc_percent")];

/// Bytes of one Starlark value slot in a list or tuple.
const SLOT: usize = std::mem::size_of::<usize>();

/// The size of a sequence's contents: characters of a string, slots of a list or tuple.
fn content_bytes(value: Value) -> Option<usize> {
    if let Some(s) = value.unpack_str() {
        return Some(s.len());
    }
    matches!(value.get_type(), "list" | "tuple").then(|| value.length().map_or(0, |n| n.max(0) as usize * SLOT))
}

/// The bytes `a * b` would allocate (a sequence times an int, either way round): the copy is
/// built twice (a vector, then the heap value).
fn product_bytes(a: Value, b: Value) -> usize {
    let of = |seq: Value, n: Value| Some(content_bytes(seq)?.saturating_mul(n.unpack_i32()?.max(0) as usize));
    of(a, b).or_else(|| of(b, a)).map_or(0, |bytes| bytes.saturating_mul(2))
}

fn sum_bytes(a: Value, b: Value) -> usize {
    match (content_bytes(a), content_bytes(b)) {
        (Some(x), Some(y)) => x.saturating_add(y),
        _ => 0,
    }
}

fn guard(eval: &Evaluator, more: usize) -> starlark::Result<()> {
    match active() {
        Some(budget) => budget.check(eval.heap().allocated_bytes(), more).map_err(starlark::Error::new_native),
        None => Ok(()),
    }
}

#[starlark_module]
pub(crate) fn guarded_operators(builder: &mut GlobalsBuilder) {
    /// `a + b`, refused before it allocates beyond the budget.
    fn __ospecc_add<'v>(
        #[starlark(require = pos)] a: Value<'v>,
        #[starlark(require = pos)] b: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        guard(eval, sum_bytes(a, b))?;
        a.add(b, eval.heap())
    }

    /// `a * b`, refused before it allocates beyond the budget.
    fn __ospecc_mul<'v>(
        #[starlark(require = pos)] a: Value<'v>,
        #[starlark(require = pos)] b: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        guard(eval, product_bytes(a, b))?;
        a.mul(b, eval.heap())
    }

    /// `a % b`: formatting, with the budget checked first.
    fn __ospecc_percent<'v>(
        #[starlark(require = pos)] a: Value<'v>,
        #[starlark(require = pos)] b: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        guard(eval, 0)?;
        a.percent(b, eval.heap())
    }
}

/// Native functions that walk or copy a whole sequence in one call, with the bytes they
/// allocate per element (0: they only walk it). Each is bound as a [`GuardedFn`] over the
/// standard one.
const GUARDED_FUNCTIONS: &[(&str, usize)] = &[
    ("list", 2 * SLOT),
    ("tuple", 2 * SLOT),
    ("sorted", 4 * SLOT),
    ("reversed", 2 * SLOT),
    ("enumerate", 8 * SLOT),
    ("zip", 8 * SLOT),
    ("dict", 8 * SLOT),
    ("repr", 4),
    ("str", 4),
    ("max", 0),
    ("min", 0),
    ("any", 0),
    ("all", 0),
    ("range", 0),
];

/// The standard functions the guarded ones call.
static STANDARD: std::sync::LazyLock<Globals> = std::sync::LazyLock::new(|| {
    GlobalsBuilder::extended_by(&[LibraryExtension::StructType, LibraryExtension::Print]).build()
});

/// Binds the guarded functions over the standard ones (call after the standard library).
pub(crate) fn guarded_functions(builder: &mut GlobalsBuilder) {
    for (name, bytes_per_element) in GUARDED_FUNCTIONS {
        if let Some(original) = STANDARD.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
            builder.set(name, GuardedFn { name, original, bytes_per_element: *bytes_per_element });
        }
    }
}

/// A standard function that checks the budget against its argument's length first.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct GuardedFn {
    name: &'static str,
    #[allocative(skip)]
    original: FrozenValue,
    bytes_per_element: usize,
}
starlark_simple_value!(GuardedFn);

impl fmt::Display for GuardedFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<built-in function {}>", self.name)
    }
}

/// `range()`'s bound: starlark-rust's ints in ranges are 32-bit.
const RANGE_MAX: i64 = i32::MAX as i64;

impl GuardedFn {
    /// `range(n)` beyond 32 bits, said in the user's terms (starlark-rust's own message names
    /// an internal parameter and is cut off).
    fn check_range(&self, positional: &[Value]) -> starlark::Result<()> {
        if self.name != "range" {
            return Ok(());
        }
        for value in positional {
            let text = value.to_repr();
            let Ok(n) = text.parse::<i128>() else { continue };
            if n > RANGE_MAX as i128 || n < -(RANGE_MAX as i128) - 1 {
                return Err(starlark::Error::new_native(RangeError(text)));
            }
        }
        Ok(())
    }

    fn check_cost(&self, positional: &[Value], eval: &Evaluator) -> starlark::Result<()> {
        let Some(budget) = active() else { return Ok(()) };
        let Some(first) = positional.first() else { return Ok(()) };
        // `str`/`repr` of a string copies it; of a list, its elements' text.
        let length = match first.unpack_str() {
            Some(s) => s.len() as u64,
            None => first.length().map_or(0, |n| n.max(0) as u64),
        };
        if length > budget.max_steps {
            let message = format!(
                "`{}()` would walk {length} elements in one call; evaluation is limited to {} steps",
                self.name, budget.max_steps
            );
            return Err(starlark::Error::new_native(LimitError { limit: Limit::Time, message, at: None }));
        }
        let more = usize::try_from(length).unwrap_or(usize::MAX).saturating_mul(self.bytes_per_element);
        budget.check(eval.heap().allocated_bytes(), more).map_err(starlark::Error::new_native)
    }
}

/// `range()` given a bound beyond 32 bits.
#[derive(Debug)]
pub(crate) struct RangeError(String);

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "range() takes at most 2^31−1 (2147483647), got {}", self.0)
    }
}

impl std::error::Error for RangeError {}

#[starlark_value(type = "builtin_function_or_method")]
impl<'v> StarlarkValue<'v> for GuardedFn {
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let heap = eval.heap();
        let positional: Vec<Value> = args.positions(heap)?.collect();
        self.check_range(&positional)?;
        self.check_cost(&positional, eval)?;
        let names = args.names_map()?;
        let named: Vec<(&str, Value)> = names.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        eval.eval_function(self.original.to_value(), &positional, &named)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_budget_is_scoped_to_its_work() {
        assert!(active().is_none());
        let far = Instant::now() + Duration::from_secs(60);
        with_budget(far, 1 << 20, 100, || {
            assert!(active().is_some());
            assert!(!cancelled());
            let past = active().map(|b| Budget { deadline: Instant::now() - Duration::from_millis(1), ..b });
            assert_eq!(past.map(|b| b.check(0, 0).map_err(|e| e.limit)), Some(Err(Limit::Time)));
            assert_eq!(active().map(|b| b.check(0, 2 << 20).map_err(|e| e.limit)), Some(Err(Limit::Memory)));
        });
        assert!(active().is_none());
    }
}
