//! # 17.2 · A `std::sync::MutexGuard` held across an `.await`
//!
//! With `tokio::spawn` it does not compile (the guard is not `Send`; the real message is quoted at
//! [`atm_holding_std_guard`]). `spawn_local` on a `LocalSet` (tasks that stay on this thread, so no
//! `Send` bound) of a `current_thread` runtime accepts it, and there it deadlocks: ATM-1 sleeps
//! holding the guard, ATM-2's `lock()` blocks the only thread, and ATM-1 can never wake up to let
//! go. A plain `lock()` would hang for ever; here ATM-2 asks with a deadline (`try_lock` until 300
//! ms have passed, blocking exactly as `lock()` does), so the deadlock is *seen*: the deadline
//! fires, and ATM-1, which needed 50 ms, held the lock for the whole 300 ms. The fix,
//! `tokio::sync::Mutex`: ATM-2 waits 50 ms without blocking anyone. Threads twin: the same file
//! name, a lock held during slow I/O.

use std::sync::Arc;
use std::time::Duration;

use common::fmt_duration;
use tokio::time::{Instant, sleep};
use tracing::{info, warn};

pub const OPENING_BALANCE: u64 = 100;
pub const WITHDRAWAL: u64 = 80;
/// The `.await` ATM-1 makes while it holds the lock (10's dispense).
pub const DISPENSE: Duration = Duration::from_millis(50);
/// How long ATM-2 waits for the lock before it calls it a deadlock.
pub const PATIENCE: Duration = Duration::from_millis(300);

/// What the two ATMs measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LockReport {
    /// How long ATM-2 waited: until it got the lock, or until it gave up.
    pub atm2_waited: Duration,
    /// Whether ATM-2 got the lock at all.
    pub atm2_got_it: bool,
    /// How long ATM-1 held the lock (it needs [`DISPENSE`]).
    pub atm1_held: Duration,
}

/// ATM-1 with the mistake: the `std::sync::MutexGuard` lives across the `.await`.
///
/// Given to `tokio::spawn`, this does not compile (rustc 1.95, tokio 1.54):
///
/// ```text
/// error: future cannot be sent between threads safely
///    --> src/main.rs:13:16
///     |
///  13 |       let task = tokio::spawn(async move {
///     |  ________________^
///  14 | |         let mut guard = b.lock().unwrap();
///  15 | |         tokio::time::sleep(Duration::from_millis(50)).await;
///  16 | |         *guard -= 80;
///  17 | |     });
///     | |______^ future created by async block is not `Send`
///     |
///     = help: within `{async block@src/main.rs:13:29: 13:39}`, the trait `Send` is not implemented for `std::sync::MutexGuard<'_, i32>`
/// note: future is not `Send` as this value is used across an await
///    --> src/main.rs:15:55
///     |
///  14 |         let mut guard = b.lock().unwrap();
///     |             --------- has type `std::sync::MutexGuard<'_, i32>` which is not `Send`
///  15 |         tokio::time::sleep(Duration::from_millis(50)).await;
///     |                                                       ^^^^^ await occurs here, with `mut guard` maybe used later
/// note: required by a bound in `tokio::spawn`
/// ```
///
/// `spawn_local` has no `Send` bound, so the compiler lets it through there (clippy's
/// `await_holding_lock` would still flag it: it is allowed here to run the mistake on purpose).
#[allow(clippy::await_holding_lock)]
pub async fn atm_holding_std_guard(
    balance: Arc<std::sync::Mutex<u64>>,
    start: Instant,
) -> Duration {
    let mut guard = balance
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let locked_at = start.elapsed();
    info!(
        "ATM-1: balance is {}, dispensing (holding a std MutexGuard)",
        *guard
    );
    sleep(DISPENSE).await;
    *guard -= WITHDRAWAL;
    let held = start.elapsed() - locked_at;
    drop(guard);
    info!("ATM-1: done, held the lock {}", fmt_duration(held));
    held
}

