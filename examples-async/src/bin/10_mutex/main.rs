//! # 10 · Mutex: two ATMs, one account, and a race across an `.await`
//!
//! The account holds 100. Two ATMs each withdraw 80 at the same moment. Each withdrawal checks the
//! card (50 ms), reads the balance, dispenses the cash (200 ms, an `.await`) and writes the new
//! balance. Upstream waits 0.1 and 0.5 s; the ratio is kept, the seconds scaled down.
//!
//! What it shows:
//! - **Rust stops data races, not logical races.** The unlocked version compiles without a murmur:
//!   every single read and write of the balance goes through a lock. But the lock is let go between
//!   the read and the write, and the `.await` in between lets the other ATM read the same 100. Both
//!   approve, 160 leaves the machines, the account says 20: the books are off by 80. No second thread
//!   is needed: the runtime here has **one** thread, and the race happens at the `.await`.
//! - **The fix: one lock held across the whole check-then-act**, `.await` included. That lock must be
//!   `tokio::sync::Mutex`: its `lock().await` yields while it waits, so the other task can run and
//!   finish. One ATM approves, the other rejects, and the books balance.
//! - **When `std::sync::Mutex` is the right choice, and why its guard must not live across an
//!   `.await`**: the third version, in `reserve.rs`.
//!
//! Seed: "Asynchrony" > Challenges and Considerations ("Elimination of Locks" holds only while no
//! `.await` sits inside a check-then-act). Upstream: `src/python/asynchrony/mutex.py` (the race and
//! its fix), `src/js/asynchrony/10_mutex.js`, `src/cpp/asynchrony/async_mutex.cpp`.
//! Threads twin: `examples-threads/src/bin/10_mutex_threads/`. Beside this lesson: `reserve.rs`,
//! `report.rs` (answers, the books, the summary), `tests.rs`.
//!
//! Run: `cargo run -p examples-async --bin 10_mutex` (under 1 s; no flags but `--help`).
//!
//! Output of a real run: `docs/output/10_mutex.txt`.

mod report;
mod reserve;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::{init_logging, out, parse_args, time_async};
use tokio::time::{Instant, sleep};
use tracing::info;

use report::{Outcome, Report, answer, log_report, summary_lines};
use reserve::run_reserved;

const OPENING_BALANCE: u64 = 100;
const WITHDRAWAL: u64 = 80;
/// Work each ATM does before it touches the account (upstream: 0.1 s, outside the lock).
const CARD_CHECK: Duration = Duration::from_millis(50);
/// The `.await` between reading the balance and writing it back (upstream: 0.5 s).
const DISPENSE: Duration = Duration::from_millis(200);
const ATMS: [&str; 2] = ["ATM-1", "ATM-2"];

// --- 1. No lock across the `.await` -------------------------------------------------------------

/// The balance behind a `std::sync::Mutex`, locked for each single read or write and never across
/// an `.await`. There is no data race (the compiler would not allow one), and still the withdrawal
/// below is wrong: the lock protects each access, not the decision made between them.
struct Account {
    balance: std::sync::Mutex<u64>,
}

impl Account {
    fn open() -> Arc<Account> {
        Arc::new(Account {
            balance: std::sync::Mutex::new(OPENING_BALANCE),
        })
    }

    fn read(&self) -> u64 {
        *self
            .balance
            .lock()
            .expect("no one panics while holding the balance")
    }

    fn write(&self, balance: u64) {
        *self
            .balance
            .lock()
            .expect("no one panics while holding the balance") = balance;
    }
}

/// Read, `.await`, write back what was read minus the amount: the read-await-write race.
async fn withdraw_unlocked(account: &Account, atm: &'static str, amount: u64) -> Outcome {
    sleep(CARD_CHECK).await;
    let balance = account.read();
    if balance < amount {
        info!("{atm}: balance is {balance}, rejected");
        return Outcome::Rejected;
    }
    info!("{atm}: balance is {balance}, dispensing {amount}");
    // This task yields here. The other ATM runs, reads the same balance and decides the same way:
    // the cooperative model makes the switch point visible, it does not make it safe.
    sleep(DISPENSE).await;
    // `balance` is stale now: writing it back overwrites what the other ATM wrote (a lost update).
    account.write(balance - amount);
    info!("{atm}: approved, writes balance {}", balance - amount);
    Outcome::Approved
}

