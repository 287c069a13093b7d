//! # 07 · Semaphore, with threads: ten threads, three permits, never more than three inside
//!
//! The same scenario as `examples-async/src/bin/07_semaphore.rs`: ten workers want a resource only
//! three may use at once, each for a fixed 100-400 ms (upstream: a random 0.5-2 s).
//!
//! What it shows:
//! - std has no semaphore (C++ got `std::counting_semaphore` only in C++20), so this file builds the
//!   one the chapter's C++ builds: a count behind a `Mutex` and a `Condvar` to sleep on while it is 0.
//!   Unlike upstream's, its permit is an **RAII guard**: dropping it (at the end of the scope, or while
//!   unwinding from a panic) gives the permit back, so no code path can forget to.
//! - `available_permits()` as threads enter and leave, and the largest number inside at once,
//!   measured: exactly 3. The semaphore's own tests hammer it from 16 threads: never more than n
//!   inside, no permit leaked.
//!
//! What differs from the async twin, and why:
//! - A waiting thread is parked by the OS on the condvar (it does not spin): cheap, but it is still a
//!   whole thread doing nothing, where a waiting task is a few hundred bytes.
//! - This semaphore is **not fair**: `notify_one` wakes some waiter, and a thread that was never
//!   asleep may take the permit first. Which thread gets each freed permit varies from run to run, so
//!   the total does too: at least the work divided among 3 (783 ms), at most 1050 ms for any order
//!   (Graham's bound for list scheduling: the average plus 2/3 of the longest job). tokio's semaphore
//!   is FIFO, and its twin follows one exact schedule (950 ms).
//! - The permit borrows the semaphore (`Permit<'a>`), which scoped threads allow; tokio's
//!   `acquire_owned` needs an `Arc` because a spawned task must not borrow.
//!
//! Seed: "Asynchrony" > Examples in Python, Performance Considerations (semaphores to limit concurrent
//! tasks); "Asynchrony vs Multithreading". Upstream: `src/cpp/asynchrony/async_semaphore.cpp` (mutex +
//! condvar + int), `src/python/asynchrony/semaphore.py`, `src/js/asynchrony/07_semaphore.js`.
//!
//! Run: `cargo run -p examples-threads --bin 07_semaphore_threads` (no flags but `--help`, about 1 s).
//!
//! The output will look similar to this (which thread gets a freed permit varies):
//!
//! ```text
//!   0.001s  INFO [task-0] task 0: in after waiting 0.01 ms; 1 inside, 2 permits free
//!   0.001s  INFO [task-2] task 2: in after waiting 0.00 ms; 2 inside, 1 permits free
//!   0.001s  INFO [task-3] task 3: in after waiting 0.00 ms; 3 inside, 0 permits free
//!   0.001s  INFO [task-4] task 4: no permit free, waiting
//!   ...
//!   0.102s  INFO [task-3] task 3: out after 100 ms; 1 permits free
//!   0.102s  INFO [task-4] task 4: in after waiting 101 ms; 3 inside, 0 permits free
//!   ...
//! Summary
//!   10/10 tasks used the resource; at most 3 inside at once (3 permits)
//!   permits free at the end: 3 of 3 (none leaked)
//!   total 852 ms (ideal 783 ms to 1050 ms, depending on who gets each freed permit; one at a time 2350 ms, all at once 400 ms)
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{fmt_duration, init_logging, schedule};
use tracing::info;

/// How many threads may use the resource at once.
const PERMITS: usize = 3;
/// How long each thread uses it (task `i` takes `WORK[i]`).
const WORK: [Duration; 10] = [
    Duration::from_millis(400),
    Duration::from_millis(200),
    Duration::from_millis(300),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(150),
    Duration::from_millis(350),
    Duration::from_millis(200),
    Duration::from_millis(100),
    Duration::from_millis(300),
];

/// A counting semaphore: `free` permits behind a mutex, and a condvar that waiting threads sleep on.
struct Semaphore {
    free: Mutex<usize>,
    permit_returned: Condvar,
}

/// A permit. It gives itself back when dropped (RAII), so it cannot be forgotten on any path.
///
/// `#[must_use]`: `semaphore.acquire();` alone would take a permit and give it back at the `;`,
/// guarding nothing. The compiler warns about that statement (and CI's `-D warnings` rejects it).
#[must_use = "the permit goes back when dropped: bind it (`let _permit = ...`) for as long as you use the resource"]
struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Semaphore {
    fn new(permits: usize) -> Self {
        Semaphore {
            free: Mutex::new(permits),
            permit_returned: Condvar::new(),
        }
    }

    /// The count. Poisoning (a panic while the lock was held) cannot leave it half-updated, because
    /// every change is a single `+= 1` or `-= 1`: recovering the guard is safe.
    fn count(&self) -> MutexGuard<'_, usize> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until a permit is free, then takes it.
    fn acquire(&self) -> Permit<'_> {
        let mut free = self.count();
        // A loop, not an `if`: a condvar may wake a thread spuriously, and another thread may have
        // taken the permit between the `notify_one` and this thread getting the lock back.
        while *free == 0 {
            free = self
                .permit_returned
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Permit { semaphore: self }
    }

    fn available_permits(&self) -> usize {
        *self.count()
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.semaphore.count() += 1;
        // One permit came back, so one waiter can go on: wake one, not all.
        self.semaphore.permit_returned.notify_one();
    }
}

