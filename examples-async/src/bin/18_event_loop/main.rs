//! # 18 · The event loop from inside: a tiny executor, a future by hand, tokio's runtimes
//!
//! The chapter's first building block, the event loop, opened up. `executor.rs` is a complete
//! executor in safe Rust: a ready queue, wakers made with `std::task::Wake`, a sorted timer list
//! (`executor/timer.rs`), a loop that polls, idles and wakes. It runs upstream's dashboard:
//! `profile` (200 ms) and `orders` (100 ms) sleep, `recommendations` waits for `orders`, then works
//! 200 ms (upstream Python's three `pretend_io`, made a chain so that tasks wait on each other).
//! Every poll, every wake and every idle moment is printed.
//!
//! - **`.await` is a return from `poll`.** A task at an `.await` on something not ready returns
//!   `Pending` to the loop: the thread is the loop's again. Nothing runs "in the background".
//! - **A wake is a push onto a queue.** A due timer, or a task that finishes, calls the waker it
//!   was given, which pushes the task's id onto the ready queue: so **polls = wakes + 1** per task.
//! - **The loop idles only when nothing is ready**, until the earliest timer: where a real loop
//!   waits for I/O too (epoll, kqueue, IOCP). The total is the longest chain, not the sum.
//! - `hand_written.rs`: `recommendations` as a `Future` written by hand, the same trace.
//! - `on_tokio.rs`: the same program on tokio's runtimes, polls and wakes counted and compared.
//!   `ordering.rs`: no microtasks (a ready `.await` does not yield, `yield_now` does), the budget.
//!
//! Seed: "Asynchrony" > Building Blocks > Event Loop (its four duties: task management, event
//! dispatch, timers, concurrency on one thread). Upstream:
//! `src/js/asynchrony/18_event_loop.js`, `src/python/asynchrony/event_loop_explained.py`
//! (`pretend_io` of 0.30/0.10/0.20 s, `asyncio.Runner`, `get_event_loop` outside a loop),
//! `src/cpp/asynchrony/coroutine_task.cpp` (its awaiter resumes the caller inside `await_suspend`,
//! so the stack grows per await: a Rust future returns to the loop instead). Threads twin:
//! `examples-threads/src/bin/18_event_loop_threads/`.
//!
//! Run: `cargo run -p examples-async --bin 18_event_loop` (no flags but `--help`, about 2 s).
//! Output of a real run: `docs/output/18_event_loop.txt`.

mod executor;
mod hand_written;
mod on_tokio;
mod ordering;
mod report;

use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging};
use executor::{Clock, Handle, JoinHandle, Record, Stalled};
use hand_written::Recommendations;
use on_tokio::{Spawn, counted_dashboard, current_thread, reused_runtime};
use ordering::{await_order, budget_yield};
use tracing::info;

pub const PROFILE: Duration = Duration::from_millis(200);
pub const ORDERS: Duration = Duration::from_millis(100);
/// How long `recommendations` works once it has the orders.
pub const RECOMMEND: Duration = Duration::from_millis(200);

/// The ideal total: the longest chain, `max(profile, orders + recommendations)`.
pub fn ideal_total() -> Duration {
    PROFILE.max(ORDERS + RECOMMEND)
}

// The dashboard on the tiny executor.

/// A simulated fetch: upstream's `pretend_io`. Each `.await` is a point where `poll` may return.
async fn pretend_io(ex: Handle, name: &'static str, delay: Duration) -> String {
    ex.say(format!("{name}: start, {} of I/O", fmt_duration(delay)));
    ex.sleep(delay).await;
    ex.say(format!("{name}: done"));
    name.to_string()
}

/// Waits for another task (`orders`), then works. Written as an `async fn`...
async fn recommendations(ex: Handle, orders: JoinHandle<String>) -> String {
    ex.say("recommendations: waiting for orders");
    let orders = orders.await;
    ex.say(format!(
        "recommendations: got {orders}, working {}",
        fmt_duration(RECOMMEND)
    ));
    ex.sleep(RECOMMEND).await;
    ex.say("recommendations: done");
    format!("recommendations for {orders}")
}

