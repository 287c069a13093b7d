//! Step 6: a timeout is not the cancellation of a spawned task (C++'s `future_timed_wait.cpp` demo
//! 4): `timeout(200 ms, &mut handle)` stops the *waiting*, the task finishes its 500 ms anyway. The
//! same timeout on a plain future drops the work with it; `handle.abort()` stops the task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::fmt_duration;
use tokio::time::{Instant, sleep, timeout};
use tracing::info;

use crate::ms;

pub(crate) const SLOW_WORK: Duration = ms(500);
pub(crate) const WAIT_LIMIT: Duration = ms(200);

/// The C++ demo's slow task: sets `done` after 500 ms.
pub(crate) async fn slow_work(done: Arc<AtomicBool>) {
    sleep(SLOW_WORK).await;
    done.store(true, Ordering::SeqCst);
}

#[derive(Debug)]
pub(crate) struct NotCancelledFigures {
    pub(crate) spawned_timed_out: bool,
    pub(crate) spawned_done_at_timeout: bool,
    pub(crate) spawned_done_after: Option<Duration>,
    pub(crate) plain_timed_out: bool,
    pub(crate) plain_done_later: bool,
    pub(crate) aborted_done_later: bool,
}

pub(crate) async fn demo_timeout_is_not_cancellation() -> NotCancelledFigures {
    info!(
        "--- 6. timeout(200 ms) on a 500 ms job: spawned, plain future, spawned then aborted ---"
    );
    let start = Instant::now();
    let spawned_done = Arc::new(AtomicBool::new(false));
    let plain_done = Arc::new(AtomicBool::new(false));
    let aborted_done = Arc::new(AtomicBool::new(false));
    // The three side by side, from the same start.
    let (spawned, plain_timed_out, ()) = tokio::join!(
        async {
            let mut task = tokio::spawn(slow_work(spawned_done.clone()));
            // `&mut task`: the timeout drops only the borrow; the handle, and the task, live on.
            let timed_out = timeout(WAIT_LIMIT, &mut task).await.is_err();
            let done_at_timeout = spawned_done.load(Ordering::SeqCst);
            info!("spawned task: timed out {timed_out}, done {done_at_timeout}; waiting on");
            let done_after = task.await.ok().map(|()| start.elapsed());
            (timed_out, done_at_timeout, done_after)
        },
        // The work is this future: when the timeout drops it, the work stops at its `.await`.
        async {
            timeout(WAIT_LIMIT, slow_work(plain_done.clone()))
                .await
                .is_err()
        },
        async {
            let mut task = tokio::spawn(slow_work(aborted_done.clone()));
            if timeout(WAIT_LIMIT, &mut task).await.is_err() {
                // The fix when the work is a task: stop it explicitly.
                task.abort();
            }
        },
    );
    let (spawned_timed_out, spawned_done_at_timeout, spawned_done_after) = spawned;
    // Past the 500 ms the work needs: whatever was still running has finished by now.
    tokio::time::sleep_until(start + SLOW_WORK + ms(100)).await;
    let plain_done_later = plain_done.load(Ordering::SeqCst);
    let aborted_done_later = aborted_done.load(Ordering::SeqCst);
    info!(
        "spawned task: done at {}; plain future: done {plain_done_later}; aborted task: done {aborted_done_later}",
        spawned_done_after.map_or("never".into(), fmt_duration)
    );
    NotCancelledFigures {
        spawned_timed_out,
        spawned_done_at_timeout,
        spawned_done_after,
        plain_timed_out,
        plain_done_later,
        aborted_done_later,
    }
}
