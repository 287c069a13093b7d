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
//! - **When `std::sync::Mutex` is the right choice:** when no `.await` happens while it is held. It
//!   is faster than tokio's and is what tokio's docs recommend for short critical sections. The third
//!   version checks and debits in one short synchronous section (a *reservation*) and dispenses after
//!   letting go: also correct, and the rejected customer hears "no" at once instead of waiting the
//!   200 ms the other ATM spends dispensing (measured below).
//! - **Why a `std::sync::MutexGuard` must not live across an `.await`:** while ATM-1 sleeps holding
//!   it, ATM-2's `lock()` blocks the thread. On this one-thread runtime that thread is the one ATM-1
//!   needs to wake up on: a deadlock that no timeout can break. The compiler catches it for spawned
//!   tasks (the guard is not `Send`, so `tokio::spawn` refuses the future) and clippy's
//!   `await_holding_lock` lint flags it everywhere else.
//!
//! Seed: "Asynchrony" > Challenges and Considerations ("Elimination of Locks" holds only while no
//! `.await` sits inside a check-then-act). Upstream: `src/python/asynchrony/mutex.py` (the race and
//! its fix), `src/js/asynchrony/10_mutex.js`, `src/cpp/asynchrony/async_mutex.cpp`.
//! Threads twin: `examples-threads/src/bin/10_mutex_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 10_mutex` (under 1 s; no flags but `--help`).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.014s  INFO [main] --- no lock across the .await: read, dispense, write ---
//!   0.069s  INFO [main] ATM-1: balance is 100, dispensing 80
//!   0.069s  INFO [main] ATM-2: balance is 100, dispensing 80
//!   0.270s  INFO [main] ATM-1: approved, writes balance 20
//!   0.270s  INFO [main] ATM-2: approved, writes balance 20
//!   ...
//!   0.270s  INFO [main] BUG: balance 20 + dispensed 160 != 100: the bank paid out money it did not have (took 257 ms)
//!   0.270s  INFO [main] --- tokio::sync::Mutex held from the check to the write ---
//!   0.321s  INFO [main] ATM-1: balance is 100, dispensing 80 (holding the lock)
//!   0.523s  INFO [main] ATM-1: approved, balance now 20
//!   0.523s  INFO [main] ATM-2: balance is 20, rejected
//!   0.523s  INFO [main] ATM-1: Approved after 252 ms
//!   0.523s  INFO [main] ATM-2: Rejected after 252 ms
//!   0.523s  INFO [main] OK: balance 20 + dispensed 80 = 100 (took 252 ms)
//!   ...
//!
//! Summary
//!   no lock: 2 approved, 0 rejected, balance 20, dispensed 160: BUG, the books are off by 80
//!   tokio::sync::Mutex across the .await: 1 approved, 1 rejected, balance 20, dispensed 80: books balance
//!   std::sync::Mutex, reserve then dispense: 1 approved, 1 rejected, balance 20, dispensed 80: books balance
//!   the rejected customer waited 252 ms with the lock held across the dispense (ideal 250 ms), 51 ms with a short reservation (ideal 50 ms)
//! ```

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging, out, parse_args, time_async};
use tokio::time::{Instant, sleep};
use tracing::info;

const OPENING_BALANCE: u64 = 100;
const WITHDRAWAL: u64 = 80;
/// Work each ATM does before it touches the account (upstream: 0.1 s, outside the lock).
const CARD_CHECK: Duration = Duration::from_millis(50);
/// The `.await` between reading the balance and writing it back (upstream: 0.5 s).
const DISPENSE: Duration = Duration::from_millis(200);
const ATMS: [&str; 2] = ["ATM-1", "ATM-2"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Approved,
    Rejected,
}

/// One ATM's answer, and when (since the start) its customer got it.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    atm: &'static str,
    outcome: Outcome,
    answered_after: Duration,
}

/// One run of two simultaneous withdrawals: the answers, and the balance the account ends with.
#[derive(Debug, Clone, PartialEq)]
struct Report {
    answers: Vec<Answer>,
    balance: u64,
}

impl Report {
    fn count(&self, outcome: Outcome) -> usize {
        self.answers.iter().filter(|a| a.outcome == outcome).count()
    }

    /// The cash that left the machines: counted by the ATMs, not read from the account.
    fn dispensed(&self) -> u64 {
        self.count(Outcome::Approved) as u64 * WITHDRAWAL
    }

    /// Money is neither created nor lost: what is left plus what was paid out is what there was.
    fn books_balance(&self) -> bool {
        self.balance + self.dispensed() == OPENING_BALANCE
    }

    /// How long the slowest "rejected" took to arrive (zero if nobody was rejected).
    fn rejection_after(&self) -> Duration {
        self.answers
            .iter()
            .filter(|a| a.outcome == Outcome::Rejected)
            .map(|a| a.answered_after)
            .max()
            .unwrap_or_default()
    }

    fn summary(&self, label: &str) -> String {
        let verdict = if self.books_balance() {
            "books balance".to_string()
        } else {
            let off = (self.balance + self.dispensed()).abs_diff(OPENING_BALANCE);
            format!("BUG, the books are off by {off}")
        };
        format!(
            "{label}: {} approved, {} rejected, balance {}, dispensed {}: {verdict}",
            self.count(Outcome::Approved),
            self.count(Outcome::Rejected),
            self.balance,
            self.dispensed()
        )
    }
}

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

// --- 3. std::sync::Mutex for a short reservation, the `.await` outside it -----------------------

