//! The summary lines: each measured figure beside the ideal it should approach.

use std::fmt;
use std::time::Duration;

use common::fmt_duration;

use crate::continuation::{INITIAL_TASK_DELAY, STORE_DELAY};
use crate::outcome::Outcome;
use crate::polling::{POLL_EVERY, SLOW_ADD_DELAY};
use crate::progress::Finished;
use crate::shared::READERS;

/// Everything the summary prints, measured in `main`.
pub struct Report {
    pub batch: Vec<Finished>,
    pub invoices: Vec<Finished>,
    pub polled: Duration,
    pub sum: i32,
    pub waits: u32,
    pub chained: i32,
    pub chain_took: Duration,
    pub shared_values: Vec<i32>,
    pub computed: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order: Vec<String> = self
            .batch
            .iter()
            .map(|f| format!("{} {}", f.file, fmt_duration(f.at)))
            .collect();
        let final_progress = self.batch.last().map(|f| f.progress).unwrap_or_default();
        let mut told_apart = Vec::new();
        for f in self.batch.iter().chain(&self.invoices) {
            match &f.outcome {
                Outcome::Failed(error) => told_apart.push(format!("error {error:?}")),
                Outcome::Panicked(message) => told_apart.push(format!("panic {message:?}")),
                Outcome::Cancelled => told_apart.push(format!("cancelled {}", f.file)),
                Outcome::Succeeded { .. } => {}
            }
        }
        writeln!(f)?;
        writeln!(f, "Summary")?;
        writeln!(f, "  completion order: {}", order.join(", "))?;
        writeln!(f, "  progress: {final_progress}")?;
        writeln!(f, "  told apart: {}", told_apart.join(" | "))?;
        writeln!(
            f,
            "  polled slow_add(3, 4) every {}: \"Waiting for the result...\" {} times (ideal {}), result {} after {}",
            fmt_duration(POLL_EVERY),
            self.waits,
            SLOW_ADD_DELAY.as_millis() / POLL_EVERY.as_millis(),
            self.sum,
            fmt_duration(self.polled)
        )?;
        writeln!(
            f,
            "  continuation next_task(initial_task()) then store_result: {} after {} (ideal {})",
            self.chained,
            fmt_duration(self.chain_took),
            fmt_duration(INITIAL_TASK_DELAY + STORE_DELAY)
        )?;
        writeln!(
            f,
            "  shared result: {READERS} readers got {:?}, computed {} time(s) (ideal 1)",
            self.shared_values, self.computed
        )
    }
}
