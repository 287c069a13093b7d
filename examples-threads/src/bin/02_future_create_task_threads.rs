//! # 02 · Create a task, with threads: start the fetches first, render the header meanwhile, then join
//!
//! The same dashboard as `examples-async/src/bin/02_future_create_task.rs` (profile 300 ms, orders
//! 600 ms, recommendations 450 ms, a static header of 90 ms), here as blocking calls.
//!
//! What it shows:
//! - **Sequential**: each fetch, then the header, on the main thread: the **sum**, 1440 ms.
//! - **Threads spawned early**: `thread::spawn` starts each fetch on its own named thread at once;
//!   the main thread renders the header meanwhile, then `join`s the handles. `JoinHandle<T>::join`
//!   hands back the thread's return value: the handle is the `std::future<T>` of C++'s
//!   `std::async(std::launch::async, ...)`. Total: the **longest branch**, 600 ms.
//! - **Deferred work runs only when asked for; a thread whose handle is dropped runs anyway.** C++'s
//!   `std::async(std::launch::deferred, f)` is a closure: nothing runs until `get()`, and then on the
//!   thread that asks, so asking takes the whole work (the nearest thing to a lazy future). A spawned
//!   thread starts at once, and dropping its `JoinHandle` detaches it (a discarded C++ `std::async`
//!   future would block in its destructor instead). The summary prints both, measured.
//! - **The promise/future pair** (`std::promise<int>` + `std::future<int>`, the seed's `set_value`
//!   snippet) is a one-shot channel: `mpsc::sync_channel(1)`, the `SyncSender` moved into the thread
//!   that sets the value, the `Receiver` kept by the thread that waits. A sender dropped without
//!   sending wakes the receiver with `RecvError` at once (C++: `std::future_error`, "broken promise").
//! - **`std::packaged_task`** (a callable whose result lands in a future) is a closure plus a channel:
//!   [`package`] wraps a function into a job that any thread can run and a receiver for its result.
//!
//! What differs from the async twin, and why:
//! - There is no "futures created early, awaited late" run: a thread starts when it is spawned, and
//!   there is nothing lazy to forget to poll. Deferred work (a closure not yet called) is the
//!   nearest thing, and it is as inert as an unpolled future.
//! - `thread::spawn` asks for `Send + 'static` for the same reasons `tokio::spawn` does: the closure
//!   moves to another thread and may outlive the caller, so `move` copies `USER_ID` in. In both, the
//!   bounds are part of the function's signature and hold whatever the program does (`tokio::spawn`
//!   asks for `Send` on a `current_thread` runtime too). `thread::scope` lifts `'static` (scoped
//!   threads may borrow locals because the scope joins them before it returns), as `tokio::join!`
//!   does.
//! - std has no one-shot channel type: a `sync_channel(1)` used once plays the part, and "set only
//!   once" is kept by moving the sender into the one thread that sets it, not by the type.
//! - Each fetch costs a kernel thread (a stack, a system call to start and to join): fine for three.
//!
//! Seed snippets covered: "Asynchronous Tasks with `std::async`" and `future.get()` -> `thread::spawn`
//! and `JoinHandle::join`; "Using `std::future` and `std::promise`" -> a one-shot channel;
//! `asyncio.gather` -> joining every handle; `std::packaged_task` (upstream's C++ extra) -> a closure
//! and a channel. Upstream: `src/cpp/asynchrony/parallel_futures.cpp`, `src/cpp/asynchrony/packaged_task.cpp`,
//! `src/python/asynchrony/future_create_task.py`.
//!
//! Run: `cargo run -p examples-threads --bin 02_future_create_task_threads` (no flags but `--help`,
//! about 2.5 s).
//!
//! The output will look similar to this (the order of lines from different threads varies):
//!
//! ```text
//!   1.475s  INFO [main] --- threads spawned early, header rendered meanwhile ---
//!   1.475s  INFO [fetch-profile] fetch_user_profile: request sent
//!   1.475s  INFO [fetch-orders] fetch_recent_orders: request sent
//!   1.477s  INFO [main] render_static_header: rendering
//!   1.477s  INFO [fetch-recommendations] fetch_recommendations: request sent
//!   ...
//!   2.081s  INFO [main] --- deferred work (std::launch::deferred) vs a thread whose handle was dropped ---
//!   2.081s  INFO [warm-cache] warm_cache: started
//!   2.133s  INFO [warm-cache] warm_cache: done
//!   2.189s  INFO [main] warm_cache: started
//!   2.245s  INFO [main] warm_cache: done
//!   ...
//! Summary
//!   sequential 1474 ms | threads 606 ms | 2.43x, ideal 2.40x
//!   header rendered 105 ms into the threaded run, while the fetches ran (ideal 90 ms)
//!   deferred work ran before get(): false, get() took 56 ms (ideal 50 ms: it ran only then) | detached thread ran: true
//!   channel promise delivered 10 after 156 ms (ideal 150 ms)
//!   sender dropped without a value: the receiver got "receiving on a closed channel" at once, no hang
//!   packaged tasks: slow_square(3) = 9, slow_square(4) = 16 in 320 ms (ideal 300 ms, one thread each)
//! ```

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Parser;
use common::{Comparison, fmt_duration, init_logging, time};
use tracing::info;

