//! # 03 · Read results as they come: downloads drained in completion order, with a deadline
//!
//! Four downloads start together (upstream's `future_callback.py`, 1.0 to 3.0 s, scaled to 300 to
//! 900 ms): `orders.csv` (300 ms), `payments.csv` (450 ms, the server answers 500), `users.csv`
//! (600 ms) and `products.csv` (900 ms, but the batch gives up at its 700 ms deadline and cancels it).
//! A heartbeat task ticks every 150 ms through the whole run.
//!
//! What it shows:
//! - **Completion order, not spawn order.** The tasks go into a `tokio::task::JoinSet`; `join_next`
//!   hands back whichever finished first, so each result is handled the moment it exists. Python
//!   needs `add_done_callback` for this; here the loop that awaits *is* the callback, and the live
//!   progress line ("2/4 finished, 1 succeeded, 1 failed, 0 panicked, 0 cancelled") is updated in it.
//!   `futures::future::join_all` (Python's `asyncio.gather`) would instead wait for the slowest and
//!   return the results in argument order (a test below shows both).
//! - **Three ways to end badly, told apart.** A task's result arrives as
//!   `Result<Result<T, E>, JoinError>`: `Ok(Err(e))` is an error the download returned (the 500);
//!   `Err(JoinError)` with `is_panic()` is a bug (a panic, caught by the runtime, which keeps going);
//!   `Err(JoinError)` with `is_cancelled()` is a task aborted from outside (`products.csv` at the
//!   deadline). The second section runs `invoices.csv`, whose parser panics: the panic is logged as
//!   an `ERROR` line (`log_panics_as_errors` says why not Rust's default stderr message), the
//!   runtime turns it into a `JoinError`, and the program carries on.
//! - **Waiting with a deadline, in a loop** (the seed's `future.wait_for(500ms)` polling):
//!   `tokio::time::timeout` over `&mut handle` gives up on the *wait* every 200 ms, printing
//!   "Waiting for the result..." four times, while the task itself keeps running (only the borrow is
//!   dropped; a timeout over the owned handle would drop the handle, which detaches the task, and a
//!   timeout over a plain future would drop and so cancel the work itself).
//! - **Continuations** (the seed's `.then`): `FutureExt::map` chains a plain function onto a future,
//!   `FutureExt::then` chains another future: `initial_task().map(next_task).then(store_result)`.
//!   C++'s `std::future::then` never made it into the standard (it is from the Concurrency TS), so
//!   the seed's C++ snippet does not compile as written; in Rust, `next_task(initial_task().await)`
//!   says the same, and `map`/`then` are for building the chain as a value to hand to someone else.
//! - **One result, many readers** (the seed's `std::shared_future`): `FutureExt::shared` makes a
//!   clonable future; five tasks await clones, the value is computed once.
//! - `JoinSet::spawn` has the bounds of `tokio::spawn`, `Send + 'static` (02 explains why): each
//!   task gets its own copy of its `Download` (a `Copy` value), never a reference into the caller.
//! - **The heartbeat never misses a beat.** Everything runs on one thread (`current_thread`), yet the
//!   heartbeat ticks every 150 ms while `main` waits: awaiting gives the thread back. Its longest gap
//!   is printed in the summary, with a verdict computed from it: a blocking wait would hold a tick
//!   back (05 measures that), and the summary would say "the thread was blocked". The tests check
//!   it on the real clock too: tokio's paused clock stands still while a thread is blocked.
//!
//! Seed snippets covered: "Asynchronous Waiting with `std::future`" (`wait_for` polling ->
//! `timeout` over `&mut JoinHandle`), "Exception Handling with Asynchronous Operations" (exceptions
//! through `future.get()` -> `Result` and `JoinError` from `.await` on the handle),
//! `std::shared_future` -> `FutureExt::shared`, "Asynchronous Continuations" (`.then`) ->
//! `FutureExt::map` / `then`, Python's "Exception Handling in Asynchronous Code" (`try`/`except`
//! around `await` -> `match` on the result). Upstream: `src/python/asynchrony/future_callback.py`,
//! `src/js/asynchrony/03_future_callback.js`, `src/cpp/asynchrony/future.cpp`,
//! `src/cpp/asynchrony/future_timed_wait.cpp`, `src/cpp/asynchrony/async_exception.cpp`,
//! `src/cpp/asynchrony/shared_future.cpp`.
//! Threads twin: `examples-threads/src/bin/03_future_read_result_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 03_future_read_result` (no flags but `--help`, about 2.5 s).
//!
//! The file reads lesson first: `main`, then the lesson's code in the order `main` uses it, then,
//! below a banner, the support code (the scenario's types, the progress counters, the report).
//!
//! The output will look similar to this (lines printed at the same millisecond may swap):
//!
//! ```text
//!   0.000s  INFO [main] --- four downloads, read in completion order, deadline 700 ms ---
//!   0.000s  INFO [main] users.csv: download started
//!   ...
//!   0.152s  INFO [main] heartbeat 1
//!   0.318s  INFO [main] orders.csv: succeeded, 5400 rows | progress 1/4 finished, 1 succeeded, 0 failed, 0 panicked, 0 cancelled
//!   0.458s  INFO [main] payments.csv: failed: payments.csv: server returned 500 | progress 2/4 finished, ...
//!   ...
//!   0.701s  INFO [main] deadline: cancelling 1 unfinished download(s)
//!   0.701s  INFO [main] products.csv: cancelled | progress 4/4 finished, 2 succeeded, 1 failed, 0 panicked, 1 cancelled
//!   ...
//! Summary
//!   completion order: orders.csv 318 ms, payments.csv 458 ms, users.csv 601 ms, products.csv 701 ms
//!   progress: 4/4 finished, 2 succeeded, 1 failed, 0 panicked, 1 cancelled
//!   told apart: error "payments.csv: server returned 500" | cancelled products.csv | panic "invoices.csv: malformed row 17"
//!   polled slow_add(3, 4) every 200 ms: "Waiting for the result..." 4 times (ideal 4), result 7 after 902 ms
//!   continuation initial_task().map(next_task).then(store_result): 10 after 404 ms (ideal 400 ms)
//!   shared result: 5 readers got [10, 10, 10, 10, 10], computed 1 time(s) (ideal 1)
//!   heartbeat: 16 ticks, longest gap 166 ms (ideal 150 ms): waiting never blocked the thread
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging, time_async};
use futures::FutureExt;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, sleep_until, timeout};
use tracing::info;

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
/// The heartbeat's period (upstream: 0.5 s).
const HEARTBEAT: Duration = Duration::from_millis(150);
/// How late a tick may come and still count as on time: a busy machine keeps a thread that wakes
/// up waiting for a core, though rarely this long.
const BUSY_MACHINE: Duration = Duration::from_millis(100);
/// The seed's `slow_add` (3 s) and its `wait_for` period (500 ms), scaled.
const SLOW_ADD_DELAY: Duration = Duration::from_millis(900);
const POLL_EVERY: Duration = Duration::from_millis(200);
/// The seed's continuation: `initial_task` (2 s there), then an async step that stores the result.
const INITIAL_TASK_DELAY: Duration = Duration::from_millis(300);
const STORE_DELAY: Duration = Duration::from_millis(100);
/// The seed's `compute_value` for the shared result (2 s there).
const COMPUTE_DELAY: Duration = Duration::from_millis(300);
const READERS: usize = 5;

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
    let (polling, polled) = time_async(wait_with_polling()).await;
    let (sum, waits) = polling?;

    info!("--- a continuation: initial_task().map(next_task).then(store_result) ---");
    let (chained, chain_took) = time_async(continuation()).await;
    info!("Result: {chained}");

    info!("--- one result, {READERS} readers (shared_future) ---");
    let (shared_values, computed) = share_one_result().await?;

    let ticks = heartbeat.stop().await?;
    let report = Report {
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

// ---------------------------------------------------------------------------------------------
// The lesson's code, in the order `main` uses it.

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
    tokio::pin!(deadline);
    let mut cancelling = false;
    let mut finished = Vec::new();
    loop {
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

/// How one download ended. `Failed` and `Panicked` are kept apart on purpose: one is an answer,
/// the other a bug.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Succeeded { rows: u32 },
    Failed(String),
    Panicked(String),
    Cancelled,
}

/// The seed's "exceptions through `future.get()`": everything that can happen to a task, told apart.
fn classify(joined: Result<Result<u32, ServerError>, JoinError>) -> Outcome {
    match joined {
        Ok(Ok(rows)) => Outcome::Succeeded { rows },
        Ok(Err(error)) => Outcome::Failed(error.to_string()),
        // A `JoinError` is either a panic (with its payload) or a cancellation: nothing else.
        Err(join_error) => match join_error.try_into_panic() {
            Ok(payload) => Outcome::Panicked(panic_message(payload.as_ref())),
            Err(join_error) => {
                debug_assert!(join_error.is_cancelled());
                Outcome::Cancelled
            }
        },
    }
}

/// The seed's `slow_add`: 3 + 4, slowly.
async fn slow_add(a: i32, b: i32) -> i32 {
    sleep(SLOW_ADD_DELAY).await;
    a + b
}

/// The seed's `while (future.wait_for(500ms) != ready) { "Waiting for the result..." }`.
/// Returns the result and how many waits ran out before it was there.
async fn wait_with_polling() -> anyhow::Result<(i32, u32)> {
    let mut task = tokio::spawn(slow_add(3, 4));
    let mut waits = 0;
    let result = loop {
        // `&mut task`: when the timeout fires it drops only this borrow; the task runs on.
        match timeout(POLL_EVERY, &mut task).await {
            Ok(joined) => break joined?,
            Err(_elapsed) => {
                waits += 1;
                info!("Waiting for the result...");
            }
        }
    };
    info!("Result: {result}");
    Ok((result, waits))
}

async fn initial_task() -> i32 {
    info!("initial_task: working");
    sleep(INITIAL_TASK_DELAY).await;
    5
}

fn next_task(input: i32) -> i32 {
    info!("next_task: doubling {input}");
    input * 2
}

async fn store_result(value: i32) -> i32 {
    info!("store_result: storing {value}");
    sleep(STORE_DELAY).await;
    value
}

/// The seed's continuation. `map` runs a plain function on the output, `then` an async one; the
/// chain is one future, and like any future it starts only when awaited (or spawned).
async fn continuation() -> i32 {
    let chain = initial_task().map(next_task).then(store_result);
    chain.await
}

/// The seed's `std::shared_future`: five readers await one computation. Returns what each reader
/// got and how many times the value was computed.
async fn share_one_result() -> anyhow::Result<(Vec<i32>, usize)> {
    let computed = Arc::new(AtomicUsize::new(0));
    let counter = computed.clone();
    // `shared()` makes the future clonable (its output must be `Clone`): the first clone polled
    // drives the work, every clone gets a copy of the one result.
    let value = async move {
        counter.fetch_add(1, Ordering::SeqCst);
        info!("compute_value: computing");
        sleep(COMPUTE_DELAY).await;
        10
    }
    .shared();
    let mut readers = Vec::new();
    for i in 0..READERS {
        let value = value.clone();
        readers.push(tokio::spawn(async move {
            let v = value.await;
            info!("reader {i}: {v}");
            v
        }));
    }
    let mut values = Vec::new();
    for reader in readers {
        values.push(reader.await?);
    }
    Ok((values, computed.load(Ordering::SeqCst)))
}

/// A task that logs a tick every `period` until told to stop, and returns when each tick happened.
struct Heartbeat {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<Duration>>,
}

impl Heartbeat {
    fn start(period: Duration) -> Self {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut ticks = Vec::new();
            let mut interval = interval_at(start + period, period);
            // After a stall, tick once and carry on: no burst of catch-up ticks hiding the gap.
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = interval.tick() => {
                        // The time it actually ran, not the time it was due: a frozen thread shows.
                        ticks.push(start.elapsed());
                        info!("heartbeat {}", ticks.len());
                    }
                }
            }
            ticks
        });
        Heartbeat { stop, task }
    }

    /// Stops the heartbeat and returns the times of its ticks.
    async fn stop(self) -> anyhow::Result<Vec<Duration>> {
        let _ = self.stop.send(());
        Ok(self.task.await?)
    }
}

