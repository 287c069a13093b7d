//! # 02 · Create a task: start the fetches first, render the header meanwhile, then collect
//!
//! The dashboard of 01 again (profile 300 ms, orders 600 ms, recommendations 450 ms), plus a static
//! header that takes 90 ms to render. Upstream waits 1.0, 2.0, 1.5 and 0.3 s; the ratios are kept.
//!
//! - **Sequential**: await each fetch, then render the header: the **sum**, 1440 ms.
//! - **Futures created early, awaited late**: calling the three `async fn`s first and rendering the
//!   header before `tokio::join!` gains little: a future does nothing until it is polled, so the
//!   fetches start only after the header: header + longest, 690 ms.
//! - **Tasks spawned early**: `tokio::spawn` hands each fetch to the runtime, which starts it at once;
//!   the header renders while the fetches wait on the network, and awaiting the handles costs only
//!   what is left: the **longest branch**, 600 ms. This is Python's `asyncio.create_task` and C++'s
//!   `std::async(std::launch::async, ...)`; the `JoinHandle<T>` is the `Task` / `std::future<T>`.
//!   Why `tokio::spawn` wants `Send + 'static`: at [`load_dashboard_spawned`].
//! - Then two further ideas, each in its module: `detached.rs` (a future never awaited never runs,
//!   a task whose handle is dropped still does) and `promise.rs` (`oneshot` as "set the result
//!   later"). `dashboard.rs` holds the scenario (01's fetches and the header), `report.rs` the
//!   summary lines, `tests.rs` the proofs of each figure on the paused clock.
//!
//! Seed: "Futures and Asyncio Tasks" (`create_future` / `set_result` -> `oneshot`), `asyncio.gather`
//! -> `tokio::try_join!` over the handles, "Asynchronous Tasks with `std::async`" and `get()` ->
//! `tokio::spawn` and `.await` on the `JoinHandle`. `std::packaged_task` is in the threads twin (here
//! an `async fn` call already is one). Upstream: `src/python/asynchrony/future_create_task.py`,
//! `src/js/asynchrony/02_future_create_task.js`, `src/cpp/asynchrony/parallel_futures.cpp`.
//! Threads twin: `examples-threads/src/bin/02_future_create_task_threads/`.
//!
//! Run: `cargo run -p examples-async --bin 02_future_create_task` (no flags but `--help`, about 3 s).
//! Output of a real run: `docs/output/02_future_create_task.txt`.

mod dashboard;
mod detached;
mod promise;
mod report;

use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging, time_async};
use tokio::time::Instant;
use tracing::info;

use dashboard::{
    Dashboard, HEADER_DELAY, ORDERS_DELAY, PROFILE_DELAY, RECOMMENDATIONS_DELAY,
    fetch_recent_orders, fetch_recommendations, fetch_user_profile, render_static_header,
};

/// No flags: `--help` says what the example shows, and anything else is a one-line error (exit 2).
#[derive(Parser, Debug)]
#[command(
    about = "02 · Create a task: tokio::spawn the fetches first and render the header meanwhile \
             (the longest branch), vs futures created early but awaited late; oneshot as \
             \"set the result later\"",
    long_about = None
)]
struct Args {}

/// Awaiting everything in sequence: the three fetches and the header, one after another.
const SUM: Duration = PROFILE_DELAY
    .saturating_add(ORDERS_DELAY)
    .saturating_add(RECOMMENDATIONS_DELAY)
    .saturating_add(HEADER_DELAY);
/// The longest branch: the slowest fetch (the header, 90 ms, runs beside it).
const LONGEST: Duration = ORDERS_DELAY;
/// Futures that only start when awaited after the header: the header, then the slowest fetch.
const HEADER_THEN_LONGEST: Duration = HEADER_DELAY.saturating_add(ORDERS_DELAY);

const USER_ID: u32 = 1;

/// A dashboard and when its header was ready, counted from the start of the run.
type Run = (Dashboard, Duration);

/// One thing at a time: the sum of all four delays.
async fn load_dashboard_sequential(user_id: u32) -> Run {
    let start = Instant::now();
    let profile = fetch_user_profile(user_id).await;
    let orders = fetch_recent_orders(user_id).await;
    let recommendations = fetch_recommendations(user_id).await;
    let header = render_static_header().await;
    let header_done = start.elapsed();
    let dashboard = Dashboard {
        header,
        profile,
        orders,
        recommendations,
    };
    (dashboard, header_done)
}

/// The mistake this example exists to show: the futures are created first, but a future is only a
/// description of work. Nobody polls them while the header renders, so they start afterwards.
async fn load_dashboard_lazy_futures(user_id: u32) -> Run {
    let start = Instant::now();
    let profile = fetch_user_profile(user_id);
    let orders = fetch_recent_orders(user_id);
    let recommendations = fetch_recommendations(user_id);
    info!("created three fetch futures: no 'request sent' yet, nothing has started");
    let header = render_static_header().await;
    let header_done = start.elapsed();
    // Now they run, concurrently with each other: header + longest.
    let (profile, orders, recommendations) = tokio::join!(profile, orders, recommendations);
    let dashboard = Dashboard {
        header,
        profile,
        orders,
        recommendations,
    };
    (dashboard, header_done)
}

