//! # 02 · Create a task, with threads: start the fetches first, render the header meanwhile, then join
//!
//! The same dashboard as `examples-async/src/bin/02_future_create_task/` (profile 300 ms, orders
//! 600 ms, recommendations 450 ms, a static header of 90 ms), here as blocking calls.
//!
//! - **Sequential**: each fetch, then the header, on the main thread: the **sum**, 1440 ms.
//! - **Threads spawned early**: `thread::spawn` starts each fetch on its own named thread at once;
//!   the main thread renders the header meanwhile, then `join`s the handles. `JoinHandle<T>::join`
//!   hands back the thread's return value: the handle is the `std::future<T>` of C++'s
//!   `std::async(std::launch::async, ...)`. Total: the **longest branch**, 600 ms. Each fetch costs
//!   a kernel thread (a stack, a system call to start and to join): fine for three.
//! - Then further ideas, each in its module: `detached.rs` (deferred work runs only when asked for,
//!   a thread whose handle is dropped runs anyway), `promise.rs` (`std::promise` as a one-shot
//!   channel) and `packaged_task.rs` (a closure plus a channel; threads only). `dashboard.rs` holds
//!   the scenario, `report.rs` the summary lines, `tests.rs` the proofs.
//!
//! Differs from the async twin: no "futures created early, awaited late" run (a thread starts when
//! spawned: see `detached.rs`), and no one-shot channel type in std (see `promise.rs`).
//!
//! Seed: "Asynchronous Tasks with `std::async`" and `future.get()` -> `thread::spawn` and
//! `JoinHandle::join`; "Using `std::future` and `std::promise`" -> a one-shot channel;
//! `asyncio.gather` -> joining every handle; `std::packaged_task` -> a closure and a channel.
//! Upstream: `src/cpp/asynchrony/parallel_futures.cpp`, `src/cpp/asynchrony/packaged_task.cpp`,
//! `src/python/asynchrony/future_create_task.py`.
//!
//! Run: `cargo run -p examples-threads --bin 02_future_create_task_threads` (no flags but `--help`,
//! about 2.5 s). Output of a real run: `docs/output/02_future_create_task_threads.txt`.

mod dashboard;
mod detached;
mod packaged_task;
mod promise;
mod report;

use std::thread;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Parser;
use common::{fmt_duration, init_logging, time};
use tracing::info;

use dashboard::{
    Dashboard, HEADER_DELAY, ORDERS_DELAY, PROFILE_DELAY, RECOMMENDATIONS_DELAY,
    fetch_recent_orders, fetch_recommendations, fetch_user_profile, render_static_header,
};

/// No flags: `--help` says what the example shows, and anything else is a one-line error (exit 2).
#[derive(Parser, Debug)]
#[command(
    about = "02 · Create a task, with threads: thread::spawn the fetches first and render the header \
             meanwhile (the longest branch); promise/future as a one-shot channel; packaged_task \
             as a closure plus a channel",
    long_about = None
)]
struct Args {}

/// Calling everything in sequence: the three fetches and the header, one after another.
const SUM: Duration = PROFILE_DELAY
    .saturating_add(ORDERS_DELAY)
    .saturating_add(RECOMMENDATIONS_DELAY)
    .saturating_add(HEADER_DELAY);
/// The longest branch: the slowest fetch (the header, 90 ms, runs beside it).
const LONGEST: Duration = ORDERS_DELAY;

const USER_ID: u32 = 1;

/// A dashboard and when its header was ready, counted from the start of the run.
type Run = (Dashboard, Duration);

/// One thing at a time: the sum of all four delays.
fn load_dashboard_sequential(user_id: u32) -> Run {
    let start = Instant::now();
    let profile = fetch_user_profile(user_id);
    let orders = fetch_recent_orders(user_id);
    let recommendations = fetch_recommendations(user_id);
    let header = render_static_header();
    let header_done = start.elapsed();
    let dashboard = Dashboard {
        header,
        profile,
        orders,
        recommendations,
    };
    (dashboard, header_done)
}

