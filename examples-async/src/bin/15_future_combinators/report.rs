//! The summary: one line per combinator's run, each figure beside its ideal, and the totals of what
//! the losers did, over futures and over spawned tasks.

use std::fmt;
use std::time::Duration;

use common::{fmt_duration, out};

use crate::Winner;
use crate::jobs::Launch;
use crate::measure::Rest;

impl Rest {
    /// What became of the rest, in words. Checked in the order the launch expects, so that a run
    /// with no rest left (every figure 0) still reads the same.
    fn verdict(&self, launch: Launch) -> &'static str {
        let cancelled = self.side_effects == 0 && self.cancelled == self.unfinished;
        let ran_on = self.side_effects == self.unfinished && self.cancelled == 0;
        match launch {
            Launch::Futures if cancelled => "dropped, i.e. cancelled (JS runs them on)",
            Launch::Spawned if ran_on => "ran to the end, as in JS",
            _ if cancelled => "dropped, i.e. cancelled (JS runs them on)",
            _ if ran_on => "ran to the end, as in JS",
            _ => "MIXED: some cancelled, some ran on",
        }
    }
}

/// One combinator's run, printed as one summary line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) combinator: &'static str,
    pub(crate) launch: Launch,
    pub(crate) outcome: String,
    pub(crate) took: Duration,
    pub(crate) ideal: Duration,
    /// What the ideal is: "the slowest", "the first error", ...
    pub(crate) ideal_is: &'static str,
    pub(crate) rest: Rest,
}

impl Row {
    /// Whether the combinator returns before its slowest job, by what its ideal is.
    fn may_leave_rest(&self) -> bool {
        matches!(
            self.ideal_is,
            "the first error" | "the winner" | "the timer" | "the first success"
        )
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} over {}: {} after {} (ideal {}, {})",
            self.combinator,
            self.launch.label(),
            self.outcome,
            fmt_duration(self.took),
            fmt_duration(self.ideal),
            self.ideal_is
        )?;
        // Always said for a combinator that may return before its slowest job, even on a run where
        // none was left, so the line reads the same on every run.
        if self.rest.unfinished > 0 || self.may_leave_rest() {
            write!(
                f,
                "; the rest: {} unfinished, {} cancelled, {} side effects by {}: {}",
                self.rest.unfinished,
                self.rest.cancelled,
                self.rest.side_effects,
                fmt_duration(self.rest.counted_at),
                self.rest.verdict(self.launch)
            )?;
        }
        Ok(())
    }
}

pub(crate) fn describe(winner: Winner) -> String {
    match winner {
        Winner::Job(Ok(name)) => format!("{name} won"),
        Winner::Job(Err(e)) => format!("Err({e})"),
        Winner::Timer => "the timer won".to_string(),
    }
}

/// Over all rows started one way: (unfinished, cancelled, side effects) of the rest.
pub(crate) fn totals(rows: &[Row], launch: Launch) -> (usize, usize, usize) {
    rows.iter()
        .filter(|r| r.launch == launch)
        .fold((0, 0, 0), |(u, c, s), r| {
            (
                u + r.rest.unfinished,
                c + r.rest.cancelled,
                s + r.rest.side_effects,
            )
        })
}

/// Prints the summary: every row, then the totals over futures and over spawned tasks.
pub(crate) fn print(rows: &[Row]) {
    out!();
    out!("Summary");
    for row in rows {
        out!("  {row}");
    }
    let (unfinished, cancelled, side_effects) = totals(rows, Launch::Futures);
    out!(
        "  over futures: {cancelled} of {unfinished} losers cancelled, {side_effects} side effects after the combinator returned"
    );
    let (unfinished, cancelled, side_effects) = totals(rows, Launch::Spawned);
    out!(
        "  over spawned tasks: {cancelled} of {unfinished} losers cancelled, {side_effects} side effects after the combinator returned (as in JS)"
    );
}