/// One thread's use of the resource. Times count from the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Visit {
    task: usize,
    entered: Duration,
    left: Duration,
}

/// What one run measured.
#[derive(Debug)]
struct SemaphoreRun {
    visits: Vec<Visit>,
    /// The most threads inside at once, as counted by the threads themselves.
    peak_inside: usize,
    /// `available_permits()` after every thread has finished.
    free_at_end: usize,
    total: Duration,
}

/// Who is inside right now and the most there ever were: measured by the threads, not trusted to the
/// semaphore, so that the test checks the semaphore rather than itself.
#[derive(Default)]
struct Occupancy {
    inside: AtomicUsize,
    peak: AtomicUsize,
}

/// One thread: wait for a permit, use the resource for `work`, give the permit back.
fn use_resource(
    task: usize,
    work: Duration,
    semaphore: &Semaphore,
    occupancy: &Occupancy,
    start: Instant,
) -> Visit {
    if semaphore.available_permits() == 0 {
        info!("task {task}: no permit free, waiting");
    }
    let asked = Instant::now();
    let permit = semaphore.acquire();
    let entered = start.elapsed();
    let inside = occupancy.inside.fetch_add(1, Ordering::SeqCst) + 1;
    occupancy.peak.fetch_max(inside, Ordering::SeqCst);
    info!(
        "task {task}: in after waiting {}; {inside} inside, {} permits free",
        fmt_duration(asked.elapsed()),
        semaphore.available_permits()
    );

    thread::sleep(work); // using the resource

    occupancy.inside.fetch_sub(1, Ordering::SeqCst);
    let left = start.elapsed();
    // Dropping the permit gives it back. Written out here for the reader: it would happen anyway at
    // the end of this function, or during unwinding if the work had panicked.
    drop(permit);
    info!(
        "task {task}: out after {}; {} permits free",
        fmt_duration(work),
        semaphore.available_permits()
    );
    Visit {
        task,
        entered,
        left,
    }
}

/// Starts one named thread per entry of `work`, all at once, and lets `permits` of them in at a time.
fn run(work: &[Duration], permits: usize) -> anyhow::Result<SemaphoreRun> {
    let start = Instant::now();
    let semaphore = Semaphore::new(permits);
    let occupancy = Occupancy::default();
    let visits = thread::scope(|s| -> anyhow::Result<Vec<Visit>> {
        let mut threads = Vec::new();
        for (task, &work) in work.iter().enumerate() {
            let (semaphore, occupancy) = (&semaphore, &occupancy);
            threads.push(
                thread::Builder::new()
                    .name(format!("task-{task}"))
                    .spawn_scoped(s, move || {
                        use_resource(task, work, semaphore, occupancy, start)
                    })?,
            );
        }
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .map_err(|_| anyhow::anyhow!("a task thread panicked"))
            })
            .collect()
    })?;
    Ok(SemaphoreRun {
        visits,
        peak_inside: occupancy.peak.load(Ordering::SeqCst),
        free_at_end: semaphore.available_permits(),
        total: start.elapsed(),
    })
}

