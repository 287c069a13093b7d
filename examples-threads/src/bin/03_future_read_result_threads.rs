//! # 03 · Read results as they come, with threads: downloads reported in completion order, with a deadline
//!
//! The same four downloads as `examples-async/src/bin/03_future_read_result.rs`, one thread each:
//! `orders.csv` (300 ms), `payments.csv` (450 ms, the server answers 500), `users.csv` (600 ms) and
//! `products.csv` (900 ms, asked to stop at the batch's 700 ms deadline).
//!
//! What it shows:
//! - **Completion order through a channel.** Each thread reports "I am done" on an `mpsc` channel the
//!   moment it ends; the main thread takes those reports in the order they come, `join`s that thread
//!   and updates the live progress line ("2/4 finished, 1 succeeded, 1 failed, 0 panicked,
//!   0 cancelled"). Joining the handles in spawn order instead would read `users.csv` first and sit
//!   on the finished `orders.csv` for 300 ms.
//! - **`JoinHandle::join` turns a panic into `Err`**, so an error the download *returns* (the 500), a
//!   panic (`invoices.csv`, whose parser has a bug) and a cancellation are told apart. This is the
//!   seed's "exceptions through `future.get()`": a C++ `std::future` carries the exception its
//!   thread threw; a Rust `JoinHandle` carries the panic payload.
//! - **Waiting with a deadline, in a loop** (the seed's `future.wait_for(500ms)`): `recv_timeout`
//!   on a one-shot channel gives up on the wait every 200 ms, prints "Waiting for the result..." and
//!   tries again, while `slow_add(3, 4)` keeps computing on its own thread.
//! - **Continuations** (the seed's `.then`): a thread runs `initial_task`, then `next_task` on its
//!   result, then `store_result`: in a thread, "then" is the next line.
//! - **One result, five readers** (the seed's `std::shared_future`): an `Arc<OnceLock<i32>>` that all
//!   five reader threads ask with `get_or_init`. The first to ask computes the value, the others block
//!   until it is there, and it is computed once (counted: five readers race for it).
//!
//! What differs from the async twin, and why:
//! - **A thread cannot be cancelled from outside.** There is no `abort()`: the batch raises a shared
//!   `AtomicBool`, and the download, which works in 50 ms chunks, checks it between chunks and
//!   returns `Err(Cancelled)`. Cancellation is cooperative and takes effect at the next check (C++20
//!   `std::jthread`'s `stop_token` works the same way): in the run below `products.csv` stopped
//!   16 ms after the deadline, at its next check (at most one 50 ms chunk later). A blocking call
//!   that never checks cannot be stopped at all.
//! - **No heartbeat.** In the async twin it proves that awaiting gives the one thread back. Here the
//!   main thread really does block in `recv_timeout`, and nothing else cares: every download has its
//!   own thread. The cost is a kernel thread per download instead of a task.
//! - The completion report is a small guard that sends on drop, so a thread that panics still
//!   reports (unwinding runs destructors); the async twin gets the same from `JoinSet::join_next`.
//!
//! Seed snippets covered: "Asynchronous Waiting with `std::future`" (`wait_for` polling ->
//! `recv_timeout`), "Exception Handling with Asynchronous Operations" (exceptions through
//! `future.get()` -> `Result` and `JoinHandle::join`), "Asynchronous Data Sharing with
//! `std::shared_future`" -> `Arc<OnceLock<T>>`, "Asynchronous Continuations" (`.then`, which never
//! made it into standard C++: it is from the Concurrency TS) -> the next statement in the thread.
//! Upstream: `src/cpp/asynchrony/future.cpp`, `src/cpp/asynchrony/future_timed_wait.cpp`,
//! `src/cpp/asynchrony/async_exception.cpp`, `src/cpp/asynchrony/shared_future.cpp`,
//! `src/python/asynchrony/future_callback.py`.
//!
//! Run: `cargo run -p examples-threads --bin 03_future_read_result_threads` (no flags but `--help`,
//! about 2.5 s).
//!
//! The file reads lesson first: `main`, then the lesson's code in the order `main` uses it, then,
//! below a banner, the support code (the scenario's types, the progress counters, the report).
//!
//! The output will look similar to this (the order of lines from different threads varies):
//!
//! ```text
//!   0.000s  INFO [main] --- four downloads, reported in completion order, deadline 700 ms ---
//!   0.009s  INFO [download-users.csv] users.csv: download started
//!   ...
//!   0.373s  INFO [main] orders.csv: succeeded, 5400 rows | progress 1/4 finished, 1 succeeded, 0 failed, 0 panicked, 0 cancelled
//!   ...
//!   0.701s  INFO [main] deadline: asking 1 unfinished download(s) to stop
//!   0.717s  INFO [download-products.csv] products.csv: asked to stop, stopping
//!   0.717s  INFO [main] products.csv: cancelled | progress 4/4 finished, 2 succeeded, 1 failed, 0 panicked, 1 cancelled
//!   ...
//!   2.248s  INFO [main] --- one result, 5 readers (shared_future) ---
//!   2.248s  INFO [reader-0] compute_value: computing
//!   2.553s  INFO [reader-4] reader 4: 10
//!   ...
//! Summary
//!   completion order: orders.csv 372 ms, payments.csv 492 ms, users.csv 650 ms, products.csv 716 ms
//!   progress: 4/4 finished, 2 succeeded, 1 failed, 0 panicked, 1 cancelled
//!   told apart: error "payments.csv: server returned 500" | cancelled products.csv | panic "invoices.csv: malformed row 17"
//!   polled slow_add(3, 4) every 200 ms: "Waiting for the result..." 4 times (ideal 4), result 7 after 920 ms
//!   continuation next_task(initial_task()) then store_result: 10 after 433 ms (ideal 400 ms)
//!   shared result: 5 readers got [10, 10, 10, 10, 10], computed 1 time(s) (ideal 1)
//! ```

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Parser;
use common::{fmt_duration, init_logging, time};
use tracing::info;

