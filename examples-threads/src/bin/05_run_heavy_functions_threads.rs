//! # 05 · Heavy functions, with threads: the same CPU work on 1 thread, one per core, and too many
//!
//! The same job as `examples-async/src/bin/05_run_heavy_functions.rs`: four calls of `heavy_sum`
//! (the sum of `i * i` over a range, sized at start-up so that one call takes about 120 ms on this
//! machine and in this build, `--call-ms`), while the main thread keeps a heartbeat that ticks
//! every 50 ms and records the longest gap between ticks.
//!
//! What it shows:
//! - **Sequential**: the four calls one after another on one worker thread.
//! - **One thread per core** (`available_parallelism()` threads, each summing an equal slice of the
//!   job): about `cores` times faster. The speedup is printed next to the ideal.
//! - **More threads than cores** (8 per core): **no faster**. A core runs one thread at a time; the
//!   extra threads only take turns (and cost a stack and a context switch each). The log shows all
//!   of them starting at once and finishing together near the end: the OS slices the cores among
//!   them. The verdict printed beside the figures is computed from them: on a machine shared with
//!   other busy programs more threads can look faster (the scheduler shares the cores out per
//!   thread, so more threads take a bigger share from the other programs), and then the verdict
//!   says so, with the load average, rather than "gain nothing" beside a gain.
//! - **A responsive main thread** all along: the OS **preempts** busy threads, so the heartbeat on
//!   `main` keeps time even with every core busy ("froze" would mean a gap longer than the tick
//!   plus a whole call). The three ways compute the same total (checked).
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
//! Run: `cargo run -p examples-threads --bin 05_run_heavy_functions_threads` (about 2 s, in a debug
//! or a release build alike). Flags: `--call-ms N` sizes one call (default 120, 50 to 2000).
//!
//! The output will look similar to this (a 2-core machine, load average 4; the order of lines
//! varies). Each verdict is computed from the figures beside it: on a machine whose other programs
//! hold the cores, 8 threads per core can also come out faster than one per core, and the last line
//! then reads "faster, but not from the extra threads: one thread per core reached only 52% of its
//! ideal, so other programs held cores (load average 3.8), and more threads took a bigger share of
//! them" (a release run). A release build sizes the calls to the same time (220 million squares).
//!
//! ```text
//!   0.115s  INFO [main] 4 calls of heavy_sum, 17528767 squares each (sized for 120 ms a call); available_parallelism: 2
//!   0.115s  INFO [main] --- 1. sequential: one call after another on one thread ---
//!   0.115s  INFO [main] heartbeat 1
//!   0.115s  INFO [cruncher] call 1/4: start
//!   0.165s  INFO [main] heartbeat 2
//!   ...
//!   0.586s  INFO [core-0] slice 1/2: start
//!   0.586s  INFO [core-1] slice 2/2: start
//!   ...
//!   0.879s  INFO [thread-0] slice 1/16: start
//!   ...
//!   0.927s  INFO [thread-15] slice 16/16: start
//!   ...
//! Summary
//!   one call: 117 ms (sized for 120 ms); a gap past 167 ms (the tick + a call) is a freeze
//!   sequential, 1 thread: 470 ms, 1 slice(s) at once, main heartbeat longest gap 50 ms (tick 50 ms): kept time
//!   2 threads (one per core): 293 ms, 2 slice(s) at once, main heartbeat longest gap 53 ms (tick 50 ms): kept time
//!   16 threads (8 per core): 441 ms, 16 slice(s) at once, main heartbeat longest gap 61 ms (tick 50 ms): kept time
//!   sequential 470 ms | one thread per core 293 ms | 1.61x, ideal 2.00x (available_parallelism 2): near the ideal: every core worked
//!   one thread per core 293 ms | 8 threads per core 441 ms | 0.66x, ideal 1.00x: slower by 51%: the extra threads only took turns on cores that were already busy (load average 4.0)
//!   results equal: yes
//! ```

use std::fmt::Write as _;
use std::hint::black_box;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, available_parallelism};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Parser;
use common::{Comparison, fmt_duration, init_logging, time};
use tracing::{info, warn};

