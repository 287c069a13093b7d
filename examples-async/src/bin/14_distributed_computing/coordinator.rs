//! The coordinator: owns the job queue, hands a job to whichever worker asks, and takes it back when
//! that worker dies, goes silent, talks nonsense or lies. It exits once every job is settled (done,
//! or failed `--max-attempts` times), or when no result came for `--patience-ms`.
//!
//! **One task per connection**, all on one thread (`current_thread`): a connection spends its life
//! waiting on the network, which costs a task nothing. The tasks share one [`Board`] behind a
//! `std::sync::Mutex` ([`crate::board`]); a [`Notify`] wakes tasks that wait for a job when one is
//! requeued, or when everything is done. Each connection's conversation is [`crate::session`]; the
//! recount of a sample of answers is [`crate::checks`].
//!
//! **Bounds**, so that no peer can stall the run or eat the machine: at most `max_peers`
//! connections (a newcomer past it hears `ERROR busy`, which a worker retries later), `HELLO`
//! within a second, a `RESULT` within the job timeout, `max_attempts` tries per job, and the
//! patience: a run whose last job outlives every worker ends with one line instead of waiting for
//! ever.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::codec::{Framed, LinesCodec};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::board::{Board, Outcome, Report};
use crate::protocol::{Job, MAX_LINE, Message};

/// How long a new peer has to say `HELLO` by default: a stranger that connects and says nothing (or a port
/// scanner) is dropped, and cannot hold a connection slot for ever.
pub const HELLO_TIMEOUT: Duration = Duration::from_millis(1000);
/// After the last job, how long the coordinator waits for its connections to say `STOP` and close.
const STOP_GRACE: Duration = Duration::from_millis(1000);

#[derive(Debug, Clone)]
pub struct Config {
    pub jobs: Vec<Job>,
    /// A worker that has not answered its job after this long is presumed dead or hung: the job
    /// goes back to the queue and the connection is dropped (so a late answer cannot count twice).
    pub job_timeout: Duration,
    /// A new peer must say `HELLO` within this long.
    pub hello_timeout: Duration,
    /// Hand out the first job only once this many workers are connected (the demo waits for all of
    /// its workers, so that the first jobs visibly run in parallel). A start gate: once the jobs
    /// flow, a worker leaving does not stop them.
    pub min_workers: usize,
    /// A job given out this many times without an accepted answer is reported failed.
    pub max_attempts: u32,
    /// Connections served at once; a newcomer past it is told `ERROR busy` and closed.
    pub max_peers: usize,
    /// Jobs whose answers are recounted here whoever gives them ([`pick_sample`]); a worker's first
    /// answer is recounted anyway.
    pub sample: BTreeSet<u32>,
    /// With jobs unfinished and no result for this long, the run gives up (the coordinator role
    /// then exits 1): a job that outlives every worker's timeout leaves no worker to wait for.
    pub patience: Duration,
}

/// The coordinator of one run. Cheap to clone (an `Arc`): the demo keeps a clone to read a
/// [`Report`] snapshot even if the run has to be abandoned.
#[derive(Clone)]
pub struct Coordinator {
    pub shared: Arc<Shared>,
    pub job_timeout: Duration,
    pub hello_timeout: Duration,
    pub max_peers: usize,
    pub patience: Duration,
}

pub struct Shared {
    pub board: Mutex<Board>,
    /// Wakes tasks waiting for a job: a job came back, a worker arrived, or all is done.
    pub changed: Notify,
    /// Cancelled when the last job is settled: every connection then says `STOP`.
    pub finished: CancellationToken,
}

impl Coordinator {
    pub(crate) fn new(config: Config) -> Self {
        let report = Report {
            total: config.jobs.len(),
            max_attempts: config.max_attempts.max(1),
            ..Report::default()
        };
        let finished = CancellationToken::new();
        if config.jobs.is_empty() {
            finished.cancel();
        }
        let board = Board {
            pending: config.jobs.into(),
            in_flight: BTreeMap::new(),
            report,
            connected: 0,
            min_workers: config.min_workers,
            attempts: BTreeMap::new(),
            sample: config.sample,
            vouched: BTreeSet::new(),
            first_dispatch: None,
            last_result: Instant::now(),
            names: BTreeSet::new(),
        };
        Self {
            shared: Arc::new(Shared {
                board: Mutex::new(board),
                changed: Notify::new(),
                finished,
            }),
            job_timeout: config.job_timeout,
            hello_timeout: config.hello_timeout,
            max_peers: config.max_peers.max(1),
            patience: config.patience,
        }
    }

