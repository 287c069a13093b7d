//! # 17.5 · Busy-waiting instead of a `Condvar`
//!
//! A thread waits 200 ms for a report to be ready: one spins on an atomic flag, one sleeps on a
//! condvar. Each waiter's own CPU time is read from `/proc/self/task/<tid>/stat` (as 04's test
//! reads it): the spinner burns up to a whole core for the whole wait, the sleeper about nothing
//! (ideal 0). The async twin's nearest mistake is blocking the runtime (`blocking.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::Duration;

use common::time;

use crate::lock;

/// How long the waiter waits for the report.
pub const READY_AFTER: Duration = Duration::from_millis(200);

/// What one waiter measured about itself.
#[derive(Debug, Clone, Copy)]
pub struct WaitReport {
    pub waited: Duration,
    /// CPU time the waiting thread used while it waited (`None` off Linux).
    pub cpu: Option<Duration>,
}

/// The mistake: check an atomic flag in a loop until another thread sets it.
pub fn busy_wait() -> WaitReport {
    let ready = AtomicBool::new(false);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            measure_own_cpu(|| {
                while !ready.load(Ordering::Acquire) {
                    std::hint::spin_loop(); // a hint to the CPU, not to the OS: still running
                }
            })
        });
        thread::sleep(READY_AFTER);
        ready.store(true, Ordering::Release);
        waiter.join().expect("the waiter does not panic")
    })
}

/// The fix: sleep on a `Condvar` until the flag is set; the OS wakes the thread on `notify`.
pub fn condvar_wait() -> WaitReport {
    let ready = Mutex::new(false);
    let report_ready = Condvar::new();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            measure_own_cpu(|| {
                let guard = lock(&ready);
                let _ready = report_ready
                    .wait_while(guard, |ready| !*ready)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            })
        });
        thread::sleep(READY_AFTER);
        *lock(&ready) = true;
        report_ready.notify_all();
        waiter.join().expect("the waiter does not panic")
    })
}

/// Runs `wait` on the calling thread; returns how long it took and the CPU time it used.
pub fn measure_own_cpu(wait: impl FnOnce()) -> WaitReport {
    let tid = common::timing::current_tid();
    let cpu_before = tid.as_deref().and_then(common::timing::thread_cpu_time);
    let (_, waited) = time(wait);
    let cpu_after = tid.as_deref().and_then(common::timing::thread_cpu_time);
    WaitReport {
        waited,
        cpu: cpu_before
            .zip(cpu_after)
            .map(|(before, after)| after.saturating_sub(before)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn busy_waiting_burns_cpu_and_a_condvar_does_not() {
        let spinning = busy_wait();
        let sleeping = condvar_wait();
        let (spun, slept) = (
            spinning.cpu.expect("Linux has /proc"),
            sleeping.cpu.expect("Linux has /proc"),
        );
        // Each waiter times itself from its own start, a little after the 200 ms began.
        assert!(spinning.waited >= READY_AFTER / 2 && sleeping.waited >= READY_AFTER / 2);
        // A spinner on a loaded 2-core machine still gets a share of a core (30 ms of the 200 was
        // seen with eight test suites running): two ticks or more, where a thread asleep on the
        // condvar gets 0 or the 1 tick of its wake.
        assert!(spun >= ms(20), "busy-waiting used {spun:?}");
        assert!(slept <= ms(10), "the condvar waiter used {slept:?}");
    }
}
