//! # 03 · Read results as they come: downloads drained in completion order, with a deadline
//!
//! Four downloads start together (upstream's `future_callback.py`, 1.0 to 3.0 s, scaled to 300 to
//! 900 ms): `orders.csv` (300 ms), `payments.csv` (450 ms, the server answers 500), `users.csv`
//! (600 ms) and `products.csv` (900 ms, but the batch gives up at its 700 ms deadline and cancels it).
//! A heartbeat task ticks every 150 ms through the whole run.
//!
//! - **Completion order, not spawn order.** The tasks go into a `tokio::task::JoinSet`; `join_next`
//!   hands back whichever finished first, so each result is handled the moment it exists. Python
//!   needs `add_done_callback` for this; here the loop that awaits *is* the callback, and the live
//!   progress line is updated in it. `futures::future::join_all` (`asyncio.gather`) would instead
//!   wait for the slowest and return the results in argument order (a test shows both).
//!   `JoinSet::spawn` has the bounds of `tokio::spawn`, `Send + 'static` (02 explains why): each
//!   task gets its own copy of its `Download` (a `Copy` value), never a reference into the caller.
//! - Then one module per further lesson, which `main` runs in this order: `outcome.rs` (an error, a
//!   panic and a cancellation told apart), `polling.rs` (the seed's `wait_for` loop),
//!   `continuation.rs` (`.then`), `shared.rs` (`shared_future`), and all along `heartbeat.rs` (the
//!   one thread is never blocked). `files.rs` and `progress.rs` hold the scenario and its counters,
//!   `report.rs` the summary lines, `tests.rs` the proofs (on the paused clock, and the real one).
//!
//! Seed: "Asynchronous Waiting", "Exception Handling with Asynchronous Operations", `shared_future`,
//! "Asynchronous Continuations", Python's "Exception Handling in Asynchronous Code". Upstream:
//! `src/python/asynchrony/future_callback.py`, `src/js/asynchrony/03_future_callback.js`, and in
//! `src/cpp/asynchrony/`: `future.cpp`, `future_timed_wait.cpp`, `async_exception.cpp`,
//! `shared_future.cpp`. Threads twin: `examples-threads/src/bin/03_future_read_result_threads/`.
//!
//! Run: `cargo run -p examples-async --bin 03_future_read_result` (no flags but `--help`, about 2.5 s).
//! Output of a real run: `docs/output/03_future_read_result.txt`.

mod continuation;
mod files;
mod heartbeat;
mod outcome;
mod polling;
mod progress;
mod report;
mod shared;

use std::collections::HashMap;
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging, time_async};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until};
use tracing::info;

use files::{Download, Plan, ServerError, download_of};
use heartbeat::{HEARTBEAT, Heartbeat};
use outcome::{classify, log_panics_as_errors};
use progress::{Finished, Progress};

/// No flags: `--help` says what the example shows, and anything else is a one-line error (exit 2).
#[derive(Parser, Debug)]
#[command(
    about = "03 · Read results as they come: downloads drained from a JoinSet in completion order, \
             an error, a panic and a cancellation told apart, wait_for-style polling, \
             continuations, a shared result, and a heartbeat that never stalls",
    long_about = None
)]
struct Args {}

/// When the batch gives up on the downloads still running (upstream has no deadline, and no
/// cancellation at all; this one makes the third kind of ending visible).
const DEADLINE: Duration = Duration::from_millis(700);

/// Upstream's four files, in the order they are started (not the order they finish).
const FILES: [Download; 4] = [
    download_of("users.csv", 600, Plan::Rows(1200)),
    download_of("orders.csv", 300, Plan::Rows(5400)),
    download_of("payments.csv", 450, Plan::ServerError(500)),
    download_of("products.csv", 900, Plan::Rows(87)),
];
/// The file whose parser panics, for the second section.
const INVOICES: Download = download_of("invoices.csv", 150, Plan::Corrupt);

