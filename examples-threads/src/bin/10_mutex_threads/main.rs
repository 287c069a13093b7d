//! # 10 · Mutex, with threads: two ATMs, one account, and a lost update
//!
//! The same bank as the async twin: the account holds 100, two ATMs (here two named OS threads) each
//! withdraw 80 at the same moment. Each withdrawal checks the card (50 ms), reads the balance,
//! dispenses the cash (200 ms, a blocking `thread::sleep`) and writes the new balance.
//!
//! What it shows:
//! - **Rust stops data races, not logical races.** Two threads cannot share a plain `u64` and write
//!   it: the compiler demands a `Mutex` or an atomic. The unlocked version locks every single read
//!   and write, and is still wrong: both threads read 100, both approve, 160 leaves the machines and
//!   the account says 20 (a **lost update**).
//! - **The interleaving is forced, not hoped for.** A task can only lose the CPU at an `.await`; a
//!   thread can be preempted anywhere, so the race *may* happen and usually does not (in production
//!   the bug shows up once a month). A `Barrier` between the read and the write makes each ATM wait
//!   until the other has read too: the worst interleaving, on every run, on any machine.
//! - **The fix: a `std::sync::Mutex` held from the check to the write.** With threads the guard may
//!   live across the slow part: there is no `.await`, and blocking the other ATM's thread in `lock()`
//!   is the normal way to wait. One ATM approves, the other rejects, and the books balance.
//! - **A short reservation is also correct, and answers sooner**: the third version, in `reserve.rs`.
//!
//! Seed: "Asynchrony" > "Asynchrony vs Multithreading" (threads are preempted, tasks yield).
//! Upstream: `src/python/asynchrony/mutex.py`, `src/cpp/asynchrony/async_mutex.cpp` (thread-based),
//! `src/python/multithreading/race_condition.py` (a sleep before the read-modify-write: likely, not
//! certain, lost updates). Async twin: `examples-async/src/bin/10_mutex/`. Beside this lesson:
//! `reserve.rs`, `report.rs` (answers, the books, the summary), `tests.rs`.
//!
//! Run: `cargo run -p examples-threads --bin 10_mutex_threads` (under 1 s; no flags but `--help`).
//!
//! Output of a real run: `docs/output/10_mutex_threads.txt`.

mod report;
mod reserve;

use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Parser;
use common::{init_logging, out, parse_args, time};
use tracing::info;

use report::{Outcome, Report, answer, log_report, summary_lines};
use reserve::run_reserved;

const OPENING_BALANCE: u64 = 100;
const WITHDRAWAL: u64 = 80;
/// Work each ATM does before it touches the account (upstream: 0.1 s, outside the lock).
const CARD_CHECK: Duration = Duration::from_millis(50);
/// The slow part between reading the balance and writing it back (upstream: 0.5 s).
const DISPENSE: Duration = Duration::from_millis(200);
const ATMS: [&str; 2] = ["ATM-1", "ATM-2"];

// --- 1. No lock across the dispense --------------------------------------------------------------

/// The balance behind a `std::sync::Mutex`, locked for each single read or write. There is no data
/// race (the compiler would not allow one), and still the withdrawal below is wrong: the lock
/// protects each access, not the decision made between them.
struct Account {
    balance: Mutex<u64>,
}

