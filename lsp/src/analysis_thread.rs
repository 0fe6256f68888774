//! The scheduler's analysis thread: one thread, made once, with the analysis stack, on which
//! every file the scheduler analyses is checked.
//!
//! Each check used to run on a thread of tokio's blocking pool that started a new analysis
//! thread for it. A new thread starts with an empty allocator heap: the memory a check
//! allocates was fresh pages again on every keystroke, zeroed by the kernel. On the 2,000-line
//! topology of the language-server benchmark that was about 0.8 ms of the 5.2 ms a check took
//! in the server (p50). The scheduler analyses one file at a time, so one thread kept warm
//! serves it.

use std::any::Any;
use std::sync::mpsc::{channel, Sender};

use ospecc_compiler::topology::{mark_analysis_thread, ANALYSIS_STACK_BYTES};

/// A panic's payload, as `catch_unwind` gives it.
pub type Panic = Box<dyn Any + Send>;

type Job = Box<dyn FnOnce() + Send>;

/// The thread, or none when it could not be made (then work goes to the blocking pool).
pub struct AnalysisThread {
    jobs: Option<Sender<Job>>,
}

impl AnalysisThread {
    pub fn start(name: &str) -> AnalysisThread {
        let (jobs, inbox) = channel::<Job>();
        let thread = std::thread::Builder::new().name(name.into()).stack_size(ANALYSIS_STACK_BYTES).spawn(move || {
            mark_analysis_thread();
            // Ends when the scheduler (the only sender) is gone.
            for job in inbox {
                job();
            }
        });
        AnalysisThread { jobs: thread.ok().map(|_| jobs) }
    }

    /// Runs `work` on the thread and waits for it without blocking the runtime; a panic in it
    /// is returned, and the thread goes on serving.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Panic> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The receiver is gone only when the scheduler stopped waiting (the server exits).
            let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
        });
        let job = match &self.jobs {
            Some(jobs) => match jobs.send(job) {
                Ok(()) => None,
                Err(unsent) => Some(unsent.0),
            },
            None => Some(job),
        };
        if let Some(job) = job {
            // No thread: the blocking pool, on a new analysis thread as before.
            let blocking = tokio::task::spawn_blocking(move || ospecc_compiler::topology::on_analysis_stack(job));
            if let Err(e) = blocking.await {
                return Err(Box::new(format!("the analysis task failed: {e}")));
            }
        }
        match result.await {
            Ok(outcome) => outcome,
            Err(_) => Err(Box::new("the analysis thread stopped".to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_one_analysis_thread_and_a_panic_is_returned() {
        let thread = AnalysisThread::start("test");
        let first = thread.run(|| (ospecc_compiler::topology::is_analysis_thread(), std::thread::current().id())).await;
        let (on_stack, id) = first.expect("no panic");
        assert!(on_stack, "the work runs on an analysis thread");
        let panicked = thread.run(|| -> u8 { panic!("a defect") }).await;
        assert!(panicked.is_err());
        let again = thread.run(|| std::thread::current().id()).await.expect("the thread goes on serving");
        assert_eq!(again, id, "the same thread serves every job");
    }
}
