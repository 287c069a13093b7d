//! The job board: where every job is (queue, in flight, done, failed), the attempts each had, and
//! the [`Report`] of the run. **No job is lost**: a job is always in exactly one place, and every
//! way out of a connection with a job in flight puts it back ([`Board::take_back`]).
//!
//! The connections share one board behind a `std::sync::Mutex`: every critical section is a few
//! field updates and never holds the lock across an `.await` (the rule of 10_mutex), so the cheaper
//! std lock is the right one. `--min-workers` counts the workers connected now, not every
//! `HELLO` ever heard; a job that has worn out `--max-attempts` workers is given up instead of
//! requeued for ever.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::protocol::Job;

/// The answer to one job and who gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The job, kept to put it back in the queue if its answer is found untrustworthy.
    pub job: Job,
    pub primes: u64,
    /// Shared, not copied: a million results from three workers are three names.
    pub worker: Arc<str>,
    /// Recounted here and found right (an unchecked answer from a worker later caught lying is redone).
    pub checked: bool,
}

/// What a run did: read by the summary, and by the tests.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub total: usize,
    pub done: BTreeMap<u32, Outcome>,
    /// Jobs given up after `max_attempts` tries, with the last reason.
    pub failed: BTreeMap<u32, String>,
    pub max_attempts: u32,
    /// How many times a job went back to the queue.
    pub requeued: usize,
    /// Peers dropped, with the one-line reason that was logged.
    pub dropped: Vec<(String, String)>,
    /// Newcomers told `ERROR busy` because `max_peers` connections were open.
    pub turned_away: usize,
    /// Every name that completed the hello.
    pub workers: BTreeSet<String>,
    /// Results recounted here, and how many of them were wrong (and whose).
    pub checked: usize,
    pub wrong: usize,
    pub liars: BTreeSet<String>,
    /// From the first dispatch to the last result.
    pub busy: Duration,
    /// Why the run gave up before every job was settled (`--patience-ms`): one line.
    pub gave_up: Option<String>,
}

impl Report {
    /// Jobs neither done nor failed: the number upstream gets wrong when a worker dies.
    pub fn lost(&self) -> usize {
        self.total - self.done.len() - self.failed.len()
    }

    pub fn primes(&self) -> u64 {
        self.done.values().map(|o| o.primes).sum()
    }

    pub fn jobs_by(&self, worker: &str) -> usize {
        self.done.values().filter(|o| &*o.worker == worker).count()
    }

    /// Answers kept from a worker caught lying and never recounted: none, unless a bug lets one
    /// through. A run with any does not end with status 0 on its total.
    pub fn unverified(&self) -> usize {
        self.done
            .values()
            .filter(|o| !o.checked && self.liars.contains(&*o.worker))
            .count()
    }

    /// Jobs per second from the first dispatch to the last result.
    pub fn jobs_per_second(&self) -> f64 {
        self.done.len() as f64 / self.busy.as_secs_f64().max(1e-9)
    }
}

/// The shared state. Every job is in exactly one place: `pending`, `in_flight`, `report.done` or
/// `report.failed`.
#[derive(Debug)]
pub struct Board {
    pub pending: VecDeque<Job>,
    pub in_flight: BTreeMap<u32, String>,
    pub report: Report,
    /// Workers connected now (not every `HELLO` ever heard: a worker that left is not here).
    pub connected: usize,
    pub min_workers: usize,
    /// Dispatches of each job so far.
    pub attempts: BTreeMap<u32, u32>,
    /// Jobs whose answers are recounted whoever gives them (seeded, picked at the start).
    pub sample: BTreeSet<u32>,
    /// Workers whose first result was recounted already.
    pub vouched: BTreeSet<String>,
    pub first_dispatch: Option<Instant>,
    /// The last result, or the start: the patience counts from here.
    pub last_result: Instant,
    /// The names that answers are kept under, one allocation each.
    pub names: BTreeSet<Arc<str>>,
}

/// What a free worker gets.
pub enum Take {
    Job(Job),
    /// Nothing to hand out yet: the queue is empty but jobs are in flight (one may come back), or
    /// too few workers are here.
    Wait,
    AllDone,
}

impl Board {
    pub fn take(&mut self, worker: &str) -> Take {
        if self.is_finished() || self.report.gave_up.is_some() {
            return Take::AllDone;
        }
        if self.first_dispatch.is_none() && self.connected < self.min_workers {
            return Take::Wait;
        }
        match self.pending.pop_front() {
            Some(job) => {
                self.in_flight.insert(job.id, worker.to_string());
                *self.attempts.entry(job.id).or_default() += 1;
                self.first_dispatch.get_or_insert_with(Instant::now);
                Take::Job(job)
            }
            None => Take::Wait,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.report.done.len() + self.report.failed.len() == self.report.total
    }

    /// Does this answer get recounted? A worker's first one always (so a worker that always lies
    /// is caught at once), then the seeded sample; and every answer of a name once caught lying
    /// (another connection under that name may still be at work).
    pub fn must_check(&self, job: Job, worker: &str) -> bool {
        !self.vouched.contains(worker)
            || self.sample.contains(&job.id)
            || self.report.liars.contains(worker)
    }

    /// The name to keep an answer under, shared by all of that worker's answers.
    pub fn name(&mut self, worker: &str) -> Arc<str> {
        if let Some(name) = self.names.get(worker) {
            return name.clone();
        }
        let name: Arc<str> = worker.into();
        self.names.insert(name.clone());
        name
    }

    /// The unfinished jobs and why, for the one line of a run that gave up: the first few ids with
    /// the attempts each used, and whether any worker is here.
    pub fn unfinished(&self) -> String {
        const SHOWN: usize = 5;
        let mut ids: Vec<u32> = self.in_flight.keys().copied().collect();
        ids.extend(self.pending.iter().map(|j| j.id));
        ids.sort_unstable();
        let mut named: Vec<String> = ids
            .iter()
            .take(SHOWN)
            .map(|id| {
                let used = self.attempts.get(id).copied().unwrap_or(0);
                format!(
                    "job {id} ({used} of {} attempts used)",
                    self.report.max_attempts
                )
            })
            .collect();
        if ids.len() > SHOWN {
            named.push(format!("{} more", ids.len() - SHOWN));
        }
        let workers = match self.connected {
            0 => "no worker connected".to_string(),
            1 => "1 worker connected".to_string(),
            n => format!("{n} workers connected"),
        };
        format!("{} unfinished: {}; {workers}", ids.len(), named.join(", "))
    }

    /// Takes back `job` after a failed attempt: to the queue, or to `failed` once it has had
    /// `max_attempts` tries. Returns true if it failed for good.
    pub fn take_back(&mut self, job: Job, reason: &str) -> bool {
        self.in_flight.remove(&job.id);
        if self.attempts.get(&job.id).copied().unwrap_or(0) >= self.report.max_attempts {
            self.report.failed.insert(job.id, reason.to_string());
            return true;
        }
        // To the front: it has waited longest.
        self.pending.push_front(job);
        self.report.requeued += 1;
        false
    }

    /// A liar's answers that were never recounted cannot be trusted: back to the queue.
    pub fn redo_unchecked(&mut self, liar: &str) -> Vec<u32> {
        let redo: Vec<u32> = self
            .report
            .done
            .iter()
            .filter(|(_, o)| &*o.worker == liar && !o.checked)
            .map(|(id, _)| *id)
            .collect();
        for id in &redo {
            if let Some(outcome) = self.report.done.remove(id) {
                self.pending.push_back(outcome.job);
                self.report.requeued += 1;
            }
        }
        redo
    }
}