/// The heartbeat's verdict, from its longest gap: a thread that is blocked (a `std::thread::sleep`,
/// CPU work, a blocking read) holds back a tick due meanwhile until it is free again; a thread that
/// only awaits lets every tick come on time, or up to [`BUSY_MACHINE`] late when other programs
/// hold the cores. Later than that is a block. (A block shorter than a period may fall between two
/// ticks and go unseen: the real-clock test ticks every 10 ms, where none can.)
fn heartbeat_verdict(longest_gap: Duration, period: Duration) -> String {
    if longest_gap <= period + BUSY_MACHINE {
        "waiting never blocked the thread".to_string()
    } else {
        format!(
            "the thread was blocked: a tick came {} late",
            fmt_duration(longest_gap - period)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Support: the scenario's types, the progress counters, the report. Not the lesson.

/// What a download will do when it is done.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// The file arrives with this many rows.
    Rows(u32),
    /// The server answers with this error status.
    ServerError(u16),
    /// The file arrives, and our parser has a bug that panics on it.
    Corrupt,
}

#[derive(Debug, Clone, Copy)]
struct Download {
    file: &'static str,
    delay: Duration,
    plan: Plan,
}

const fn download_of(file: &'static str, millis: u64, plan: Plan) -> Download {
    Download {
        file,
        delay: Duration::from_millis(millis),
        plan,
    }
}

/// An error a download *returns*: expected, part of the API, handled by the caller.
#[derive(Debug, Clone, PartialEq)]
struct ServerError {
    file: &'static str,
    status: u16,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: server returned {}", self.file, self.status)
    }
}

impl std::error::Error for ServerError {}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Succeeded { rows } => write!(f, "succeeded, {rows} rows"),
            Outcome::Failed(error) => write!(f, "failed: {error}"),
            Outcome::Panicked(message) => write!(f, "panicked: {message}"),
            Outcome::Cancelled => write!(f, "cancelled"),
        }
    }
}

