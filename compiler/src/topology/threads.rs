//! Latency helpers for one topology analysis: a second analysis thread for independent work
//! ([`join`]), and freeing a finished model off the caller's path ([`drop_later`]).
//!
//! An editor waits for one file's diagnostics after each keystroke (`ospecc lsp`), and on a
//! 2,000-line file the static checks and the teardown of the evaluated model are a third of
//! that wait. Neither changes what is computed: [`join`] returns both results in a fixed order,
//! and [`drop_later`] only moves the freeing of memory that nothing reads any more.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{LazyLock, Mutex};

use super::attrs;
use super::ANALYSIS_STACK_BYTES;

/// Runs `main` here and `side` on a second analysis thread (same stack size, same address
/// mode), and returns both results. Without a thread to be had, `side` runs here afterwards.
/// A panic in either is resumed here, as if both had run on this thread.
pub(crate) fn join<A, B: Send>(main: impl FnOnce() -> A, side: impl FnOnce() -> B + Send) -> (A, B) {
    let addresses = attrs::addresses();
    let slot = Mutex::new(Some(side));
    let take = || slot.lock().ok().and_then(|mut work| work.take());
    let (a, b) = std::thread::scope(|scope| {
        let builder = std::thread::Builder::new().name("topology-side".into()).stack_size(ANALYSIS_STACK_BYTES);
        let spawned = builder.spawn_scoped(scope, || {
            attrs::set_addresses(addresses);
            take().map(|work| work())
        });
        let a = main();
        let b = match spawned {
            Ok(handle) => match handle.join() {
                Ok(value) => value,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(_) => None,
        };
        (a, b)
    });
    match b {
        Some(b) => (a, b),
        None => match take() {
            Some(side) => (a, side()),
            None => unreachable!("the side work ran neither on its thread nor here"),
        },
    }
}

/// Values waiting for the drop thread at most: beyond that the caller frees its own, so that
/// memory stays bounded when many threads check files at once (`ospecc check` on a tree).
const QUEUE: usize = 4;

/// The drop thread's inbox (`None` when no thread could be started).
static DROPS: LazyLock<Option<SyncSender<Box<dyn Send>>>> = LazyLock::new(|| {
    let (sender, receiver) = sync_channel::<Box<dyn Send>>(QUEUE);
    std::thread::Builder::new()
        .name("topology-drop".into())
        .spawn(move || {
            // Each message is dropped as it is received.
            for garbage in receiver {
                drop(garbage);
            }
        })
        .ok()
        .map(|_| sender)
});

/// Frees `value` on a background thread, so that the caller's result is not held up by the
/// teardown of a large model (tens of thousands of small allocations). Frees it here when the
/// background queue is full or there is no background thread.
pub(crate) fn drop_later<T: Send + 'static>(value: T) {
    let Some(sender) = DROPS.as_ref() else { return };
    match sender.try_send(Box::new(value)) {
        Ok(()) => {}
        Err(TrySendError::Full(value) | TrySendError::Disconnected(value)) => drop(value),
    }
}
