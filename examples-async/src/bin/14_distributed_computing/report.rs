//! What the demo and the coordinator role print: the summary of a run, the speed-up beside its
//! ideal, the workers' exits, and the final checks. Every line fits a terminal; a verdict is
//! computed from the figures it stands beside.

use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use anyhow::ensure;
use common::children::ChildGuard;
use common::{Comparison, fmt_duration};
use tracing::info;

use crate::board::Report;
use crate::cli::Work;
use crate::protocol::count_primes;
use crate::worker;

/// The check: the same count done here, in one piece. Returns the count and how long it took.
pub fn count_locally(jobs: u32, job_size: u64) -> (u64, Duration) {
    let end = u64::from(jobs) * job_size;
    let (primes, took) = common::time(|| count_primes(0, end));
    info!(
        "local check: {primes} primes below {end} ({})",
        fmt_duration(took)
    );
    (primes, took)
}

/// Logs how each demo worker ended and returns those that did not end as they should (exit 0, or
/// the crash exit status for the `victim` of `--crash-worker`).
pub fn exits(
    children: &[ChildGuard],
    exits: &[Option<ExitStatus>],
    victim: Option<u32>,
) -> Vec<String> {
    let mut unexpected = Vec::new();
    for (child, status) in children.iter().zip(exits) {
        let crashed_on_purpose = victim.is_some_and(|v| child.name == format!("worker-{v}"));
        let expected = status.is_some_and(|s| {
            if crashed_on_purpose {
                s.code() == Some(worker::CRASH_EXIT_CODE)
            } else {
                s.success()
            }
        });
        let what = match status {
            Some(s) if crashed_on_purpose => format!("crashed mid-job on purpose ({s})"),
            Some(s) => s.to_string(),
            None => "still running after STOP: killed".into(),
        };
        info!("{} exited: {what}", child.name);
        if !expected {
            unexpected.push(format!("{}: {what}", child.name));
        }
    }
    unexpected
}

/// The coordinator role's exit status: 0 only for a run that settled every job with an answer that
/// passed the checks; otherwise 1, after one line on stderr saying why.
pub fn exit_code(report: &Report) -> ExitCode {
    let why = if let Some(why) = &report.gave_up {
        format!("gave up: {why}")
    } else if report.unverified() > 0 {
        format!(
            "{} answers kept from a worker caught lying were never recounted: the total is not \
             verified",
            report.unverified()
        )
    } else if report.done.len() < report.total {
        return ExitCode::FAILURE; // the summary names the failed jobs
    } else {
        return ExitCode::SUCCESS;
    };
    eprintln!("error: {why}");
    ExitCode::FAILURE
}

/// What the demo's speed-up should approach, and how near it came.
struct SpeedUp {
    measured: f64,
    ideal: f64,
    /// The share of the work the coordinator recounted, on the same cores as the workers.
    recounted: f64,
}

impl SpeedUp {
    fn new(report: &Report, workers: u32, cores: usize, alone: Duration) -> Self {
        let recounted = report.checked as f64 / report.total.max(1) as f64;
        // Workers cannot beat their number, nor the cores they share with the coordinator's
        // recounts: k cores doing the work plus the recounted share take (1 + share) / k of it.
        let ideal = f64::from(workers).min(cores as f64 / (1.0 + recounted));
        Self {
            measured: common::timing::speedup(alone, report.busy),
            ideal,
            recounted,
        }
    }

    fn share(&self) -> f64 {
        self.measured / self.ideal
    }

    /// Computed from the figures: at least three quarters of the ideal is "close"; well past the
    /// ideal means the two timings did not get the same machine. A log line, not a summary line:
    /// its words change with the load of the machine, and the summary's words must not.
    fn verdict(&self) -> &'static str {
        let share = self.share();
        if share > 1.1 {
            "above the ideal: the two timings did not get the same machine (other programs on \
             these cores come and go)"
        } else if share >= 0.75 {
            "close to the ideal"
        } else {
            "short of the ideal (other programs on these cores, or jobs too small to cover the \
             start-up and round trips)"
        }
    }
}

