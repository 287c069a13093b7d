//! The flags and the summary: each request's end, the deadlock's threads and when it was found.

use clap::Parser;
use common::fmt_duration;

use crate::deadlock::TransferRun;
use crate::{CHECK_EVERY, HOLD, Outcome};

/// `--help` text and flags.
#[derive(Parser, Debug)]
#[command(
    about = "21 · Debugging, with threads: named threads in panic messages, a captured \
             std::backtrace::Backtrace, and a deadlock found by parking_lot's detector (--fixed \
             locks in one order)",
    long_about = None
)]
pub struct Args {
    /// Take the locks in one global order (checking before savings): no deadlock.
    #[arg(long)]
    pub fixed: bool,
}

/// The summary: how each request thread ended, and what the detector found.
pub fn print_summary(outcomes: &[(String, Outcome)], transfers: &TransferRun) {
    common::out!();
    common::out!("Summary");
    for (thread, outcome) in outcomes {
        match outcome {
            Outcome::Answered => common::out!("  {thread}: answered"),
            Outcome::Failed(e) => common::out!("  {thread}: failed: {e}"),
            Outcome::Panicked(p) => {
                common::out!(
                    "  {thread}: panic on thread '{}' at {}: {}",
                    p.thread,
                    p.location,
                    p.message
                );
                common::out!(
                    "  {thread}: backtrace of {} frames, through {}",
                    p.frames,
                    p.ours.join(" <- ")
                );
            }
        }
    }
    match (&transfers.deadlock, transfers.balances) {
        (Some((threads, found, took)), _) => {
            common::out!(
                "  deadlock: {} stuck in {}",
                threads.join(" <-> "),
                transfers.stuck_in.join(" <- ")
            );
            common::out!(
                "  found by check {} at {} (ideal: by {}, the {} hold plus one check period); \
                 collecting its backtraces took {}",
                transfers.checks,
                fmt_duration(*found),
                fmt_duration(HOLD + CHECK_EVERY),
                fmt_duration(HOLD),
                fmt_duration(*took)
            );
        }
        (None, Some((checking, savings))) => {
            common::out!(
                "  no deadlock ({} checks): checking {checking}, savings {savings}, total {} (was 200)",
                transfers.checks,
                checking + savings
            );
        }
        (None, None) => common::out!("  transfers: no result"),
    }
}
