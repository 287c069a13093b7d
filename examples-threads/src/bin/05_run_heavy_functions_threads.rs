//! # 05 · Heavy functions, with threads: the same CPU work on 1 thread, one per core, and too many
//!
//! The same job as `examples-async/src/bin/05_run_heavy_functions.rs`: four calls of `heavy_sum`
//! (the sum of `i * i` over 12 million numbers, about 130 ms a call in a debug build), while the
//! main thread keeps a heartbeat that ticks every 50 ms and records the longest gap between ticks.
//!
//! What it shows:
//! - **Sequential**: the four calls one after another on one worker thread.
//! - **One thread per core** (`available_parallelism()` threads, each summing an equal slice of the
//!   job): about `cores` times faster. The speedup is printed next to the ideal.
//! - **More threads than cores** (8 per core): **no faster**. A core runs one thread at a time; the
//!   extra threads only take turns (and cost a stack and a context switch each). The log shows all
//!   of them starting at once and finishing together near the end: the OS slices the cores among
//!   them. Printed, not asserted: how much it costs depends on the machine. (On a machine shared
//!   with other busy programs it can even look faster: the scheduler shares the cores out per
//!   thread, so more threads take a bigger share from the other programs. That is not a speedup.)
//! - **A responsive main thread** all along: the OS **preempts** busy threads, so the heartbeat on
//!   `main` keeps time even with every core busy. The three ways compute the same total (checked).
//!
//! What differs from the async twin, and why:
//! - There is no "freeze" to show: a thread that computes blocks only itself. In the async twin, CPU
//!   work inline on the runtime thread stops every task on it, because tasks switch cooperatively,
//!   only at an `.await`. Threads switch preemptively (the seed's "Asynchrony vs Multithreading").
//! - The heartbeat is not a task but the main thread itself, sleeping in
//!   `Receiver::recv_timeout`: it wakes every tick, or at once when the work is done.
//! - Threads are the pool here; the async twin borrows threads (`spawn_blocking`, rayon) so that the
//!   runtime thread stays free.
//!
//! Seed: "Asynchrony" > "Asynchrony vs Multithreading" (timelines 2 and 4), Challenges and
//! Considerations ("Scalability Considerations": CPU-bound work). Upstream:
//! `src/cpp/asynchrony/heavy_functions.cpp` (four `std::async` tasks; waits for an Enter at the end),
//! `src/python/asynchrony/run_heavy_functions.py`. This one needs no input and ends by itself.
//!
//! Run: `cargo run -p examples-threads --bin 05_run_heavy_functions_threads` (no flags, about 1.5 s
//! in a debug build).
//!
//! The output will look similar to this (a 2-core machine; the order of lines varies):
//!
//! ```text
//!   0.000s  INFO [main] --- 1. sequential: one call after another on one thread ---
//!   0.000s  INFO [cruncher] call 1/4: start
//!   0.000s  INFO [main] heartbeat 1
//!   0.050s  INFO [main] heartbeat 2
//!   ...
//!   1.100s  INFO [thread-0] slice 1/16: start
//!   1.100s  INFO [thread-1] slice 2/16: start
//!   ...
//!   sequential, 1 thread: 540 ms, main heartbeat longest gap 52 ms (tick 50 ms): kept time
//!   2 threads (one per core): 280 ms, main heartbeat longest gap 51 ms (tick 50 ms): kept time
//!   16 threads (8 per core): 290 ms, main heartbeat longest gap 55 ms (tick 50 ms): kept time
//!   sequential 540 ms | one thread per core 280 ms | 1.93x, ideal 2.00x (available_parallelism 2)
//!   one thread per core 280 ms | 8 threads per core 290 ms | 0.97x, ideal 1.00x: more threads than cores gain nothing
//!   results equal: yes
//! ```

use std::hint::black_box;
use std::ops::Range;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, available_parallelism};
use std::time::{Duration, Instant};

use common::{Comparison, fmt_duration, init_logging, time};
use tracing::{info, warn};

/// How many calls of the heavy function the job makes.
const CALLS: u64 = 4;
/// Squares summed by one call: about 130 ms in a debug build on a 2-core machine of 2026.
const SQUARES_PER_CALL: u64 = 12_000_000;
/// The heartbeat's period.
const TICK: Duration = Duration::from_millis(50);
/// How late a tick may come, on a busy machine, and still count as "kept time".
const LATE: Duration = Duration::from_millis(100);
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

/// `range` cut into `parts` consecutive slices of (nearly) equal length, covering it exactly once.
fn split(range: Range<u64>, parts: usize) -> Vec<Range<u64>> {
    let parts = parts.max(1) as u64;
    let len = range.end - range.start;
    (0..parts)
        .map(|p| range.start + len * p / parts..range.start + len * (p + 1) / parts)
        .collect()
}