#[derive(Parser, Debug)]
#[command(
    about = "05 · Heavy functions, with threads: the same CPU-bound calls on 1 thread, one thread \
             per core and 8 per core (no faster), while the main thread's heartbeat keeps time",
    long_about = None
)]
struct Args {
    /// How long one call of the heavy function should take; the work is sized at start-up by
    /// timing a short run, so the lesson is the same in debug and release builds
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

/// Runs `work` on a `cruncher` thread while this thread keeps a heartbeat every [`TICK`]; returns
/// the work's output, what the heartbeat saw (and how many calls ran at once) and how long the
/// work took.
fn with_heartbeat<T: Send>(
    work: impl FnOnce() -> T + Send,
) -> anyhow::Result<(T, Heartbeat, Duration)> {
    AtOnce::reset();
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
            calls_at_once: 0,
        };
        info!("heartbeat 1");
        let mut last = Instant::now();
        loop {
            // Sleeps until the next tick is due, or wakes at once when the result arrives.
            let until_tick = (last + TICK).saturating_duration_since(Instant::now());
            match done_rx.recv_timeout(until_tick) {
                Ok((output, took)) => {
                    seen.calls_at_once = AtOnce::most();
                    return Ok((output, seen, took));
                }
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    let gap = now - last;
                    seen.ticks += 1;
                    seen.longest_gap = seen.longest_gap.max(gap);
                    if gap > TICK * 2 {
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
                        Ok(()) => Err(anyhow!("the cruncher sent no result")),
                        Err(_) => Err(anyhow!("the cruncher thread panicked")),
                    };
                }
            }
        }
    })
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

    // The yardstick of the heartbeat's verdict: one call, as measured on one thread.
    let call = sequential_took / CALLS as u32;
    let mut summary = String::from("\nSummary\n");
    writeln!(
        summary,
        "  one call: {} (sized for {}); a gap past {} (the tick + a call) is a freeze",
        fmt_duration(call),
        fmt_duration(target),
        fmt_duration(freeze_threshold(TICK, call))
    )?;
    for (label, took, beat) in [
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
    ] {
        writeln!(
            summary,
            "  {label}: {}, {} slice(s) at once, main heartbeat longest gap {} (tick {}): {}",
            fmt_duration(took),
            beat.calls_at_once,
            fmt_duration(beat.longest_gap),
            fmt_duration(TICK),
            heartbeat_verdict(beat.longest_gap, TICK, call)
        )?;
    }
    // Every core busy with an equal slice: `cores` times faster at best.
    let per_core = Comparison::new(
        "sequential",
        sequential_took,
        "one thread per core",
        per_core_took,
        cores as f64,
    );
    let load = load_average();
    writeln!(
        summary,
        "  {per_core} (available_parallelism {cores}): {}",
        speedup_verdict(per_core.speedup(), per_core.ideal_speedup, load)
    )?;
    // Against one thread per core, the ideal is no gain at all: the cores were already all busy.
    let more = Comparison::new(
        "one thread per core",
        per_core_took,
        format!("{THREADS_PER_CORE} threads per core"),
        oversubscribed_took,
        1.0,
    );
    writeln!(
        summary,
        "  {more}: {}",
        oversubscription_verdict(
            more.speedup(),
            per_core.speedup() / per_core.ideal_speedup,
            load
        )
    )?;
    writeln!(
        summary,
        "  results equal: {}",
        if equal { "yes" } else { "no" }
    )?;
    common::out!("{}", summary.trim_end());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Support: sizing the work, the verdicts, printing. Not the lesson.

/// How long a calibration run must take to be timed reliably.
const PROBE: Duration = Duration::from_millis(20);

/// How many squares one call must sum to take about `target` on this machine, in this build.
///
/// A debug build runs `heavy_sum` about 30 times slower than a release build, and machines differ:
/// a fixed count would teach a different lesson on each. Runs of doubling size are timed until one
/// takes [`PROBE`]; the median of three runs of that size gives the speed, and the count is scaled
/// from it. The median, not the fastest: on a machine busy with other programs the calls then take
/// about the target as the run finds the machine, and the whole run stays within its seconds.
fn calibrate(target: Duration) -> u64 {
    let mut n: u64 = 1 << 16;
    let first = loop {
        let (_, took) = time(|| heavy_sum(0..n));
        if took >= PROBE {
            break took;
        }
        n *= 2;
    };
    let mut runs = [
        first,
        time(|| heavy_sum(0..n)).1,
        time(|| heavy_sum(0..n)).1,
    ];
    runs.sort();
    (n as f64 * target.as_secs_f64() / runs[1].as_secs_f64()).max(1.0) as u64
}

/// `range` cut into `parts` consecutive slices of (nearly) equal length, covering it exactly once.
fn split(range: Range<u64>, parts: usize) -> Vec<Range<u64>> {
    let parts = parts.max(1) as u64;
    let len = range.end - range.start;
    (0..parts)
        .map(|p| range.start + len * p / parts..range.start + len * (p + 1) / parts)
        .collect()
}

/// What the heartbeat saw, and the most slices that ran at once meanwhile.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Heartbeat {
    ticks: u32,
    longest_gap: Duration,
    calls_at_once: usize,
}