// One thread: the heartbeat, the downloads and `main` all share it.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();
    log_panics_as_errors();
    let heartbeat = Heartbeat::start(HEARTBEAT);

    info!(
        "--- four downloads, read in completion order, deadline {} ---",
        fmt_duration(DEADLINE)
    );
    let batch = download_all(&FILES, DEADLINE).await;

    info!("--- a bug is not an error: a download whose parser panics ---");
    let invoices = download_all(&[INVOICES], DEADLINE).await;

    info!("--- waiting with a deadline, in a loop (wait_for) ---");
    let (polling, polled) = time_async(polling::wait_with_polling()).await;
    let (sum, waits) = polling?;

    info!("--- a continuation: initial_task().map(next_task).then(store_result) ---");
    let (chained, chain_took) = time_async(continuation::continuation()).await;
    info!("Result: {chained}");

    info!(
        "--- one result, {} readers (shared_future) ---",
        shared::READERS
    );
    let (shared_values, computed) = shared::share_one_result().await?;

    let ticks = heartbeat.stop().await?;
    let report = report::Report {
        batch,
        invoices,
        polled,
        sum,
        waits,
        chained,
        chain_took,
        shared_values,
        computed,
        ticks,
    };
    common::out!("{}", report.to_string().trim_end());
    Ok(())
}

/// Pretends to download and parse `d.file`.
async fn download(d: Download) -> Result<u32, ServerError> {
    info!("{}: download started", d.file);
    sleep(d.delay).await;
    match d.plan {
        Plan::Rows(rows) => Ok(rows),
        Plan::ServerError(status) => Err(ServerError {
            file: d.file,
            status,
        }),
        // A panic is a bug, not an error: nobody can handle "the parser is wrong". It unwinds this
        // task only; the runtime catches it and hands it to whoever awaits the task.
        Plan::Corrupt => panic!("{}: malformed row 17", d.file),
    }
}

/// Starts every download at once, handles each as it finishes, and cancels whatever is still running
/// at `deadline`. The records come back in completion order.
async fn download_all(files: &[Download], deadline: Duration) -> Vec<Finished> {
    let start = Instant::now();
    let mut set = JoinSet::new();
    // A task that panicked or was cancelled returns no value, only a `JoinError` that knows the
    // task's id: this map turns the id back into a file name.
    let mut names = HashMap::new();
    for &d in files {
        let handle = set.spawn(download(d));
        names.insert(handle.id(), d.file);
    }
    let mut progress = Progress {
        total: files.len(),
        ..Progress::default()
    };
    let deadline = sleep_until(start + deadline);
    // `pin!` pins the timer where it is, so the loop below can poll the same one again and again
    // through `&mut` (16's `select!` loop pins its future the same way).
    tokio::pin!(deadline);
    let mut cancelling = false;
    let mut finished = Vec::new();
    loop {
        // `select!` waits on both branches and runs the one that is ready first: the next download
        // to finish, or the deadline (15 and 16 teach it). `join_next_with_id` is `join_next` that
        // also says which task ended, even one that panicked or was cancelled and has no value.
        tokio::select! {
            joined = set.join_next_with_id() => {
                // `None`: the set is empty, every task has been accounted for.
                let Some(joined) = joined else { break };
                let (id, result) = match joined {
                    Ok((id, rows)) => (id, Ok(rows)),
                    Err(join_error) => (join_error.id(), Err(join_error)),
                };
                let file = names.get(&id).copied().unwrap_or("?");
                let outcome = classify(result);
                progress.count(&outcome);
                info!("{file}: {outcome} | progress {progress}");
                finished.push(Finished { file, at: start.elapsed(), outcome, progress });
            }
            // Once: abort the rest. Aborted tasks still come out of `join_next`, as cancelled.
            () = &mut deadline, if !cancelling => {
                info!("deadline: cancelling {} unfinished download(s)", set.len());
                set.abort_all();
                cancelling = true;
            }
        }
    }
    finished
}

#[cfg(test)]
mod tests;