/// `thread::spawn` starts each fetch at once, on its own thread; the header renders meanwhile on
/// this one; the handles are joined at the end. Total: the longest branch.
///
/// `thread::spawn` asks for `Send + 'static` for the same reasons `tokio::spawn` does: the closure
/// moves to another thread and may outlive the caller, so `move` copies `user_id` in. In both, the
/// bounds are part of the function's signature and hold whatever the program does (`tokio::spawn`
/// asks for `Send` on a `current_thread` runtime too). `thread::scope` lifts `'static` (scoped
/// threads may borrow locals because the scope joins them before it returns), as `tokio::join!`
/// does.
fn load_dashboard_threads(user_id: u32) -> anyhow::Result<Run> {
    let start = Instant::now();
    // `thread::spawn` with a name, so the log shows which thread did what; `Builder::spawn` returns
    // the OS's refusal to start a thread as an error where `thread::spawn` would panic. `move`
    // copies `user_id` into each closure: the thread owns everything it uses ('static) and runs
    // elsewhere (Send).
    let profile = thread::Builder::new()
        .name("fetch-profile".into())
        .spawn(move || fetch_user_profile(user_id))?;
    let orders = thread::Builder::new()
        .name("fetch-orders".into())
        .spawn(move || fetch_recent_orders(user_id))?;
    let recommendations = thread::Builder::new()
        .name("fetch-recommendations".into())
        .spawn(move || fetch_recommendations(user_id))?;
    let header = render_static_header();
    let header_done = start.elapsed();
    // `gather`: join every handle. Joining them one by one takes no longer than the slowest: they
    // are all running already. Each join is `Err` (the panic's payload) if its thread panicked.
    let dashboard = Dashboard {
        header,
        profile: profile
            .join()
            .map_err(|_| anyhow!("fetch-profile panicked"))?,
        orders: orders
            .join()
            .map_err(|_| anyhow!("fetch-orders panicked"))?,
        recommendations: recommendations
            .join()
            .map_err(|_| anyhow!("fetch-recommendations panicked"))?,
    };
    Ok((dashboard, header_done))
}

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!("--- sequential: each fetch, then the header ---");
    let ((sequential_dashboard, _), sequential) = time(|| load_dashboard_sequential(USER_ID));
    info!(
        "sequential dashboard ready in {} (ideal: the sum, {})",
        fmt_duration(sequential),
        fmt_duration(SUM)
    );

    info!("--- threads spawned early, header rendered meanwhile ---");
    let (threads_run, threads) = time(|| load_dashboard_threads(USER_ID));
    let (threads_dashboard, header_done) = threads_run?;
    info!(
        "threaded dashboard ready in {} (ideal: the longest branch, {})",
        fmt_duration(threads),
        fmt_duration(LONGEST)
    );
    anyhow::ensure!(
        sequential_dashboard == threads_dashboard,
        "both ways must build the same dashboard"
    );
    let d = &threads_dashboard;
    info!(
        "{} for {} (id {}): orders {:?}, recommended {:?}",
        d.header, d.profile.name, d.profile.id, d.orders, d.recommendations
    );

    info!("--- deferred work (std::launch::deferred) vs a thread whose handle was dropped ---");
    let deferred = detached::deferred_vs_detached()?;

    info!("--- promise and future: a one-shot channel ---");
    let (value, waited) = promise::set_value_later()?;
    info!("future.get() returned {value}");
    let never_set = promise::value_never_set()?;
    info!("waited on a future whose sender was dropped: {never_set:?}");
    let Some(never_set) = never_set else {
        anyhow::bail!("a dropped sender must wake the receiver with an error");
    };

    info!("--- packaged_task: a closure plus a channel ---");
    let (squares, packaged) = time(packaged_task::run_packaged_tasks);
    let squares = squares?;
    info!("packaged results: {}, {}", squares.0, squares.1);

    let report = report::Report {
        sequential,
        threads,
        header_done,
        deferred,
        value,
        waited,
        never_set,
        squares,
        packaged,
    };
    common::out!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests;