/// Counts the calls running right now and the most seen at once since the last [`AtOnce::reset`]:
/// the measured proof that a way ran its calls in parallel, which a speedup alone cannot give on
/// a machine whose other programs hold the cores. One way runs at a time, so one counter will do.
struct AtOnce;

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static MOST_AT_ONCE: AtomicUsize = AtomicUsize::new(0);

impl AtOnce {
    /// Counts one more call until the guard is dropped.
    fn enter() -> AtOnce {
        let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        MOST_AT_ONCE.fetch_max(now, Ordering::SeqCst);
        AtOnce
    }

    fn reset() {
        MOST_AT_ONCE.store(0, Ordering::SeqCst);
    }

    fn most() -> usize {
        MOST_AT_ONCE.load(Ordering::SeqCst)
    }
}

impl Drop for AtOnce {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The longest gap that still counts as "kept time": the tick plus one call. A heartbeat stuck
/// behind the work would miss at least a call's worth of ticks; one that kept time is late only by
/// as long as a busy machine keeps a ready thread waiting. Relative to the work, so the verdict
/// means the same in a debug and a release build.
fn freeze_threshold(tick: Duration, call: Duration) -> Duration {
    tick + call
}

/// "froze" or "kept time", from the longest gap, the tick and how long one call took.
fn heartbeat_verdict(longest_gap: Duration, tick: Duration, call: Duration) -> &'static str {
    if longest_gap > freeze_threshold(tick, call) {
        "froze"
    } else {
        "kept time"
    }
}

/// " (load average 3.5)", or nothing where the system does not say.
fn load_note(load: Option<f64>) -> String {
    load.map_or_else(String::new, |load| format!(" (load average {load:.1})"))
}

/// What a measured speedup says next to its ideal. When it falls short, the machine's load
/// average (other programs wanting the cores) is the usual reason, and is printed if known.
fn speedup_verdict(measured: f64, ideal: f64, load: Option<f64>) -> String {
    if ideal < 1.5 {
        "one core: nothing to gain from more threads".to_string()
    } else if measured >= 0.8 * ideal {
        "near the ideal: every core worked".to_string()
    } else if measured >= 1.2 {
        format!(
            "faster, short of the ideal: other programs held some of the cores{}",
            load_note(load)
        )
    } else {
        format!(
            "no gain: the cores were busy with other programs{}",
            load_note(load)
        )
    }
}

/// What 8 threads per core against one per core says. `gain` is the measured speedup (ideal 1.0);
/// `per_core_share` is how much of its ideal the one-per-core run reached: well below 1, other
/// programs held cores, and more threads then win a bigger share of them from those programs.
fn oversubscription_verdict(gain: f64, per_core_share: f64, load: Option<f64>) -> String {
    if gain > 1.15 {
        if per_core_share < 0.8 {
            format!(
                "faster, but not from the extra threads: one thread per core reached only {:.0}% \
                 of its ideal, so other programs held cores{}, and more threads took a bigger \
                 share of them",
                per_core_share * 100.0,
                load_note(load)
            )
        } else {
            format!(
                "faster, which more threads than cores cannot be on their own: the machine's load \
                 changed between the runs{}",
                load_note(load)
            )
        }
    } else if gain >= 0.85 {
        "more threads than cores gain nothing: the cores were already busy".to_string()
    } else {
        format!(
            "slower by {:.0}%: the extra threads only took turns on cores that were already busy{}",
            (1.0 / gain - 1.0) * 100.0,
            load_note(load)
        )
    }
}