/// No flags: `--help` says what the example shows, and anything else is a one-line error (exit 2).
#[derive(Parser, Debug)]
#[command(
    about = "03 · Read results as they come, with threads: downloads reported in completion order \
             through a channel, join turning a panic into Err, cooperative cancellation, \
             recv_timeout polling, a continuation and one result shared by five threads",
    long_about = None
)]
struct Args {}

/// When the batch asks the downloads still running to stop.
const DEADLINE: Duration = Duration::from_millis(700);
/// How often a download checks whether it was asked to stop: the most a cancellation can lag.
const CHUNK: Duration = Duration::from_millis(50);
/// The seed's `slow_add` (3 s) and its `wait_for` period (500 ms), scaled.
const SLOW_ADD_DELAY: Duration = Duration::from_millis(900);
const POLL_EVERY: Duration = Duration::from_millis(200);
/// The seed's continuation: `initial_task` (2 s there), then a step that stores the result.
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

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();
    log_panics_as_errors();

    info!(
        "--- four downloads, reported in completion order, deadline {} ---",
        fmt_duration(DEADLINE)
    );
    let batch = download_all(&FILES, DEADLINE)?;

    info!("--- a bug is not an error: a download whose parser panics ---");
    let invoices = download_all(&[INVOICES], DEADLINE)?;

    info!("--- waiting with a deadline, in a loop (wait_for) ---");
    let (polling, polled) = time(wait_with_polling);
    let (sum, waits) = polling?;

    info!("--- a continuation: next_task(initial_task()), then store_result ---");
    let (chained, chain_took) = time(continuation);
    let chained = chained?;
    info!("Result: {chained}");

    info!("--- one result, {READERS} readers (shared_future) ---");
    let (shared_values, computed) = share_one_result()?;

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
    };
    common::out!("{}", report.to_string().trim_end());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The lesson's code, in the order `main` uses it.

/// Pretends to download and parse `d.file`, in chunks, checking `stop` between them.
fn download(d: Download, stop: &AtomicBool) -> Result<u32, DownloadError> {
    info!("{}: download started", d.file);
    // Nobody can stop a thread from outside: it has to look. A check every `CHUNK` bounds how long
    // a cancellation can take to land.
    let mut left = d.delay;
    while !left.is_zero() {
        if stop.load(Ordering::SeqCst) {
            info!("{}: asked to stop, stopping", d.file);
            return Err(DownloadError::Cancelled);
        }
        let chunk = left.min(CHUNK);
        thread::sleep(chunk);
        left -= chunk;
    }
    match d.plan {
        Plan::Rows(rows) => Ok(rows),
        Plan::ServerError(status) => Err(DownloadError::Server {
            file: d.file,
            status,
        }),
        // A panic is a bug, not an error: nobody can handle "the parser is wrong". It unwinds this
        // thread only; `join` hands it to whoever joins the thread.
        Plan::Corrupt => panic!("{}: malformed row 17", d.file),
    }
}

