//! A deadlock, found, not waited for. Two transfers lock two accounts in opposite orders
//! (`transfer-to-savings`: checking, then savings; `transfer-to-checking`: savings, then checking):
//! each holds one lock and waits for the other, forever. std's `Mutex` would just hang. These are
//! `parking_lot` mutexes built with its `deadlock_detection` feature: a `deadlock-detector` thread
//! calls `parking_lot::deadlock::check_deadlock()` every 50 ms, which returns the cycle of blocked
//! threads with their backtraces. The example names them, measures how long detection took, and ends
//! (the two stuck threads end with the process; a service would log and restart). With `--fixed` both
//! transfers take the locks in one global order (checking before savings): no cycle, no report, and
//! the money adds up.

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use common::fmt_duration;
use parking_lot::Mutex;
use tracing::{error, info};

use crate::panics::our_functions;
use crate::{CHECK_EVERY, GIVE_UP_AFTER, HOLD};

/// An account: a balance behind a `parking_lot` mutex (which the deadlock detector can see).
pub struct Account {
    pub name: &'static str,
    pub balance: Mutex<u64>,
}

/// In which order the transfers take the two locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOrder {
    /// Each transfer locks its source first: two transfers in opposite directions deadlock.
    SourceFirst,
    /// Every transfer locks `checking` before `savings`, whatever the direction: no cycle possible.
    Global,
}

/// Moves `amount` from `from` to `to`, holding both locks. `both_hold_one` lines the two transfers
/// up so that each holds its first lock before either asks for its second.
#[inline(never)]
pub fn transfer(
    from: &Account,
    to: &Account,
    amount: u64,
    order: LockOrder,
    both_hold_one: &Barrier,
) {
    let (first, second) = match order {
        LockOrder::SourceFirst => (from, to),
        LockOrder::Global if from.name < to.name => (from, to),
        LockOrder::Global => (to, from),
    };
    let mut first_balance = first.balance.lock();
    info!("holds {}, waiting for {}", first.name, second.name);
    if order == LockOrder::SourceFirst {
        both_hold_one.wait();
    }
    thread::sleep(HOLD);
    let mut second_balance = second.balance.lock();
    let (from_balance, to_balance) = if first.name == from.name {
        (&mut *first_balance, &mut *second_balance)
    } else {
        (&mut *second_balance, &mut *first_balance)
    };
    *from_balance -= amount;
    *to_balance += amount;
    info!("moved {amount} from {} to {}", from.name, to.name);
}

/// What the transfers ended as.
#[derive(Debug)]
pub struct TransferRun {
    /// The threads of the lock cycle the detector found (names, sorted), when the check that found
    /// it started, and how long that check took (it collects every stuck thread's backtrace).
    pub deadlock: Option<(Vec<String>, Duration, Duration)>,
    /// Which of this file's functions the first deadlocked thread's backtrace passes through.
    pub stuck_in: Vec<String>,
    /// The balances afterwards, if the transfers finished.
    pub balances: Option<(u64, u64)>,
    pub checks: u32,
}

/// Two transfers in opposite directions, watched by a deadlock detector.
pub fn run_transfers(order: LockOrder) -> anyhow::Result<TransferRun> {
    let checking = Arc::new(Account {
        name: "checking",
        balance: Mutex::new(100),
    });
    let savings = Arc::new(Account {
        name: "savings",
        balance: Mutex::new(100),
    });
    let barrier = Arc::new(Barrier::new(2));
    let started = Instant::now();
    let mut handles = Vec::new();
    for (name, from, to, amount) in [
        ("transfer-to-savings", &checking, &savings, 30),
        ("transfer-to-checking", &savings, &checking, 50),
    ] {
        let (from, to, barrier) = (from.clone(), to.clone(), barrier.clone());
        handles.push(
            thread::Builder::new()
                .name(name.into())
                .spawn(move || transfer(&from, &to, amount, order, &barrier))?,
        );
    }
    // parking_lot reports std `ThreadId`s: this map turns them back into names.
    let names: HashMap<ThreadId, String> = handles
        .iter()
        .map(|h| {
            (
                h.thread().id(),
                h.thread().name().unwrap_or("?").to_string(),
            )
        })
        .collect();

    let mut checks = 0;
    loop {
        if handles.iter().all(|h| h.is_finished()) {
            for handle in handles {
                // A panic in `transfer` would be a bug in this file: report it as an error.
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("a transfer thread panicked"))?;
            }
            return Ok(TransferRun {
                deadlock: None,
                stuck_in: Vec::new(),
                balances: Some((*checking.balance.lock(), *savings.balance.lock())),
                checks,
            });
        }
        if started.elapsed() > GIVE_UP_AFTER {
            anyhow::bail!(
                "the transfers neither finished nor were found deadlocked within {}",
                fmt_duration(GIVE_UP_AFTER)
            );
        }
        thread::sleep(CHECK_EVERY);
        checks += 1;
        // Every cycle in the process found since the last call (each is reported once, to whoever
        // asks first: one detector per process); keep the ones made of our threads (a test binary
        // may hold the stuck threads of an earlier test).
        let check_started = started.elapsed();
        let cycles = parking_lot::deadlock::check_deadlock();
        let check_took = started.elapsed() - check_started;
        for cycle in cycles {
            let mut threads: Vec<String> = cycle
                .iter()
                .filter_map(|t| names.get(&t.thread_id()).cloned())
                .collect();
            if threads.len() != cycle.len() {
                continue;
            }
            threads.sort();
            let backtrace = format!("{:?}", cycle[0].backtrace());
            let stuck_in = our_functions(&backtrace);
            error!(
                "deadlock: {} threads wait for each other: {}",
                threads.len(),
                threads.join(", ")
            );
            // The two stuck threads cannot be unstuck or joined: they end with the process.
            return Ok(TransferRun {
                deadlock: Some((threads, check_started, check_took)),
                stuck_in,
                balances: None,
                checks,
            });
        }
    }
}
