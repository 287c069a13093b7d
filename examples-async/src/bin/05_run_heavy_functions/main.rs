//! # 05 · Heavy functions: CPU-bound work next to a heartbeat, three ways
//!
//! Four calls of a CPU-bound function (`heavy_sum`: the sum of `i * i` over a range; upstream sums 30
//! million squares) run while a heartbeat task ticks every 50 ms and records the longest gap between
//! two ticks (`heartbeat.rs`). The heartbeat stands for everything else a program does meanwhile:
//! answering requests, reading input, drawing progress. The work is **sized at start-up** to about
//! 120 ms of CPU a call (`--call-ms`) on this machine, in this build (`calibrate.rs`).
//!
//! What it shows:
//! - **Inline in an `async fn` on a `current_thread` runtime, the heartbeat freezes.** An `async fn`
//!   that never awaits anything runs start to finish in one poll: the only thread is busy for the
//!   whole job, and the longest gap is at least the whole work, not 50 ms. Async is cooperative: a
//!   task gives the thread back only at an `.await` that waits.
//! - **With `tokio::task::spawn_blocking` the heartbeat keeps time.** The call runs on tokio's
//!   blocking pool; the runtime thread only awaits the result. This is the seed's `run_in_executor`.
//! - **Fanned out to all cores with rayon**, the same four calls finish in about `1 / min(4, cores)`
//!   of the time, printed next to `available_parallelism()`, with the calls counted running at once:
//!   the proof of parallelism that holds however busy the machine is. The verdicts follow the
//!   figures (`report.rs`). The three ways compute the same total (checked).
//!
//! Seed: "Asynchrony" > Challenges and Considerations ("Working with Synchronous Functions":
//! `run_in_executor`; "Scalability Considerations": CPU-bound work). Upstream:
//! `src/python/asynchrony/run_heavy_functions.py` (process pool; its bad version commented out),
//! `src/js/asynchrony/05_run_heavy_functions.js` (never exits on a terminal),
//! `src/cpp/asynchrony/heavy_functions.cpp` (waits for an Enter). This one ends by itself.
//! Threads twin: `examples-threads/src/bin/05_run_heavy_functions_threads/main.rs`.
//!
//! This file is the lesson: the work, the three ways, `main`. Proofs: `tests.rs`.
//! Run: `cargo run -p examples-async --bin 05_run_heavy_functions` (about 2 s, debug or release).
//! Output of a real run: `docs/output/05_run_heavy_functions.txt`.

mod calibrate;
mod heartbeat;
mod report;

use std::hint::black_box;
use std::ops::Range;
use std::time::Duration;

use calibrate::calibrate;
use clap::Parser;
use common::{fmt_duration, init_logging};
use heartbeat::with_heartbeat;
use rayon::prelude::*;
use report::{AtOnce, available_cores, print_summary};
use tokio::sync::oneshot;
use tracing::info;

#[derive(Parser, Debug)]
#[command(
    about = "05 · Heavy functions: CPU-bound calls next to a 50 ms heartbeat, inline on the \
             runtime thread (it freezes), with spawn_blocking (it keeps time) and fanned out \
             with rayon (speedup vs available_parallelism)",
    long_about = None
)]
struct Args {
    /// How much CPU time one call of the heavy function should take; the work is sized at
    /// start-up by timing a short run, so the lesson is the same in debug and release builds
    #[arg(long, value_name = "MS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(50..=2000))]
    call_ms: u64,
}

/// How many calls of the heavy function the job makes.
const CALLS: u64 = 4;
/// The heartbeat's period.
const TICK: Duration = Duration::from_millis(50);

/// The CPU-bound function: the sum of `i * i` over `range`, wrapping at 2^64 (upstream's
/// `cpu_bound_function`). No I/O, no waiting: it holds its thread until it returns.
/// `black_box` keeps the compiler from replacing the loop by a formula.
fn heavy_sum(range: Range<u64>) -> u64 {
    let mut sum = 0u64;
    for i in range {
        sum = sum.wrapping_add(black_box(i).wrapping_mul(i));
    }
    sum
}

/// The job: `calls` consecutive ranges of `per_call` numbers, one per call.
fn job(calls: u64, per_call: u64) -> Vec<Range<u64>> {
    (0..calls)
        .map(|c| c * per_call..(c + 1) * per_call)
        .collect()
}

/// One call, logged on whichever thread runs it (the log line names the thread), and counted while
/// it runs (see [`AtOnce`]).
fn logged_call(number: usize, of: usize, range: Range<u64>) -> u64 {
    let _running = AtOnce::enter();
    info!("call {number}/{of}: start");
    let sum = heavy_sum(range);
    info!("call {number}/{of}: done");
    sum
}

