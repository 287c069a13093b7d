//! The flags and the summary: each figure beside its ideal, the verdicts computed from them.

use std::time::Duration;

use clap::Parser;
use common::fmt_duration;

use crate::breaker::{BreakerRun, Circuit};
use crate::policy::POLICY;
use crate::policy::Wait;
use crate::service::Retried;

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "19 · Retry with backoff: exponential backoff with full jitter (seeded), a deadline over \
             all attempts, retryable vs final errors with their cause chain, a circuit breaker that \
             admits one probe when half-open; then the same retry with the backon crate",
    long_about = None
)]
pub struct Args {
    /// Seed of the jitter: the same seed draws the same waits.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// How many calls the retry demos' service fails before it answers (5 or more uses up the
    /// 5 attempts).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub fail_first: u64,
}

/// `13 ms of 0..=20 ms` (full jitter), `35 ms of 20..40 ms` (backon's): each wait beside the range
/// it was drawn from, and a verdict if it fell outside.
pub fn waits_line(waits: &[Wait]) -> String {
    if waits.is_empty() {
        return "none".into();
    }
    // Whole milliseconds (full jitter's) print as such; backon's waits have fractions.
    let show = |d: Duration| {
        if d.subsec_nanos().is_multiple_of(1_000_000) {
            format!("{} ms", d.as_millis())
        } else {
            fmt_duration(d)
        }
    };
    waits
        .iter()
        .map(|w| {
            let verdict = if w.in_range() { "" } else { " OUTSIDE" };
            format!(
                "{} of {}..{}{}{verdict}",
                show(w.wait),
                w.low.as_millis(),
                if w.bound_excluded { "" } else { "=" },
                show(w.bound)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `total 52 ms (deadline 1000 ms, kept, 0.00 ms past it)`: the verdict from what the loop planned
/// (no attempt given time past the deadline, no wait ending past it), and how far past the deadline
/// the run ended anyway: an attempt cut at it, or answered at its edge, returns a little after. The
/// words do not change with the run; only a loop that planned past the deadline is `MISSED`.
pub fn total_line<T>(r: &Retried<T>, deadline: Duration) -> String {
    let verdict = if r.planned_end <= deadline {
        "kept"
    } else {
        "MISSED"
    };
    format!(
        "total {} (deadline {}, {verdict}, {} past it)",
        fmt_duration(r.total),
        fmt_duration(deadline),
        fmt_duration(r.total.saturating_sub(deadline))
    )
}

pub fn outcome_line<T>(r: &Retried<T>, max_attempts: u32) -> String {
    match &r.result {
        Ok(_) => format!("success on attempt {} of {max_attempts}", r.attempts),
        Err(e) => format!("failed after {} attempt(s): {e:#}", r.attempts),
    }
}

/// What the five demos did, for the summary.
pub struct Runs {
    pub seed: u64,
    pub flaky: Retried<()>,
    pub missing: Retried<()>,
    pub late: Retried<()>,
    pub late_deadline: Duration,
    pub breaker_run: BreakerRun,
    pub recovery: Duration,
    pub backon: Retried<()>,
}

pub fn print_summary(runs: &Runs) {
    let Runs {
        seed,
        flaky,
        missing,
        late,
        late_deadline,
        breaker_run,
        recovery,
        backon,
    } = runs;
    common::out!();
    common::out!("Summary");
    common::out!(
        "  retry (full jitter, seed {}): {}",
        seed,
        outcome_line(flaky, POLICY.max_attempts)
    );
    common::out!("    waits: {}", waits_line(&flaky.waits));
    common::out!("    {}", total_line(flaky, POLICY.deadline));
    common::out!(
        "  404: gave up after {} attempt(s) ({}); the error keeps its cause: {}",
        missing.attempts,
        missing.gave_up.map_or("-".into(), |g| g.to_string()),
        match &missing.result {
            Ok(()) => "no error".to_string(),
            Err(e) => format!("{e:#}"),
        }
    );
    common::out!(
        "  deadline: gave up after {} attempt(s) ({}); waits: {}",
        late.attempts,
        late.gave_up.map_or("-".into(), |g| g.to_string()),
        waits_line(&late.waits)
    );
    common::out!("    {}", total_line(late, *late_deadline));
    let path: Vec<String> = breaker_run
        .transitions
        .iter()
        .map(|(at, c)| format!("{c:?} at {}", fmt_duration(*at)))
        .collect();
    common::out!("  breaker: {}", path.join(" -> "));
    let opened = breaker_run
        .transitions
        .iter()
        .find(|t| t.1 == Circuit::Open);
    let half = breaker_run
        .transitions
        .iter()
        .find(|t| t.1 == Circuit::HalfOpen);
    if let (Some(open), Some(half)) = (opened, half) {
        let open_for = half.0 - open.0;
        common::out!(
            "    open for {} (recovery {}, {})",
            fmt_duration(open_for),
            fmt_duration(*recovery),
            if open_for >= *recovery {
                "no probe before it"
            } else {
                "PROBED TOO EARLY"
            }
        );
    }
    common::out!(
        "    half-open burst of {}: {} probe(s) admitted, {} failed fast (ideal 1 probe)",
        breaker_run.burst,
        breaker_run.probes,
        breaker_run.burst - breaker_run.probes
    );
    common::out!(
        "    {} calls, {} sent to the service, {} failed fast without being sent",
        breaker_run.calls,
        breaker_run.sent,
        breaker_run.fast_failed
    );
    common::out!(
        "  backon (its jitter, seed {}): {}",
        seed,
        outcome_line(backon, POLICY.max_attempts)
    );
    common::out!("    waits: {}", waits_line(&backon.waits));
    common::out!("    {}", total_line(backon, POLICY.deadline));
}
