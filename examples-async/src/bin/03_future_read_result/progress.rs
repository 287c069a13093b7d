//! The live progress line, updated in the loop that takes each result as it comes: upstream's
//! done-callback keeps these counters; here the loop that awaits *is* the callback.

use std::fmt;
use std::time::Duration;

use crate::outcome::Outcome;

/// The live counters upstream's done-callback keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub panicked: usize,
    pub cancelled: usize,
}

impl Progress {
    pub fn finished(&self) -> usize {
        self.succeeded + self.failed + self.panicked + self.cancelled
    }

    pub fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Succeeded { .. } => self.succeeded += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Panicked(_) => self.panicked += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} finished, {} succeeded, {} failed, {} panicked, {} cancelled",
            self.finished(),
            self.total,
            self.succeeded,
            self.failed,
            self.panicked,
            self.cancelled
        )
    }
}

/// One finished download: which, when (from the start of the batch), how, and the progress after it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub file: &'static str,
    pub at: Duration,
    pub outcome: Outcome,
    pub progress: Progress,
}