/// The mistake: CPU work in an `async fn`. It has no `.await` inside, so one poll runs it to the
/// end, and the thread that polls it (here: the runtime's only one) does nothing else meanwhile.
async fn heavy_call_inline(number: usize, of: usize, range: Range<u64>) -> u64 {
    logged_call(number, of, range)
}

/// Way 1: each call awaited in turn, inline on the runtime thread.
async fn inline_on_runtime(calls: Vec<Range<u64>>) -> u64 {
    let of = calls.len();
    let mut total = 0u64;
    for (i, range) in calls.into_iter().enumerate() {
        // This `.await` does not give the thread back: the future is ready at its first poll.
        total = total.wrapping_add(heavy_call_inline(i + 1, of, range).await);
    }
    total
}

/// Way 2: each call on tokio's blocking pool, awaited in turn. While a call runs there, this task
/// is parked at the `.await` and the runtime thread is free for the heartbeat. This is the seed's
/// `run_in_executor` (Python: `loop.run_in_executor`, `asyncio.to_thread`).
async fn one_by_one_with_spawn_blocking(calls: Vec<Range<u64>>) -> anyhow::Result<u64> {
    let of = calls.len();
    let mut total = 0u64;
    for (i, range) in calls.into_iter().enumerate() {
        // `spawn_blocking` needs a `'static` closure: it may outlive this function, so it owns
        // `range`. The `JoinHandle` gives `Err` if the closure panicked.
        let sum = tokio::task::spawn_blocking(move || logged_call(i + 1, of, range)).await?;
        total = total.wrapping_add(sum);
    }
    Ok(total)
}

/// Way 3: all calls at once on rayon's pool (one thread per core). The runtime thread awaits a
/// `oneshot` that the pool fills in when every call is done: the pattern tokio's docs recommend for
/// CPU-bound work (`spawn_blocking` is sized for blocking I/O, hundreds of threads, not for a CPU
/// pool of one thread per core).
async fn fanned_out_with_rayon(calls: Vec<Range<u64>>) -> anyhow::Result<u64> {
    let (result_tx, result_rx) = oneshot::channel();
    let of = calls.len();
    rayon::spawn(move || {
        let total = calls
            .into_par_iter()
            .enumerate()
            .map(|(i, range)| logged_call(i + 1, of, range))
            .reduce(|| 0, u64::wrapping_add);
        // Fails only if the awaiting side is gone; then nobody wants the result.
        let _ = result_tx.send(total);
    });
    // `Err` if the pool dropped the sender without sending: a call panicked.
    Ok(result_rx.await?)
}

// One thread for the runtime: the lesson is what blocking it does. `spawn_blocking` and rayon bring
// their own threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Args = common::parse_args();
    init_logging();
    // Named pool threads, so the log shows who ran each call.
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("rayon-{i}"))
        .build_global()?;
    let cores = available_cores();
    // Before the heartbeat starts: the calibration itself blocks this thread for a moment.
    let target = Duration::from_millis(args.call_ms);
    let per_call = calibrate(target);
    info!(
        "{CALLS} calls of heavy_sum, {per_call} squares each (sized for {} a call); \
         available_parallelism: {cores}",
        fmt_duration(target)
    );

    info!("--- 1. inline: CPU work in an async fn on the runtime's only thread ---");
    let (inline_total, inline_beat, inline_took) =
        with_heartbeat(inline_on_runtime(job(CALLS, per_call))).await;

    info!("--- 2. spawn_blocking: the same calls on tokio's blocking pool, one at a time ---");
    let (blocking_total, blocking_beat, blocking_took) =
        with_heartbeat(one_by_one_with_spawn_blocking(job(CALLS, per_call))).await;
    let blocking_total = blocking_total?;

    info!("--- 3. rayon: the same calls fanned out to all cores ---");
    let (fanned_total, fanned_beat, fanned_took) =
        with_heartbeat(fanned_out_with_rayon(job(CALLS, per_call))).await;
    let fanned_total = fanned_total?;

    let equal = inline_total == blocking_total && blocking_total == fanned_total;
    anyhow::ensure!(equal, "the three ways must compute the same total");
    print_summary(
        target,
        cores,
        equal,
        [
            ("inline on the runtime thread", inline_took, inline_beat),
            (
                "spawn_blocking, one call at a time",
                blocking_took,
                blocking_beat,
            ),
            ("rayon on all cores", fanned_took, fanned_beat),
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests;
