//! Support for `main.rs`, no lesson in it: what each ATM answered ([`Answer`]), what a run ended
//! with ([`Report`]: do the books balance?), the log of a run and the summary lines.

use std::time::{Duration, Instant};

use common::fmt_duration;
use tracing::info;

use crate::{CARD_CHECK, DISPENSE, OPENING_BALANCE, WITHDRAWAL};

/// What an ATM told its customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Rejected,
}

/// One ATM's answer, and when (since the start) its customer got it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub atm: &'static str,
    pub outcome: Outcome,
    pub answered_after: Duration,
}

/// One run of two simultaneous withdrawals: the answers, and the balance the account ends with.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub answers: Vec<Answer>,
    pub balance: u64,
}

impl Report {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.answers.iter().filter(|a| a.outcome == outcome).count()
    }

    /// The cash that left the machines: counted by the ATMs, not read from the account.
    pub fn dispensed(&self) -> u64 {
        self.count(Outcome::Approved) as u64 * WITHDRAWAL
    }

    /// Money is neither created nor lost: what is left plus what was paid out is what there was.
    pub fn books_balance(&self) -> bool {
        self.balance + self.dispensed() == OPENING_BALANCE
    }

    /// How long the slowest "rejected" took to arrive (zero if nobody was rejected).
    pub fn rejection_after(&self) -> Duration {
        self.answers
            .iter()
            .filter(|a| a.outcome == Outcome::Rejected)
            .map(|a| a.answered_after)
            .max()
            .unwrap_or_default()
    }

    pub fn summary(&self, label: &str) -> String {
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

pub fn answer(atm: &'static str, start: Instant, outcome: Outcome) -> Answer {
    Answer {
        atm,
        outcome,
        answered_after: start.elapsed(),
    }
}

pub fn log_report(report: &Report, took: Duration) {
    for a in &report.answers {
        info!(
            "{}: customer told {:?} after {}",
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

/// The summary: a line per run (no lock, the lock held to the write, the reservation), then how long
/// the rejected customer waited with each fix, beside the ideal.
pub fn summary_lines(runs: [(&str, &Report); 3]) -> Vec<String> {
    let [_, (_, locked), (_, reserved)] = runs;
    let mut lines: Vec<String> = runs
        .iter()
        .map(|(label, report)| report.summary(label))
        .collect();
    lines.push(format!(
        "the rejected customer waited {} with the lock held across the dispense (ideal {}), {} with a short reservation (ideal {})",
        fmt_duration(locked.rejection_after()),
        fmt_duration(CARD_CHECK + DISPENSE),
        fmt_duration(reserved.rejection_after()),
        fmt_duration(CARD_CHECK)
    ));
    lines
}