    pub(crate) fn board(&self) -> MutexGuard<'_, Board> {
        // A panic while holding this lock would be a bug in a few lines of bookkeeping; there is no
        // half-updated state worth saving, so a poisoned lock is a bug too.
        self.shared
            .board
            .lock()
            .expect("no code panics while holding the board")
    }

    /// A snapshot of the run so far.
    pub(crate) fn report(&self) -> Report {
        self.board().report.clone()
    }

    /// Accepts workers on `listener` until every job is settled, tells each connected worker
    /// `STOP`, and returns the report. Taking the listener (not an address) lets the caller bind
    /// port 0 and learn the real port first, as the demo and the tests do.
    pub(crate) async fn run(&self, listener: TcpListener) -> Report {
        let connections = TaskTracker::new();
        self.board().last_result = Instant::now();
        loop {
            let patience = self.board().last_result + self.patience;
            tokio::select! {
                _ = self.shared.finished.cancelled() => break,
                // Checked again at each wake-up: a result since then moved the deadline.
                () = sleep_until(patience) => self.give_up_if_stuck(),
                accepted = listener.accept() => match accepted {
                    // `len()` counts the tasks still running: a peer's slot frees when it leaves.
                    Ok((stream, peer)) if connections.len() >= self.max_peers => {
                        self.turn_away(&stream, &peer.to_string());
                    }
                    Ok((stream, peer)) => {
                        // Nagle's algorithm holds back a small write while an earlier one is
                        // unacknowledged, and the peer delays its ACK by up to 40 ms: every line
                        // of this protocol is a small write that waits for an answer, so without
                        // this each job would pay that stall (issue 11: 44 ms per job).
                        let _ = stream.set_nodelay(true);
                        let me = self.clone();
                        connections.spawn(async move { me.serve(stream, peer.to_string()).await });
                    }
                    // Out of file descriptors, or a connection reset before we accepted it: the
                    // listener is still fine. Pause a little so a persistent error cannot spin.
                    Err(e) => {
                        warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        connections.close();
        if timeout(STOP_GRACE, connections.wait()).await.is_err() {
            warn!("some connections did not close within {STOP_GRACE:?}; leaving them");
        }
        // Moved out, not cloned: with a million results a copy would double the peak memory.
        // Only the demo's abandoned runs read the board after this, and they never get here.
        std::mem::take(&mut self.board().report)
    }

    /// Ends the run if no result came for the whole patience: every waiting worker hears `STOP`,
    /// and the report says which jobs were left and why.
    pub(crate) fn give_up_if_stuck(&self) {
        let mut board = self.board();
        if board.is_finished() || board.last_result.elapsed() < self.patience {
            return;
        }
        let why = format!(
            "no result for {} ms (--patience-ms) with {}",
            self.patience.as_millis(),
            board.unfinished()
        );
        warn!("giving up: {why}");
        board.report.gave_up = Some(why);
        drop(board);
        self.shared.finished.cancel();
        self.shared.changed.notify_waiters();
    }

    /// One line to a newcomer past `max_peers`, then close. `try_write` never waits: a fresh
    /// socket's send buffer is empty, and a peer we refuse must not hold up the accept loop.
    pub(crate) fn turn_away(&self, stream: &TcpStream, peer: &str) {
        let _ = stream.try_write(b"ERROR busy\n");
        let mut board = self.board();
        board.report.turned_away += 1;
        // One warning per burst, not one per stranger of a flood.
        if board.report.turned_away.is_power_of_two() {
            warn!(
                "turned away {peer}: busy ({} peers, --max-peers; {} turned away so far)",
                self.max_peers, board.report.turned_away
            );
        }
    }

    /// One peer, from its first byte to its last. Generic over the stream so that the tests can
    /// drive it through an in-memory pipe on tokio's paused clock.
    pub(crate) async fn serve<S>(&self, stream: S, peer: String)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // The framing: `LinesCodec` splits the byte stream at `\n` and turns each line into a
        // `String`. `new_with_max_length` matters: a plain `LinesCodec::new()` buffers a line of
        // any length, so one peer that never sends `\n` could eat all our memory.
        let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
        if let Err(reason) = self.session(&mut lines, &peer).await {
            warn!("dropped {peer}: {reason}");
            self.board().report.dropped.push((peer, reason.clone()));
            // Tell the peer why, if it still listens; never wait long for a peer we are dropping.
            let _ = timeout(
                Duration::from_millis(100),
                lines.send(Message::Error(reason).to_string()),
            )
            .await;
        }
    }

    pub(crate) fn complete(&self, job: Job, primes: u64, worker: &str, checked: bool) {
        let mut board = self.board();
        board.in_flight.remove(&job.id);
        // Attempts matter while a job is unfinished; a done job redone starts afresh.
        board.attempts.remove(&job.id);
        board.last_result = Instant::now();
        let outcome = Outcome {
            job,
            primes,
            worker: board.name(worker),
            checked,
        };
        let mark = if checked { " (recounted: right)" } else { "" };
        info!("result job {} from {worker}: {primes} primes{mark}", job.id);
        board.report.done.insert(job.id, outcome);
        self.settle_if_finished(board);
    }

    /// Takes back the job of a worker that failed it: requeued, or failed for good.
    pub(crate) fn take_back(&self, job: Job, worker: &str, reason: &str) {
        let mut board = self.board();
        let failed = board.take_back(job, &format!("{worker}: {reason}"));
        let attempts = board.report.max_attempts;
        if failed {
            warn!(
                "job {} FAILED after {attempts} attempts (last: {worker}: {reason})",
                job.id
            );
            self.settle_if_finished(board);
        } else {
            drop(board);
            warn!("requeue job {} ({worker}: {reason})", job.id);
        }
        self.shared.changed.notify_waiters();
    }

    pub(crate) fn settle_if_finished(&self, mut board: MutexGuard<'_, Board>) {
        if !board.is_finished() || self.shared.finished.is_cancelled() {
            return;
        }
        info!(
            "all {} jobs settled ({} done, {} failed): telling the workers to stop",
            board.report.total,
            board.report.done.len(),
            board.report.failed.len()
        );
        if let Some(first) = board.first_dispatch {
            board.report.busy = first.elapsed();
        }
        drop(board);
        self.shared.finished.cancel();
        self.shared.changed.notify_waiters();
    }
}
