//! # 16 · Cancellation: tokens, timeouts, abort, and the data a `select!` loop can lose
//!
//! JavaScript cancels with an `AbortController`: every API that can stop takes its `signal` and checks
//! it. A Rust future needs no such parameter: it only runs while someone polls it, so **dropping it
//! is cancelling it**, at whichever `.await` it is parked on. Everything below builds on that.
//!
//! What it shows, each step measured beside its ideal:
//! 1. **A sleep aborted** by a `CancellationToken` (tokio-util) that another task cancels after
//!    200 ms: `select!` between `token.cancelled()` and the sleep. An already-cancelled token stops
//!    it at once (JS's `throwIfAborted`): its branch is ready and the sleep's is not.
//! 2. **`tokio::time::timeout`** as `AbortSignal.timeout`: a 1000 ms sleep under 300 ms gives up at
//!    300 ms; a 100 ms sleep under 500 ms finishes.
//! 3. **Child tokens** as `AbortSignal.any([user, timeout])`: `user.child_token()` is cancelled when
//!    the user's token is, or by its own timer; cancelling the child leaves the parent alone.
//! 4. **A request aborted** by the token or a timeout (`request.rs`).
//! 5. **A group of tasks** stopped by child tokens or `JoinSet::abort_all`, every guard's `Drop`
//!    counted (`group.rs`).
//! 6. **A timeout is not the cancellation of a spawned task** (`timeout_is_not_cancel.rs`).
//! 7. **Cancellation safety in a `select!` loop** (`cancel_safety.rs`, the lesson few examples
//!    show): `read_line` raced against a ticker loses the lines a tick splits; a kept future or the
//!    cancel-safe `Lines::next_line` lose none. The summary is printed by `report.rs`.
//!
//! Upstream: `src/js/asynchrony/16_abort_controller.js` (demos 1-4; its demo 4 fetches
//! jsonplaceholder.typicode.com, here the local `common::http_server`), `src/cpp/asynchrony/
//! future_timed_wait.cpp` demo 4 (a timeout is not a cancellation). Seed: "Asynchrony" > Futures and
//! Tasks ("tasks can be awaited, cancelled, grouped"). Threads twin:
//! `examples-threads/src/bin/16_cancellation_threads/` (cooperative cancellation only).
//!
//! Run: `cargo run -p examples-async --bin 16_cancellation` (about 3 s; no flags but `--help`).
//! Output of a real run: `docs/output/16_cancellation.txt`.

mod cancel_safety;
mod group;
mod report;
mod request;
mod timeout_is_not_cancel;

use std::time::Duration;

use clap::Parser;
use common::http_server::TestServer;
use common::{fmt_duration, init_logging, parse_args};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;
use tracing::info;

use cancel_safety::demo_cancellation_safety;
use group::demo_group;
use request::demo_abort_a_request;
use timeout_is_not_cancel::demo_timeout_is_not_cancellation;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------------
// 1-3. A sleep aborted by a token, by a timeout, by either (child tokens)
// ---------------------------------------------------------------------------------------------

/// How an abortable wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Finished,
    Cancelled,
}

/// JS's `abortableSleep(ms, signal)`. No listener to register or remove: `select!` polls both
/// futures, and when one is ready the other is dropped (the sleep's timer is deregistered).
async fn abortable_sleep(duration: Duration, token: &CancellationToken) -> Ended {
    tokio::select! {
        // Polled in this order, not at random: an already-cancelled token wins before the sleep is
        // even polled once, which is JS's `signal.throwIfAborted()` at the top of the function.
        biased;
        _ = token.cancelled() => Ended::Cancelled,
        _ = sleep(duration) => Ended::Finished,
    }
}

/// The user pressing "abort" after `after`: a task that cancels `token` then.
fn cancel_after(token: CancellationToken, after: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        sleep(after).await;
        token.cancel();
    })
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

async fn demo_abort_a_sleep() -> SleepFigures {
    info!("--- 1. a 2000 ms sleep, the token cancelled after 200 ms ---");
    let token = CancellationToken::new();
    let user = cancel_after(token.clone(), USER_ABORT);
    let start = Instant::now();
    let ended = abortable_sleep(LONG_SLEEP, &token).await;
    let after = start.elapsed();
    info!("sleep: {ended:?} after {}", fmt_duration(after));
    let _ = user.await; // it has cancelled already; nothing to wait for

    // A token cancelled before the call: the wait never starts.
    let start = Instant::now();
    let pre_cancelled = abortable_sleep(LONG_SLEEP, &token).await;
    let pre_cancelled_after = start.elapsed();
    info!(
        "with an already-cancelled token: {pre_cancelled:?} after {}",
        fmt_duration(pre_cancelled_after)
    );
    SleepFigures {
        ended,
        after,
        pre_cancelled,
        pre_cancelled_after,
    }
}

