//! What one run of `main.rs` measured (who was inside when, the most inside at once, the permits
//! left at the end) and the summary it prints beside its ideal. No lesson here.
//!
//! The ideal is a range, not one figure: this semaphore is **not fair**. `notify_one` wakes some
//! waiter, and a thread that was never asleep may take the permit first, so which thread gets each
//! freed permit varies from run to run, and the total does too: at least the work divided among 3
//! (783 ms), at most 1050 ms for any order (Graham's bound for list scheduling: the average plus 2/3
//! of the longest job). tokio's semaphore is FIFO, and the async twin follows one exact schedule
//! (950 ms).

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use common::{fmt_duration, schedule};

use super::{PERMITS, WORK};

/// One thread's use of the resource. Times count from the start of the run.
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
    /// The most threads inside at once, as counted by the threads themselves.
    pub peak_inside: usize,
    /// `available_permits()` after every thread has finished.
    pub free_at_end: usize,
    pub total: Duration,
}

/// Who is inside right now and the most there ever were: measured by the threads, not trusted to the
/// semaphore, so that the test checks the semaphore rather than itself.
#[derive(Default)]
pub struct Occupancy {
    pub inside: AtomicUsize,
    pub peak: AtomicUsize,
}

/// The summary: how many used the resource, the most inside at once, the permits left, and the
/// total beside the range any order of hand-offs allows and the two extremes.
pub fn print_summary(r: &SemaphoreRun) {
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
}
