//! # 07 · Semaphore: ten tasks, three permits, never more than three inside
//!
//! Ten tasks want a resource that only three may use at once (three licences, three connections to a
//! rate-limited API). Each uses it for a fixed 100-400 ms (upstream: a random 0.5-2 s), so that the
//! schedule can be worked out by hand and tested exactly.
//!
//! What it shows:
//! - `tokio::sync::Semaphore::new(3)` and `acquire_owned()`: a task that finds no permit free waits
//!   (without blocking the thread) until another task gives one back.
//! - The permit is **RAII**: it goes back when the `OwnedSemaphorePermit` is dropped, at the end of the
//!   task, also if the task panics or is cancelled. Upstream's C++ releases by hand and loses the
//!   permit when an exception skips the release.
//! - `available_permits()` reaches 0 and stays 0 while anyone waits: tokio's semaphore is **fair**, a
//!   released permit goes straight to the task that has waited longest (FIFO).
//! - The largest number inside at once is measured: exactly 3. The total is what the FIFO schedule
//!   predicts (950 ms): less than one at a time (2350 ms), more than all at once (400 ms).
//!
//! Seed: "Asynchrony" > Examples in Python, Performance Considerations (semaphores to limit concurrent
//! tasks against rate-limited APIs); Examples table row 7. Upstream: `src/python/asynchrony/semaphore.py`,
//! `src/js/asynchrony/07_semaphore.js`, `src/cpp/asynchrony/async_semaphore.cpp`.
//! Threads twin: `examples-threads/src/bin/07_semaphore_threads/main.rs`.
//!
//! This file is the lesson: the tasks, the semaphore, `main`. What a run measured and its summary are
//! in `report.rs`; the proofs, on tokio's paused clock, in `tests.rs`.
//!
//! Run: `cargo run -p examples-async --bin 07_semaphore` (no flags but `--help`, about 1 s).
//! Output of a real run: `docs/output/07_semaphore.txt`.

mod report;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging};
use report::{Occupancy, SemaphoreRun, Visit, print_summary};
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep};
use tracing::info;

/// How many tasks may use the resource at once.
const PERMITS: usize = 3;
/// How long each task uses it (task `i` takes `WORK[i]`).
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

/// One task: wait for a permit, use the resource for `work`, give the permit back.
async fn use_resource(
    task: usize,
    work: Duration,
    semaphore: Arc<Semaphore>,
    occupancy: Arc<Occupancy>,
    start: Instant,
) -> anyhow::Result<Visit> {
    if semaphore.available_permits() == 0 {
        info!("task {task}: no permit free, waiting");
    }
    let asked = Instant::now();
    // `acquire_owned` takes an `Arc<Semaphore>` and returns a permit that borrows nothing (`'static`):
    // it could be moved into another task. It fails only if the semaphore is closed, which this
    // program never does.
    let permit = semaphore.clone().acquire_owned().await?;
    let entered = start.elapsed();
    let inside = occupancy.inside.fetch_add(1, Ordering::SeqCst) + 1;
    occupancy.peak.fetch_max(inside, Ordering::SeqCst);
    info!(
        "task {task}: in after waiting {}; {inside} inside, {} permits free",
        fmt_duration(asked.elapsed()),
        semaphore.available_permits()
    );

    sleep(work).await; // using the resource

    occupancy.inside.fetch_sub(1, Ordering::SeqCst);
    let left = start.elapsed();
    // Dropping the permit gives it back. Written out here for the reader: it would happen anyway at
    // the end of this function, or during unwinding if `sleep` had panicked.
    drop(permit);
    info!(
        "task {task}: out after {}; {} permits free",
        fmt_duration(work),
        semaphore.available_permits()
    );
    Ok(Visit {
        task,
        entered,
        left,
    })
}

/// Spawns one task per entry of `work`, all at once, and lets `permits` of them in at a time.
async fn run(work: &[Duration], permits: usize) -> anyhow::Result<SemaphoreRun> {
    let start = Instant::now();
    let semaphore = Arc::new(Semaphore::new(permits));
    let occupancy = Arc::new(Occupancy::default());
    let tasks: Vec<_> = work
        .iter()
        .enumerate()
        .map(|(task, &work)| {
            tokio::spawn(use_resource(
                task,
                work,
                semaphore.clone(),
                occupancy.clone(),
                start,
            ))
        })
        .collect();
    let mut visits = Vec::new();
    for task in tasks {
        visits.push(task.await??);
    }
    Ok(SemaphoreRun {
        visits,
        peak_inside: occupancy.peak.load(Ordering::SeqCst),
        free_at_end: semaphore.available_permits(),
        total: start.elapsed(),
    })
}

/// `--help` text: what the example demonstrates. No flags: the schedule is fixed so it can be
/// checked to the millisecond.
#[derive(Parser, Debug)]
#[command(
    about = "07 · Semaphore: 10 tasks share 3 permits (tokio::sync::Semaphore, RAII permits from \
             acquire_owned); never more than 3 inside at once, entering in FIFO order",
    long_about = None
)]
struct Args {}

// One thread is enough: the tasks wait (for a permit, for the timer), they do not compute.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!(
        "{} tasks, {PERMITS} permits: at most {PERMITS} use the resource at once",
        WORK.len()
    );
    let r = run(&WORK, PERMITS).await?;
    print_summary(&r);
    Ok(())
}

#[cfg(test)]
mod tests;