/// Sends "thread `index` is done" when dropped, which happens when the thread's closure ends:
/// by returning, or by a panic (unwinding runs destructors). Without it, a panicked thread would
/// never report, and the batch would only find out by joining every handle in turn.
struct ReportWhenDone {
    done: mpsc::Sender<usize>,
    index: usize,
}

impl Drop for ReportWhenDone {
    fn drop(&mut self) {
        // Fails only if the batch has stopped listening, and then nobody needs the report.
        let _ = self.done.send(self.index);
    }
}

/// Starts one thread per download, handles each as it finishes, and asks whatever is still running
/// at `deadline` to stop. The records come back in completion order.
fn download_all(files: &[Download], deadline: Duration) -> anyhow::Result<Vec<Finished>> {
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let (done, reports) = mpsc::channel();
    let mut handles = Vec::new();
    for (index, &d) in files.iter().enumerate() {
        let stop = stop.clone();
        let report = ReportWhenDone {
            done: done.clone(),
            index,
        };
        // `thread::spawn` with a name, so the log shows which thread did what; `Builder::spawn`
        // returns the OS's refusal to start a thread as an error where `thread::spawn` would panic.
        let handle = thread::Builder::new()
            .name(format!("download-{}", d.file))
            .spawn(move || {
                // Named, so it lives to the end of the closure (`let _ = ...` would drop it at once).
                let _report = report;
                download(d, &stop)
            })?;
        handles.push(Some((d.file, handle)));
    }
    // Only the threads' senders are left: once every thread has reported, `recv` says so.
    drop(done);
    let mut progress = Progress {
        total: files.len(),
        ..Progress::default()
    };
    let mut stopping = false;
    let mut finished = Vec::new();
    loop {
        let report = if stopping {
            reports.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            reports.recv_timeout((start + deadline).saturating_duration_since(Instant::now()))
        };
        match report {
            Ok(index) => {
                let (file, handle) = handles[index].take().expect("each thread reports once");
                // The thread has finished its work; `join` waits the last instant for it to exit
                // and hands back its return value, or `Err` with the panic.
                let outcome = classify(handle.join());
                progress.count(&outcome);
                info!("{file}: {outcome} | progress {progress}");
                finished.push(Finished {
                    file,
                    at: start.elapsed(),
                    outcome,
                    progress,
                });
            }
            // Once: raise the flag. The stopped threads still report, as cancelled.
            Err(RecvTimeoutError::Timeout) => {
                let running = handles.iter().flatten().count();
                info!("deadline: asking {running} unfinished download(s) to stop");
                stop.store(true, Ordering::SeqCst);
                stopping = true;
            }
            // Every thread has reported.
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(finished)
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

/// The seed's "exceptions through `future.get()`": everything that can happen to a thread, told
/// apart. `thread::Result<T>` is `Result<T, Box<dyn Any + Send>>`: `Err` holds the panic payload.
fn classify(joined: thread::Result<Result<u32, DownloadError>>) -> Outcome {
    match joined {
        Ok(Ok(rows)) => Outcome::Succeeded { rows },
        Ok(Err(DownloadError::Cancelled)) => Outcome::Cancelled,
        Ok(Err(error)) => Outcome::Failed(error.to_string()),
        Err(payload) => Outcome::Panicked(panic_message(payload.as_ref())),
    }
}

/// The seed's `slow_add`: 3 + 4, slowly.
fn slow_add(a: i32, b: i32) -> i32 {
    thread::sleep(SLOW_ADD_DELAY);
    a + b
}

/// The seed's `while (future.wait_for(500ms) != ready) { "Waiting for the result..." }`.
/// Returns the result and how many waits ran out before it was there.
fn wait_with_polling() -> anyhow::Result<(i32, u32)> {
    let (result_tx, result_rx) = mpsc::sync_channel(1);
    let worker = thread::Builder::new()
        .name("slow-add".into())
        .spawn(move || {
            let _ = result_tx.send(slow_add(3, 4));
        })?;
    let mut waits = 0;
    let result = loop {
        // Gives up on this wait after `POLL_EVERY`; the worker is not affected.
        match result_rx.recv_timeout(POLL_EVERY) {
            Ok(sum) => break sum,
            Err(RecvTimeoutError::Timeout) => {
                waits += 1;
                info!("Waiting for the result...");
            }
            // The worker ended without sending: it panicked. `join` says how.
            Err(RecvTimeoutError::Disconnected) => {
                return Err(match worker.join() {
                    Err(panic) => anyhow!("slow_add panicked: {}", panic_message(&*panic)),
                    Ok(()) => anyhow!("slow_add ended without a result"),
                });
            }
        }
    };
    worker.join().map_err(|_| anyhow!("slow-add panicked"))?;
    info!("Result: {result}");
    Ok((result, waits))
}

fn initial_task() -> i32 {
    info!("initial_task: working");
    thread::sleep(INITIAL_TASK_DELAY);
    5
}

fn next_task(input: i32) -> i32 {
    info!("next_task: doubling {input}");
    input * 2
}

fn store_result(value: i32) -> i32 {
    info!("store_result: storing {value}");
    thread::sleep(STORE_DELAY);
    value
}

/// The seed's continuation, `std::async(initial_task).then(next_task)`, then one more step: on a
/// thread of its own, "then" is simply the next call.
fn continuation() -> anyhow::Result<i32> {
    let chain = thread::Builder::new()
        .name("continuation".into())
        .spawn(|| store_result(next_task(initial_task())))?;
    chain
        .join()
        .map_err(|_| anyhow!("the continuation panicked"))
}

/// The seed's `std::shared_future`: five readers want one computation. Each asks the same `OnceLock`
/// with `get_or_init`: the first to ask computes the value, the others block until it is there, and
/// nobody computes it twice (as in the async twin, where the first clone polled drives the work).
/// Returns what each reader got and how many times the value was computed.
fn share_one_result() -> anyhow::Result<(Vec<i32>, usize)> {
    let computed = Arc::new(AtomicUsize::new(0));
    // A producer that can fail should store a `Result` (as `std::shared_future` stores the
    // exception): a panic inside `get_or_init` leaves the lock empty for the next reader to try.
    let value: Arc<OnceLock<i32>> = Arc::new(OnceLock::new());
    let mut readers = Vec::new();
    for i in 0..READERS {
        let value = value.clone();
        let computed = computed.clone();
        let reader = thread::Builder::new()
            .name(format!("reader-{i}"))
            .spawn(move || {
                let v = *value.get_or_init(|| compute_value(&computed));
                info!("reader {i}: {v}");
                v
            })?;
        readers.push(reader);
    }
    let mut values = Vec::new();
    for reader in readers {
        values.push(reader.join().map_err(|_| anyhow!("a reader panicked"))?);
    }
    Ok((values, computed.load(Ordering::SeqCst)))
}

/// The seed's `compute_value`: 10, slowly, counting its calls.
fn compute_value(computed: &AtomicUsize) -> i32 {
    computed.fetch_add(1, Ordering::SeqCst);
    info!("compute_value: computing");
    thread::sleep(COMPUTE_DELAY);
    10
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

/// What a download *returns* when it does not succeed: expected, handled by the caller. A thread
/// has no outside cancellation, so "I stopped because I was asked to" is one of its answers.
#[derive(Debug, Clone, PartialEq)]
enum DownloadError {
    Server { file: &'static str, status: u16 },
    Cancelled,
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownloadError::Server { file, status } => {
                write!(f, "{file}: server returned {status}")
            }
            DownloadError::Cancelled => write!(f, "cancelled"),
        }
    }
}

impl std::error::Error for DownloadError {}

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

/// Sends panics to the log as one `ERROR` line (time, thread, where, message), as services do, and
/// as the async twin does. Rust's default hook writes "thread '...' panicked at ..." to stderr, and
/// a backtrace too when `RUST_BACKTRACE` is set; either way `join` gets the panic afterwards.
fn log_panics_as_errors() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!("panic at {location}: {}", panic_message(info.payload()));
    }));
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
            "  continuation next_task(initial_task()) then store_result: {} after {} (ideal {})",
            self.chained,
            fmt_duration(self.chain_took),
            fmt_duration(INITIAL_TASK_DELAY + STORE_DELAY)
        )?;
        writeln!(
            f,
            "  shared result: {READERS} readers got {:?}, computed {} time(s) (ideal 1)",
            self.shared_values, self.computed
        )
    }
}

