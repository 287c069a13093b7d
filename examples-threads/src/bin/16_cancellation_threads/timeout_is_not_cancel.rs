//! Step 2: a timeout on the result is not a cancellation (C++'s `future_timed_wait.cpp` demo 4,
//! and `AbortSignal.timeout`): `recv_timeout(300 ms)` on the result of 1000 ms of work gives up at
//! 300 ms; the worker does not know and finishes its 1000 ms anyway. The async twin can drop the
//! work with the wait; here there is no such thing. (Upstream's C++ says the result must be
//! collected "to avoid UB in the future destructor": there is no UB, a `std::async` future's
//! destructor just blocks until the work ends. A dropped Rust `JoinHandle` detaches instead.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::fmt_duration;
use tracing::info;

use crate::ms;

pub(crate) const SLOW_WORK: Duration = ms(1000);
pub(crate) const WAIT_LIMIT: Duration = ms(300);

#[derive(Debug)]
pub(crate) struct TimeoutFigures {
    pub(crate) gave_up: bool,
    pub(crate) gave_up_after: Duration,
    pub(crate) done_at_give_up: bool,
    /// When the worker finished anyway, from the start.
    pub(crate) worker_done_after: Duration,
}

pub(crate) fn demo_timeout_is_not_cancellation() -> anyhow::Result<TimeoutFigures> {
    info!("--- 2. recv_timeout(300 ms) on the result of 1000 ms of work ---");
    let done = Arc::new(AtomicBool::new(false));
    let (result, received) = mpsc::channel();
    let start = Instant::now();
    let worker = {
        let done = done.clone();
        thread::Builder::new()
            .name("worker".into())
            .spawn(move || {
                thread::sleep(SLOW_WORK); // the work
                done.store(true, Ordering::SeqCst);
                let _ = result.send(42); // the waiter may have gone: nothing to do then
            })?
    };
    let waited = received.recv_timeout(WAIT_LIMIT);
    let gave_up_after = start.elapsed();
    let gave_up = waited.is_err();
    let done_at_give_up = done.load(Ordering::SeqCst);
    info!(
        "waiting: {} after {}; the work done: {done_at_give_up}",
        if gave_up { "gave up" } else { "got the result" },
        fmt_duration(gave_up_after)
    );
    // Nothing can stop the worker now: joining it waits for the rest of its 1000 ms.
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the worker panicked"))?;
    let worker_done_after = start.elapsed();
    info!(
        "worker: finished anyway after {}",
        fmt_duration(worker_done_after)
    );
    Ok(TimeoutFigures {
        gave_up,
        gave_up_after,
        done_at_give_up,
        worker_done_after,
    })
}
