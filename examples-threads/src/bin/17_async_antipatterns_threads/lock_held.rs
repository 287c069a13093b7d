//! # 17.1 · A lock held during slow I/O
//!
//! The twin of a `MutexGuard` across an `.await` (the async twin's `lock_held.rs`). Four ATMs debit
//! one account and print a receipt (100 ms of slow I/O). Printing while holding the lock makes the
//! four take turns: 400 ms, the sum; debiting under the lock and printing after letting go takes
//! 100 ms, the longest. The longest wait for the lock is printed too. Upstream: C++
//! `async_antipatterns.cpp`, demo 1's lesson on what a lock should cover.

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::lock;

pub const ATMS: usize = 4;
pub const WITHDRAWAL: u64 = 10;
/// Printing a receipt: the slow I/O (a slow disk, a network printer), as a blocking sleep.
pub const RECEIPT: Duration = Duration::from_millis(100);

/// What the four ATMs measured.
#[derive(Debug, Clone, Copy)]
pub struct IoReport {
    pub took: Duration,
    pub longest_wait: Duration,
    pub balance: u64,
}

/// Four ATMs withdraw from one account at once. `print_under_lock` is the mistake: the receipt is
/// printed while the guard is alive, so every other ATM waits for the printer too.
pub fn atms_printing_receipts(print_under_lock: bool) -> IoReport {
    let account = Mutex::new(100u64);
    let longest_wait = Mutex::new(Duration::ZERO);
    let start = Instant::now();
    thread::scope(|s| {
        for atm in 1..=ATMS {
            let (account, longest_wait) = (&account, &longest_wait);
            thread::Builder::new()
                .name(format!("ATM-{atm}"))
                .spawn_scoped(s, move || {
                    let asked = Instant::now();
                    let mut balance = lock(account);
                    let waited = asked.elapsed();
                    *balance -= WITHDRAWAL;
                    if print_under_lock {
                        thread::sleep(RECEIPT); // the guard is still alive: everyone waits
                        drop(balance);
                    } else {
                        drop(balance); // let go first, then do the slow part
                        thread::sleep(RECEIPT);
                    }
                    let mut longest = lock(longest_wait);
                    *longest = (*longest).max(waited);
                })
                .expect("the OS starts a thread");
        }
    });
    IoReport {
        took: start.elapsed(),
        longest_wait: *lock(&longest_wait),
        balance: *lock(&account),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_held_during_io_makes_the_atms_take_turns() {
        let bad = atms_printing_receipts(true);
        assert!(bad.took >= RECEIPT * ATMS as u32, "{bad:?}");
        // The last in line waits for three receipts, less how late it asked (far under 100 ms).
        assert!(bad.longest_wait >= RECEIPT * 2, "{bad:?}");
        let good = atms_printing_receipts(false);
        assert!(good.took < RECEIPT * ATMS as u32, "{good:?}");
        // Under the 200 ms the mistake forces on its last ATM, with room for a busy machine.
        assert!(good.longest_wait < RECEIPT * 2, "{good:?}");
        assert_eq!(bad.balance, 100 - ATMS as u64 * WITHDRAWAL);
        assert_eq!(good.balance, bad.balance);
    }
}
