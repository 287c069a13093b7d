//! The jobs, and the two ways of starting them. Each job has a side effect at its end (a row
//! written, a mail sent), and a guard that counts a job dropped before it got there: a dropped
//! future is cancelled at its `.await`, and its remaining code never runs. A spawned task is not
//! cancelled by dropping its `JoinHandle`: dropping the handle detaches the task.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::fmt_duration;
use futures::future::FutureExt;
use tokio::time::{Instant, sleep};
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::{Failed, Job, JobFuture, JobResult};

/// Counts, for one combinator's run, what its jobs did. Shared with spawned tasks, hence the atomics.
#[derive(Default)]
pub(crate) struct Ledger {
    pub(crate) started: AtomicUsize,
    /// Side effects: jobs that reached their end (success or failure).
    pub(crate) finished: AtomicUsize,
    /// Jobs dropped before their end: cancelled at an `.await`.
    pub(crate) cancelled: AtomicUsize,
}

/// A job in progress. If it is dropped before [`Running::finish`], its future was dropped at an
/// `.await`: the job was cancelled, and `Drop` counts it. (This is also how cleanup on cancel works
/// in Rust: destructors run.)
pub(crate) struct Running {
    pub(crate) job: Job,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) since: Instant,
    pub(crate) finished: bool,
}

impl Running {
    pub(crate) fn finish(&mut self) {
        self.finished = true;
        self.ledger.finished.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            self.ledger.cancelled.fetch_add(1, Ordering::SeqCst);
            info!(
                "{}: dropped after {} of its {}: cancelled, its side effect will never happen",
                self.job.name,
                fmt_duration(self.since.elapsed()),
                fmt_duration(self.job.delay)
            );
        }
    }
}

/// One job: wait `delay`, then do its side effect and succeed or fail.
pub(crate) async fn run_job(job: Job, ledger: Arc<Ledger>) -> JobResult {
    ledger.started.fetch_add(1, Ordering::SeqCst);
    let mut running = Running {
        job,
        ledger,
        since: Instant::now(),
        finished: false,
    };
    sleep(job.delay).await; // a dropped future stops here, for good
    running.finish(); // the side effect
    info!(
        "{}: {} after {}",
        job.name,
        if job.fails { "failed" } else { "succeeded" },
        fmt_duration(job.delay)
    );
    if job.fails {
        Err(Failed(job.name))
    } else {
        Ok(job.name)
    }
}

/// How the jobs handed to a combinator are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Launch {
    /// The job's future itself: it runs only while the combinator polls it, and dies with it.
    Futures,
    /// `tokio::spawn`ed (through a `TaskTracker`, so the program can wait for stragglers) and the
    /// combinator gets a future of its `JoinHandle`: dropping that detaches the task, not cancels it.
    Spawned,
}

impl Launch {
    pub(crate) fn start(self, job: Job, ledger: &Arc<Ledger>, tracker: &TaskTracker) -> JobFuture {
        let ledger = ledger.clone();
        match self {
            Launch::Futures => run_job(job, ledger).boxed(),
            Launch::Spawned => {
                // Spawned here, at once: like a JS promise it runs whether or not anyone awaits it.
                let handle = tracker.spawn(run_job(job, ledger));
                async move { handle.await.expect("jobs neither panic nor get aborted") }.boxed()
            }
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Launch::Futures => "futures",
            Launch::Spawned => "spawned",
        }
    }
}
