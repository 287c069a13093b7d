//! # 02 · Create a task: start the fetches first, render the header meanwhile, then collect
//!
//! The dashboard of 01 again (profile 300 ms, orders 600 ms, recommendations 450 ms), plus a static
//! header that takes 90 ms to render. Upstream waits 1.0, 2.0, 1.5 and 0.3 s; the ratios are kept.
//!
//! What it shows:
//! - **Sequential**: await each fetch, then render the header: the **sum**, 1440 ms.
//! - **Futures created early, awaited late**: calling the three `async fn`s first and rendering the
//!   header before `tokio::join!` gains little: a future does nothing until it is polled, so the
//!   fetches start only after the header: header + longest, 690 ms.
//! - **Tasks spawned early**: `tokio::spawn` hands each fetch to the runtime, which starts it at once;
//!   the header renders while the fetches wait on the network, and awaiting the handles costs only
//!   what is left: the **longest branch**, 600 ms. This is Python's `asyncio.create_task` and C++'s
//!   `std::async(std::launch::async, ...)`; the `JoinHandle<T>` is the `Task` / `std::future<T>`.
//! - **A future that is never awaited never runs; a task whose handle is dropped still does.**
//!   Dropping a `JoinHandle` detaches the task (it does not cancel it, and unlike a discarded C++
//!   `std::async` future, it does not block). Two flags, printed in the summary, show both.
//! - **"Create a future, complete it later"** (the seed's `loop.create_future()` + `set_result`) is a
//!   `tokio::sync::oneshot` channel: the `Sender` is the promise, the `Receiver` is the future you
//!   await. If the sender is dropped without sending, the receiver gets an error at once; an asyncio
//!   future nobody ever completes would make its awaiter wait forever.
//!
//! Why `tokio::spawn` wants `Send + 'static`: this example uses the multi-thread runtime, and the
//! log shows the spawned fetches on `[tokio-rt-worker]` threads while `main` renders the header.
//! The bounds are in `tokio::spawn`'s signature, so they hold on every runtime, `current_thread`
//! included, where a task never changes threads. A task may be moved to any worker thread between
//! two polls (so everything it holds across an `.await` must be `Send`: an `Rc` or a
//! `std::sync::MutexGuard` there is a compile error, "future cannot be sent between threads
//! safely"), and it may outlive the function that spawned it (so it must own its data, `'static`:
//! hence `async move` with a `user_id` copied in, not a reference to a local; borrowing one is "`x`
//! does not live long enough ... argument requires that `x` is borrowed for `'static`"). `tokio::join!` has neither bound because it polls its futures inside
//! the current task, which the caller is still awaiting; `tokio::task::spawn_local` accepts a
//! `!Send` future on a `LocalSet`.
//!
//! Seed snippets covered: "Futures and Asyncio Tasks" (`create_future` / `set_result` -> `oneshot`),
//! `asyncio.gather` -> `tokio::try_join!` over the handles (`futures::future::join_all` for a `Vec`
//! of one type), "Asynchronous Tasks with `std::async`" and `std::future::get()` -> `tokio::spawn` and
//! `.await` on the `JoinHandle`. `std::packaged_task` (a callable whose result lands in a future) is
//! in the threads twin: in async Rust, an `async fn` call already is one, a future you hand to
//! `spawn`. Upstream: `src/python/asynchrony/future_create_task.py`,
//! `src/js/asynchrony/02_future_create_task.js`, `src/cpp/asynchrony/parallel_futures.cpp`.
//! Threads twin: `examples-threads/src/bin/02_future_create_task_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 02_future_create_task` (no flags but `--help`, about 3 s).
//!
//! The output will look similar to this (the order of lines printed at the same millisecond varies):
//!
//! ```text
//!   1.471s  INFO [main] --- futures created early, awaited after the header ---
//!   1.471s  INFO [main] created three fetch futures: no 'request sent' yet, nothing has started
//!   1.471s  INFO [main] render_static_header: rendering
//!   1.567s  INFO [main] render_static_header: done
//!   1.567s  INFO [main] fetch_user_profile: request sent
//!   ...
//!   2.171s  INFO [main] --- tasks spawned early, header rendered meanwhile ---
//!   2.171s  INFO [main] render_static_header: rendering
//!   2.171s  INFO [tokio-rt-worker] fetch_recommendations: request sent
//!   ...
//! Summary
//!   sequential 1471 ms | spawned tasks 602 ms | 2.44x, ideal 2.40x
//!   futures created early, awaited after the header: 700 ms (ideal 690 ms: header + longest)
//!   header rendered 96 ms into the spawned run, while the fetches ran (ideal 90 ms)
//!   never-awaited future ran: false | detached task ran: true
//!   oneshot delivered "Hello, world!" after 160 ms (ideal 150 ms)
//!   sender dropped without a result: the receiver got "channel closed" at once, no hang
//! ```

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use common::{Comparison, fmt_duration, init_logging, time_async};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep};
use tracing::info;

