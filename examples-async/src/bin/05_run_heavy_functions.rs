//! # 05 · Heavy functions: CPU-bound work next to a heartbeat, three ways
//!
//! Four calls of a CPU-bound function (`heavy_sum`: the sum of `i * i` over 12 million numbers, about
//! 130 ms a call in a debug build; upstream sums 30 million squares) run while a heartbeat task ticks
//! every 50 ms and records the longest gap between two ticks. The heartbeat stands for everything
//! else a program does meanwhile: answering requests, reading input, drawing progress.
//!
//! What it shows:
//! - **Inline in an `async fn` on a `current_thread` runtime, the heartbeat freezes.** An `async fn`
//!   that never awaits anything runs start to finish in one poll, and `.await`ing it is not a point
//!   where the runtime can switch: the only thread is busy for the whole job. The longest gap is
//!   printed: at least the whole work, not 50 ms. Async is cooperative: a task gives the thread back
//!   only at an `.await` that waits.
//! - **With `tokio::task::spawn_blocking` the heartbeat keeps time.** The call runs on tokio's
//!   blocking pool (other threads); the runtime thread only awaits the result. This is the seed's
//!   `run_in_executor` (Python: `loop.run_in_executor`, `asyncio.to_thread`).
//! - **Fanned out to all cores with rayon**, the same four calls finish in about
//!   `1 / min(4, cores)` of the time; the speedup is printed next to `available_parallelism()`.
//!   rayon runs the calls on its own pool; a `oneshot` channel brings the result back to async code
//!   (the pattern tokio's docs recommend for CPU-bound work: `spawn_blocking` is sized for blocking
//!   I/O, hundreds of threads, not for a CPU pool of one thread per core).
//! - The three ways compute the same total (checked, and checked in the tests against the closed
//!   form `n(n-1)(2n-1)/6`).
//!
//! Seed: "Asynchrony" > Challenges and Considerations ("Working with Synchronous Functions":
//! `run_in_executor`; "Scalability Considerations": CPU-bound work). Upstream:
//! `src/python/asynchrony/run_heavy_functions.py` (process pool + heartbeat; its bad version is
//! commented out), `src/js/asynchrony/05_run_heavy_functions.js` (chunked work on one thread, never
//! exits on a terminal), `src/cpp/asynchrony/heavy_functions.cpp` (waits for an Enter at the end).
//! This one needs no input and ends by itself.
//! Threads twin: `examples-threads/src/bin/05_run_heavy_functions_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 05_run_heavy_functions` (no flags, about 1.5 s in a debug
//! build; a release build computes the same in a fraction of it, and the freeze is shorter).
//!
//! The output will look similar to this (a 2-core machine; thread names and timings vary):
//!
//! ```text
//!   0.000s  INFO [main] --- 1. inline: CPU work in an async fn on the runtime's only thread ---
//!   0.001s  INFO [main] heartbeat 1
//!   0.051s  INFO [main] call 1/4: start
//!   ...
//!   0.571s  WARN [main] heartbeat 2: 570 ms since the last tick, the runtime thread was blocked
//!   ...
//!   0.700s  INFO [tokio-rt-worker] call 1/4: start
//!   0.720s  INFO [main] heartbeat 3
//!   ...
//!   inline on the runtime thread: 521 ms, heartbeat longest gap 570 ms (tick 50 ms): froze
//!   spawn_blocking, one call at a time: 530 ms, heartbeat longest gap 52 ms (tick 50 ms): kept time
//!   rayon on all cores: 280 ms, heartbeat longest gap 51 ms (tick 50 ms): kept time
//!   spawn_blocking one by one 530 ms | rayon 280 ms | 1.89x, ideal 2.00x (available_parallelism 2)
//!   results equal: yes
//! ```

use std::hint::black_box;
use std::ops::Range;
use std::thread::available_parallelism;
use std::time::Duration;

use common::{Comparison, fmt_duration, init_logging, time_async};
use rayon::prelude::*;
use tokio::sync::oneshot;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How many calls of the heavy function the job makes.
const CALLS: u64 = 4;
/// Squares summed by one call: about 130 ms in a debug build on a 2-core machine of 2026.
const SQUARES_PER_CALL: u64 = 12_000_000;
/// The heartbeat's period.
const TICK: Duration = Duration::from_millis(50);
/// How late a tick may come, on a busy machine, and still count as "kept time".
const LATE: Duration = Duration::from_millis(100);

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

