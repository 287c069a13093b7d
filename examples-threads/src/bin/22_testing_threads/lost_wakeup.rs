//! The same semaphore with a deliberate **lost wake-up**, kept beside the correct one so the two can
//! be diffed, and the hand-over that shows it on real threads: a `Barrier` holds the waiter between
//! its check and its sleep while the permit is released, so the wake-up goes to nobody, every time.

use std::sync::PoisonError;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use common::fmt_duration;
use tracing::info;

use crate::sync::{Condvar, Mutex, MutexGuard};
use crate::{Handover, Permit, Release, wait_for_entry};

/// The same semaphore with a deliberate bug, kept beside the correct one so the two can be diffed:
/// it checks the count, **lets go of the lock**, then locks again to sleep. A permit returned in
/// between is counted, but its `notify_one` finds nobody asleep, and the waiter then sleeps for
/// ever (if no other release comes): a lost wake-up. Used only by `main`'s demonstration and by the
/// loom test that must catch it.
pub struct LostWakeupSemaphore {
    pub free: Mutex<usize>,
    pub permit_returned: Condvar,
}

impl LostWakeupSemaphore {
    pub fn new(permits: usize) -> Self {
        LostWakeupSemaphore {
            free: Mutex::new(permits),
            permit_returned: Condvar::new(),
        }
    }

    pub fn count(&self) -> MutexGuard<'_, usize> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(loom_check)]
    pub fn acquire(&self) -> Permit<'_, Self> {
        self.acquire_observed(|| {})
    }

    pub fn acquire_observed(&self, mut before_sleeping: impl FnMut()) -> Permit<'_, Self> {
        loop {
            {
                let mut free = self.count();
                if *free > 0 {
                    *free -= 1;
                    return Permit { semaphore: self };
                }
            } // THE BUG: the lock goes here, before the thread sleeps
            before_sleeping(); // without the lock: a release now wakes nobody
            let free = self.count();
            drop(
                self.permit_returned
                    .wait(free)
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
    }

    /// Wakes every sleeper: what rescues the stuck waiter in `main` (a real program has no such
    /// rescuer, only the next release, if one ever comes).
    pub fn nudge(&self) {
        self.permit_returned.notify_all();
    }
}

impl Release for LostWakeupSemaphore {
    fn release(&self) {
        *self.count() += 1;
        self.permit_returned.notify_one();
    }
}

/// The same hand-over on the buggy semaphore. Its gap is outside the lock, so the schedule can be
/// forced completely: the waiter stops at the gap (first barrier), the release happens, and only
/// then (second barrier) does the waiter go to sleep, after its wake-up was sent to nobody.
pub fn forced_handover_lost_wakeup() -> anyhow::Result<Handover> {
    let semaphore = LostWakeupSemaphore::new(1);
    let held = Permit {
        semaphore: &semaphore,
    };
    *semaphore.count() -= 1; // `held` owns the only permit
    let at_the_gap = std::sync::Barrier::new(2);
    let (entered, entered_rx) = mpsc::channel();
    thread::scope(|s| -> anyhow::Result<Handover> {
        thread::Builder::new()
            .name("waiter".into())
            .spawn_scoped(s, || {
                let mut first = true;
                let _permit = semaphore.acquire_observed(|| {
                    if std::mem::take(&mut first) {
                        at_the_gap.wait(); // stopped between the check and the sleep
                        at_the_gap.wait(); // the release has happened
                    }
                });
                let _ = entered.send(Instant::now());
            })?;
        at_the_gap.wait();
        info!(
            "lost-wake-up semaphore: the waiter is between its check and its sleep; releasing now"
        );
        let released = Instant::now();
        drop(held);
        at_the_gap.wait();
        let (entered, nudged) =
            wait_for_entry(&entered_rx, "lost-wake-up semaphore", || semaphore.nudge())?;
        let woken_after = entered.saturating_duration_since(released);
        info!(
            "lost-wake-up semaphore: in, {} after the release",
            fmt_duration(woken_after)
        );
        Ok(Handover {
            woken_after,
            nudged,
        })
    })
}