/// `tokio::spawn` starts each fetch at once, as its own task; the header renders meanwhile; the
/// handles are collected at the end. Total: the longest branch.
///
/// Why `tokio::spawn` wants `Send + 'static`: `main` runs on the multi-thread runtime, and the log
/// shows the spawned fetches on `[tokio-rt-worker]` threads while `main` renders the header. The
/// bounds are in `tokio::spawn`'s signature, so they hold on every runtime, `current_thread`
/// included, where a task never changes threads. A task may be moved to any worker thread between
/// two polls (so everything it holds across an `.await` must be `Send`: an `Rc` or a
/// `std::sync::MutexGuard` there is a compile error, "future cannot be sent between threads
/// safely"), and it may outlive the function that spawned it (so it must own its data, `'static`:
/// hence `async move` with a `user_id` copied in, not a reference to a local; borrowing one is "`x`
/// does not live long enough ... argument requires that `x` is borrowed for `'static`").
/// `tokio::join!` has neither bound because it polls its futures inside the current task, which
/// the caller is still awaiting; `tokio::task::spawn_local` accepts a `!Send` future on a
/// `LocalSet`.
async fn load_dashboard_spawned(user_id: u32) -> anyhow::Result<Run> {
    let start = Instant::now();
    // `async move` copies `user_id` into each task: the task owns everything it uses ('static) and
    // may run on any worker thread (Send). See above for what the compiler says otherwise.
    let profile = tokio::spawn(async move { fetch_user_profile(user_id).await });
    // An `async fn` call is already a future that owns its (copied) arguments: it can be spawned as is.
    let orders = tokio::spawn(fetch_recent_orders(user_id));
    let recommendations = tokio::spawn(fetch_recommendations(user_id));
    let header = render_static_header().await;
    let header_done = start.elapsed();
    // `asyncio.gather` over the tasks. Awaiting the handles one by one would take as long: they are
    // all running already. Each handle yields `Err(JoinError)` if its task panicked or was cancelled;
    // `try_join!` returns the first such error (03 tells the kinds apart).
    let (profile, orders, recommendations) = tokio::try_join!(profile, orders, recommendations)?;
    let dashboard = Dashboard {
        header,
        profile,
        orders,
        recommendations,
    };
    Ok((dashboard, header_done))
}

// Multi-thread runtime, two workers: spawned tasks run on worker threads (the log shows which),
// which is why `tokio::spawn` requires `Send`. `main` itself runs on the `main` thread.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!("--- sequential: each fetch, then the header ---");
    let ((sequential_dashboard, _), sequential) =
        time_async(load_dashboard_sequential(USER_ID)).await;
    info!(
        "sequential dashboard ready in {} (ideal: the sum, {})",
        fmt_duration(sequential),
        fmt_duration(SUM)
    );

    info!("--- futures created early, awaited after the header ---");
    let ((lazy_dashboard, _), lazy) = time_async(load_dashboard_lazy_futures(USER_ID)).await;
    info!(
        "lazy-futures dashboard ready in {} (ideal: header + longest fetch, {})",
        fmt_duration(lazy),
        fmt_duration(HEADER_THEN_LONGEST)
    );

    info!("--- tasks spawned early, header rendered meanwhile ---");
    let (spawned_run, spawned) = time_async(load_dashboard_spawned(USER_ID)).await;
    let (spawned_dashboard, header_done) = spawned_run?;
    info!(
        "spawned-tasks dashboard ready in {} (ideal: the longest branch, {})",
        fmt_duration(spawned),
        fmt_duration(LONGEST)
    );
    anyhow::ensure!(
        sequential_dashboard == lazy_dashboard && lazy_dashboard == spawned_dashboard,
        "all three ways must build the same dashboard"
    );
    let d = &spawned_dashboard;
    info!(
        "{} for {} (id {}): orders {:?}, recommended {:?}",
        d.header, d.profile.name, d.profile.id, d.orders, d.recommendations
    );

    info!("--- a future never awaited vs a task whose handle was dropped ---");
    let (future_ran, task_ran) = detached::never_awaited_vs_detached().await;

    info!("--- create a future, set its result later (oneshot) ---");
    let (result, waited) = promise::set_result_later().await?;
    info!("awaited the future: {result:?}");
    let never_set = promise::result_never_set().await;
    info!("awaited a future whose sender was dropped: {never_set:?}");
    let Some(never_set) = never_set else {
        anyhow::bail!("a dropped sender must wake the receiver with an error");
    };

    let report = report::Report {
        sequential,
        lazy,
        spawned,
        header_done,
        future_ran,
        task_ran,
        result,
        waited,
        never_set,
    };
    common::out!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests;