#[cfg(test)]
mod tests {
    //! Real time, on a machine that may be busy: lower bounds are exact (a sleep never ends early),
    //! upper bounds generous. Where an order is asserted, the files finish 200 ms apart, far more
    //! than a loaded machine delays a waking thread; the deadline falls 400 ms from any finish.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The batch for the order tests: started slowest-first, so spawn order is the reverse of
    /// completion order; `products.csv` would take 5 s and is stopped at the 900 ms deadline.
    const SPREAD: [Download; 4] = [
        download_of("users.csv", 500, Plan::Rows(1200)),
        download_of("payments.csv", 300, Plan::ServerError(500)),
        download_of("orders.csv", 100, Plan::Rows(5400)),
        download_of("products.csv", 5000, Plan::Rows(87)),
    ];
    const SPREAD_DEADLINE: Duration = Duration::from_millis(900);

    #[test]
    fn results_come_in_completion_order_not_spawn_order() {
        let finished = download_all(&SPREAD, SPREAD_DEADLINE).expect("spawn works");
        let files: Vec<&str> = finished.iter().map(|f| f.file).collect();
        assert_eq!(
            files,
            ["orders.csv", "payments.csv", "users.csv", "products.csv"]
        );
        // Each reported no earlier than it could, and the first long before the last.
        let at: Vec<Duration> = finished.iter().map(|f| f.at).collect();
        assert!(at[0] >= ms(100) && at[0] < ms(400), "{at:?}");
        assert!(at[1] >= ms(300) && at[2] >= ms(500), "{at:?}");
    }

