//! # 18 · The event loop's threads twin: a thread pool from scratch
//!
//! The async twin opens up an event loop: one thread that polls futures in pieces. This one opens
//! up the threads model's engine, a **thread pool** (`executor.rs`): a queue of jobs behind a
//! `Mutex<VecDeque>`, a `Condvar` that idle workers sleep on, worker threads that take a job and
//! run it to its end. It runs the same dashboard: `profile` (200 ms) and `orders` (100 ms) work,
//! and `recommendations` waits for `orders`, then works 200 ms; a fourth job, `broken`, panics.
//!
//! - **What a "task" is here: a closure, run once, start to end, on one worker.** It cannot stop
//!   half-way and give its thread back: when `recommendations` waits for `orders` (a channel
//!   `recv`), the worker is blocked, held, and useless to every other job. In the async twin the
//!   same wait is a `poll` that returns `Pending`: the future runs in pieces, the thread free
//!   between.
//! - **So the pool needs enough workers for the waits.** With 3 workers the dashboard takes the
//!   longest chain (300 ms, like the event loop's *one* thread). With 2, `recommendations` holds
//!   one worker while `orders` queues behind `profile`: 500 ms, the sum. With 1 it would never end
//!   (the waiting job holds the only worker the awaited job needs): the classic pool deadlock.
//! - `executor.rs`: idle workers sleep (CPU time measured), a job's panic is contained, shutdown
//!   drains the queue and joins every worker. `report.rs`: the summary lines.
//!
//! Seed: "Asynchrony" > Building Blocks > Event Loop; "Asynchrony vs Multithreading". Upstream:
//! `src/cpp/asynchrony/thread_pool_futures.cpp`, `src/js/asynchrony/18_event_loop.js`,
//! `src/python/asynchrony/event_loop_explained.py`. Async twin:
//! `examples-async/src/bin/18_event_loop/`.
//!
//! Run: `cargo run -p examples-threads --bin 18_event_loop_threads` (no flags but `--help`, about 1
//! s). Output of a real run: `docs/output/18_event_loop_threads.txt`.

mod executor;
mod report;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{fmt_duration, init_logging};
use executor::{PoolReport, ThreadPool, panic_message};
use tracing::{error, info};

pub const PROFILE: Duration = Duration::from_millis(200);
pub const ORDERS: Duration = Duration::from_millis(100);
/// How long `recommendations` works once it has the orders.
pub const RECOMMEND: Duration = Duration::from_millis(200);

/// The jobs `run_dashboard` submits, in this order.
pub const JOBS: [&str; 4] = ["profile", "recommendations", "orders", "broken"];

/// The dashboard's ideal total with `workers` workers, jobs submitted as `run_dashboard` does
/// (profile, recommendations, orders, broken). `None`: it can never finish.
pub fn ideal_total(workers: usize) -> Option<Duration> {
    match workers {
        0 | 1 => None, // recommendations holds the only worker, waiting for orders: deadlock
        // profile and recommendations take both workers; orders waits for profile to end.
        2 => Some(PROFILE + ORDERS + RECOMMEND),
        // A worker each: the longest chain, as on the event loop's one thread.
        _ => Some(PROFILE.max(ORDERS + RECOMMEND)),
    }
}

/// What the dashboard run measured.
#[derive(Debug)]
pub struct DashboardRun {
    pub page: String,
    pub total: Duration,
    /// How long `recommendations` sat blocked in `recv`, holding its worker, waiting for orders.
    pub recommendations_blocked: Duration,
    pub report: PoolReport,
}

/// Submits the four jobs to a pool of `workers`, waits for the page, shuts the pool down.
fn run_dashboard(workers: usize) -> anyhow::Result<DashboardRun> {
    let start = Instant::now();
    let pool = ThreadPool::new(workers, start)?;
    let (profile_tx, profile_rx) = mpsc::channel();
    let (orders_tx, orders_rx) = mpsc::channel::<String>();
    let (recommended_tx, recommended_rx) = mpsc::channel();

    pool.submit("profile", move || {
        info!("profile: start, {} of blocking I/O", fmt_duration(PROFILE));
        thread::sleep(PROFILE);
        info!("profile: done");
        let _ = profile_tx.send(String::from("profile"));
    });
    // Submitted before `orders` on purpose: with too few workers it takes a worker and blocks it.
    pool.submit("recommendations", move || {
        info!("recommendations: waiting for orders (this worker is blocked)");
        let asked = Instant::now();
        // A blocking wait: the worker does nothing else until orders arrive. `Err` only if the
        // orders job died without sending, which the pool reports as a panic.
        let Ok(orders) = orders_rx.recv() else {
            error!("recommendations: orders never came");
            return;
        };
        let blocked = asked.elapsed();
        info!(
            "recommendations: got {orders} after {} blocked, working {}",
            fmt_duration(blocked),
            fmt_duration(RECOMMEND)
        );
        thread::sleep(RECOMMEND);
        info!("recommendations: done");
        let _ = recommended_tx.send((format!("recommendations for {orders}"), blocked));
    });
    pool.submit("orders", move || {
        info!("orders: start, {} of blocking I/O", fmt_duration(ORDERS));
        thread::sleep(ORDERS);
        info!("orders: done");
        let _ = orders_tx.send(String::from("orders"));
    });
    pool.submit("broken", || {
        info!("broken: about to fail");
        panic!("the recommendation cache is corrupt");
    });

    let profile = profile_rx
        .recv()
        .map_err(|_| anyhow::anyhow!("the profile job ended without a result"))?;
    let (recommended, recommendations_blocked) = recommended_rx
        .recv()
        .map_err(|_| anyhow::anyhow!("the recommendations job ended without a result"))?;
    let total = start.elapsed();
    let page = format!("{profile} + {recommended}");
    info!("main: page ready: {page}");
    Ok(DashboardRun {
        page,
        total,
        recommendations_blocked,
        report: pool.shutdown(),
    })
}

/// `--help` text. No flags: the jobs are fixed so the totals can be set beside their ideal.
#[derive(Parser, Debug)]
#[command(
    about = "18 · The event loop's threads twin: a thread pool from scratch (Mutex<VecDeque> + \
             Condvar workers, graceful shutdown, a job's panic contained); a job is a closure run \
             to its end, so a job that waits holds its worker",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();
    log_panics_as_errors();

    let mut runs = Vec::new();
    for workers in [3, 2] {
        info!("--- a pool of {workers} workers ---");
        runs.push((workers, run_dashboard(workers)?));
    }

    report::summary(&runs);
    Ok(())
}

/// Sends panics to the log as one `ERROR` line (time, thread, where, message), as the pool's
/// workers report them. Rust's default hook writes "thread '...' panicked at ..." to stderr, and a
/// backtrace too when `RUST_BACKTRACE` is set; `catch_unwind` gets the panic afterwards either way.
fn log_panics_as_errors() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        error!("panic at {location}: {}", panic_message(info.payload()));
    }));
}

#[cfg(test)]
mod tests;