/// No flags: `--help` says what the example shows, and anything else is a one-line error (exit 2).
#[derive(Parser, Debug)]
#[command(
    about = "02 · Create a task, with threads: thread::spawn the fetches first and render the header \
             meanwhile (the longest branch); promise/future as a one-shot channel; packaged_task \
             as a closure plus a channel",
    long_about = None
)]
struct Args {}

const PROFILE_DELAY: Duration = Duration::from_millis(300);
const ORDERS_DELAY: Duration = Duration::from_millis(600);
const RECOMMENDATIONS_DELAY: Duration = Duration::from_millis(450);
const HEADER_DELAY: Duration = Duration::from_millis(90);
/// How long warming the cache takes in the never-run / detached demo.
const WARM_CACHE_DELAY: Duration = Duration::from_millis(50);
/// How long the thread holding the promise works before it sets the value (seed: 1 s).
const SET_VALUE_DELAY: Duration = Duration::from_millis(150);
/// How long the thread that never sets its value works before it gives up.
const GIVE_UP_DELAY: Duration = Duration::from_millis(50);
/// One `slow_square` call of the packaged-task demo (upstream: 1 s).
const SQUARE_DELAY: Duration = Duration::from_millis(300);

/// Calling everything in sequence: the three fetches and the header, one after another.
const SUM: Duration = PROFILE_DELAY
    .saturating_add(ORDERS_DELAY)
    .saturating_add(RECOMMENDATIONS_DELAY)
    .saturating_add(HEADER_DELAY);
/// The longest branch: the slowest fetch (the header, 90 ms, runs beside it).
const LONGEST: Duration = ORDERS_DELAY;

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

fn fetch_user_profile(user_id: u32) -> Profile {
    info!("fetch_user_profile: request sent");
    thread::sleep(PROFILE_DELAY);
    info!("fetch_user_profile: got Alice");
    Profile {
        id: user_id,
        name: "Alice",
    }
}

fn fetch_recent_orders(user_id: u32) -> Vec<String> {
    info!("fetch_recent_orders: request sent");
    thread::sleep(ORDERS_DELAY);
    info!("fetch_recent_orders: got 2 orders");
    vec![format!("order-{user_id}001"), format!("order-{user_id}002")]
}

fn fetch_recommendations(_user_id: u32) -> Vec<&'static str> {
    info!("fetch_recommendations: request sent");
    thread::sleep(RECOMMENDATIONS_DELAY);
    info!("fetch_recommendations: got 3 items");
    vec!["book", "laptop stand", "coffee mug"]
}

/// The "other work" the page can do while the data is on its way (upstream: 0.3 s).
fn render_static_header() -> &'static str {
    info!("render_static_header: rendering");
    thread::sleep(HEADER_DELAY);
    info!("render_static_header: done");
    "<h1>Dashboard</h1>"
}

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

/// Warms a cache and raises `warmed` when done.
fn warm_cache(warmed: &AtomicBool) {
    info!("warm_cache: started");
    thread::sleep(WARM_CACHE_DELAY);
    warmed.store(true, Ordering::SeqCst);
    info!("warm_cache: done");
}

/// What became of deferred work and of a detached thread, after waiting twice as long as the work.
#[derive(Debug, Clone, Copy)]
struct DeferredVsDetached {
    /// Whether the deferred work had run before anyone asked for its result.
    deferred_ran_before_get: bool,
    /// How long asking for it (`get()`) then took: the whole work, if it ran only then.
    get_took: Duration,
    /// Whether the thread whose `JoinHandle` was dropped at once did its work.
    detached_ran: bool,
}

/// C++'s `std::async(std::launch::deferred, f)` is a closure: it runs when `get()` is called, on the
/// thread that calls it. A spawned thread runs at once, even when nobody keeps its handle.
fn deferred_vs_detached() -> anyhow::Result<DeferredVsDetached> {
    let deferred_warmed = Arc::new(AtomicBool::new(false));
    let detached_warmed = Arc::new(AtomicBool::new(false));
    let flag = deferred_warmed.clone();
    // A description of work, like an unpolled future: nothing runs until someone calls it.
    let deferred = move || warm_cache(&flag);
    let flag = detached_warmed.clone();
    // The handle is dropped on this line: the thread is detached, and runs to the end anyway.
    drop(
        thread::Builder::new()
            .name("warm-cache".into())
            .spawn(move || warm_cache(&flag))?,
    );
    thread::sleep(WARM_CACHE_DELAY * 2);
    let deferred_ran_before_get = deferred_warmed.load(Ordering::SeqCst);
    let detached_ran = detached_warmed.load(Ordering::SeqCst);
    // `get()` on a deferred future: the work runs now, here.
    let ((), get_took) = time(deferred);
    Ok(DeferredVsDetached {
        deferred_ran_before_get,
        get_took,
        detached_ran,
    })
}