/// The speed-up of the demo's workers over one process counting alone, beside its ideal.
pub fn print_speed_up(report: &Report, workers: u32, alone: Duration) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let speed = SpeedUp::new(report, workers, cores, alone);
    let comparison = Comparison::new(
        "one process counting alone",
        alone,
        format!("{workers} workers"),
        report.busy,
        speed.ideal,
    );
    common::out!("  {comparison}");
    common::out!(
        "  ideal: {workers} workers on {cores} cores, {:.0}% of the work recounted here; reached \
         {:.0}% of it",
        speed.recounted * 100.0,
        speed.share() * 100.0
    );
    info!(
        "speed-up: {:.0}% of the ideal: {}",
        speed.share() * 100.0,
        speed.verdict()
    );
}

/// The summary. `local_primes` is the demo's own count of everything (the coordinator role does
/// not recount everything: it checks a sample as results arrive).
pub fn print_summary(report: &Report, work: &Work, jobs: u32, local_primes: Option<u64>) {
    common::out!();
    common::out!("Summary");
    let (done, total) = (report.done.len(), report.total);
    if report.gave_up.is_some() {
        common::out!(
            "  {done}/{total} jobs done, {} unfinished when the run gave up ({} requeued)",
            report.lost(),
            report.requeued
        );
    } else if report.failed.is_empty() {
        common::out!(
            "  {done}/{total} jobs done, {} requeued, {} lost",
            report.requeued,
            report.lost()
        );
    } else {
        common::out!(
            "  {done}/{total} jobs done, {} failed after {} attempts, {} lost ({} requeued)",
            report.failed.len(),
            report.max_attempts,
            report.lost(),
            report.requeued
        );
    }
    for (id, reason) in &report.failed {
        common::out!("  failed job {id}: {reason}");
    }
    let wrong = if report.wrong == 0 {
        "all right".to_string()
    } else {
        let liars: Vec<&str> = report.liars.iter().map(String::as_str).collect();
        format!(
            "{} wrong, from {} (dropped; their unchecked answers redone)",
            report.wrong,
            liars.join(", ")
        )
    };
    common::out!(
        "  checked {} results by recounting them here: {wrong}",
        report.checked
    );
    common::out!(
        "  recounted: each worker's first answer, then a {}% sample (seed {})",
        work.check_percent,
        work.seed
    );
    let below = u64::from(jobs) * work.job_size;
    let workers_primes = report.primes();
    match local_primes {
        Some(local) => {
            let verdict = if workers_primes == local && done == total {
                "correct"
            } else {
                "WRONG"
            };
            common::out!(
                "  primes below {below}: {workers_primes} from the workers, {local} counted here: \
                 {verdict}"
            );
        }
        None if done == total => {
            common::out!("  primes below {below}: {workers_primes} from the workers");
        }
        None => common::out!("  primes in the jobs done: {workers_primes} (some jobs unfinished)"),
    }
    common::out!(
        "  throughput: {done} jobs in {} (first dispatch to last result): {:.0} jobs/s",
        fmt_duration(report.busy),
        report.jobs_per_second()
    );
    let per_worker: Vec<String> = report
        .workers
        .iter()
        .map(|w| format!("{w} {}", report.jobs_by(w)))
        .collect();
    common::out!("  jobs per worker: {}", per_worker.join(", "));
    if report.dropped.is_empty() {
        common::out!("  dropped peers: none");
    }
    for (peer, reason) in &report.dropped {
        common::out!("  dropped {peer}: {reason}");
    }
    if report.turned_away > 0 {
        common::out!(
            "  turned away: {} (busy: --max-peers {})",
            report.turned_away,
            work.max_peers
        );
    }
    match peak_memory_kib() {
        Some(kib) => common::out!("  coordinator's peak memory: {} MiB (VmHWM)", kib / 1024),
        None => common::out!("  coordinator's peak memory: not measured on this system"),
    }
}

/// The most memory this process has held at once (its peak resident set, `VmHWM` in
/// `/proc/self/status`: Linux only), in KiB.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The demo's final word: every job done once, the total the local count's, every worker ended
/// as it should.
pub fn check(report: &Report, local_primes: u64, unexpected: &[String]) -> anyhow::Result<()> {
    ensure!(report.lost() == 0, "{} jobs lost", report.lost());
    ensure!(
        report.failed.is_empty(),
        "{} jobs failed",
        report.failed.len()
    );
    ensure!(
        report.primes() == local_primes,
        "the workers counted {} primes, the local check {local_primes}",
        report.primes()
    );
    ensure!(
        unexpected.is_empty(),
        "workers exited unexpectedly: {unexpected:?}"
    );
    Ok(())
}