/// One call, logged on whichever thread runs it (the log line names the thread).
fn logged_call(number: usize, of: usize, range: Range<u64>) -> u64 {
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
/// is parked at the `.await` and the runtime thread is free for the heartbeat.
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
/// `oneshot` that the pool fills in when every call is done.
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

/// Ticks every [`TICK`] until `stop`, logging each tick and the gaps that are too long.
async fn heartbeat(stop: CancellationToken) -> Heartbeat {
    let mut ticker = interval(TICK);
    // After a freeze, tick once and carry on from there (the default, `Burst`, would fire all the
    // missed ticks at once and hide the gap).
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seen = Heartbeat {
        ticks: 0,
        longest_gap: Duration::ZERO,
    };
    let mut last: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return seen,
            _ = ticker.tick() => {
                // `tick()` returns when the tick was due; a late tick is what we are measuring,
                // so read the clock.
                let now = Instant::now();
                seen.ticks += 1;
                let gap = last.map_or(Duration::ZERO, |last| now.duration_since(last));
                seen.longest_gap = seen.longest_gap.max(gap);
                if gap > TICK + LATE {
                    warn!(
                        "heartbeat {}: {} since the last tick, the runtime thread was blocked",
                        seen.ticks,
                        fmt_duration(gap)
                    );
                } else {
                    info!("heartbeat {}", seen.ticks);
                }
                last = Some(now);
            }
        }
    }
}

/// Runs `work` while a heartbeat task ticks on the same runtime; returns the work's output, what
/// the heartbeat saw and how long the work took.
async fn with_heartbeat<T>(work: impl Future<Output = T>) -> (T, Heartbeat, Duration) {
    let stop = CancellationToken::new();
    let beat = tokio::spawn(heartbeat(stop.clone()));
    // Let it tick once before the work starts, and once after it ends: the gap that spans the work
    // is then between two recorded ticks.
    sleep(TICK).await;
    let (output, took) = time_async(work).await;
    sleep(TICK).await;
    stop.cancel();
    let seen = beat.await.expect("the heartbeat does not panic");
    (output, seen, took)
}

fn available_cores() -> usize {
    available_parallelism().map_or(1, |n| n.get())
}