/// No flags: `--help` says what the example shows, and anything else is a one-line error (exit 2).
#[derive(Parser, Debug)]
#[command(
    about = "02 · Create a task: tokio::spawn the fetches first and render the header meanwhile \
             (the longest branch), vs futures created early but awaited late; oneshot as \
             \"set the result later\"",
    long_about = None
)]
struct Args {}

const PROFILE_DELAY: Duration = Duration::from_millis(300);
const ORDERS_DELAY: Duration = Duration::from_millis(600);
const RECOMMENDATIONS_DELAY: Duration = Duration::from_millis(450);
const HEADER_DELAY: Duration = Duration::from_millis(90);
/// How long warming the cache takes in the never-awaited / detached demo.
const WARM_CACHE_DELAY: Duration = Duration::from_millis(50);
/// How long the seed's `set_result` task waits before completing the future (seed: 2 s).
const SET_RESULT_DELAY: Duration = Duration::from_millis(150);
/// How long the task that never sets its result works before it gives up.
const GIVE_UP_DELAY: Duration = Duration::from_millis(50);

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

#[derive(Debug, Clone, PartialEq)]
struct Profile {
    id: u32,
    name: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
struct Dashboard {
    header: &'static str,
    profile: Profile,
    orders: Vec<String>,
    recommendations: Vec<&'static str>,
}

async fn fetch_user_profile(user_id: u32) -> Profile {
    info!("fetch_user_profile: request sent");
    sleep(PROFILE_DELAY).await;
    info!("fetch_user_profile: got Alice");
    Profile {
        id: user_id,
        name: "Alice",
    }
}

async fn fetch_recent_orders(user_id: u32) -> Vec<String> {
    info!("fetch_recent_orders: request sent");
    sleep(ORDERS_DELAY).await;
    info!("fetch_recent_orders: got 2 orders");
    vec![format!("order-{user_id}001"), format!("order-{user_id}002")]
}

async fn fetch_recommendations(_user_id: u32) -> Vec<&'static str> {
    info!("fetch_recommendations: request sent");
    sleep(RECOMMENDATIONS_DELAY).await;
    info!("fetch_recommendations: got 3 items");
    vec!["book", "laptop stand", "coffee mug"]
}