/// The one-minute load average (Linux: `/proc/loadavg`); `None` where there is none.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn available_cores() -> usize {
    available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    //! Real time, on a machine that may be busy: results are checked exactly, the heartbeat and the
    //! calibration with generous bounds, the verdicts over given figures. Speedups are printed by
    //! the example, not asserted: they depend on what else the machine runs; the slices counted
    //! at once prove the parallelism instead.
    use super::*;
    use std::sync::{Mutex, PoisonError};

    /// The tests that measure time take turns: on two cores, a CPU-bound test next to a timing test
    /// would measure the neighbour, not the lesson.
    static CORES: Mutex<()> = Mutex::new(());

    fn take_turn() -> std::sync::MutexGuard<'static, ()> {
        // A failed test poisons the lock; the others still get their turn.
        CORES.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
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
    fn the_calibrated_call_takes_about_its_target_in_this_build() {
        let _turn = take_turn();
        // Whatever this build is (the tests run in debug, `cargo test --release` in release), a
        // call sized for a target takes about that long (a factor of three either way: the
        // calibration itself may have run on a busy core), and a call sized for 2.5 times the
        // target clearly longer: a fixed count, right for one build only, would take as long for
        // both (ratio 1), or 30 times too short in release. Each is the fastest of three tries,
        // since a busy machine only ever slows a run.
        let mut took = Vec::new();
        for target in [ms(100), ms(250)] {
            let per_call = calibrate(target);
            let fastest = (0..3)
                .map(|_| time(|| heavy_sum(0..per_call)).1)
                .min()
                .expect("three tries");
            assert!(
                fastest >= target / 3 && fastest <= target * 3,
                "sized for {target:?}: {per_call} squares took {fastest:?}"
            );
            took.push(fastest);
        }
        let ratio = took[1].as_secs_f64() / took[0].as_secs_f64();
        assert!(
            (1.4..=6.0).contains(&ratio),
            "{took:?}: {ratio:.2}, ideal 2.5"
        );
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
        let per_call = calibrate(ms(100));
        let (total, beat, took) = with_heartbeat(|| {
            on_threads(job(4, per_call), threads, "busy").expect("no thread panics")
        })
        .expect("no thread panics");
        assert_eq!(total, closed_form(4 * per_call));
        // More slices ran at once than there are cores: the OS runs them all, taking turns. (Not
        // all of them for certain: on a busy machine the first may end before the last starts.)
        assert!(beat.calls_at_once > available_cores(), "{beat:?}");
        // The example's own verdict, relative to the work: a gap longer than the tick plus a call
        // (as long as the whole 4-call job here, on two cores) would be a freeze.
        assert_eq!(
            heartbeat_verdict(beat.longest_gap, TICK, took * available_cores() as u32 / 4),
            "kept time",
            "{beat:?} in {took:?}"
        );
        // It did tick all along: about one tick per 50 ms (half of them, to allow for a busy
        // machine).
        let expected = (took.as_millis() / TICK.as_millis()) as u32;
        assert!(beat.ticks >= expected / 2, "{beat:?} in {took:?}");
    }

    #[test]
    fn one_thread_runs_one_slice_at_a_time_and_one_per_core_runs_them_side_by_side() {
        let _turn = take_turn();
        let per_call = calibrate(ms(100));
        let ((), sequential_beat, _) = with_heartbeat(|| {
            sequential(job(2, per_call));
        })
        .expect("no thread panics");
        assert_eq!(sequential_beat.calls_at_once, 1, "{sequential_beat:?}");
        let cores = available_cores();
        // Four calls a thread: on a busy machine a thread may start late, but not a whole
        // 400 ms of work late, so the threads' calls still overlap.
        let (_, per_core_beat, _) =
            with_heartbeat(|| on_threads(job(4 * cores as u64, per_call), cores, "core"))
                .expect("no panic");
        assert_eq!(per_core_beat.calls_at_once, cores, "{per_core_beat:?}");
    }

    #[test]
    fn the_verdicts_follow_the_figures() {
        // The heartbeat: relative to the work.
        assert_eq!(heartbeat_verdict(ms(140), TICK, ms(150)), "kept time");
        assert_eq!(heartbeat_verdict(ms(250), TICK, ms(150)), "froze");
        assert_eq!(heartbeat_verdict(ms(65), TICK, ms(4)), "froze");
        // One thread per core.
        assert_eq!(
            speedup_verdict(1.93, 2.0, None),
            "near the ideal: every core worked"
        );
        assert!(speedup_verdict(1.3, 2.0, Some(4.7)).ends_with("(load average 4.7)"));
        // The run of the issue: 2.59x from more threads beside "gain nothing". Now the verdict
        // says what the figures show, and why.
        let busy = oversubscription_verdict(2.59, 0.4, Some(4.7));
        assert!(
            busy.starts_with("faster, but not from the extra threads"),
            "{busy}"
        );
        assert!(
            busy.contains("only 40%") && busy.contains("load average 4.7"),
            "{busy}"
        );
        assert!(!busy.contains("gain nothing"), "{busy}");
        assert!(oversubscription_verdict(1.4, 0.95, None).starts_with("faster, which"));
        assert_eq!(
            oversubscription_verdict(0.97, 0.96, None),
            "more threads than cores gain nothing: the cores were already busy"
        );
        assert_eq!(
            oversubscription_verdict(0.5, 0.96, None),
            "slower by 100%: the extra threads only took turns on cores that were already busy"
        );
    }

    #[test]
    fn a_panicking_worker_becomes_an_error_not_a_crash() {
        let result = with_heartbeat(|| -> u64 { panic!("the heavy function exploded") });
        assert!(result.is_err());
        let result = on_threads(job(2, 10), 0, "none");
        assert_eq!(result.expect("0 threads means 1 slice"), heavy_sum(0..20));
    }
}