impl Account {
    fn open() -> Arc<Account> {
        Arc::new(Account {
            balance: Mutex::new(OPENING_BALANCE),
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

/// Read, wait, write back what was read minus the amount: the read-modify-write race.
/// `both_have_read` forces the bad interleaving: no ATM writes before both have read.
fn withdraw_unlocked(
    account: &Account,
    atm: &'static str,
    amount: u64,
    both_have_read: &Barrier,
) -> Outcome {
    thread::sleep(CARD_CHECK);
    let balance = account.read();
    if balance < amount {
        info!("{atm}: balance is {balance}, rejected");
        return Outcome::Rejected;
    }
    info!("{atm}: balance is {balance}, waiting until the other ATM has read too");
    // In real code nothing holds the thread here; the scheduler may or may not switch threads at
    // this point. The barrier makes the switch certain, so the bug shows on every run.
    both_have_read.wait();
    info!("{atm}: dispensing {amount}");
    thread::sleep(DISPENSE);
    // `balance` is stale now: writing it back overwrites what the other ATM wrote (a lost update).
    account.write(balance - amount);
    info!("{atm}: approved, writes balance {}", balance - amount);
    Outcome::Approved
}

fn run_unlocked() -> anyhow::Result<Report> {
    let account = Account::open();
    let both_have_read = Arc::new(Barrier::new(ATMS.len()));
    let start = Instant::now();
    let mut atms = Vec::new();
    // One named thread per ATM, so each log line says which ATM printed it. `Arc` because a
    // spawned thread may outlive the function that spawned it (`thread::scope` would let it borrow
    // instead; `Arc` keeps the shape of the async twin, where `tokio::spawn` has the same `'static`
    // rule).
    for atm in ATMS {
        let account = Arc::clone(&account);
        let both_have_read = Arc::clone(&both_have_read);
        atms.push(thread::Builder::new().name(atm.into()).spawn(move || {
            let outcome = withdraw_unlocked(&account, atm, WITHDRAWAL, &both_have_read);
            answer(atm, start, outcome)
        })?);
    }
    let mut answers = Vec::new();
    for atm in atms {
        // `join` waits for the thread to end; `Err` means it panicked.
        answers.push(atm.join().map_err(|_| anyhow!("an ATM thread panicked"))?);
    }
    Ok(Report {
        answers,
        balance: account.read(),
    })
}

// --- 2. std::sync::Mutex held from the check to the write ----------------------------------------

/// Check, dispense and write under one guard. With threads the guard may live across the slow
/// part: the other ATM's thread blocks in `lock()` and wakes when this guard is dropped.
fn withdraw_locked(account: &Mutex<u64>, atm: &'static str, amount: u64) -> Outcome {
    thread::sleep(CARD_CHECK);
    let mut balance = account
        .lock()
        .expect("no one panics while holding the balance");
    if *balance < amount {
        info!("{atm}: balance is {}, rejected", *balance);
        return Outcome::Rejected;
    }
    info!(
        "{atm}: balance is {}, dispensing {amount} (holding the lock)",
        *balance
    );
    thread::sleep(DISPENSE);
    *balance -= amount;
    info!("{atm}: approved, balance now {}", *balance);
    Outcome::Approved
    // The guard is dropped here: the waiting ATM gets the lock and sees the new balance.
}

fn run_locked() -> anyhow::Result<Report> {
    let account = Arc::new(Mutex::new(OPENING_BALANCE));
    let start = Instant::now();
    let mut atms = Vec::new();
    for atm in ATMS {
        let account = Arc::clone(&account);
        atms.push(thread::Builder::new().name(atm.into()).spawn(move || {
            let outcome = withdraw_locked(&account, atm, WITHDRAWAL);
            answer(atm, start, outcome)
        })?);
    }
    let mut answers = Vec::new();
    for atm in atms {
        answers.push(atm.join().map_err(|_| anyhow!("an ATM thread panicked"))?);
    }
    let balance = *account
        .lock()
        .expect("no one panics while holding the balance");
    Ok(Report { answers, balance })
}

#[derive(Parser, Debug)]
#[command(
    about = "10 · Mutex, with threads: two ATM threads withdraw 80 from 100; without a lock both are approved (a lost update), a std::sync::Mutex fixes it",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    info!("--- no lock across the dispense: read, dispense, write ---");
    let (unlocked, took) = time(run_unlocked);
    let unlocked = unlocked?;
    log_report(&unlocked, took);

    info!("--- std::sync::Mutex held from the check to the write ---");
    let (locked, took) = time(run_locked);
    let locked = locked?;
    log_report(&locked, took);

    info!("--- std::sync::Mutex for a short reservation, dispensing after it ---");
    let (reserved, took) = time(run_reserved);
    let reserved = reserved?;
    log_report(&reserved, took);

    out!();
    out!("Summary");
    for line in summary_lines([
        ("no lock", &unlocked),
        ("std::sync::Mutex held to the write", &locked),
        ("std::sync::Mutex, reserve then dispense", &reserved),
    ]) {
        out!("  {line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