/// `lock()` with a deadline. std's `Mutex` has none (C++ has `timed_mutex::try_lock_for`): this
/// tries, sleeps 1 ms **blocking the thread**, and tries again, exactly as blocking as `lock()`,
/// except that it gives up at the deadline instead of waiting for ever. The deadline is real time
/// (`std::time`): the thread is blocked, so tokio's clock means nothing to it.
pub fn lock_within<T>(
    mutex: &std::sync::Mutex<T>,
    patience: Duration,
) -> Option<std::sync::MutexGuard<'_, T>> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        match mutex.try_lock() {
            Ok(guard) => return Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {}
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The mistake on a `current_thread` runtime: two ATMs as `spawn_local` tasks share a
/// `std::sync::Mutex`; ATM-1 sleeps holding it, ATM-2 blocks the only thread waiting for it.
pub async fn std_guard_across_await() -> LockReport {
    let balance = Arc::new(std::sync::Mutex::new(OPENING_BALANCE));
    let start = Instant::now();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let atm1 = tokio::task::spawn_local(atm_holding_std_guard(balance.clone(), start));
            let balance2 = balance.clone();
            let atm2 = tokio::task::spawn_local(async move {
                let asked = std::time::Instant::now();
                // With `balance2.lock()` this line never returns: ATM-1 holds the lock and can
                // only let go when this thread polls it again, which it cannot while it waits here.
                let got = lock_within(&balance2, PATIENCE);
                let waited = asked.elapsed();
                let got_it = got.is_some();
                match got {
                    Some(guard) => info!("ATM-2: balance is {}", *guard),
                    None => warn!(
                        "ATM-2: no lock after {}: deadlock (its holder needs this thread to let go)",
                        fmt_duration(waited)
                    ),
                }
                (waited, got_it)
            });
            let (atm2_waited, atm2_got_it) = atm2.await.expect("ATM-2 does not panic");
            let atm1_held = atm1.await.expect("ATM-1 does not panic");
            LockReport {
                atm2_waited,
                atm2_got_it,
                atm1_held,
            }
        })
        .await
}

/// The fix: `tokio::sync::Mutex`. Its guard may live across an `.await` (it is `Send`, and waiting
/// for it is an `.await` that gives the thread back), so ATM-2 waits while ATM-1 dispenses.
pub async fn tokio_mutex_across_await() -> LockReport {
    let balance = Arc::new(tokio::sync::Mutex::new(OPENING_BALANCE));
    let start = Instant::now();
    let b1 = balance.clone();
    let atm1 = tokio::spawn(async move {
        let mut guard = b1.lock().await;
        let locked_at = start.elapsed();
        info!(
            "ATM-1: balance is {}, dispensing (holding a tokio MutexGuard)",
            *guard
        );
        sleep(DISPENSE).await;
        *guard -= WITHDRAWAL;
        start.elapsed() - locked_at
    });
    // Let ATM-1 take the lock first, as in the bad version.
    tokio::task::yield_now().await;
    let b2 = balance.clone();
    let atm2 = tokio::spawn(async move {
        let asked = Instant::now();
        let guard = b2.lock().await;
        info!("ATM-2: balance is {}", *guard);
        asked.elapsed()
    });
    let atm2_waited = atm2.await.expect("ATM-2 does not panic");
    let atm1_held = atm1.await.expect("ATM-1 does not panic");
    LockReport {
        atm2_waited,
        atm2_got_it: true,
        atm1_held,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2. The deadlock holds the thread, so it is measured on the real clock too; its outcome does
    // not depend on the machine's speed: ATM-1 cannot run until ATM-2 lets go of the thread.
    #[tokio::test(flavor = "current_thread")]
    async fn a_std_guard_across_await_deadlocks_until_the_deadline_fires() {
        let r = std_guard_across_await().await;
        assert!(!r.atm2_got_it, "{r:?}");
        assert!(r.atm2_waited >= PATIENCE, "{r:?}");
        assert!(
            r.atm1_held >= PATIENCE,
            "ATM-1 could not finish meanwhile: {r:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_tokio_mutex_across_await_just_waits_for_the_dispense() {
        let r = tokio_mutex_across_await().await;
        assert_eq!(
            r,
            LockReport {
                atm2_waited: DISPENSE,
                atm2_got_it: true,
                atm1_held: DISPENSE
            }
        );
    }
}
