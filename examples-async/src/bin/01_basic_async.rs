//! # 01 · Basic async: the user dashboard, one fetch after another, then all at once
//!
//! A dashboard needs three things from three services: the user's profile (300 ms), their recent
//! orders (600 ms) and some recommendations (450 ms). Upstream waits 1.0, 2.0 and 1.5 s; the ratios
//! are kept, the seconds scaled down.
//!
//! What it shows:
//! - Awaited one after another, the fetches take the **sum** (1350 ms). Run together with
//!   `tokio::join!` they take the **longest** (600 ms): while one waits on its timer, the runtime
//!   polls another.
//! - All of it runs on **one thread**. The runtime is `current_thread` and every line says `[main]`:
//!   concurrency (making progress on several things in the same period) is not parallelism.
//! - **Futures are lazy.** Calling an `async fn` only builds a future; nothing runs until it is
//!   awaited or spawned. A JS promise or a Python task starts at once; a Rust future does not.
//!   Measured below: a future created, left alone for 200 ms and then awaited still needs its full
//!   300 ms, while a task spawned 200 ms earlier has only 100 ms left.
//!
//! Seed: "Asynchrony" > Building Blocks (coroutines, the event loop), Examples in Python
//! (`asyncio.gather` of `fetch_data`). Upstream: `src/python/asynchrony/basic_async.py`,
//! `src/js/asynchrony/01_basic_async.js`, `src/cpp/asynchrony/basic_async.cpp`.
//! Threads twin: `examples-threads/src/bin/01_basic_async_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 01_basic_async` (no flags but `--help`, about 2.5 s).
//!
//! Output of a real run: `docs/output/01_basic_async.txt`.

use std::fmt::Write as _;
use std::time::Duration;

use clap::Parser;
use common::{Comparison, fmt_duration, init_logging, time_async};
use tokio::time::sleep;
use tracing::info;

/// No flags: `--help` says what the example shows, and anything else is a one-line error (exit 2).
#[derive(Parser, Debug)]
#[command(
    about = "01 · Basic async: three fetches awaited one after another (the sum) vs tokio::join! \
             (the longest), all on one thread; futures are lazy, spawned tasks are not",
    long_about = None
)]
struct Args {}

const PROFILE_DELAY: Duration = Duration::from_millis(300);
const ORDERS_DELAY: Duration = Duration::from_millis(600);
const RECOMMENDATIONS_DELAY: Duration = Duration::from_millis(450);
/// How long the lazy-future demo leaves a future alone before awaiting it.
const HEAD_START: Duration = Duration::from_millis(200);

/// What awaiting in sequence should approach: the sum of the three delays.
const SUM: Duration = PROFILE_DELAY
    .saturating_add(ORDERS_DELAY)
    .saturating_add(RECOMMENDATIONS_DELAY);
/// What running them together should approach: the longest delay.
const LONGEST: Duration = ORDERS_DELAY;

#[derive(Debug, Clone, PartialEq)]
struct Profile {
    id: u32,
    name: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
struct Dashboard {
    profile: Profile,
    orders: Vec<&'static str>,
    recommendations: Vec<&'static str>,
}

/// Pretends to call the user service.
///
/// `sleep(..).await` is where this future gives the thread back: the runtime is free to poll other
/// futures until the timer fires. A `std::thread::sleep` here would block the only thread and
/// nothing else could run (05_run_heavy_functions measures exactly that).
async fn fetch_user_profile() -> Profile {
    info!("fetch_user_profile: request sent");
    sleep(PROFILE_DELAY).await;
    info!("fetch_user_profile: got Alice");
    Profile {
        id: 1,
        name: "Alice",
    }
}

async fn fetch_recent_orders() -> Vec<&'static str> {
    info!("fetch_recent_orders: request sent");
    sleep(ORDERS_DELAY).await;
    info!("fetch_recent_orders: got 2 orders");
    vec!["order-1001", "order-1002"]
}

async fn fetch_recommendations() -> Vec<&'static str> {
    info!("fetch_recommendations: request sent");
    sleep(RECOMMENDATIONS_DELAY).await;
    info!("fetch_recommendations: got 3 items");
    vec!["book", "keyboard", "coffee mug"]
}

/// Each `.await` waits for its fetch to finish before the next one is even created: sum of delays.
async fn load_dashboard_sequential() -> Dashboard {
    let profile = fetch_user_profile().await;
    let orders = fetch_recent_orders().await;
    let recommendations = fetch_recommendations().await;
    Dashboard {
        profile,
        orders,
        recommendations,
    }
}

/// `tokio::join!` polls the three futures turn by turn on this one task, so their timers run at the
/// same time; it returns when the last one is done: the longest delay. (Python: `asyncio.gather`;
/// JS: `Promise.all`; for a list of futures of one type, `futures::future::join_all`.)
async fn load_dashboard_concurrent() -> Dashboard {
    let (profile, orders, recommendations) = tokio::join!(
        fetch_user_profile(),
        fetch_recent_orders(),
        fetch_recommendations()
    );
    Dashboard {
        profile,
        orders,
        recommendations,
    }
}

