//! # 16 · Cancellation, with threads: only the thread itself can stop, when it looks
//!
//! The same scenario as `examples-async/src/bin/16_cancellation/`, with OS threads. There, a future
//! is cancelled from outside by dropping it, at any `.await`. **A thread cannot be cancelled from
//! outside** (std has no `Thread::cancel`, and killing one would leave its locks held and its
//! memory half-written): it can only be *asked*, and it stops when it next looks. So every
//! cancellation here is cooperative, and its cost is the time to the next look, measured.
//!
//! What it shows, each step measured beside its ideal:
//! 1. **A sleep that can be aborted**: the "sleep" is `recv_timeout` on a channel; another thread
//!    sends on it after 200 ms and the sleeper wakes at once. Once that thread has ended, its sender
//!    is dropped and the channel closed: a later wait ends at once on `Disconnected` (JS's
//!    `throwIfAborted`). A `thread::sleep` could not be woken.
//! 2. **A timeout on the result is not a cancellation**: the worker runs on (`timeout_is_not_cancel.rs`).
//! 3. **A blocking call cannot be interrupted**: its latency to stop, measured (`request.rs`).
//! 4. **A group of threads** stopped by a closed channel or a flag, every guard's `Drop` counted
//!    (`group.rs`). The summary is printed by `report.rs`.
//!
//! **The difference**, in one line: async cancels *at any `.await`, from outside, by dropping*;
//! threads stop *at the points the thread's own code checks*, and a blocking call is not one. The
//! flip side: a thread's `read_line` is never abandoned half-way, so the async twin's step 7
//! (`cancel_safety.rs`: data lost when a `select!` branch is dropped) has no counterpart here.
//!
//! Upstream: `src/js/asynchrony/16_abort_controller.js`, `src/cpp/asynchrony/future_timed_wait.cpp`
//! (demo 4: an atomic flag still false at the timeout, true after `get`). Seed: "Asynchrony vs
//! Multithreading".
//!
//! Run: `cargo run -p examples-threads --bin 16_cancellation_threads` (about 2.5 s; no flags but
//! `--help`). Output of a real run: `docs/output/16_cancellation_threads.txt`.

mod group;
mod report;
mod request;
mod timeout_is_not_cancel;

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::http_server::TestServer;
use common::{fmt_duration, init_logging, parse_args};
use tracing::info;

use group::{CHUNK, GROUP_STOP, demo_group};
use request::demo_blocking_call;
use timeout_is_not_cancel::demo_timeout_is_not_cancellation;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------------
// 1. A sleep that can be aborted: recv_timeout on a channel
// ---------------------------------------------------------------------------------------------

/// How an abortable wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Finished,
    Cancelled,
}

/// JS's `abortableSleep(ms, signal)` for a thread: wait on the cancel channel for at most
/// `duration`. A message, or the sender gone, is the cancel; a timeout means the sleep finished.
fn abortable_sleep(duration: Duration, cancel: &mpsc::Receiver<()>) -> Ended {
    match cancel.recv_timeout(duration) {
        Err(RecvTimeoutError::Timeout) => Ended::Finished,
        Ok(()) | Err(RecvTimeoutError::Disconnected) => Ended::Cancelled,
    }
}

#[derive(Debug)]
struct SleepFigures {
    ended: Ended,
    after: Duration,
    pre_cancelled: Ended,
    pre_cancelled_after: Duration,
}

const LONG_SLEEP: Duration = ms(2000);
const USER_ABORT: Duration = ms(200);

fn demo_abort_a_sleep() -> anyhow::Result<SleepFigures> {
    info!("--- 1. a 2000 ms sleep, cancelled by another thread after 200 ms ---");
    let (cancel, cancelled) = mpsc::channel();
    let start = Instant::now();
    let ended = thread::scope(|s| -> anyhow::Result<Ended> {
        thread::Builder::new()
            .name("user".into())
            .spawn_scoped(s, move || {
                thread::sleep(USER_ABORT);
                // `let _`: if the sleeper had already given up, there is no one left to tell.
                let _ = cancel.send(());
            })?;
        Ok(abortable_sleep(LONG_SLEEP, &cancelled))
    })?;
    let after = start.elapsed();
    info!("sleep: {ended:?} after {}", fmt_duration(after));

    // The sender is gone (the user thread ended): every later wait on this channel ends at once.
    let start = Instant::now();
    let pre_cancelled = abortable_sleep(LONG_SLEEP, &cancelled);
    let pre_cancelled_after = start.elapsed();
    info!(
        "with the channel closed (the user thread is gone): {pre_cancelled:?} after {}",
        fmt_duration(pre_cancelled_after)
    );
    Ok(SleepFigures {
        ended,
        after,
        pre_cancelled,
        pre_cancelled_after,
    })
}

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "16 · Cancellation with threads: cooperative only (a channel's recv_timeout, a flag, a \
             closed channel for a group); a timeout does not stop the worker; a blocking call \
             cannot be interrupted (latency to stop measured); Drop cleanup counted",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    let sleep_run = demo_abort_a_sleep()?;
    let timeout_run = demo_timeout_is_not_cancellation()?;
    let server = TestServer::start()?;
    let request_run = demo_blocking_call(&server)?;
    server.shutdown();
    let group_run = demo_group(CHUNK, GROUP_STOP)?;

    report::print(&sleep_run, &timeout_run, &request_run, &group_run);
    Ok(())
}

#[cfg(test)]
mod tests;