/// The seed's `std::promise` / `std::future` snippet: a thread sets the value after a while, the
/// main thread waits for it. The value, and how long the wait took.
fn set_value_later() -> anyhow::Result<(i32, Duration)> {
    // `std::promise<int>` + `get_future()`: capacity 1, so `send` never blocks the setter.
    let (promise, future) = mpsc::sync_channel(1);
    let setter = thread::Builder::new()
        .name("set-value".into())
        .spawn(move || {
            thread::sleep(SET_VALUE_DELAY);
            // `set_value(10)`. It fails only if the receiver is gone, and then nobody wants it.
            let _ = promise.send(10);
        })?;
    // `future.get()`: blocks this thread, and only this one, until the value is there.
    let (value, waited) = time(|| future.recv());
    setter.join().map_err(|_| anyhow!("set-value panicked"))?;
    Ok((value?, waited))
}

/// The thread meant to set the value gives up first and drops its sender: the receiver learns it
/// at once (`RecvError`, C++'s "broken promise"), it does not wait forever. The error text.
fn value_never_set() -> anyhow::Result<Option<String>> {
    let (promise, future) = mpsc::sync_channel::<i32>(1);
    let setter = thread::Builder::new()
        .name("set-value".into())
        .spawn(move || {
            thread::sleep(GIVE_UP_DELAY);
            info!("the thread that should set the value gives up without sending");
            drop(promise);
        })?;
    let error = future.recv().err().map(|e| e.to_string());
    setter.join().map_err(|_| anyhow!("set-value panicked"))?;
    Ok(error)
}

/// `std::packaged_task<R(A)>`: wraps `f` into a job that any thread can run later, and returns the
/// receiver its result will arrive on (C++: `task.get_future()`). A panic in `f` drops the sender,
/// so the receiver sees an error instead of a value.
fn package<A, R>(
    f: impl FnOnce(A) -> R + Send + 'static,
) -> (impl FnOnce(A) + Send + 'static, mpsc::Receiver<R>)
where
    R: Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    let job = move |arg: A| {
        let _ = tx.send(f(arg));
    };
    (job, rx)
}

fn slow_square(x: i32) -> i32 {
    info!("slow_square({x}): computing");
    thread::sleep(SQUARE_DELAY);
    x * x
}

