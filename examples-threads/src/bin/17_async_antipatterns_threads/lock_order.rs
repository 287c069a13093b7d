//! # 17.2 · Lock-order deadlock, detected by a timeout
//!
//! A transfer A->B locks A then B; a transfer B->A locks B then A. Once each holds its first lock,
//! each waits for ever for the other's. std's `Mutex` has no `lock` with a deadline, so the second
//! lock is taken with `try_lock` until 200 ms have passed (C++'s `timed_mutex::try_lock_for`): the
//! deadline fires, the deadlock is reported, the transfer backs out, and the program goes on. The
//! fix, one global order (lower account first): both transfers go through, none times out.
//! Upstream: `src/cpp/multithreading/deadlock_philosophers_antipattern.cpp` (a lock-order deadlock
//! detected with `try_lock_for` rather than hanging).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

use common::fmt_duration;
use tracing::{info, warn};

use crate::lock;
use crate::lock_held::WITHDRAWAL;

/// How long a transfer waits for its second lock before it calls it a deadlock.
pub const PATIENCE: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOrder {
    /// The mistake: each transfer locks its source first.
    SourceFirst,
    /// The fix: every transfer locks the lower-numbered account first.
    Global,
}

/// How the two transfers ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeadlockReport {
    pub timed_out: usize,
    pub done: usize,
    pub took: Duration,
}

/// `lock()` with a deadline: std's `Mutex` has none, so try, sleep 1 ms, try again until the
/// deadline. As blocking as `lock()`, but it gives up instead of waiting for ever.
pub fn lock_within<T>(mutex: &Mutex<T>, patience: Duration) -> Option<MutexGuard<'_, T>> {
    let deadline = Instant::now() + patience;
    loop {
        match mutex.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => {}
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Two transfers at once, A->B and B->A, taking their locks in `order`.
pub fn opposite_transfers(order: LockOrder) -> DeadlockReport {
    let accounts = [Mutex::new(100u64), Mutex::new(100u64)];
    let names = ["A", "B"];
    let timed_out = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    // Each transfer tells the other when it holds its first lock, and waits (at most PATIENCE) to
    // hear the same: this makes the unlucky timing, both holding one lock, certain instead of
    // occasional. With the global order the other transfer is blocked on the same first lock and
    // never says so; the wait then ends at its deadline and the transfer goes on (so the fixed run
    // takes PATIENCE too: the cost of this rig, not of the fix).
    let (to_b, from_a) = std::sync::mpsc::channel::<()>();
    let (to_a, from_b) = std::sync::mpsc::channel::<()>();
    let start = Instant::now();
    thread::scope(|s| {
        for (from, to, tell, hear) in [(0, 1, to_b, from_b), (1, 0, to_a, from_a)] {
            let (accounts, timed_out, done) = (&accounts, &timed_out, &done);
            let name = format!("transfer {}->{}", names[from], names[to]);
            thread::Builder::new()
                .name(name.clone())
                .spawn_scoped(s, move || {
                    let (first, second) = match order {
                        LockOrder::SourceFirst => (from, to),
                        LockOrder::Global => (from.min(to), from.max(to)),
                    };
                    let first_guard = lock(&accounts[first]);
                    let _ = tell.send(()); // the other transfer may be gone: then nobody listens
                    let _ = hear.recv_timeout(PATIENCE);
                    let Some(second_guard) = lock_within(&accounts[second], PATIENCE) else {
                        warn!(
                            "{name}: no lock on {} after {}: deadlock, backing out",
                            names[second],
                            fmt_duration(PATIENCE)
                        );
                        timed_out.fetch_add(1, Ordering::SeqCst);
                        return; // dropping `first_guard` lets the other transfer through
                    };
                    let (mut source, mut target) = if first == from {
                        (first_guard, second_guard)
                    } else {
                        (second_guard, first_guard)
                    };
                    *source -= WITHDRAWAL;
                    *target += WITHDRAWAL;
                    info!("{name}: done");
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .expect("the OS starts a thread");
        }
    });
    DeadlockReport {
        timed_out: timed_out.into_inner(),
        done: done.into_inner(),
        took: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opposite_lock_orders_deadlock_until_the_deadline_and_one_order_does_not() {
        let bad = opposite_transfers(LockOrder::SourceFirst);
        assert!(bad.timed_out >= 1, "{bad:?}");
        assert_eq!(bad.timed_out + bad.done, 2, "{bad:?}");
        let good = opposite_transfers(LockOrder::Global);
        assert_eq!(good.timed_out, 0, "{good:?}");
        assert_eq!(good.done, 2, "{good:?}");
    }
}
