//! Support for `main.rs`, no lesson in it: the ideals a run is compared with (each phase as long as
//! its slowest worker), the names and ordinals of the log, and the summary lines.

use std::time::Duration;

use common::fmt_duration;

use crate::journal::Run;
use crate::{PHASES, Plan, WORKERS};

/// What the barrier should make the run last: each phase as long as its slowest worker.
pub fn sum_of_slowest_per_phase(plan: &Plan) -> Duration {
    (0..PHASES)
        .map(|p| plan.iter().map(|w| w[p]).max().unwrap_or_default())
        .sum()
}

/// What the slowest worker would need on its own, with nobody to wait for.
pub fn slowest_worker_alone(plan: &Plan) -> Duration {
    plan.iter()
        .map(|w| w.iter().sum::<Duration>())
        .max()
        .unwrap_or_default()
}

pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

pub fn names(workers: &[usize]) -> String {
    workers
        .iter()
        .map(|w| format!("worker-{w}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The summary: per phase the arrival order, the leader and how long it took beside its slowest
/// worker; then the check, and the whole run beside its ideal and beside the slowest worker alone.
pub fn summary_lines(plan: &Plan, run: &Run, took: Duration) -> Vec<String> {
    let mut lines = Vec::new();
    let mut previous_end = Duration::ZERO;
    for phase in 1..=PHASES {
        let end = run.phase_end(phase);
        let slowest = plan.iter().map(|w| w[phase - 1]).max().unwrap_or_default();
        lines.push(format!(
            "phase {phase}: arrival order {}; leader {}; took {}, ideal {} (its slowest worker)",
            names(&run.arrival_order(phase)),
            names(&run.leaders_of(phase)),
            fmt_duration(end.saturating_sub(previous_end)),
            fmt_duration(slowest)
        ));
        previous_end = end;
    }
    lines.push(format!(
        "checked: no worker started a phase before all {WORKERS} had finished the previous one; 1 leader per phase"
    ));
    lines.push(format!(
        "barrier run {}, ideal {} (the slowest worker of each phase, summed)",
        fmt_duration(took),
        fmt_duration(sum_of_slowest_per_phase(plan))
    ));
    lines.push(format!(
        "without the barrier the slowest worker would be done after {}",
        fmt_duration(slowest_worker_alone(plan))
    ));
    lines
}