/// The "other work" the page can do while the data is on its way (upstream: 0.3 s).
async fn render_static_header() -> &'static str {
    info!("render_static_header: rendering");
    sleep(HEADER_DELAY).await;
    info!("render_static_header: done");
    "<h1>Dashboard</h1>"
}

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
async fn load_dashboard_spawned(user_id: u32) -> anyhow::Result<Run> {
    let start = Instant::now();
    // `async move` copies `user_id` into each task: the task owns everything it uses ('static) and
    // may run on any worker thread (Send). See the header for what the compiler says otherwise.
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

/// Warms a cache and raises `warmed` when done.
async fn warm_cache(warmed: Arc<AtomicBool>) {
    info!("warm_cache: started");
    sleep(WARM_CACHE_DELAY).await;
    warmed.store(true, Ordering::SeqCst);
    info!("warm_cache: done");
}

/// Returns whether (a) a future that was never awaited and (b) a task whose `JoinHandle` was dropped
/// at once did their work, after waiting twice as long as the work takes.
async fn never_awaited_vs_detached() -> (bool, bool) {
    let future_warmed = Arc::new(AtomicBool::new(false));
    let task_warmed = Arc::new(AtomicBool::new(false));
    {
        // Kept alive for the whole wait, so it is not dropped early: it is simply never polled.
        let _never_awaited = warm_cache(future_warmed.clone());
        // The handle is dropped on this line: the task is detached, and runs to the end anyway.
        drop(tokio::spawn(warm_cache(task_warmed.clone())));
        sleep(WARM_CACHE_DELAY * 2).await;
    }
    (
        future_warmed.load(Ordering::SeqCst),
        task_warmed.load(Ordering::SeqCst),
    )
}

/// The seed's "Futures and Asyncio Tasks" snippet: create a future, let another task set its
/// result after a while, await it. The result, and how long the await took.
async fn set_result_later() -> anyhow::Result<(&'static str, Duration)> {
    // `create_future()`: the sender completes it, the receiver is awaited.
    let (promise, future) = oneshot::channel();
    tokio::spawn(async move {
        sleep(SET_RESULT_DELAY).await;
        // `set_result`. `send` takes the sender by value, so a result can be set only once; it
        // fails only if the receiver is gone, and then nobody wants the value.
        let _ = promise.send("Hello, world!");
    });
    let (result, waited) = time_async(future).await;
    Ok((result?, waited))
}

/// The task meant to set the result fails first and drops its sender: the receiver learns it at
/// once (`RecvError`, C++'s "broken promise"), it does not wait forever. The error text.
async fn result_never_set() -> Option<String> {
    let (promise, future) = oneshot::channel::<&'static str>();
    tokio::spawn(async move {
        sleep(GIVE_UP_DELAY).await;
        info!("the task that should set the result gives up without sending");
        drop(promise);
    });
    future.await.err().map(|e| e.to_string())
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
    let (future_ran, task_ran) = never_awaited_vs_detached().await;

    info!("--- create a future, set its result later (oneshot) ---");
    let (result, waited) = set_result_later().await?;
    info!("awaited the future: {result:?}");
    let never_set = result_never_set().await;
    info!("awaited a future whose sender was dropped: {never_set:?}");

    let ideal = SUM.as_secs_f64() / LONGEST.as_secs_f64();
    let Some(never_set) = never_set else {
        anyhow::bail!("a dropped sender must wake the receiver with an error");
    };
    let mut summary = String::from("\nSummary\n");
    writeln!(
        summary,
        "  {}",
        Comparison::new("sequential", sequential, "spawned tasks", spawned, ideal)
    )?;
    writeln!(
        summary,
        "  futures created early, awaited after the header: {} (ideal {}: header + longest)",
        fmt_duration(lazy),
        fmt_duration(HEADER_THEN_LONGEST)
    )?;
    writeln!(
        summary,
        "  header rendered {} into the spawned run, while the fetches ran (ideal {})",
        fmt_duration(header_done),
        fmt_duration(HEADER_DELAY)
    )?;
    writeln!(
        summary,
        "  never-awaited future ran: {future_ran} | detached task ran: {task_ran}"
    )?;
    writeln!(
        summary,
        "  oneshot delivered {result:?} after {} (ideal {})",
        fmt_duration(waited),
        fmt_duration(SET_RESULT_DELAY)
    )?;
    writeln!(
        summary,
        "  sender dropped without a result: the receiver got {never_set:?} at once, no hang"
    )?;
    common::out!("{}", summary.trim_end());
    Ok(())
}

#[cfg(test)]
mod tests {
    //! On tokio's paused clock (a `current_thread` runtime, which changes none of the timings), time
    //! jumps to the next timer when every task waits: the durations below are exact.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn sequential_takes_exactly_the_sum() {
        let ((_, header_done), took) = time_async(load_dashboard_sequential(USER_ID)).await;
        assert_eq!(took, ms(300 + 600 + 450 + 90));
        assert_eq!(header_done, took, "the header came last");
    }

    #[tokio::test(start_paused = true)]
    async fn spawned_tasks_overlap_the_header_total_is_the_longest_branch() {
        let (run, took) = time_async(load_dashboard_spawned(USER_ID)).await;
        let (_, header_done) = run.expect("no task panics");
        assert_eq!(took, ms(600), "the longest branch, not the sum");
        assert_eq!(
            header_done,
            ms(90),
            "the header did not wait for the fetches"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn futures_created_early_only_start_when_awaited() {
        let ((_, header_done), took) = time_async(load_dashboard_lazy_futures(USER_ID)).await;
        assert_eq!(header_done, ms(90));
        assert_eq!(
            took,
            ms(90 + 600),
            "the fetches made no progress during the header"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn all_ways_build_the_same_dashboard() {
        let (sequential, _) = load_dashboard_sequential(USER_ID).await;
        let (lazy, _) = load_dashboard_lazy_futures(USER_ID).await;
        let (spawned, _) = load_dashboard_spawned(USER_ID).await.expect("no panic");
        assert_eq!(sequential, lazy);
        assert_eq!(lazy, spawned);
        assert_eq!(spawned.header, "<h1>Dashboard</h1>");
        assert_eq!(spawned.orders, ["order-1001", "order-1002"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_future_never_awaited_never_runs_but_a_detached_task_does() {
        let (future_ran, task_ran) = never_awaited_vs_detached().await;
        assert!(
            !future_ran,
            "the future was never polled, so its body never ran"
        );
        assert!(
            task_ran,
            "dropping a JoinHandle detaches the task, it does not cancel it"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn oneshot_delivers_the_result_set_later() {
        let (result, waited) = set_result_later().await.expect("the sender sends");
        assert_eq!(result, "Hello, world!");
        assert_eq!(waited, ms(150));
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_sender_wakes_the_receiver_with_an_error() {
        let (error, took) = time_async(result_never_set()).await;
        assert!(error.is_some(), "the receiver got an error, not a value");
        assert_eq!(took, ms(50), "it learned as soon as the sender was dropped");
    }
}