impl Account {
    /// Check and debit in one critical section with no `.await` inside: the right job for
    /// `std::sync::Mutex`. The guard is a local of this plain function and cannot outlive it.
    /// Returns the balance after the debit, or the balance that was too low.
    fn try_debit(&self, amount: u64) -> Result<u64, u64> {
        let mut balance = self
            .balance
            .lock()
            .expect("no one panics while holding the balance");
        if *balance < amount {
            return Err(*balance);
        }
        *balance -= amount;
        Ok(*balance)
    }
}

/// Reserve the money first, dispense after letting go of the lock. If the cash drawer could fail,
/// the ATM would credit the amount back here, again under a short lock (a compensating action).
async fn withdraw_reserved(account: &Account, atm: &'static str, amount: u64) -> Outcome {
    sleep(CARD_CHECK).await;
    match account.try_debit(amount) {
        Err(balance) => {
            info!("{atm}: balance is {balance}, rejected");
            Outcome::Rejected
        }
        Ok(balance) => {
            info!("{atm}: reserved {amount}, balance now {balance}, dispensing (lock released)");
            sleep(DISPENSE).await;
            info!("{atm}: approved, cash dispensed");
            Outcome::Approved
        }
    }
}

async fn run_reserved() -> anyhow::Result<Report> {
    let account = Account::open();
    let start = Instant::now();
    let atms = ATMS.map(|atm| {
        let account = Arc::clone(&account);
        tokio::spawn(async move {
            let outcome = withdraw_reserved(&account, atm, WITHDRAWAL).await;
            answer(atm, start, outcome)
        })
    });
    let mut answers = Vec::new();
    for atm in atms {
        answers.push(atm.await?);
    }
    Ok(Report {
        answers,
        balance: account.read(),
    })
}

// --- shared by the three runs --------------------------------------------------------------------

fn answer(atm: &'static str, start: Instant, outcome: Outcome) -> Answer {
    Answer {
        atm,
        outcome,
        answered_after: start.elapsed(),
    }
}

fn log_report(report: &Report, took: Duration) {
    for a in &report.answers {
        info!(
            "{}: {:?} after {}",
            a.atm,
            a.outcome,
            fmt_duration(a.answered_after)
        );
    }
    let (balance, dispensed) = (report.balance, report.dispensed());
    if report.books_balance() {
        info!(
            "OK: balance {balance} + dispensed {dispensed} = {OPENING_BALANCE} (took {})",
            fmt_duration(took)
        );
    } else {
        info!(
            "BUG: balance {balance} + dispensed {dispensed} != {OPENING_BALANCE}: the bank paid out money it did not have (took {})",
            fmt_duration(took)
        );
    }
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
    out!("  {}", unlocked.summary("no lock"));
    out!(
        "  {}",
        locked.summary("tokio::sync::Mutex across the .await")
    );
    out!(
        "  {}",
        reserved.summary("std::sync::Mutex, reserve then dispense")
    );
    out!(
        "  the rejected customer waited {} with the lock held across the dispense (ideal {}), {} with a short reservation (ideal {})",
        fmt_duration(locked.rejection_after()),
        fmt_duration(CARD_CHECK + DISPENSE),
        fmt_duration(reserved.rejection_after()),
        fmt_duration(CARD_CHECK)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! On the paused clock both ATMs finish their card check at exactly the same instant, so the
    //! interleaving is the same on every run: these outcomes are deterministic, not lucky.
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn without_a_lock_across_the_await_both_withdrawals_are_approved() {
        let report = run_unlocked().await.expect("no ATM panics");
        assert_eq!(report.count(Outcome::Approved), 2, "{report:?}");
        // 160 dispensed from 100, and the account still says 20: one update was lost.
        assert_eq!(report.dispensed(), 160);
        assert_eq!(report.balance, 20);
        assert!(!report.books_balance());
    }

    #[tokio::test(start_paused = true)]
    async fn a_tokio_mutex_across_the_await_rejects_one_and_the_books_balance() {
        let report = run_locked().await.expect("no ATM panics");
        assert_eq!(report.count(Outcome::Approved), 1, "{report:?}");
        assert_eq!(report.count(Outcome::Rejected), 1, "{report:?}");
        assert_eq!((report.balance, report.dispensed()), (20, 80));
        assert!(report.books_balance());
        // The rejected ATM waited for the lock while the other one dispensed.
        assert_eq!(report.rejection_after(), CARD_CHECK + DISPENSE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_std_mutex_reservation_is_also_correct_and_answers_at_once() {
        let report = run_reserved().await.expect("no ATM panics");
        assert_eq!(report.count(Outcome::Approved), 1, "{report:?}");
        assert_eq!(report.count(Outcome::Rejected), 1, "{report:?}");
        assert_eq!((report.balance, report.dispensed()), (20, 80));
        assert!(report.books_balance());
        // Nobody holds the lock during the dispense, so "no" comes right after the card check.
        assert_eq!(report.rejection_after(), CARD_CHECK);
    }

    #[tokio::test(start_paused = true)]
    async fn every_run_takes_one_card_check_and_one_dispense() {
        // The approved withdrawal is the critical path in all three versions.
        for took in [
            time_async(run_unlocked()).await.1,
            time_async(run_locked()).await.1,
            time_async(run_reserved()).await.1,
        ] {
            assert_eq!(took, CARD_CHECK + DISPENSE);
        }
    }

    #[test]
    fn the_summary_line_names_the_bug() {
        let approved = |atm| Answer {
            atm,
            outcome: Outcome::Approved,
            answered_after: CARD_CHECK + DISPENSE,
        };
        let report = Report {
            answers: vec![approved("ATM-1"), approved("ATM-2")],
            balance: 20,
        };
        assert_eq!(
            report.summary("no lock"),
            "no lock: 2 approved, 0 rejected, balance 20, dispensed 160: BUG, the books are off by 80"
        );
    }
}
