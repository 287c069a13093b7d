//! The broker mode's summary: the TCP mode's lines where they mean the same, so the two runs
//! diff, from the tally the workers' recording step kept in Redis (it outlives a coordinator).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

pub struct Summary {
    pub total: u64,
    pub done: u64,
    pub primes: u64,
    pub per_worker: BTreeMap<String, u64>,
    pub failed: BTreeMap<u32, String>,
    pub requeued: u64,
    pub duplicates: u64,
    pub left_pending: usize,
    pub max_attempts: u32,
    pub below: u64,
    pub busy: Duration,
}

impl Summary {
    /// From the run's tally hash: `done`, `primes`, `duplicates`, `claims`, `w:<worker>`.
    pub fn new(
        total: u32,
        tally: &HashMap<String, String>,
        failed: BTreeMap<u32, String>,
        left_pending: usize,
        max_attempts: u32,
        below: u64,
        busy: Duration,
    ) -> Self {
        let number = |field: &str| tally.get(field).and_then(|v| v.parse().ok()).unwrap_or(0);
        let per_worker = tally
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("w:")?.to_string(), v.parse().ok()?)))
            .collect();
        Self {
            total: u64::from(total),
            done: number("done"),
            primes: number("primes"),
            per_worker,
            failed,
            requeued: number("claims"),
            duplicates: number("duplicates"),
            left_pending,
            max_attempts,
            below,
            busy,
        }
    }
    fn lost(&self) -> u64 {
        self.total
            .saturating_sub(self.done + self.failed.len() as u64)
    }
    pub fn ok(&self, local: Option<u64>) -> bool {
        self.done == self.total && local.is_none_or(|l| l == self.primes)
    }
    pub fn print(&self, local: Option<u64>, peak_rss: Option<u64>) {
        common::out!();
        common::out!("Summary");
        if self.failed.is_empty() {
            common::out!(
                "  {}/{} jobs done, {} requeued, {} lost",
                self.done,
                self.total,
                self.requeued,
                self.lost()
            );
        } else {
            common::out!(
                "  {}/{} jobs done, {} failed after {} attempts, {} lost ({} requeued)",
                self.done,
                self.total,
                self.failed.len(),
                self.max_attempts,
                self.lost(),
                self.requeued
            );
            for (id, reason) in self.failed.iter().take(10) {
                common::out!("  failed job {id}: {reason}");
            }
        }
        common::out!(
            "  results that arrived twice: {} (kept once: SETBIT by job id)",
            self.duplicates
        );
        let primes = self.primes;
        match local {
            Some(local) => {
                let verdict = if primes == local && self.done == self.total {
                    "correct"
                } else {
                    "WRONG"
                };
                common::out!(
                    "  primes below {}: {primes} from the workers, {local} counted here: {verdict}",
                    self.below
                );
            }
            None if self.done == self.total => {
                common::out!("  primes below {}: {primes} from the workers", self.below);
            }
            None => common::out!("  primes in the jobs done: {primes} (some jobs failed)"),
        }
        let secs = self.busy.as_secs_f64().max(1e-3);
        common::out!(
            "  throughput: {} jobs in {} (first publish to last result): {:.0} jobs/s",
            self.done,
            common::fmt_duration(self.busy),
            self.done as f64 / secs
        );
        let per: Vec<String> = self
            .per_worker
            .iter()
            .map(|(w, n)| format!("{w} {n}"))
            .collect();
        common::out!("  jobs per worker: {}", per.join(", "));
        common::out!(
            "  left pending in the group (XPENDING): {}",
            self.left_pending
        );
        match peak_rss {
            Some(kib) => common::out!("  coordinator peak memory (VmHWM): {} KiB", kib),
            None => common::out!("  coordinator peak memory (VmHWM): not known on this system"),
        }
    }
}

/// This process's peak resident set, from `/proc/self/status` (Linux); `None` elsewhere.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
