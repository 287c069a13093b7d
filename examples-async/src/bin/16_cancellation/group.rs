//! Step 5: a group of tasks. Three workers with child tokens of one group token stop together and
//! return what they did; three in a `JoinSet` are stopped by `abort_all()` (their `JoinError` says
//! `is_cancelled`). Every worker holds a guard whose `Drop` counts, made when the worker starts and
//! dropped when it stops: held while it runs (counted at the cancel), and the cleanup ran for all of
//! them, none leaked, on both paths.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::ms;

/// How many guards were made and how many dropped: equal once everything has stopped, or cleanup
/// was skipped somewhere.
#[derive(Debug, Default)]
pub(crate) struct GuardCounts {
    pub(crate) made: AtomicUsize,
    pub(crate) dropped: AtomicUsize,
}

impl GuardCounts {
    /// Guards alive now: made and not yet dropped.
    pub(crate) fn held(&self) -> usize {
        self.made.load(Ordering::SeqCst) - self.dropped.load(Ordering::SeqCst)
    }
}

/// Stands for what a worker must release however it stops (a temp file, a lease, a connection).
/// Its `Drop` runs when the future holding it is dropped: that is how an aborted task cleans up.
pub(crate) struct Guard(Arc<GuardCounts>);

impl Guard {
    pub(crate) fn new(counts: &Arc<GuardCounts>) -> Guard {
        counts.made.fetch_add(1, Ordering::SeqCst);
        Guard(counts.clone())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

pub(crate) const CHUNK: Duration = ms(100);
pub(crate) const WORKERS: usize = 3;
pub(crate) const GROUP_STOP: Duration = ms(250);

/// A worker that processes 100 ms chunks until its token is cancelled, and says how many it did.
pub(crate) async fn worker(id: usize, token: CancellationToken, counts: Arc<GuardCounts>) -> usize {
    let _guard = Guard::new(&counts);
    let mut chunks = 0;
    loop {
        tokio::select! {
            biased;
            // The cooperative way: the worker sees the cancel and returns normally, so it could
            // also do async cleanup here (flush, say goodbye), which a `Drop` cannot.
            _ = token.cancelled() => {
                info!("worker {id}: cancelled after {chunks} chunks");
                return chunks;
            }
            _ = sleep(CHUNK) => chunks += 1,
        }
    }
}

#[derive(Debug)]
pub(crate) struct GroupFigures {
    pub(crate) by_token_stopped: usize,
    pub(crate) by_token_after: Duration,
    pub(crate) aborted: usize,
    pub(crate) aborted_after: Duration,
    /// Guards alive just before each group was stopped (both groups added): one per running
    /// worker if each holds its guard for as long as it runs.
    pub(crate) guards_held_at_stop: usize,
    pub(crate) guards_made: usize,
    pub(crate) guards_dropped: usize,
}

pub(crate) async fn demo_group() -> GroupFigures {
    info!("--- 5. a group of 3 workers stopped by one token, 3 more by JoinSet::abort_all ---");
    let counts = Arc::new(GuardCounts::default());

    let group = CancellationToken::new();
    let mut workers = JoinSet::new();
    for id in 0..WORKERS {
        workers.spawn(worker(id, group.child_token(), counts.clone()));
    }
    let start = Instant::now();
    sleep(GROUP_STOP).await;
    let mut guards_held_at_stop = counts.held();
    group.cancel();
    let mut by_token_stopped = 0;
    while let Some(done) = workers.join_next().await {
        if done.is_ok() {
            by_token_stopped += 1;
        }
    }
    let by_token_after = start.elapsed();

    // The same workers, but their token is never cancelled: only abort can stop them.
    let never = CancellationToken::new();
    let mut workers = JoinSet::new();
    for id in WORKERS..2 * WORKERS {
        workers.spawn(worker(id, never.clone(), counts.clone()));
    }
    let start = Instant::now();
    sleep(GROUP_STOP).await;
    guards_held_at_stop += counts.held();
    // Each task is dropped at its `.await`: no code of it runs after this point, but its locals
    // (the guard) are dropped, so `Drop` cleanup runs.
    workers.abort_all();
    let mut aborted = 0;
    while let Some(done) = workers.join_next().await {
        if done.is_err_and(|e| e.is_cancelled()) {
            aborted += 1;
        }
    }
    let aborted_after = start.elapsed();
    info!("abort_all: {aborted} tasks cancelled");
    GroupFigures {
        by_token_stopped,
        by_token_after,
        aborted,
        aborted_after,
        guards_held_at_stop,
        guards_made: counts.made.load(Ordering::SeqCst),
        guards_dropped: counts.dropped.load(Ordering::SeqCst),
    }
}