/// Futures are lazy, tasks are not. Returns how long the final `.await` took for
/// (a) a plain future created [`HEAD_START`] before it was awaited, and
/// (b) a task spawned [`HEAD_START`] before it was awaited.
async fn lazy_future_vs_spawned_task() -> anyhow::Result<(Duration, Duration)> {
    // Calling the async fn builds a state machine. It prints nothing and starts no timer.
    let future = fetch_user_profile();
    info!("created a fetch_user_profile() future: no 'request sent' line, it has not started");
    sleep(HEAD_START).await;
    let (_, lazy_wait) = time_async(future).await;
    info!(
        "the future started only when awaited: it took {} after a {} head start",
        fmt_duration(lazy_wait),
        fmt_duration(HEAD_START)
    );

    // `tokio::spawn` hands the future to the runtime, which starts polling it at the next chance
    // (here: when this task sleeps), whether or not anyone awaits the handle.
    let task = tokio::spawn(fetch_user_profile());
    info!("spawned a fetch_user_profile() task");
    sleep(HEAD_START).await;
    let (profile, spawned_wait) = time_async(task).await;
    // The handle's output is a `Result`: `Err` if the task panicked or was cancelled.
    profile?;
    info!(
        "the task ran during the head start: awaiting it took only {}",
        fmt_duration(spawned_wait)
    );
    Ok((lazy_wait, spawned_wait))
}

// One thread: `current_thread` runs every task on the thread that calls `block_on`, here `main`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!("--- sequential: await one fetch, then the next ---");
    let (sequential_dashboard, sequential) = time_async(load_dashboard_sequential()).await;
    info!(
        "sequential dashboard ready in {} (ideal: the sum, {})",
        fmt_duration(sequential),
        fmt_duration(SUM)
    );

    info!("--- concurrent: tokio::join! of all three ---");
    let (concurrent_dashboard, concurrent) = time_async(load_dashboard_concurrent()).await;
    info!(
        "concurrent dashboard ready in {} (ideal: the longest fetch, {})",
        fmt_duration(concurrent),
        fmt_duration(LONGEST)
    );
    anyhow::ensure!(
        sequential_dashboard == concurrent_dashboard,
        "both ways must build the same dashboard"
    );
    let d = &concurrent_dashboard;
    info!(
        "dashboard for {} (id {}): orders {:?}, recommended {:?}",
        d.profile.name, d.profile.id, d.orders, d.recommendations
    );

    info!("--- futures are lazy, spawned tasks are not ---");
    let (lazy_wait, spawned_wait) = lazy_future_vs_spawned_task().await?;

    let ideal = SUM.as_secs_f64() / LONGEST.as_secs_f64();
    let mut summary = String::from("\nSummary\n");
    writeln!(
        summary,
        "  {}",
        Comparison::new("sequential", sequential, "concurrent", concurrent, ideal)
    )?;
    writeln!(
        summary,
        "  lazy future awaited after a {} head start: {} (ideal {}, it had not started)",
        fmt_duration(HEAD_START),
        fmt_duration(lazy_wait),
        fmt_duration(PROFILE_DELAY)
    )?;
    writeln!(
        summary,
        "  spawned task awaited after a {} head start: {} (ideal {}, it was already running)",
        fmt_duration(HEAD_START),
        fmt_duration(spawned_wait),
        fmt_duration(PROFILE_DELAY - HEAD_START)
    )?;
    common::out!("{}", summary.trim_end());
    Ok(())
}

#[cfg(test)]
mod tests {
    //! On tokio's paused clock, time only moves when every task is waiting on a timer, and then it
    //! jumps straight to the next one: the durations below are exact, and the tests take no time.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn sequential_takes_exactly_the_sum_of_the_fetches() {
        let (_, took) = time_async(load_dashboard_sequential()).await;
        assert_eq!(took, ms(300 + 600 + 450));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_takes_exactly_the_longest_fetch() {
        let (_, took) = time_async(load_dashboard_concurrent()).await;
        assert_eq!(took, ms(600));
    }

    #[tokio::test(start_paused = true)]
    async fn both_ways_build_the_same_dashboard() {
        let sequential = load_dashboard_sequential().await;
        let concurrent = load_dashboard_concurrent().await;
        assert_eq!(sequential, concurrent);
        assert_eq!(concurrent.profile.name, "Alice");
        assert_eq!(concurrent.orders, ["order-1001", "order-1002"]);
        assert_eq!(concurrent.recommendations.len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_future_waits_to_be_awaited_but_a_spawned_task_starts_at_once() {
        let (lazy_wait, spawned_wait) = lazy_future_vs_spawned_task().await.expect("no panic");
        assert_eq!(lazy_wait, PROFILE_DELAY, "the lazy future made no progress");
        assert_eq!(
            spawned_wait,
            PROFILE_DELAY - HEAD_START,
            "the task used its head start"
        );
    }
}