/// One call, logged on whichever thread runs it (the log line names the thread).
fn logged_call(what: &str, number: usize, of: usize, range: Range<u64>) -> u64 {
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
                .map_err(|_| anyhow::anyhow!("a {name} thread panicked"))?;
            total = total.wrapping_add(sum);
        }
        Ok(total)
    })
}

/// What the heartbeat saw.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Heartbeat {
    ticks: u32,
    longest_gap: Duration,
}

impl Heartbeat {
    fn kept_time(&self) -> bool {
        self.longest_gap <= TICK + LATE
    }

    fn verdict(&self) -> &'static str {
        if self.kept_time() {
            "kept time"
        } else {
            "froze"
        }
    }
}

/// Runs `work` on a `cruncher` thread while this thread keeps a heartbeat every [`TICK`]; returns
/// the work's output, what the heartbeat saw and how long the work took.
fn with_heartbeat<T: Send>(
    work: impl FnOnce() -> T + Send,
) -> anyhow::Result<(T, Heartbeat, Duration)> {
    let (done_tx, done_rx) = mpsc::channel();
    thread::scope(|scope| {
        let cruncher = thread::Builder::new()
            .name("cruncher".into())
            .spawn_scoped(scope, move || {
                // Fails only if the heartbeat is gone, and then nobody wants the result.
                let _ = done_tx.send(time(work));
            })?;

        let mut seen = Heartbeat {
            ticks: 1,
            longest_gap: Duration::ZERO,
        };
        info!("heartbeat 1");
        let mut last = Instant::now();
        loop {
            // Sleeps until the next tick is due, or wakes at once when the result arrives.
            let until_tick = (last + TICK).saturating_duration_since(Instant::now());
            match done_rx.recv_timeout(until_tick) {
                Ok((output, took)) => return Ok((output, seen, took)),
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    let gap = now - last;
                    seen.ticks += 1;
                    seen.longest_gap = seen.longest_gap.max(gap);
                    if gap > TICK + LATE {
                        warn!(
                            "heartbeat {}: {} since the last tick, the main thread was kept waiting",
                            seen.ticks,
                            fmt_duration(gap)
                        );
                    } else {
                        info!("heartbeat {}", seen.ticks);
                    }
                    last = now;
                }
                // The cruncher ended without sending: it panicked. Joining it turns the panic into
                // an error (and keeps `thread::scope` from panicking on our behalf).
                Err(RecvTimeoutError::Disconnected) => {
                    return match cruncher.join() {
                        Ok(()) => Err(anyhow::anyhow!("the cruncher sent no result")),
                        Err(_) => Err(anyhow::anyhow!("the cruncher thread panicked")),
                    };
                }
            }
        }
    })
}

fn available_cores() -> usize {
    available_parallelism().map_or(1, |n| n.get())
}