/// Upstream's `packaged_task.cpp`: two packaged `slow_square` calls, each run on its own thread.
/// The two results, read from the packages' receivers.
fn run_packaged_tasks() -> anyhow::Result<(i32, i32)> {
    let (square_3, result_3) = package(slow_square);
    let (square_4, result_4) = package(slow_square);
    let t3 = thread::Builder::new()
        .name("packaged-3".into())
        .spawn(move || square_3(3))?;
    let t4 = thread::Builder::new()
        .name("packaged-4".into())
        .spawn(move || square_4(4))?;
    let results = (result_3.recv()?, result_4.recv()?);
    t3.join().map_err(|_| anyhow!("packaged-3 panicked"))?;
    t4.join().map_err(|_| anyhow!("packaged-4 panicked"))?;
    Ok(results)
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
    let deferred = deferred_vs_detached()?;

    info!("--- promise and future: a one-shot channel ---");
    let (value, waited) = set_value_later()?;
    info!("future.get() returned {value}");
    let never_set = value_never_set()?;
    info!("waited on a future whose sender was dropped: {never_set:?}");

    info!("--- packaged_task: a closure plus a channel ---");
    let (squares, packaged) = time(run_packaged_tasks);
    let (square_3, square_4) = squares?;
    info!("packaged results: {square_3}, {square_4}");

    let ideal = SUM.as_secs_f64() / LONGEST.as_secs_f64();
    let Some(never_set) = never_set else {
        anyhow::bail!("a dropped sender must wake the receiver with an error");
    };
    let mut summary = String::from("\nSummary\n");
    writeln!(
        summary,
        "  {}",
        Comparison::new("sequential", sequential, "threads", threads, ideal)
    )?;
    writeln!(
        summary,
        "  header rendered {} into the threaded run, while the fetches ran (ideal {})",
        fmt_duration(header_done),
        fmt_duration(HEADER_DELAY)
    )?;
    writeln!(
        summary,
        "  deferred work ran before get(): {}, get() took {} (ideal {}: it ran only then) | detached thread ran: {}",
        deferred.deferred_ran_before_get,
        fmt_duration(deferred.get_took),
        fmt_duration(WARM_CACHE_DELAY),
        deferred.detached_ran
    )?;
    writeln!(
        summary,
        "  channel promise delivered {value} after {} (ideal {})",
        fmt_duration(waited),
        fmt_duration(SET_VALUE_DELAY)
    )?;
    writeln!(
        summary,
        "  sender dropped without a value: the receiver got {never_set:?} at once, no hang"
    )?;
    writeln!(
        summary,
        "  packaged tasks: slow_square(3) = {square_3}, slow_square(4) = {square_4} in {} (ideal {}, one thread each)",
        fmt_duration(packaged),
        fmt_duration(SQUARE_DELAY)
    )?;
    common::out!("{}", summary.trim_end());
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real time, on a machine that may be busy: lower bounds are exact (a sleep never ends early),
    //! upper bounds are generous. Sleeping threads overlap even on one core, so the threaded run stays
    //! well below the sum however loaded the machine is.
    use super::*;

    #[test]
    fn sequential_takes_at_least_the_sum() {
        let ((_, header_done), took) = time(|| load_dashboard_sequential(USER_ID));
        assert!(took >= SUM, "{took:?}");
        assert!(header_done >= SUM, "the header came last: {header_done:?}");
    }

    #[test]
    fn threads_overlap_the_header_total_is_about_the_longest_branch() {
        let (run, took) = time(|| load_dashboard_threads(USER_ID));
        let (_, header_done) = run.expect("no thread panics");
        assert!(took >= LONGEST, "{took:?}");
        // Running any two fetches one after the other would add at least the shortest one (300 ms):
        // below that, all three overlapped. The margin absorbs a loaded machine.
        assert!(took < LONGEST + PROFILE_DELAY, "{took:?}");
        // The header did not wait for the fetches: it was done long before the slowest one.
        assert!(header_done >= HEADER_DELAY, "{header_done:?}");
        assert!(header_done < LONGEST, "{header_done:?}");
    }

    #[test]
    fn both_ways_build_the_same_dashboard() {
        let (sequential, _) = load_dashboard_sequential(USER_ID);
        let (threads, _) = load_dashboard_threads(USER_ID).expect("no thread panics");
        assert_eq!(sequential, threads);
        assert_eq!(threads.header, "<h1>Dashboard</h1>");
        assert_eq!(threads.orders, ["order-1001", "order-1002"]);
    }

    #[test]
    fn deferred_work_runs_only_at_get_but_a_detached_thread_runs_at_once() {
        let seen = deferred_vs_detached().expect("spawn works");
        assert!(
            !seen.deferred_ran_before_get,
            "deferred work waits to be asked for: {seen:?}"
        );
        // Had it started early (on a thread of its own), it would have been done 50 ms before
        // `get()`, and `get()` would have returned at once.
        assert!(seen.get_took >= WARM_CACHE_DELAY, "{seen:?}");
        assert!(
            seen.detached_ran,
            "dropping a JoinHandle detaches the thread, it does not stop it: {seen:?}"
        );
    }

    #[test]
    fn the_channel_promise_delivers_the_value_set_later() {
        let (value, waited) = set_value_later().expect("the setter sends");
        assert_eq!(value, 10);
        assert!(waited >= SET_VALUE_DELAY, "{waited:?}");
    }

    #[test]
    fn a_dropped_sender_wakes_the_receiver_with_an_error() {
        let (error, took) = time(value_never_set);
        assert!(
            error.expect("spawn works").is_some(),
            "an error, not a value"
        );
        // It learned when the sender was dropped (50 ms), not after some timeout.
        assert!(
            took >= GIVE_UP_DELAY && took < Duration::from_secs(2),
            "{took:?}"
        );
    }

    #[test]
    fn packaged_tasks_deliver_their_results_and_run_at_the_same_time() {
        let (squares, took) = time(run_packaged_tasks);
        assert_eq!(squares.expect("no panic"), (9, 16));
        assert!(took >= SQUARE_DELAY, "{took:?}");
        // Two 300 ms calls one after the other would take 600 ms.
        assert!(
            took < SQUARE_DELAY * 2 - Duration::from_millis(100),
            "{took:?}"
        );
    }

    #[test]
    fn a_panicking_packaged_task_gives_an_error_not_a_value() {
        let (job, result) = package(|_: ()| -> i32 { panic!("the job failed") });
        let handle = thread::Builder::new()
            .name("doomed".into())
            .spawn(move || job(()))
            .expect("spawn works");
        assert!(
            result.recv().is_err(),
            "the sender was dropped by the unwinding job"
        );
        assert!(handle.join().is_err());
    }
}