// One thread for the runtime: the lesson is what blocking it does. `spawn_blocking` and rayon bring
// their own threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    init_logging();
    // Named pool threads, so the log shows who ran each call.
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("rayon-{i}"))
        .build_global()?;
    let cores = available_cores();
    info!(
        "{CALLS} calls of heavy_sum, {SQUARES_PER_CALL} squares each; available_parallelism: {cores}"
    );

    info!("--- 1. inline: CPU work in an async fn on the runtime's only thread ---");
    let (inline_total, inline_beat, inline_took) =
        with_heartbeat(inline_on_runtime(job(CALLS, SQUARES_PER_CALL))).await;

    info!("--- 2. spawn_blocking: the same calls on tokio's blocking pool, one at a time ---");
    let (blocking_total, blocking_beat, blocking_took) =
        with_heartbeat(one_by_one_with_spawn_blocking(job(CALLS, SQUARES_PER_CALL))).await;
    let blocking_total = blocking_total?;

    info!("--- 3. rayon: the same calls fanned out to all cores ---");
    let (fanned_total, fanned_beat, fanned_took) =
        with_heartbeat(fanned_out_with_rayon(job(CALLS, SQUARES_PER_CALL))).await;
    let fanned_total = fanned_total?;

    let equal = inline_total == blocking_total && blocking_total == fanned_total;
    anyhow::ensure!(equal, "the three ways must compute the same total");

    let line = |label: &str, took: Duration, beat: Heartbeat| {
        println!(
            "  {label}: {}, heartbeat longest gap {} (tick {}): {}",
            fmt_duration(took),
            fmt_duration(beat.longest_gap),
            fmt_duration(TICK),
            beat.verdict()
        );
    };
    let ideal = CALLS.min(cores as u64) as f64;
    println!();
    println!("Summary");
    line("inline on the runtime thread", inline_took, inline_beat);
    line(
        "spawn_blocking, one call at a time",
        blocking_took,
        blocking_beat,
    );
    line("rayon on all cores", fanned_took, fanned_beat);
    println!(
        "  {} (available_parallelism {cores})",
        Comparison::new(
            "spawn_blocking one by one",
            blocking_took,
            "rayon",
            fanned_took,
            ideal
        )
    );
    println!("  results equal: {}", if equal { "yes" } else { "no" });
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real time: CPU work cannot run on a paused clock. The bounds hold on a busy 2-core machine:
    //! the freeze's lower bound is exact (no tick can happen while the only thread computes), the
    //! "kept time" bound allows a tick to come [`LATE`] late (more on a machine so busy that the
    //! work itself ran slow, but always well under the work's own time).
    use super::*;

    /// The tests that measure time take turns: on two cores, a CPU-bound test next to a timing test
    /// would measure the neighbour, not the lesson.
    static CORES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// The exact total of `i * i` for `i` in `0..n`, wrapping at 2^64: `n(n-1)(2n-1)/6`.
    fn closed_form(n: u64) -> u64 {
        let n = u128::from(n);
        (n * (n.saturating_sub(1)) * (2 * n).saturating_sub(1) / 6) as u64
    }

    #[test]
    fn heavy_sum_matches_the_closed_form() {
        assert_eq!(heavy_sum(0..0), 0);
        assert_eq!(heavy_sum(0..4), 1 + 4 + 9);
        assert_eq!(heavy_sum(0..1_000_000), closed_form(1_000_000));
        // Large enough to wrap: the wrapping sum still equals the formula modulo 2^64.
        let n = 5_000_000;
        assert_eq!(heavy_sum(0..n), closed_form(n));
    }

    #[tokio::test]
    async fn inline_work_freezes_the_heartbeat_for_at_least_the_whole_work() {
        let _turn = CORES.lock().await;
        // `#[tokio::test]` is a current_thread runtime, like `main`'s.
        let (total, beat, took) = with_heartbeat(inline_on_runtime(job(3, SQUARES_PER_CALL))).await;
        assert_eq!(total, closed_form(3 * SQUARES_PER_CALL));
        // No tick can happen while the only thread computes: one gap spans all of the work.
        assert!(
            beat.longest_gap >= took,
            "longest gap {:?} < work {took:?}",
            beat.longest_gap
        );
        assert!(!beat.kept_time() || took <= TICK + LATE, "{beat:?}");
    }

    #[tokio::test]
    async fn spawn_blocking_keeps_the_heartbeat_near_one_tick() {
        let _turn = CORES.lock().await;
        let (total, beat, took) =
            with_heartbeat(one_by_one_with_spawn_blocking(job(3, SQUARES_PER_CALL))).await;
        assert_eq!(
            total.expect("no call panics"),
            closed_form(3 * SQUARES_PER_CALL)
        );
        // A busy machine can keep any thread waiting (a virtual machine's cores are themselves
        // shared): the allowance grows with how slowly the machine ran the work, and stays far
        // below the work itself, which is the least the gap would be if the work ran inline.
        let allowed = (TICK + LATE).max(took / 2);
        assert!(
            beat.longest_gap <= allowed,
            "longest gap {:?} while the work took {took:?}",
            beat.longest_gap
        );
        // It did tick all along: about one tick per 50 ms (half of them, to allow for a busy
        // machine), plus the ones before and after.
        let expected = (took.as_millis() / TICK.as_millis()) as u32;
        assert!(beat.ticks >= expected / 2 + 2, "{beat:?} in {took:?}");
    }

    #[tokio::test]
    async fn fanned_out_results_equal_the_sequential_results() {
        let _turn = CORES.lock().await;
        // Smaller calls: this test is about the results, not the time.
        let calls = job(6, 500_000);
        let sequential: u64 = calls
            .iter()
            .cloned()
            .map(heavy_sum)
            .fold(0, u64::wrapping_add);
        let fanned = fanned_out_with_rayon(calls.clone())
            .await
            .expect("no call panics");
        let blocking = one_by_one_with_spawn_blocking(calls.clone())
            .await
            .expect("no call panics");
        let inline = inline_on_runtime(calls).await;
        assert_eq!(sequential, closed_form(6 * 500_000));
        assert_eq!(fanned, sequential);
        assert_eq!(blocking, sequential);
        assert_eq!(inline, sequential);
    }

    #[tokio::test]
    async fn the_heartbeat_measures_a_gap_it_did_not_get_to_tick_in() {
        let _turn = CORES.lock().await;
        // A deliberate 300 ms block of the runtime thread, with no CPU work: the heartbeat must
        // report it, and say it froze.
        let ((), beat, _) = with_heartbeat(async {
            std::thread::sleep(Duration::from_millis(300));
        })
        .await;
        assert!(beat.longest_gap >= Duration::from_millis(300), "{beat:?}");
        assert_eq!(beat.verdict(), "froze");
    }

    #[test]
    fn the_job_is_consecutive_ranges_covering_everything_once() {
        assert_eq!(job(3, 10), [0..10, 10..20, 20..30]);
    }
}