#[derive(Debug)]
struct TimeoutFigures {
    long_timed_out: bool,
    long_after: Duration,
    short_timed_out: bool,
    short_after: Duration,
}

async fn demo_timeout() -> TimeoutFigures {
    info!("--- 2. timeout(300 ms) on a 1000 ms sleep, timeout(500 ms) on a 100 ms sleep ---");
    // `timeout` is a race between the future and a timer; the loser is dropped. `Err(Elapsed)` is
    // JS's `TimeoutError`.
    let start = Instant::now();
    let long = timeout(ms(300), sleep(ms(1000))).await;
    let long_after = start.elapsed();
    let said = |timed_out: bool| if timed_out { "timed out" } else { "finished" };
    info!(
        "1000 ms sleep: {} after {}",
        said(long.is_err()),
        fmt_duration(long_after)
    );
    let start = Instant::now();
    let short = timeout(ms(500), sleep(ms(100))).await;
    let short_after = start.elapsed();
    info!(
        "100 ms sleep: {} after {}",
        said(short.is_err()),
        fmt_duration(short_after)
    );
    TimeoutFigures {
        long_timed_out: long.is_err(),
        long_after,
        short_timed_out: short.is_err(),
        short_after,
    }
}

#[derive(Debug)]
struct ChildFigures {
    by_user: Ended,
    by_user_after: Duration,
    by_own_timer: Ended,
    by_own_timer_after: Duration,
    parent_cancelled_by_child: bool,
}

/// The operation's own deadline in the first run (upstream: `AbortSignal.timeout(1000)`).
const OWN_TIMER: Duration = ms(1000);
/// The own deadline in the second run, where the user never aborts.
const SHORT_OWN_TIMER: Duration = ms(300);

async fn demo_child_tokens() -> ChildFigures {
    info!("--- 3. child tokens: cancelled by the user (200 ms) or by its own timer ---");
    // `AbortSignal.any([user, timeout])`: the child token is cancelled when the parent is, and it
    // can also be cancelled on its own (here by its timer) without touching the parent.
    let user = CancellationToken::new();
    let operation = user.child_token();
    let _user_clicks = cancel_after(user.clone(), USER_ABORT);
    let _own_timer = cancel_after(operation.clone(), OWN_TIMER);
    let start = Instant::now();
    let by_user = abortable_sleep(LONG_SLEEP, &operation).await;
    let by_user_after = start.elapsed();
    info!(
        "operation: {by_user:?} after {} (by the user's token)",
        fmt_duration(by_user_after)
    );

    let user = CancellationToken::new();
    let operation = user.child_token();
    let _own_timer = cancel_after(operation.clone(), SHORT_OWN_TIMER);
    let start = Instant::now();
    let by_own_timer = abortable_sleep(LONG_SLEEP, &operation).await;
    let by_own_timer_after = start.elapsed();
    let parent_cancelled_by_child = user.is_cancelled();
    info!(
        "operation: {by_own_timer:?} after {} by its own timer; the user's token cancelled: {parent_cancelled_by_child}",
        fmt_duration(by_own_timer_after)
    );
    ChildFigures {
        by_user,
        by_user_after,
        by_own_timer,
        by_own_timer_after,
        parent_cancelled_by_child,
    }
}

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "16 · Cancellation: CancellationToken (child tokens), select!, timeout, JoinSet::abort_all \
             on a sleep, a request and a group; cancel safety in a select! loop (read_line loses lines, \
             the fixes lose 0); Drop cleanup counted; a timeout does not stop a spawned task",
    long_about = None
)]
struct Args {}

// One thread: cancellation needs no parallelism, and every step reads in order.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    let sleep_run = demo_abort_a_sleep().await;
    let timeout_run = demo_timeout().await;
    let child_run = demo_child_tokens().await;
    let server = TestServer::start()?;
    let request_run = demo_abort_a_request(&server).await?;
    server.shutdown();
    let group_run = demo_group().await;
    let not_cancelled = demo_timeout_is_not_cancellation().await;
    let line_runs = demo_cancellation_safety().await?;
    report::print(
        &sleep_run,
        &timeout_run,
        &child_run,
        &request_run,
        &group_run,
        &not_cancelled,
        &line_runs,
    );
    Ok(())
}

#[cfg(test)]
mod tests;
