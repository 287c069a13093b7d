//! Sizing the work at start-up, so the lesson is the same in every build and on every machine: a
//! fixed count (12 million squares) takes 130 ms in a debug build and 4 ms in a release one, where a
//! freeze of 15 ms hides among the heartbeat's ticks. A debug build runs `heavy_sum` about 30 times
//! slower than a release build, and machines differ: a fixed count would teach a different lesson on
//! each.
//!
//! The time is the **CPU time of the calling thread** (`common::timing::thread_cpu_time`), not the
//! wall clock: on a machine busy with other programs, a wall-clock probe also counts the time the
//! thread waited for a core, and sizes the calls too small (or, timed in a quiet moment, too large).
//! CPU time counts the work alone, so a call sized for 120 ms is 120 ms of work however busy the
//! machine is; on a busy one it takes longer on the wall clock, as any work does.

use std::time::Duration;

use common::time;
use common::timing::{current_tid, thread_cpu_time};

use super::heavy_sum;

/// How much CPU time a calibration run must take to be timed reliably: the kernel counts a thread's
/// CPU time in ticks of 10 ms, so a run of 60 ms is read to within a sixth.
const PROBE: Duration = Duration::from_millis(60);

/// Runs `f` and returns its result with the CPU time the calling thread spent on it; where the
/// system does not say (no `/proc`: not Linux), the wall-clock time.
pub fn cpu_time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let tid = current_tid();
    let cpu = || tid.as_deref().and_then(thread_cpu_time);
    let before = cpu();
    let (output, wall) = time(f);
    let used = match (before, cpu()) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => wall,
    };
    (output, used)
}

/// How many squares one call must sum to take about `target` of CPU on this machine, in this build.
///
/// Runs of doubling size are timed until one takes [`PROBE`]; the median of three runs of that size
/// gives the speed, and the count is scaled from it.
pub fn calibrate(target: Duration) -> u64 {
    let mut n: u64 = 1 << 16;
    let first = loop {
        let (_, took) = cpu_time(|| heavy_sum(0..n));
        if took >= PROBE {
            break took;
        }
        n *= 2;
    };
    let mut runs = [
        first,
        cpu_time(|| heavy_sum(0..n)).1,
        cpu_time(|| heavy_sum(0..n)).1,
    ];
    runs.sort();
    (n as f64 * target.as_secs_f64() / runs[1].as_secs_f64()).max(1.0) as u64
}
