//! The jobs, and the two ways a job's thread can wait out its delay. Each job has a side effect at
//! its end (a row written, a mail sent), and a guard that counts a job that returned before it got
//! there: a job *stopped*. A thread cannot be cancelled from outside; it stops early only if it is
//! asked and looks (example 16), so the two ways differ in where the thread waits:
//! - **blocking** (`thread::sleep`, standing in for a computation or a blocking call): nothing can
//!   reach it, so the job always does its side effect, as JS's losers and the async twin's
//!   spawned tasks do;
//! - **asked to stop**: the job waits with `recv_timeout` on a stop channel, which is closed as soon
//!   as the combinator has its answer: the losers see it at once and return without their side
//!   effect, as the async twin's dropped futures do. Both counts are measured by the guard.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use common::fmt_duration;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tracing::info;

use crate::{Failed, Job, JobResult};

/// Counts, for one combinator's run, what its jobs did (the twin's ledger).
#[derive(Default)]
pub(crate) struct Ledger {
    pub(crate) started: AtomicUsize,
    /// Side effects: jobs that reached their end (success or failure).
    pub(crate) finished: AtomicUsize,
    /// Jobs that returned before their end: counted by [`Running`]'s `Drop`, so only a job that
    /// really stopped early moves it.
    pub(crate) stopped: AtomicUsize,
}

/// A job in progress; its `Drop` counts a job that never reached [`Running::finish`].
struct Running {
    job: Job,
    ledger: Arc<Ledger>,
    since: Instant,
    finished: bool,
}

impl Running {
    fn finish(&mut self) {
        self.finished = true;
        self.ledger.finished.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            self.ledger.stopped.fetch_add(1, Ordering::SeqCst);
            info!(
                "{}: stopped after {} of its {}: its side effect will never happen",
                self.job.name,
                fmt_duration(self.since.elapsed()),
                fmt_duration(self.job.delay)
            );
        }
    }
}

/// How a job's thread waits out its delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Launch {
    /// `thread::sleep`: nothing can interrupt it.
    Blocking,
    /// `recv_timeout` on the stop channel: it wakes when the channel is closed.
    AskedToStop,
}

impl Launch {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Launch::Blocking => "blocking threads",
            Launch::AskedToStop => "threads asked to stop",
        }
    }
}

/// One job on its own thread: wait `delay` as `launch` says, do its side effect, send the outcome
/// and return it; `None` if it was asked to stop first. `stop` never carries a message: it is
/// closed (its sender dropped) once the combinator has its answer.
pub(crate) fn run_job(
    job: Job,
    launch: Launch,
    ledger: Arc<Ledger>,
    results: Sender<JobResult>,
    stop: Receiver<()>,
) -> Option<JobResult> {
    ledger.started.fetch_add(1, Ordering::SeqCst);
    let mut running = Running {
        job,
        ledger,
        since: Instant::now(),
        finished: false,
    };
    match launch {
        Launch::Blocking => thread::sleep(job.delay), // nothing can interrupt this
        Launch::AskedToStop => {
            if !matches!(stop.recv_timeout(job.delay), Err(RecvTimeoutError::Timeout)) {
                return None; // `running` is dropped unfinished: counted as stopped
            }
        }
    }
    running.finish(); // the side effect
    info!(
        "{}: {} after {}",
        job.name,
        if job.fails { "failed" } else { "succeeded" },
        fmt_duration(job.delay)
    );
    let outcome = if job.fails {
        Err(Failed(job.name))
    } else {
        Ok(job.name)
    };
    // The combinator may have stopped listening (it has its answer): not an error for the job.
    let _ = results.send(outcome);
    Some(outcome)
}