async fn run_unlocked() -> anyhow::Result<Report> {
    let account = Account::open();
    let start = Instant::now();
    let atms = ATMS.map(|atm| {
        let account = Arc::clone(&account);
        tokio::spawn(async move {
            let outcome = withdraw_unlocked(&account, atm, WITHDRAWAL).await;
            answer(atm, start, outcome)
        })
    });
    let mut answers = Vec::new();
    for atm in atms {
        // `.await` on a `JoinHandle` waits for the task; `Err` means it panicked.
        answers.push(atm.await?);
    }
    Ok(Report {
        answers,
        balance: account.read(),
    })
}

// --- 2. tokio::sync::Mutex held across the `.await` ---------------------------------------------

/// Check, dispense and write under one guard. `tokio::sync::Mutex` because the guard lives across
/// `sleep(DISPENSE).await`: the other ATM waits in `lock().await`, which yields the thread instead
/// of blocking it, so the holder can wake up, finish and let go. (The guard is also `Send`, so the
/// future can be spawned on a multi-threaded runtime.)
async fn withdraw_locked(
    account: &tokio::sync::Mutex<u64>,
    atm: &'static str,
    amount: u64,
) -> Outcome {
    sleep(CARD_CHECK).await;
    let mut balance = account.lock().await;
    if *balance < amount {
        info!("{atm}: balance is {}, rejected", *balance);
        return Outcome::Rejected;
    }
    info!(
        "{atm}: balance is {}, dispensing {amount} (holding the lock)",
        *balance
    );
    sleep(DISPENSE).await;
    *balance -= amount;
    info!("{atm}: approved, balance now {}", *balance);
    Outcome::Approved
    // The guard is dropped here: the waiting ATM gets the lock and sees the new balance.
}

async fn run_locked() -> anyhow::Result<Report> {
    let account = Arc::new(tokio::sync::Mutex::new(OPENING_BALANCE));
    let start = Instant::now();
    let atms = ATMS.map(|atm| {
        let account = Arc::clone(&account);
        tokio::spawn(async move {
            let outcome = withdraw_locked(&account, atm, WITHDRAWAL).await;
            answer(atm, start, outcome)
        })
    });
    let mut answers = Vec::new();
    for atm in atms {
        answers.push(atm.await?);
    }
    let balance = *account.lock().await;
    Ok(Report { answers, balance })
}

// One thread on purpose: the race below needs no parallelism, only an `.await` in the wrong place.
#[derive(Parser, Debug)]
#[command(
    about = "10 · Mutex: two ATM tasks withdraw 80 from 100; without a lock across the .await both are approved, tokio::sync::Mutex fixes it",
    long_about = None
)]
struct Args {}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    info!("--- no lock across the .await: read, dispense, write ---");
    let (unlocked, took) = time_async(run_unlocked()).await;
    let unlocked = unlocked?;
    log_report(&unlocked, took);

    info!("--- tokio::sync::Mutex held from the check to the write ---");
    let (locked, took) = time_async(run_locked()).await;
    let locked = locked?;
    log_report(&locked, took);

    info!("--- std::sync::Mutex for a short reservation, dispensing after it ---");
    let (reserved, took) = time_async(run_reserved()).await;
    let reserved = reserved?;
    log_report(&reserved, took);

    out!();
    out!("Summary");
    for line in summary_lines([
        ("no lock", &unlocked),
        ("tokio::sync::Mutex across the .await", &locked),
        ("std::sync::Mutex, reserve then dispense", &reserved),
    ]) {
        out!("  {line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
