//! # 03 · Read results as they come, with threads: downloads reported in completion order, with a deadline
//!
//! The same four downloads as `examples-async/src/bin/03_future_read_result/`, one thread each:
//! `orders.csv` (300 ms), `payments.csv` (450 ms, the server answers 500), `users.csv` (600 ms) and
//! `products.csv` (900 ms, asked to stop at the batch's 700 ms deadline).
//!
//! - **Completion order through a channel.** Each thread reports "I am done" on an `mpsc` channel the
//!   moment it ends; the main thread takes those reports in the order they come, `join`s that thread
//!   and updates the live progress line ("2/4 finished, 1 succeeded, 1 failed, 0 panicked,
//!   0 cancelled"). Joining the handles in spawn order instead would read `users.csv` first and sit
//!   on the finished `orders.csv` for 300 ms.
//! - **Cancellation is cooperative**: no thread can be stopped from outside ([`download`] says how).
//! - Then one module per further lesson, which `main` runs in this order, as in the async twin:
//!   `outcome.rs` (an error, a panic and a cancellation told apart), `polling.rs` (the seed's
//!   `wait_for` loop), `continuation.rs` (`.then`), `shared.rs` (`shared_future`). `files.rs` and
//!   `progress.rs` hold the scenario and its counters, `report.rs` the summary, `tests.rs` the proofs.
//!
//! Differs from the async twin: **no heartbeat** (no `heartbeat.rs`). There it proves that awaiting
//! gives the one thread back; here the main thread really does block in `recv_timeout`, and nothing
//! else cares: every download has its own thread, at the cost of a kernel thread per download.
//!
//! Seed: "Asynchronous Waiting", "Exception Handling with Asynchronous Operations", `shared_future`,
//! "Asynchronous Continuations". Upstream: in `src/cpp/asynchrony/`: `future.cpp`,
//! `future_timed_wait.cpp`, `async_exception.cpp`, `shared_future.cpp`; and
//! `src/python/asynchrony/future_callback.py`.
//!
//! Run: `cargo run -p examples-threads --bin 03_future_read_result_threads` (no flags but `--help`,
//! about 2.5 s). Output of a real run: `docs/output/03_future_read_result_threads.txt`.

mod continuation;
mod files;
mod outcome;
mod polling;
mod progress;
mod report;
mod shared;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{fmt_duration, init_logging, time};
use tracing::info;

use files::{Download, DownloadError, Plan, download_of};
use outcome::{classify, log_panics_as_errors};
use progress::{Finished, Progress};

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
    let (polling, polled) = time(polling::wait_with_polling);
    let (sum, waits) = polling?;

    info!("--- a continuation: next_task(initial_task()), then store_result ---");
    let (chained, chain_took) = time(continuation::continuation);
    let chained = chained?;
    info!("Result: {chained}");

    info!(
        "--- one result, {} readers (shared_future) ---",
        shared::READERS
    );
    let (shared_values, computed) = shared::share_one_result()?;

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
    };
    common::out!("{}", report.to_string().trim_end());
    Ok(())
}

/// Pretends to download and parse `d.file`, in chunks, checking `stop` between them.
///
/// **A thread cannot be cancelled from outside.** There is no `abort()`: the batch raises a shared
/// `AtomicBool`, and the download, which works in [`CHUNK`]s, checks it between chunks and returns
/// `Err(Cancelled)`. Cancellation is cooperative and takes effect at the next check, at most one
/// chunk after the deadline (C++20 `std::jthread`'s `stop_token` works the same way). A blocking
/// call that never checks cannot be stopped at all.
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
/// never report, and the batch would only find out by joining every handle in turn. (The async twin
/// gets the same from `JoinSet::join_next`.)
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

#[cfg(test)]
mod tests;