    #[test]
    fn progress_reaches_4_of_4_with_the_right_split() {
        let finished = download_all(&SPREAD, SPREAD_DEADLINE).expect("spawn works");
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

    #[test]
    fn a_cancelled_thread_stops_soon_after_the_deadline_not_at_its_end() {
        let finished = download_all(&SPREAD, SPREAD_DEADLINE).expect("spawn works");
        let products = finished.last().expect("four records");
        assert_eq!(products.outcome, Outcome::Cancelled);
        assert!(products.at >= SPREAD_DEADLINE, "{:?}", products.at);
        // It checks every 50 ms; its full download would take 5 s.
        assert!(
            products.at < SPREAD_DEADLINE + ms(1000),
            "{:?}",
            products.at
        );
    }

    #[test]
    fn an_error_a_panic_and_a_cancellation_are_told_apart() {
        let files = [SPREAD[1], INVOICES, SPREAD[3], SPREAD[2]];
        let finished = download_all(&files, SPREAD_DEADLINE).expect("spawn works");
        let mut outcomes: Vec<(&str, Outcome)> = finished
            .iter()
            .map(|f| (f.file, f.outcome.clone()))
            .collect();
        // Which finished first is the test above's business; here only how each ended.
        outcomes.sort_by_key(|(file, _)| *file);
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
        assert_eq!(
            finished.last().expect("four records").progress.to_string(),
            "4/4 finished, 1 succeeded, 1 failed, 1 panicked, 1 cancelled"
        );
    }

    #[test]
    fn polling_waits_in_a_loop_and_gets_the_result() {
        let (polling, took) = time(wait_with_polling);
        let (result, waits) = polling.expect("slow_add does not panic");
        assert_eq!(result, 7);
        assert!(took >= SLOW_ADD_DELAY, "{took:?}");
        // At least one wait ran out (the result takes 900 ms, a wait 200 ms), and each that ran out
        // lasted its full 200 ms. The exact count, 4, is proven on the async twin's paused clock.
        assert!(waits >= 1, "{waits}");
        assert!(POLL_EVERY * waits <= took, "{waits} waits in {took:?}");
    }

    #[test]
    fn the_continuation_runs_each_step_after_the_previous() {
        let (value, took) = time(continuation);
        assert_eq!(value.expect("no panic"), 10);
        assert!(took >= INITIAL_TASK_DELAY + STORE_DELAY, "{took:?}");
    }

    #[test]
    fn five_readers_share_one_computation() {
        let (shared, took) = time(share_one_result);
        let (values, computed) = shared.expect("no thread panics");
        assert_eq!(values, [10; READERS]);
        // Five readers race to `get_or_init`: one computes, four wait. A reader computing for
        // itself would make this 5.
        assert_eq!(computed, 1, "computed once, not once per reader");
        assert!(took >= COMPUTE_DELAY, "{took:?}");
    }
}
