//! What the run prints after the log: the lanes of each way (one row per thread, one character per
//! [`SLOT`]), what to see in them, and the summary: each total beside its ideal, worked out by list
//! scheduling in `common::schedule`. Upstream: the four diagrams of
//! `notes/04_asynchronous_programming.md`, drawn by hand; no upstream program draws them.

use std::time::Duration;

use common::timeline;
use common::{Comparison, fmt_duration, schedule};

use crate::{JOBS, Job, Run};

impl Job {
    /// How long the job takes alone, with nothing else in the way.
    fn alone(&self) -> Duration {
        self.bursts.iter().chain(&self.waits).sum()
    }
}

/// One character of a lane: short enough to see every burst, long enough that a run fits a line.
const SLOT: Duration = Duration::from_millis(10);

/// The best any scheduler can do with `threads` threads and no overhead: whenever a job is ready for
/// its next burst (it woke first, ties in job order), run it on the thread that is free first (list
/// scheduling, worked out in `common::schedule`). One thread gives the ideal of III; one per job
/// gives the longest job (II).
pub fn ideal_with(threads: usize) -> Duration {
    let jobs: Vec<schedule::Job<'_>> = JOBS
        .iter()
        .map(|job| schedule::Job {
            bursts: &job.bursts,
            waits: &job.waits,
        })
        .collect();
    schedule::makespan(&jobs, threads)
}

/// What I should approach: every burst and every wait, one after another.
pub fn sum_of_everything() -> Duration {
    JOBS.iter().map(Job::alone).sum()
}

/// The title of each way, in the order I, II, III, IV.
pub fn titles(workers: usize) -> [String; 4] {
    [
        "I. sequential, one thread".to_string(),
        "II. one OS thread per job".to_string(),
        "III. async, current_thread runtime".to_string(),
        format!("IV. async, multi-thread runtime, {workers} workers"),
    ]
}

/// The four drawings, titled with their measured times, and a key to reading them.
pub fn print_lanes(runs: [&Run; 4], workers: usize) {
    for (title, run) in titles(workers).iter().zip(runs) {
        common::out!();
        common::out!("{title}: {}", fmt_duration(run.took));
        common::logging::write_stdout(format_args!("{}", timeline::render(&run.segments, SLOT)));
    }
    common::out!();
    common::out!(
        "What to see (uppercase: running, lowercase: blocked holding the thread, -: thread free)"
    );
    common::out!(
        "  I    one thread: while a job waits it still holds the thread (lowercase), so nothing else runs"
    );
    common::out!(
        "  II   a thread per job: the waits overlap across threads; each thread still blocks in its waits"
    );
    common::out!(
        "  III  one thread, tasks interleave: while A waits, B and C run; '-' only when all three wait"
    );
    common::out!(
        "  IV   tasks run on whichever worker is free: they interleave, may overlap, may resume elsewhere"
    );
}

/// The summary: I against the sum of everything, II to IV against I, each beside its ideal.
pub fn print_summary(runs: [&Run; 4], workers: usize) {
    let [one, two, three, four] = runs;
    let sum = sum_of_everything();
    let ideal = |d: Duration| sum.as_secs_f64() / d.as_secs_f64();
    common::out!();
    common::out!("Summary");
    common::out!(
        "  I. sequential took {} (ideal: the sum of every burst and wait, {})",
        fmt_duration(one.took),
        fmt_duration(sum)
    );
    common::out!(
        "  {}",
        Comparison::new(
            "sequential",
            one.took,
            "threads",
            two.took,
            ideal(ideal_with(JOBS.len()))
        )
    );
    common::out!(
        "  {}",
        Comparison::new(
            "sequential",
            one.took,
            "async 1 thread",
            three.took,
            ideal(ideal_with(1))
        )
    );
    common::out!(
        "  {}",
        Comparison::new(
            "sequential",
            one.took,
            format!("async {workers} workers"),
            four.took,
            ideal(ideal_with(workers))
        )
    );
    common::out!(
        "  threads used: I {}, II {}, III {}, IV {}",
        timeline::threads(&one.segments).len(),
        timeline::threads(&two.segments).len(),
        timeline::threads(&three.segments).len(),
        timeline::threads(&four.segments).len()
    );
}
