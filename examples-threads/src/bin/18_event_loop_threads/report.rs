//! The summary lines: what each pool did, its page time beside the ideal, one piece per job.

use common::{fmt_duration, out};

use crate::executor::Outcome;
use crate::{DashboardRun, JOBS, ORDERS, PROFILE, RECOMMEND, ideal_total};

/// Three lines per run, then what one worker fewer cost.
pub fn summary(runs: &[(usize, DashboardRun)]) {
    out!();
    out!("Summary");
    for (workers, run) in runs {
        let r = &run.report;
        let ideal = ideal_total(*workers).map_or_else(|| "never".to_string(), fmt_duration);
        out!(
            "  {workers} workers: {} jobs submitted, {} runs, each job once: {} ({} finished, {} ended in a panic, contained); workers joined at shutdown {}/{}",
            JOBS.len(),
            r.records.len(),
            if r.each_once(&JOBS) { "yes" } else { "NO" },
            r.finished(),
            r.panicked(),
            r.workers_joined,
            r.workers
        );
        out!(
            "  {workers} workers: page in {} (ideal {ideal}; the event loop's one thread: {}); recommendations held its worker {} blocked, waiting for orders",
            fmt_duration(run.total),
            fmt_duration(PROFILE.max(ORDERS + RECOMMEND)),
            fmt_duration(run.recommendations_blocked)
        );
        // What a task is in this model: one run per job, start to end, on one worker.
        // In the order the jobs were submitted, not the order they started: three start at the
        // same instant, and the line must read the same from run to run.
        let mut records: Vec<_> = r.records.iter().collect();
        records.sort_by_key(|j| JOBS.iter().position(|name| *name == j.name));
        let pieces: Vec<String> = records
            .iter()
            .map(|j| {
                format!(
                    "{} on {} {}-{}{}",
                    j.name,
                    j.worker,
                    j.started.as_millis(),
                    fmt_duration(j.ended),
                    if j.outcome == Outcome::Finished {
                        ""
                    } else {
                        " (a panic)"
                    }
                )
            })
            .collect();
        out!(
            "  {workers} workers, one piece per job: {}",
            pieces.join("; ")
        );
    }
    if let (Some((_, enough)), Some((_, fewer))) = (runs.first(), runs.get(1)) {
        out!(
            "  one worker fewer cost {} (a blocked closure holds its thread; a future returns Pending and frees it)",
            fmt_duration(fewer.total.saturating_sub(enough.total))
        );
        out!("  page: {}", enough.page);
    }
}
