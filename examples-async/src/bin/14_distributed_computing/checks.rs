//! Trust, but check a sample. Each worker's first answer, and a seeded `--check-percent` of the
//! others, are recounted by the coordinator as they arrive (not everything at the end, which would
//! take one core longer than the whole run). A worker caught lying is named and dropped, and its job
//! and its unchecked answers are redone elsewhere. Its name stays marked: it is refused if it comes
//! back (a restarted liar would otherwise be vouched for again), and any answer still arriving
//! under it is recounted. The recount is CPU work, so it runs on the blocking pool while
//! the connection keeps saying `BEAT`.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;
use tokio_util::codec::{Framed, LinesCodec};
use tracing::warn;

use crate::coordinator::Coordinator;
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
    /// Accepts an answer, after recounting it here if it is one to check (off the runtime thread:
    /// a recount is CPU work). A wrong answer names the liar and comes back as an error, so that the
    /// caller drops the worker and redoes the job elsewhere.
    pub(crate) async fn check_and_complete<S>(
        &self,
        lines: &mut Framed<S, LinesCodec>,
        job: Job,
        primes: u64,
        worker: &str,
    ) -> Result<(), String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let check = self.board().must_check(job, worker);
        if check {
            let recount = tokio::task::spawn_blocking(move || count_primes(job.start, job.end));
            tokio::pin!(recount);
            // The worker waits for its next job meanwhile, and a recount can take longer than the
            // worker's patience: keep saying BEAT.
            let truth = loop {
                tokio::select! {
                    truth = &mut recount => break truth
                        .map_err(|e| format!("the recount of job {} panicked: {e}", job.id))?,
                    () = tokio::time::sleep(HEARTBEAT) => {
                        timeout(HEARTBEAT, send(lines, Message::Beat))
                            .await
                            .map_err(|_| "cannot send: timed out".to_string())??;
                    }
                }
            };
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
                self.shared.changed.notify_waiters();
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
