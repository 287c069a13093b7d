//! # 05 · Heavy functions, with threads: the same CPU work on 1 thread, one per core, and too many
//!
//! The same job as `examples-async/src/bin/05_run_heavy_functions/main.rs`: four calls of `heavy_sum`
//! (the sum of `i * i` over a range, sized at start-up to about 120 ms of CPU a call on this machine
//! and in this build, `--call-ms`: `calibrate.rs`), while the main thread keeps a heartbeat that
//! ticks every 50 ms and records the longest gap between ticks (`heartbeat.rs`).
//!
//! What it shows:
//! - **Sequential**: the four calls one after another on one worker thread.
//! - **One thread per core** (`available_parallelism()` threads, each summing an equal slice of the
//!   job): about `cores` times faster. The speedup is printed next to the ideal.
//! - **More threads than cores** (8 per core): **no faster**. A core runs one thread at a time; the
//!   extra threads only take turns (and cost a stack and a context switch each). The log shows all
//!   of them starting at once and finishing together near the end: the OS slices the cores among them.
//! - **A responsive main thread** all along: the OS **preempts** busy threads, so the heartbeat on
//!   `main` keeps time even with every core busy. The three ways compute the same total (checked).
//!   The verdicts are computed from the figures (`report.rs`, which says why they depend on the load).
//!
//! What differs from the async twin: there is no "freeze" to show, since a thread that computes
//! blocks only itself (threads switch preemptively, tasks only at an `.await`: the seed's "Asynchrony
//! vs Multithreading"); threads are the pool here, where the async twin borrows threads
//! (`spawn_blocking`, rayon) to keep its runtime thread free.
//!
//! Seed: "Asynchrony" > "Asynchrony vs Multithreading" (timelines 2 and 4), Challenges and
//! Considerations ("Scalability Considerations"). Upstream: `src/cpp/asynchrony/heavy_functions.cpp`
//! (four `std::async` tasks; waits for an Enter), `src/python/asynchrony/run_heavy_functions.py`.
//!
//! This file is the lesson: the work, the three ways, `main`. Proofs: `tests.rs`.
//! Run: `cargo run -p examples-threads --bin 05_run_heavy_functions_threads` (about 2 s).
//! Output of a real run: `docs/output/05_run_heavy_functions_threads.txt`.

mod calibrate;
mod heartbeat;
mod report;

use std::hint::black_box;
use std::ops::Range;
use std::thread;
use std::time::Duration;

use anyhow::anyhow;
use calibrate::calibrate;
use clap::Parser;
use common::{fmt_duration, init_logging};
use heartbeat::with_heartbeat;
use report::{AtOnce, available_cores, print_summary};
use tracing::info;

#[derive(Parser, Debug)]
#[command(
    about = "05 · Heavy functions, with threads: the same CPU-bound calls on 1 thread, one thread \
             per core and 8 per core (no faster), while the main thread's heartbeat keeps time",
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
/// Threads per core in the oversubscribed run.
const THREADS_PER_CORE: usize = 8;

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
fn logged_call(what: &str, number: usize, of: usize, range: Range<u64>) -> u64 {
    let _running = AtOnce::enter();
    info!("{what} {number}/{of}: start");
    let sum = heavy_sum(range);
    info!("{what} {number}/{of}: done");
    sum
}

/// Way 1: each call in turn, on the calling thread.
fn sequential(calls: Vec<Range<u64>>) -> u64 {
    let of = calls.len();
    calls
        .into_iter()
        .enumerate()
        .map(|(i, range)| logged_call("call", i + 1, of, range))
        .fold(0, u64::wrapping_add)
}

/// Ways 2 and 3: the whole job cut into `threads` equal slices, one named thread each.
///
/// Scoped threads (`thread::scope`) may borrow from this function and are all joined before it
/// returns; a thread that panicked comes back as `Err` from its `join`.
fn on_threads(calls: Vec<Range<u64>>, threads: usize, name: &str) -> anyhow::Result<u64> {
    let whole = calls.first().map_or(0, |c| c.start)..calls.last().map_or(0, |c| c.end);
    let slices = split(whole, threads);
    let of = slices.len();
    thread::scope(|scope| {
        let mut handles = Vec::with_capacity(of);
        for (i, slice) in slices.into_iter().enumerate() {
            let handle = thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn_scoped(scope, move || logged_call("slice", i + 1, of, slice))?;
            handles.push(handle);
        }
        let mut total = 0u64;
        for handle in handles {
            let sum = handle
                .join()
                .map_err(|_| anyhow!("a {name} thread panicked"))?;
            total = total.wrapping_add(sum);
        }
        Ok(total)
    })
}

/// `range` cut into `parts` consecutive slices of (nearly) equal length, covering it exactly once.
fn split(range: Range<u64>, parts: usize) -> Vec<Range<u64>> {
    let parts = parts.max(1) as u64;
    let len = range.end - range.start;
    (0..parts)
        .map(|p| range.start + len * p / parts..range.start + len * (p + 1) / parts)
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args: Args = common::parse_args();
    init_logging();
    let cores = available_cores();
    let oversubscribed = cores * THREADS_PER_CORE;
    let target = Duration::from_millis(args.call_ms);
    let per_call = calibrate(target);
    info!(
        "{CALLS} calls of heavy_sum, {per_call} squares each (sized for {} a call); \
         available_parallelism: {cores}",
        fmt_duration(target)
    );

    info!("--- 1. sequential: one call after another on one thread ---");
    let (sequential_total, sequential_beat, sequential_took) =
        with_heartbeat(|| sequential(job(CALLS, per_call)))?;

    info!("--- 2. one thread per core: {cores} threads, one slice each ---");
    let (per_core_total, per_core_beat, per_core_took) =
        with_heartbeat(|| on_threads(job(CALLS, per_call), cores, "core"))?;
    let per_core_total = per_core_total?;

    info!(
        "--- 3. more threads than cores: {oversubscribed} threads ({THREADS_PER_CORE} per core) ---"
    );
    let (oversubscribed_total, oversubscribed_beat, oversubscribed_took) =
        with_heartbeat(|| on_threads(job(CALLS, per_call), oversubscribed, "thread"))?;
    let oversubscribed_total = oversubscribed_total?;

    let equal = sequential_total == per_core_total && per_core_total == oversubscribed_total;
    anyhow::ensure!(equal, "the three ways must compute the same total");
    print_summary(
        target,
        cores,
        equal,
        [
            (
                "sequential, 1 thread".to_string(),
                sequential_took,
                sequential_beat,
            ),
            (
                format!("{cores} threads (one per core)"),
                per_core_took,
                per_core_beat,
            ),
            (
                format!("{oversubscribed} threads ({THREADS_PER_CORE} per core)"),
                oversubscribed_took,
                oversubscribed_beat,
            ),
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests;