/// Which `recommendations` to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    AsyncFn,
    ByHand,
}

/// The root task: start the three fetches, then await the two results the page needs.
async fn dashboard(ex: Handle, style: Style) -> String {
    let profile = ex.spawn("profile", pretend_io(ex.clone(), "profile", PROFILE));
    let orders = ex.spawn("orders", pretend_io(ex.clone(), "orders", ORDERS));
    let recommended = match style {
        Style::AsyncFn => ex.spawn("recommendations", recommendations(ex.clone(), orders)),
        Style::ByHand => ex.spawn("recommendations", Recommendations::new(ex.clone(), orders)),
    };
    let page = format!("{} + {}", profile.await, recommended.await);
    ex.say(format!("main: page ready: {page}"));
    page
}

/// Runs the dashboard on a new tiny executor and returns its trace.
fn run_on_tiny_executor(clock: Clock, style: Style, quiet: bool) -> Result<Vec<Record>, Stalled> {
    let ex = Handle::new(clock, quiet);
    ex.block_on(dashboard(ex.clone(), style))?;
    Ok(ex.trace())
}

/// `--help` text. No flags: the timings are fixed so the trace can be checked event for event.
#[derive(Parser, Debug)]
#[command(
    about = "18 · The event loop from inside: a tiny executor in safe Rust (ready queue, Wake, \
             timer list) printing every poll, wake and idle; a Future written by hand beside its \
             async fn; the same program on tokio's current_thread, multi_thread and LocalSet; \
             what orders tokio's tasks (no microtasks: yield_now, budget)",
    long_about = None
)]
struct Args {}

// No `#[tokio::main]`: the tiny executor needs no runtime, and each tokio part builds its own.
fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!("--- the tiny executor: async fn recommendations ---");
    let trace = run_on_tiny_executor(Clock::real(), Style::AsyncFn, false)?;
    // The async fn and the hand-written future, both run quietly on the fake clock (it jumps to the
    // next timer instead of sleeping), so the traces can be compared instant for instant.
    let by_async = run_on_tiny_executor(Clock::fake(), Style::AsyncFn, true)?;
    let by_hand = run_on_tiny_executor(Clock::fake(), Style::ByHand, true)?;
    let same_trace = by_hand == by_async;

    // Outside any runtime there is no "current loop": Python 3.14's get_event_loop() raises here.
    let outside = tokio::runtime::Handle::try_current().is_err();

    info!("--- tokio current_thread: Builder + block_on ---");
    let single = current_thread()?.block_on(counted_dashboard(Spawn::Anywhere))?;
    info!(
        "--- tokio multi_thread (2 workers): tasks on tokio-rt-worker, block_on's future on main ---"
    );
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()?
        .block_on(counted_dashboard(Spawn::Anywhere))?;
    info!("--- tokio current_thread + LocalSet: spawn_local (futures need not be Send) ---");
    let local = tokio::task::LocalSet::new()
        .block_on(&current_thread()?, counted_dashboard(Spawn::Local))?;
    info!("--- one runtime, two block_on calls (asyncio.Runner) ---");
    let (first, second, leftover_call) = reused_runtime()?;

    info!("--- what orders tokio's tasks ---");
    let ordering =
        current_thread()?.block_on(async { (await_order().await, budget_yield().await) });
    let (order, budget) = ordering;

    let tiny = report::figures(&trace);
    report::tiny_executor(&tiny, by_hand.len(), same_trace);
    report::outside_a_runtime(outside);
    report::tokio_runs(
        &[
            ("tokio current_thread", &single),
            ("tokio multi_thread", &multi),
            ("tokio LocalSet", &local),
            ("runtime reused, call 1", &first),
            ("runtime reused, call 2", &second),
        ],
        &tiny.tasks,
    );
    report::leftover(leftover_call);
    report::ordering(&order, budget);
    Ok(())
}

#[cfg(test)]
mod tests;
