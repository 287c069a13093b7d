//! The flags and the summary: each hand-over's wait beside its ideal (0), the verdict from whether
//! `main` had to nudge the waiter.

use clap::Parser;
use common::fmt_duration;

use crate::{Handover, PATIENCE};

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "22 · Testing threads: 07's semaphore checked under every interleaving by loom (a lost \
             wake-up version is caught), and one interleaving forced with a Barrier",
    long_about = None
)]
pub struct Args {}

/// The summary: how long each waiter slept after the release, and why.
pub fn print_summary(correct: &Handover, buggy: &Handover) {
    let verdict = |h: &Handover| {
        if h.nudged {
            format!(
                "LOST WAKE-UP, it slept with a permit free until nudged after {}",
                fmt_duration(PATIENCE)
            )
        } else {
            "the release woke it".to_string()
        }
    };
    common::out!();
    common::out!("Summary");
    common::out!(
        "  correct semaphore: woken {} after the release (ideal 0): {}",
        fmt_duration(correct.woken_after),
        verdict(correct)
    );
    common::out!(
        "  lost-wake-up semaphore: woken {} after the release (ideal 0): {}",
        fmt_duration(buggy.woken_after),
        verdict(buggy)
    );
    common::out!(
        "  every interleaving: run the loom checks (see the header) to have loom prove the first and catch the second"
    );
}
