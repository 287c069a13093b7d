//! What one run of `main.rs` measured (who was inside when, the most inside at once, the permits
//! left at the end) and the summary it prints beside its ideal. No lesson here.

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use common::{fmt_duration, schedule};

use super::{PERMITS, WORK};

/// One task's use of the resource. Times count from the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visit {
    pub task: usize,
    pub entered: Duration,
    pub left: Duration,
}

/// What one run measured.
#[derive(Debug)]
pub struct SemaphoreRun {
    pub visits: Vec<Visit>,
    /// The most tasks inside at once, as counted by the tasks themselves.
    pub peak_inside: usize,
    /// `available_permits()` after every task has finished.
    pub free_at_end: usize,
    pub total: Duration,
}

/// Who is inside right now and the most there ever were: measured by the tasks, not trusted to the
/// semaphore, so that the test checks the semaphore rather than itself.
#[derive(Default)]
pub struct Occupancy {
    pub inside: AtomicUsize,
    pub peak: AtomicUsize,
}

/// The summary: how many used the resource, the most inside at once, the permits left, and the
/// total beside the FIFO schedule's ideal and the two extremes.
pub fn print_summary(r: &SemaphoreRun) {
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
}