/// `panic!("literal")` carries a `&str`, `panic!("{}", x)` a `String`; anything else is rare.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

/// The live counters upstream's done-callback keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Progress {
    total: usize,
    succeeded: usize,
    failed: usize,
    panicked: usize,
    cancelled: usize,
}

impl Progress {
    fn finished(&self) -> usize {
        self.succeeded + self.failed + self.panicked + self.cancelled
    }

    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Succeeded { .. } => self.succeeded += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Panicked(_) => self.panicked += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} finished, {} succeeded, {} failed, {} panicked, {} cancelled",
            self.finished(),
            self.total,
            self.succeeded,
            self.failed,
            self.panicked,
            self.cancelled
        )
    }
}

/// One finished download: which, when (from the start of the batch), how, and the progress after it.
#[derive(Debug, Clone)]
struct Finished {
    file: &'static str,
    at: Duration,
    outcome: Outcome,
    progress: Progress,
}

/// Sends panics to the log as one `ERROR` line (time, thread, where, message), as services do.
///
/// Rust's default hook writes the panic to stderr, and when `RUST_BACKTRACE` is set it first captures
/// and prints a backtrace. The hook runs on the panicking thread, which here is the only thread: on
/// the machine this was written on, the backtrace took about 200 ms and showed up as a 215 ms gap in
/// the heartbeat. Either way the runtime catches the task's panic afterwards and `join_next` hands
/// it over as a `JoinError`.
fn log_panics_as_errors() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!("panic at {location}: {}", panic_message(info.payload()));
    }));
}

