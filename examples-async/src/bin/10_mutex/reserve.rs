//! The third version: `std::sync::Mutex` for a short reservation, the `.await` outside it.
//!
//! - **When `std::sync::Mutex` is the right choice:** when no `.await` happens while it is held. It
//!   is faster than tokio's and is what tokio's docs recommend for short critical sections. This
//!   version checks and debits in one short synchronous section (a *reservation*) and dispenses after
//!   letting go: also correct, and the rejected customer hears "no" at once instead of waiting the
//!   200 ms the other ATM spends dispensing (measured in the summary).
//! - **Why a `std::sync::MutexGuard` must not live across an `.await`:** while ATM-1 sleeps holding
//!   it, ATM-2's `lock()` blocks the thread. On this one-thread runtime that thread is the one ATM-1
//!   needs to wake up on: a deadlock that no timeout can break. The compiler catches it for spawned
//!   tasks (the guard is not `Send`, so `tokio::spawn` refuses the future) and clippy's
//!   `await_holding_lock` lint flags it everywhere else.

use std::sync::Arc;

use tokio::time::{Instant, sleep};
use tracing::info;

use crate::report::{Outcome, Report, answer};
use crate::{ATMS, Account, CARD_CHECK, DISPENSE, WITHDRAWAL};

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

pub async fn run_reserved() -> anyhow::Result<Report> {
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
