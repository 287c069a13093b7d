//! # 07 · Semaphore, with threads: ten threads, three permits, never more than three inside
//!
//! The same scenario as `examples-async/src/bin/07_semaphore/main.rs`: ten workers want a resource
//! only three may use at once, each for a fixed 100-400 ms (upstream: a random 0.5-2 s).
//!
//! What it shows:
//! - std has no semaphore (C++ got `std::counting_semaphore` only in C++20), so this file builds the
//!   one the chapter's C++ builds: a count behind a `Mutex` and a `Condvar` to sleep on while it is 0.
//!   Unlike upstream's, its permit is an **RAII guard**: dropping it (at the end of the scope, or while
//!   unwinding from a panic) gives the permit back, so no code path can forget to.
//! - The largest number inside at once, measured: exactly 3. The semaphore's own tests hammer it
//!   from 16 threads: never more than n inside, no permit leaked.
//!
//! What differs from the async twin: a waiting thread is parked by the OS (cheap, but a whole thread
//! doing nothing, where a waiting task is a few hundred bytes); this semaphore is **not fair**, so
//! the total varies from run to run within a range (see `report.rs`), where tokio's FIFO semaphore
//! follows one exact schedule; the permit borrows the semaphore, which scoped threads allow.
//!
//! Seed: "Asynchrony" > Examples in Python, Performance Considerations (semaphores to limit concurrent
//! tasks); "Asynchrony vs Multithreading". Upstream: `src/cpp/asynchrony/async_semaphore.cpp` (mutex +
//! condvar + int), `src/python/asynchrony/semaphore.py`, `src/js/asynchrony/07_semaphore.js`.
//!
//! This file is the lesson: the semaphore, the threads, `main`. What a run measured and its summary
//! are in `report.rs`; the proofs in `tests.rs`.
//!
//! Run: `cargo run -p examples-threads --bin 07_semaphore_threads` (no flags but `--help`, about 1 s).
//! Output of a real run: `docs/output/07_semaphore_threads.txt`.

mod report;

use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{fmt_duration, init_logging};
use report::{Occupancy, SemaphoreRun, Visit, print_summary};
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
/// It borrows the semaphore (`Permit<'a>`), which scoped threads allow; tokio's `acquire_owned`
/// needs an `Arc` because a spawned task must not borrow.
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

    /// Blocks until a permit is free, then takes it. A waiting thread is parked by the OS on the
    /// condvar (it does not spin): cheap, but still a whole thread doing nothing.
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
    print_summary(&r);
    Ok(())
}

#[cfg(test)]
mod tests;