fn main() -> anyhow::Result<()> {
    init_logging();
    let cores = available_cores();
    let oversubscribed = cores * THREADS_PER_CORE;
    info!(
        "{CALLS} calls of heavy_sum, {SQUARES_PER_CALL} squares each; available_parallelism: {cores}"
    );

    info!("--- 1. sequential: one call after another on one thread ---");
    let (sequential_total, sequential_beat, sequential_took) =
        with_heartbeat(|| sequential(job(CALLS, SQUARES_PER_CALL)))?;

    info!("--- 2. one thread per core: {cores} threads, one slice each ---");
    let (per_core_total, per_core_beat, per_core_took) =
        with_heartbeat(|| on_threads(job(CALLS, SQUARES_PER_CALL), cores, "core"))?;
    let per_core_total = per_core_total?;

    info!(
        "--- 3. more threads than cores: {oversubscribed} threads ({THREADS_PER_CORE} per core) ---"
    );
    let (oversubscribed_total, oversubscribed_beat, oversubscribed_took) =
        with_heartbeat(|| on_threads(job(CALLS, SQUARES_PER_CALL), oversubscribed, "thread"))?;
    let oversubscribed_total = oversubscribed_total?;

    let equal = sequential_total == per_core_total && per_core_total == oversubscribed_total;
    anyhow::ensure!(equal, "the three ways must compute the same total");

    let line = |label: &str, took: Duration, beat: Heartbeat| {
        println!(
            "  {label}: {}, main heartbeat longest gap {} (tick {}): {}",
            fmt_duration(took),
            fmt_duration(beat.longest_gap),
            fmt_duration(TICK),
            beat.verdict()
        );
    };
    // Every core busy with an equal slice: `cores` times faster at best.
    let ideal = cores as f64;
    println!();
    println!("Summary");
    line("sequential, 1 thread", sequential_took, sequential_beat);
    line(
        &format!("{cores} threads (one per core)"),
        per_core_took,
        per_core_beat,
    );
    line(
        &format!("{oversubscribed} threads ({THREADS_PER_CORE} per core)"),
        oversubscribed_took,
        oversubscribed_beat,
    );
    println!(
        "  {} (available_parallelism {cores})",
        Comparison::new(
            "sequential",
            sequential_took,
            "one thread per core",
            per_core_took,
            ideal
        )
    );
    // Against one thread per core, the ideal is no gain at all: the cores were already all busy.
    println!(
        "  {}: more threads than cores gain nothing",
        Comparison::new(
            "one thread per core",
            per_core_took,
            format!("{THREADS_PER_CORE} threads per core"),
            oversubscribed_took,
            1.0
        )
    );
    println!("  results equal: {}", if equal { "yes" } else { "no" });
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real time, on a machine that may be busy: results are checked exactly, the heartbeat with a
    //! generous bound. Speedups are printed by the example, not asserted: they depend on the machine.
    use super::*;
    use std::sync::{Mutex, PoisonError};

    /// The tests that measure time take turns: on two cores, a CPU-bound test next to a timing test
    /// would measure the neighbour, not the lesson.
    static CORES: Mutex<()> = Mutex::new(());

    fn take_turn() -> std::sync::MutexGuard<'static, ()> {
        // A failed test poisons the lock; the others still get their turn.
        CORES.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The exact total of `i * i` for `i` in `0..n`, wrapping at 2^64: `n(n-1)(2n-1)/6`.
    fn closed_form(n: u64) -> u64 {
        let n = u128::from(n);
        (n * (n.saturating_sub(1)) * (2 * n).saturating_sub(1) / 6) as u64
    }

    #[test]
    fn heavy_sum_matches_the_closed_form() {
        assert_eq!(heavy_sum(0..0), 0);
        assert_eq!(heavy_sum(0..4), 1 + 4 + 9);
        // Large enough to wrap: the wrapping sum still equals the formula modulo 2^64.
        let n = 5_000_000;
        assert_eq!(heavy_sum(0..n), closed_form(n));
    }

    #[test]
    fn split_covers_the_range_exactly_once() {
        assert_eq!(split(0..10, 3), [0..3, 3..6, 6..10]);
        assert_eq!(split(5..9, 1), vec![5..9]);
        for parts in [1, 2, 3, 7, 16, 100] {
            let slices = split(0..1000, parts);
            assert_eq!(slices.len(), parts);
            assert_eq!(slices[0].start, 0);
            assert_eq!(slices[parts - 1].end, 1000);
            assert!(slices.windows(2).all(|w| w[0].end == w[1].start));
        }
    }

    #[test]
    fn every_way_computes_the_same_total() {
        let _turn = take_turn();
        // Smaller calls: this test is about the results, not the time.
        let calls = || job(4, 400_000);
        let expected = closed_form(4 * 400_000);
        assert_eq!(sequential(calls()), expected);
        for threads in [
            1,
            2,
            3,
            available_cores(),
            available_cores() * THREADS_PER_CORE,
        ] {
            let total = on_threads(calls(), threads, "test").expect("no thread panics");
            assert_eq!(total, expected, "{threads} threads");
        }
    }

    #[test]
    fn the_main_thread_keeps_time_while_every_core_is_busy() {
        let _turn = take_turn();
        let threads = available_cores() * THREADS_PER_CORE;
        let (total, beat, took) = with_heartbeat(|| {
            on_threads(job(4, SQUARES_PER_CALL), threads, "busy").expect("no thread panics")
        })
        .expect("no thread panics");
        assert_eq!(total, closed_form(4 * SQUARES_PER_CALL));
        // A busy machine can keep any thread waiting (a virtual machine's cores are themselves
        // shared): the allowance grows with how slowly the machine ran the work, and stays far
        // below the work itself, which is the gap a heartbeat stuck behind the work would show.
        let allowed = (TICK + LATE).max(took / 2);
        assert!(
            beat.longest_gap <= allowed,
            "longest gap {:?} while the work took {took:?}",
            beat.longest_gap
        );
        // It did tick all along: about one tick per 50 ms (half of them, to allow for a busy
        // machine).
        let expected = (took.as_millis() / TICK.as_millis()) as u32;
        assert!(beat.ticks >= expected / 2, "{beat:?} in {took:?}");
    }

    #[test]
    fn a_panicking_worker_becomes_an_error_not_a_crash() {
        let result = with_heartbeat(|| -> u64 { panic!("the heavy function exploded") });
        assert!(result.is_err());
        let result = on_threads(job(2, 10), 0, "none");
        assert_eq!(result.expect("0 threads means 1 slice"), heavy_sum(0..20));
    }
}
