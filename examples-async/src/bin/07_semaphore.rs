//! # 07 · Semaphore: ten tasks, three permits, never more than three inside
//!
//! Ten tasks want a resource that only three may use at once (three licences, three connections to a
//! rate-limited API). Each uses it for a while: upstream draws 0.5-2 s at random; here the durations
//! are fixed (scaled to 100-400 ms) so that the schedule can be worked out by hand and tested exactly.
//!
//! What it shows:
//! - `tokio::sync::Semaphore::new(3)` and `acquire_owned()`: a task that finds no permit free waits
//!   (without blocking the thread) until another task gives one back.
//! - The permit is **RAII**: it goes back when the `OwnedSemaphorePermit` is dropped, at the end of the
//!   task, also if the task panics or is cancelled. Upstream's C++ releases by hand and loses the
//!   permit when an exception skips the release.
//! - `available_permits()` as tasks enter and leave: it reaches 0, and stays 0 while anyone waits,
//!   because tokio's semaphore is **fair**: a released permit goes straight to the task that has waited
//!   longest (FIFO), so tasks enter in the order they asked.
//! - The largest number inside at once is measured (a counter, and the recorded enter/leave times):
//!   exactly 3. The total is what the FIFO schedule predicts (950 ms): more than one task at a time
//!   (10 in a row would take 2350 ms), fewer than all at once (400 ms).
//!
//! Seed: "Asynchrony" > Examples in Python, Performance Considerations ("use mechanisms like semaphores
//! to limit the number of concurrent tasks if interacting with rate-limited resources or APIs"); Examples
//! table row 7. Upstream: `src/python/asynchrony/semaphore.py`, `src/js/asynchrony/07_semaphore.js`,
//! `src/cpp/asynchrony/async_semaphore.cpp`. Threads twin: `examples-threads/src/bin/07_semaphore_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 07_semaphore` (no flags but `--help`, about 1 s).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.000s  INFO [main] task 0: in after waiting 0.01 ms; 1 inside, 2 permits free
//!   0.000s  INFO [main] task 1: in after waiting 0.00 ms; 2 inside, 1 permits free
//!   0.000s  INFO [main] task 2: in after waiting 0.00 ms; 3 inside, 0 permits free
//!   0.000s  INFO [main] task 3: no permit free, waiting
//!   ...
//!   0.223s  INFO [main] task 1: out after 200 ms; 0 permits free
//!   0.223s  INFO [main] task 3: in after waiting 222 ms; 3 inside, 0 permits free
//!   ...
//! Summary
//!   10/10 tasks used the resource; at most 3 inside at once (3 permits)
//!   permits free at the end: 3 of 3 (none leaked)
//!   total 973 ms (ideal 950 ms, the FIFO schedule; one at a time 2350 ms, all at once 400 ms)
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging, schedule};
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

/// One task's use of the resource. Times count from the start of the run.
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
    /// The most tasks inside at once, as counted by the tasks themselves.
    peak_inside: usize,
    /// `available_permits()` after every task has finished.
    free_at_end: usize,
    total: Duration,
}

/// Who is inside right now and the most there ever were: measured by the tasks, not trusted to the
/// semaphore, so that the test checks the semaphore rather than itself.
#[derive(Default)]
struct Occupancy {
    inside: AtomicUsize,
    peak: AtomicUsize,
}

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

    let ideal = schedule::makespan_of_tasks(&WORK, PERMITS);
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
        "  total {} (ideal {}, the FIFO schedule; one at a time {}, all at once {})",
        fmt_duration(r.total),
        fmt_duration(ideal),
        fmt_duration(one_at_a_time),
        fmt_duration(all_at_once)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! On the paused clock every enter and leave happens at exactly the planned instant.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// When each task should enter and leave if the semaphore is fair: in task order, each one
    /// takes the first permit to come free. The ideal `main` prints is this schedule's end: list
    /// scheduling with one slot per permit, worked out in `common::schedule`.
    fn planned_schedule(work: &[Duration], permits: usize) -> Vec<Visit> {
        let tasks: Vec<schedule::Job<'_>> = work.iter().map(schedule::Job::task).collect();
        let mut visits: Vec<Visit> = schedule::list_schedule(&tasks, permits)
            .into_iter()
            .map(|p| Visit {
                task: p.job,
                entered: p.start,
                left: p.end,
            })
            .collect();
        visits.sort_by_key(|v| v.task);
        visits
    }

    /// A semaphore that leaked permits would leave tasks waiting forever; on the paused clock this
    /// deadline then fires at once and the test fails instead of hanging.
    async fn run_within_a_minute(work: &[Duration], permits: usize) -> SemaphoreRun {
        tokio::time::timeout(Duration::from_secs(60), run(work, permits))
            .await
            .expect("every task got a permit in the end (none leaked)")
            .expect("no task failed")
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

    #[tokio::test(start_paused = true)]
    async fn never_more_than_three_inside_and_three_is_reached() {
        let r = run_within_a_minute(&WORK, PERMITS).await;
        assert_eq!(r.peak_inside, 3);
        assert_eq!(max_overlap(&r.visits), 3);
        assert_eq!(r.free_at_end, 3, "every permit came back");
    }

    #[tokio::test(start_paused = true)]
    async fn the_run_follows_the_fifo_schedule_exactly() {
        let r = run_within_a_minute(&WORK, PERMITS).await;
        assert_eq!(r.visits, planned_schedule(&WORK, PERMITS));
        // Worked out by hand: tasks 0-2 enter at 0; 3 at 200; 4 and 5 at 300; 6 at 400; 7 at 450;
        // 8 at 550; 9 at 650 and leaves at 950.
        let entered: Vec<u64> = r
            .visits
            .iter()
            .map(|v| v.entered.as_millis() as u64)
            .collect();
        assert_eq!(entered, [0, 0, 0, 200, 300, 300, 400, 450, 550, 650]);
        assert_eq!(r.total, ms(950));
    }

    #[tokio::test(start_paused = true)]
    async fn the_number_of_permits_is_the_limit() {
        for permits in 1..=WORK.len() {
            let r = run_within_a_minute(&WORK, permits).await;
            assert_eq!(r.peak_inside, permits, "{permits} permits");
            let planned = planned_schedule(&WORK, permits);
            assert_eq!(r.visits, planned, "{permits} permits");
        }
        // The two ends: one permit is one at a time, ten permits is all at once.
        assert_eq!(run_within_a_minute(&WORK, 1).await.total, ms(2350));
        assert_eq!(run_within_a_minute(&WORK, 10).await.total, ms(400));
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["07", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("07 · Semaphore"), "{help}");
        let bad = Args::try_parse_from(["07", "--permits", "4"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_still_gives_its_permit_back() {
        let semaphore = Arc::new(Semaphore::new(1));
        let permit = semaphore.clone().acquire_owned().await.expect("open");
        let task = tokio::spawn(async move {
            let _permit = permit;
            panic!("the resource exploded");
        });
        assert!(task.await.expect_err("it panicked").is_panic());
        assert_eq!(semaphore.available_permits(), 1);
    }
}
