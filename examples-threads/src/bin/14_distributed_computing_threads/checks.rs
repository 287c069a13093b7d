//! Trust, but check a sample. Each worker's first answer, and a seeded `--check-percent` of the
//! others, are recounted by the coordinator as they arrive (not everything at the end, which would
//! take one core longer than the whole run). A worker caught lying is named and dropped, and its job
//! and its unchecked answers are redone elsewhere. Its name stays marked: it is refused if it comes
//! back (a restarted liar would otherwise be vouched for again), and any answer still arriving
//! under it is recounted. The recount is CPU work, so it runs on a scoped thread while
//! the connection keeps saying `BEAT`.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::thread;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::warn;

use crate::coordinator::Coordinator;
use crate::lines::Lines;
use crate::protocol::{HEARTBEAT, Job, Message, count_primes};
use crate::session::send;

/// A seeded sample of about `percent`% of the jobs: the same seed checks the same jobs.
pub fn pick_sample(jobs: &[Job], percent: u32, seed: u64) -> BTreeSet<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let share = f64::from(percent.min(100)) / 100.0;
    jobs.iter()
        .filter(|_| rng.random_bool(share))
        .map(|j| j.id)
        .collect()
}

impl Coordinator {
    /// Accepts an answer, after recounting it here if it is one to check. A wrong answer names
    /// the liar and comes back as an error, so that the caller drops the worker and redoes the job
    /// elsewhere.
    pub(crate) fn check_and_complete(
        &self,
        lines: &mut Lines,
        job: Job,
        primes: u64,
        worker: &str,
    ) -> Result<(), String> {
        let check = self.board().must_check(job, worker);
        if check {
            // The recount on a scoped thread, while this one says BEAT to the worker, which waits
            // for its next job meanwhile (a recount can take longer than its patience).
            let truth = thread::scope(|scope| {
                let (done, recounted) = mpsc::channel();
                scope.spawn(move || {
                    let _ = done.send(count_primes(job.start, job.end));
                });
                loop {
                    match recounted.recv_timeout(HEARTBEAT) {
                        Ok(truth) => return Ok(truth),
                        Err(mpsc::RecvTimeoutError::Timeout) => send(lines, Message::Beat)?,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            return Err(format!("the recount of job {} panicked", job.id));
                        }
                    }
                }
            })?;
            let mut board = self.board();
            board.report.checked += 1;
            board.vouched.insert(worker.to_string());
            if truth != primes {
                board.report.wrong += 1;
                board.report.liars.insert(worker.to_string());
                let redo = board.redo_unchecked(worker);
                drop(board);
                warn!(
                    "{worker} LIED about job {}: said {primes} primes, the recount here found {truth}; \
                     redoing it and its {} unchecked answers ({redo:?}) elsewhere",
                    job.id,
                    redo.len()
                );
                self.shared.changed.notify_all();
                return Err(format!(
                    "wrong answer to job {}: said {primes} primes, a recount found {truth}",
                    job.id
                ));
            }
        }
        self.complete(job, primes, worker, check);
        Ok(())
    }
}
