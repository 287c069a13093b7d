//! The flags and the summary: each session's outcomes and times beside the ideal, on both clocks.

use std::time::Duration;

use clap::Parser;
use common::fmt_duration;

use crate::{EXPECTED, IDEAL, Outcome, SessionRun};

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "22 · Testing async code: a TTL cache's session on the real clock (1.3 s) and on a \
             paused one (milliseconds); its tests show start_paused/advance, the auto-advance trap, \
             polling by hand, mock I/O and cleanup on cancel",
    long_about = None
)]
pub struct Args {}

/// The summary: both sessions, whether they agree, and the loads left in flight.
pub fn print_summary(real: (&SessionRun, Duration, usize), paused: (&SessionRun, Duration, usize)) {
    let ((real, real_wall, real_left), (paused, paused_wall, paused_left)) = (real, paused);
    let describe = |r: &SessionRun, wall: Duration| {
        let hits = r.outcomes.iter().filter(|o| **o == Outcome::Hit).count();
        let names: Vec<&str> = r
            .outcomes
            .iter()
            .map(|o| match o {
                Outcome::Hit => "HIT",
                Outcome::Miss => "MISS",
            })
            .collect();
        format!(
            "{}: {} misses, {hits} hits; {} of scenario time (ideal {}) in {} of wall time",
            names.join(" "),
            r.outcomes.len() - hits,
            fmt_duration(r.elapsed),
            fmt_duration(IDEAL),
            fmt_duration(wall)
        )
    };
    common::out!();
    common::out!("Summary");
    common::out!("  real clock:   {}", describe(real, real_wall));
    common::out!("  paused clock: {}", describe(paused, paused_wall));
    let yes_no = |b: bool| if b { "yes" } else { "NO" };
    common::out!(
        "  same outcomes on both clocks: {} (as planned: real {}, paused {}); the paused run took {:.0}x less wall time",
        yes_no(real.outcomes == paused.outcomes),
        yes_no(real.outcomes == EXPECTED),
        yes_no(paused.outcomes == EXPECTED),
        common::timing::speedup(real_wall, paused_wall)
    );
    let left = real_left + paused_left;
    common::out!(
        "  loads still in flight at the end: {left} ({})",
        if left == 0 { "none leaked" } else { "LEAKED" }
    );
}