/// The longest time between two ticks (or before the first one).
fn longest_gap(ticks: &[Duration]) -> Duration {
    let mut previous = Duration::ZERO;
    let mut longest = Duration::ZERO;
    for &t in ticks {
        longest = longest.max(t - previous);
        previous = t;
    }
    longest
}

/// Everything the summary prints, measured in `main`.
struct Report {
    batch: Vec<Finished>,
    invoices: Vec<Finished>,
    polled: Duration,
    sum: i32,
    waits: u32,
    chained: i32,
    chain_took: Duration,
    shared_values: Vec<i32>,
    computed: usize,
    ticks: Vec<Duration>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order: Vec<String> = self
            .batch
            .iter()
            .map(|f| format!("{} {}", f.file, fmt_duration(f.at)))
            .collect();
        let final_progress = self.batch.last().map(|f| f.progress).unwrap_or_default();
        let mut told_apart = Vec::new();
        for f in self.batch.iter().chain(&self.invoices) {
            match &f.outcome {
                Outcome::Failed(error) => told_apart.push(format!("error {error:?}")),
                Outcome::Panicked(message) => told_apart.push(format!("panic {message:?}")),
                Outcome::Cancelled => told_apart.push(format!("cancelled {}", f.file)),
                Outcome::Succeeded { .. } => {}
            }
        }
        let gap = longest_gap(&self.ticks);
        writeln!(f)?;
        writeln!(f, "Summary")?;
        writeln!(f, "  completion order: {}", order.join(", "))?;
        writeln!(f, "  progress: {final_progress}")?;
        writeln!(f, "  told apart: {}", told_apart.join(" | "))?;
        writeln!(
            f,
            "  polled slow_add(3, 4) every {}: \"Waiting for the result...\" {} times (ideal {}), result {} after {}",
            fmt_duration(POLL_EVERY),
            self.waits,
            SLOW_ADD_DELAY.as_millis() / POLL_EVERY.as_millis(),
            self.sum,
            fmt_duration(self.polled)
        )?;
        writeln!(
            f,
            "  continuation initial_task().map(next_task).then(store_result): {} after {} (ideal {})",
            self.chained,
            fmt_duration(self.chain_took),
            fmt_duration(INITIAL_TASK_DELAY + STORE_DELAY)
        )?;
        writeln!(
            f,
            "  shared result: {READERS} readers got {:?}, computed {} time(s) (ideal 1)",
            self.shared_values, self.computed
        )?;
        writeln!(
            f,
            "  heartbeat: {} ticks, longest gap {} (ideal {}): {}",
            self.ticks.len(),
            fmt_duration(gap),
            fmt_duration(HEARTBEAT),
            heartbeat_verdict(gap, HEARTBEAT)
        )
    }
}