/// `--help` text: what the example demonstrates. No flags: the work is fixed so the figures can be
/// compared with their ideal.
#[derive(Parser, Debug)]
#[command(
    about = "07 · Semaphore with threads: 10 threads share 3 permits of a semaphore built from \
             Mutex + Condvar with an RAII permit; never more than 3 inside at once",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!(
        "{} threads, {PERMITS} permits: at most {PERMITS} use the resource at once",
        WORK.len()
    );
    let r = run(&WORK, PERMITS)?;

    // The range the total must fall in whatever order the waiting threads get their permits (this
    // semaphore is not fair): at least the work shared perfectly among the permits; at most the
    // average plus `(1 - 1/permits)` of the longest job (Graham, 1966: no greedy order does worse).
    let (lower, upper) = schedule::any_order_bounds(&WORK, PERMITS);
    let one_at_a_time: Duration = WORK.iter().sum();
    let all_at_once = WORK.iter().max().copied().unwrap_or_default();
    common::out!();
    common::out!("Summary");
    common::out!(
        "  {}/{} tasks used the resource; at most {} inside at once ({PERMITS} permits)",
        r.visits.len(),
        WORK.len(),
        r.peak_inside
    );
    common::out!(
        "  permits free at the end: {} of {PERMITS} ({})",
        r.free_at_end,
        if r.free_at_end == PERMITS {
            "none leaked"
        } else {
            "LEAKED"
        }
    );
    common::out!(
        "  total {} (ideal {} to {}, depending on who gets each freed permit; one at a time {}, all at once {})",
        fmt_duration(r.total),
        fmt_duration(lower),
        fmt_duration(upper),
        fmt_duration(one_at_a_time),
        fmt_duration(all_at_once)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real threads. The semaphore's guarantees are asserted exactly (never more than n inside, no
    //! permit leaked); timings as exact lower bounds and generous upper bounds.
    use super::*;
    use std::sync::mpsc;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs `f` on its own thread and fails if it has not finished within `deadline`: a leaked
    /// permit shows up as threads waiting forever, and this turns that hang into a failure.
    fn within<T: Send + 'static>(deadline: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(deadline)
            .expect("finished in time (a hang here means a permit was leaked)")
    }

    /// The most visits that overlap at any instant, from the recorded times alone.
    fn max_overlap(visits: &[Visit]) -> usize {
        visits
            .iter()
            .map(|v| {
                visits
                    .iter()
                    .filter(|w| w.entered <= v.entered && v.entered < w.left)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn never_more_than_three_inside_and_three_is_reached() {
        let r = within(Duration::from_secs(20), || run(&WORK, PERMITS)).expect("runs");
        assert_eq!(r.peak_inside, 3, "{r:?}");
        // `entered` is taken after acquiring and `left` before releasing, so the recorded times can
        // only understate the overlap, never overstate it.
        assert!(max_overlap(&r.visits) <= 3, "{r:?}");
        assert_eq!(r.free_at_end, 3, "every permit came back");
        assert_eq!(r.visits.len(), WORK.len());
    }

    #[test]
    fn the_total_fits_the_schedule_whatever_the_order() {
        let r = within(Duration::from_secs(20), || run(&WORK, PERMITS)).expect("runs");
        let (lower, upper) = schedule::any_order_bounds(&WORK, PERMITS);
        assert_eq!((lower, upper), (ms(2350) / 3, ms(1050)));
        assert!(r.total >= lower, "{r:?}");
        // Far below one at a time (2350 ms): generous for a loaded machine.
        assert!(r.total < upper + ms(600), "{r:?}");
        for v in &r.visits {
            assert!(v.left - v.entered >= WORK[v.task], "{v:?}");
        }
    }

    #[test]
    fn hammered_from_16_threads_it_never_lets_more_than_n_in_and_leaks_nothing() {
        for permits in [1, 3] {
            let r = within(Duration::from_secs(20), move || {
                let semaphore = Semaphore::new(permits);
                let occupancy = Occupancy::default();
                thread::scope(|s| {
                    for _ in 0..16 {
                        s.spawn(|| {
                            for _ in 0..2000 {
                                let _permit = semaphore.acquire();
                                let inside = occupancy.inside.fetch_add(1, Ordering::SeqCst) + 1;
                                occupancy.peak.fetch_max(inside, Ordering::SeqCst);
                                thread::yield_now(); // let the others try to get in meanwhile
                                occupancy.inside.fetch_sub(1, Ordering::SeqCst);
                            }
                        });
                    }
                });
                (
                    occupancy.peak.load(Ordering::SeqCst),
                    semaphore.available_permits(),
                )
            });
            let (peak, free_at_end) = r;
            assert!(peak <= permits, "{permits} permits, {peak} inside");
            assert!(peak >= 1);
            assert_eq!(free_at_end, permits, "a permit leaked");
        }
    }

    /// `#[must_use]` acts at compile time (a warning on `semaphore.acquire();`, an error under CI's
    /// `-D warnings`), so no test can run the mistake. This one keeps the attribute from being lost:
    /// it reads this file and checks that the permit's type carries it.
    #[test]
    fn the_permit_is_must_use() {
        let source = include_str!("07_semaphore_threads.rs");
        let permit = source
            .find("\nstruct Permit<'a>")
            .expect("the permit type is declared here");
        let attributes = &source[..permit];
        let last_item = attributes.rfind("\n}\n").unwrap_or(0);
        assert!(
            attributes[last_item..]
                .lines()
                .any(|line| line.starts_with("#[must_use")),
            "`Permit` lost its #[must_use]"
        );
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["07", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("07 · Semaphore"), "{help}");
        let bad = Args::try_parse_from(["07", "--permits", "4"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }

    #[test]
    fn a_thread_that_panics_still_gives_its_permit_back() {
        let semaphore = Semaphore::new(1);
        thread::scope(|s| {
            let doomed = s.spawn(|| {
                let _permit = semaphore.acquire();
                panic!("the resource exploded");
            });
            assert!(doomed.join().is_err());
        });
        assert_eq!(semaphore.available_permits(), 1);
        // And the permit can be taken again: the mutex was not left unusable.
        drop(semaphore.acquire());
    }
}