#[cfg(test)]
mod tests {
    //! On tokio's paused clock, time jumps to the next timer when every task waits: the times below
    //! are exact. (The deadline, 700 ms, is chosen to coincide with no download or tick, so the
    //! order of events is never a tie.)
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn files_and_times(finished: &[Finished]) -> Vec<(&'static str, Duration)> {
        finished.iter().map(|f| (f.file, f.at)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn results_come_in_completion_order_not_spawn_order() {
        let finished = download_all(&FILES, DEADLINE).await;
        assert_eq!(
            files_and_times(&finished),
            [
                ("orders.csv", ms(300)),
                ("payments.csv", ms(450)),
                ("users.csv", ms(600)),
                ("products.csv", ms(700)),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn progress_reaches_4_of_4_with_the_right_split() {
        let finished = download_all(&FILES, DEADLINE).await;
        let lines: Vec<String> = finished.iter().map(|f| f.progress.to_string()).collect();
        assert_eq!(
            lines,
            [
                "1/4 finished, 1 succeeded, 0 failed, 0 panicked, 0 cancelled",
                "2/4 finished, 1 succeeded, 1 failed, 0 panicked, 0 cancelled",
                "3/4 finished, 2 succeeded, 1 failed, 0 panicked, 0 cancelled",
                "4/4 finished, 2 succeeded, 1 failed, 0 panicked, 1 cancelled",
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_a_panic_and_a_cancellation_are_told_apart() {
        let files = [FILES[2], INVOICES, FILES[3], FILES[1]];
        let finished = download_all(&files, DEADLINE).await;
        let outcomes: Vec<(&str, Outcome)> = finished
            .iter()
            .map(|f| (f.file, f.outcome.clone()))
            .collect();
        assert_eq!(
            outcomes,
            [
                (
                    "invoices.csv",
                    Outcome::Panicked("invoices.csv: malformed row 17".into())
                ),
                ("orders.csv", Outcome::Succeeded { rows: 5400 }),
                (
                    "payments.csv",
                    Outcome::Failed("payments.csv: server returned 500".into())
                ),
                ("products.csv", Outcome::Cancelled),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_deadline_in_reach_nothing_is_cancelled() {
        let finished = download_all(&FILES, ms(2000)).await;
        let last = finished.last().expect("four records");
        assert_eq!((last.file, last.at), ("products.csv", ms(900)));
        assert_eq!(last.outcome, Outcome::Succeeded { rows: 87 });
        assert_eq!(last.progress.cancelled, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn join_all_waits_for_the_slowest_and_keeps_argument_order() {
        // `asyncio.gather` for contrast: no result is available before the last one is.
        let (results, took) = time_async(futures::future::join_all(FILES.map(download))).await;
        assert_eq!(took, ms(900));
        let rows: Vec<Option<u32>> = results.into_iter().map(Result::ok).collect();
        assert_eq!(rows, [Some(1200), Some(5400), None, Some(87)]);
    }

    #[tokio::test(start_paused = true)]
    async fn polling_waits_exactly_four_times_and_gets_the_result() {
        let (polling, took) = time_async(wait_with_polling()).await;
        assert_eq!(polling.expect("no panic"), (7, 4), "(result, waits)");
        assert_eq!(took, ms(900), "the timeouts did not slow the task down");
    }

    #[tokio::test(start_paused = true)]
    async fn the_continuation_chains_map_and_then() {
        let (value, took) = time_async(continuation()).await;
        assert_eq!(value, 10);
        assert_eq!(took, ms(300 + 100));
    }

    #[tokio::test(start_paused = true)]
    async fn five_readers_share_one_computation() {
        let (shared, took) = time_async(share_one_result()).await;
        let (values, computed) = shared.expect("no reader panics");
        assert_eq!(values, [10; READERS]);
        assert_eq!(computed, 1, "computed once, not once per reader");
        assert_eq!(
            took,
            ms(300),
            "every reader waited for the same computation"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_heartbeat_keeps_ticking_while_main_waits() {
        let heartbeat = Heartbeat::start(HEARTBEAT);
        let ((), took) = time_async(async {
            download_all(&FILES, DEADLINE).await;
            wait_with_polling().await.expect("no panic");
        })
        .await;
        let ticks = heartbeat
            .stop()
            .await
            .expect("the heartbeat does not panic");
        assert_eq!(took, ms(700 + 900));
        // A tick every 150 ms from start to end, none late: 1600 ms / 150 ms = 10 ticks.
        assert_eq!(ticks.len(), 10, "{ticks:?}");
        assert_eq!(longest_gap(&ticks), HEARTBEAT, "{ticks:?}");
    }

    /// The paused clock cannot see a blocked thread: it stands still while the thread is blocked,
    /// so a `std::thread::sleep` in `download` costs no time there. This test runs once on the
    /// real clock, where it does: the same work, and the example's own verdict on the gap.
    #[tokio::test]
    async fn on_the_real_clock_waiting_never_blocks_the_heartbeat() {
        // Every 10 ms: a block of the thread longer than the allowance cannot fall between ticks.
        let period = ms(10);
        let heartbeat = Heartbeat::start(period);
        download_all(&FILES, DEADLINE).await;
        wait_with_polling().await.expect("no panic");
        continuation().await;
        share_one_result().await.expect("no reader panics");
        let ticks = heartbeat
            .stop()
            .await
            .expect("the heartbeat does not panic");
        // A tick up to 100 ms late still passes (a busy machine); a `download` that blocked the
        // thread for 120 ms would hold back a tick by at least that.
        let gap = longest_gap(&ticks);
        assert_eq!(
            heartbeat_verdict(gap, period),
            "waiting never blocked the thread",
            "longest gap {gap:?}"
        );
        // 700 + 900 + 400 + 300 ms of waiting: about 230 ticks, half of them at the very least.
        assert!(ticks.len() >= 115, "{} ticks", ticks.len());
    }

    #[test]
    fn the_heartbeat_verdict_follows_the_gap() {
        assert_eq!(
            heartbeat_verdict(ms(151), HEARTBEAT),
            "waiting never blocked the thread"
        );
        assert_eq!(
            heartbeat_verdict(ms(250), HEARTBEAT),
            "waiting never blocked the thread"
        );
        // The run of the issue: a `std::thread::sleep(120 ms)` in `download` and a 270 ms gap,
        // printed beside "waiting never blocked the thread"; 480 ms when four block in a row.
        assert_eq!(
            heartbeat_verdict(ms(270), HEARTBEAT),
            "the thread was blocked: a tick came 120 ms late"
        );
        assert_eq!(
            heartbeat_verdict(ms(630), HEARTBEAT),
            "the thread was blocked: a tick came 480 ms late"
        );
    }
}
