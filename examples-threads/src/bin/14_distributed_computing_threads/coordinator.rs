//! The coordinator: owns the job queue, hands a job to whichever worker asks, and takes it back when
//! that worker dies, goes silent, talks nonsense or lies. It exits once every job is settled, or
//! when no result came for `--patience-ms`. Each conversation is [`crate::session`], the recount
//! of a sample [`crate::checks`], the shared state [`crate::board`].
//!
//! One thread per connection (named `conn-N`), blocked in `read` most of its life: that is what
//! a thread costs here and what a task costs nothing for in the async twin. The threads share one
//! [`Board`] behind a `std::sync::Mutex`; a free worker's thread sleeps on a `Condvar` until a job
//! is requeued or everything is done (the async twin's `Notify`), waking every heartbeat to say
//! `BEAT`. Stopping the accept loop needs a trick: `accept()` blocks and cannot be cancelled, so
//! the coordinator connects to itself once to wake it (async: it stops polling the accept future).
//!
//! Bounds, as in the async twin: at most `max_peers` connections, so at most that many threads (a
//! newcomer past it hears `ERROR busy`), `HELLO` within a second, a `RESULT` within the job
//! timeout, `max_attempts` tries per job, and the patience.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::board::{Board, Outcome, Report};
use crate::lines::Lines;
use crate::protocol::{Job, Message};

/// How long a new peer has to say `HELLO` by default: a stranger that connects and says nothing
/// (or a port scanner) is dropped, and cannot hold a thread for ever.
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
    /// Wakes threads waiting for a job (a job came back, a worker arrived, all is done) and the
    /// thread in `run` (all done, a connection closed).
    pub changed: Condvar,
}

impl Coordinator {
    pub(crate) fn new(config: Config) -> Self {
        let report = Report {
            total: config.jobs.len(),
            max_attempts: config.max_attempts.max(1),
            ..Report::default()
        };
        let board = Board {
            finished: config.jobs.is_empty(),
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
            connections: 0,
        };
        Self {
            shared: Arc::new(Shared {
                board: Mutex::new(board),
                changed: Condvar::new(),
            }),
            job_timeout: config.job_timeout,
            hello_timeout: config.hello_timeout,
            max_peers: config.max_peers.max(1),
            patience: config.patience,
        }
    }

    /// Workers connected now (for the tests, which wait for the board to count a peer out).
    #[cfg(test)]
    pub(crate) fn connected(&self) -> usize {
        self.board().connected
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
    pub(crate) fn run(&self, listener: TcpListener) -> Report {
        let wake_addr = listener.local_addr().ok().map(loopback);
        let me = self.clone();
        let acceptor = thread::Builder::new()
            .name("accept".into())
            .spawn(move || me.accept_loop(listener));
        let mut board = self.board();
        board.last_result = Instant::now();
        // Wait for the end, or for the patience to run out since the last result (each wake-up
        // looks again: a result moves the deadline).
        while !board.finished {
            let left = self.patience.saturating_sub(board.last_result.elapsed());
            if left.is_zero() {
                self.give_up(&mut board);
                break;
            }
            board = self
                .shared
                .changed
                .wait_timeout(board, left)
                .expect("no code panics while holding the board")
                .0;
        }
        // Every connection thread says STOP and returns; a stranger still in its hello gives up at
        // its hello timeout. Bound the wait anyway.
        let (board, waited) = self
            .shared
            .changed
            .wait_timeout_while(board, STOP_GRACE, |b| b.connections > 0)
            .expect("no code panics while holding the board");
        if waited.timed_out() {
            warn!(
                "{} connections did not close within {STOP_GRACE:?}; leaving them",
                board.connections
            );
        }
        drop(board);
        // The accept thread is blocked in `accept()`, which nothing can interrupt: connect to it
        // once so that it wakes, sees `finished` and returns. (The async twin simply stops
        // polling the accept future.)
        if let (Ok(acceptor), Some(addr)) = (acceptor, wake_addr)
            && TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        {
            let _ = acceptor.join();
        }
        // Moved out, not cloned: with a million results a copy would double the peak memory.
        // Only the demo's abandoned runs read the board after this, and they never get here.
        std::mem::take(&mut self.board().report)
    }

    /// Ends a run in which no result came for the whole patience: every waiting worker hears
    /// `STOP`, and the report says which jobs were left and why.
    pub(crate) fn give_up(&self, board: &mut Board) {
        let why = format!(
            "no result for {} ms (--patience-ms) with {}",
            self.patience.as_millis(),
            board.unfinished()
        );
        warn!("giving up: {why}");
        board.report.gave_up = Some(why);
        board.finished = true;
        self.shared.changed.notify_all();
    }

    pub(crate) fn accept_loop(&self, listener: TcpListener) {
        let mut count = 0;
        for accepted in listener.incoming() {
            if self.board().finished {
                return;
            }
            match accepted {
                Ok(stream) => {
                    let peer = stream
                        .peer_addr()
                        .map_or_else(|_| "unknown peer".into(), |a| a.to_string());
                    // One thread per connection: without this bound, a flood of strangers is a
                    // flood of threads (issue 11: 200 strangers, 128 threads).
                    {
                        let mut board = self.board();
                        if board.connections >= self.max_peers {
                            drop(board);
                            self.turn_away(stream, &peer);
                            continue;
                        }
                        board.connections += 1;
                    }
                    count += 1;
                    let me = self.clone();
                    let spawned =
                        thread::Builder::new()
                            .name(format!("conn-{count}"))
                            .spawn(move || {
                                me.serve(stream, peer);
                                me.board().connections -= 1;
                                me.shared.changed.notify_all();
                            });
                    if let Err(e) = spawned {
                        warn!("cannot start a thread for a connection: {e}");
                        self.board().connections -= 1;
                    }
                }
                // Out of file descriptors, or a connection reset before we accepted it: the
                // listener is still fine. Pause a little so a persistent error cannot spin.
                Err(e) => {
                    warn!("accept failed: {e}");
                    thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// One line to a newcomer past `max_peers`, then close. Non-blocking: a fresh socket's send
    /// buffer is empty, and a peer we refuse must not hold up the accept loop.
    pub(crate) fn turn_away(&self, mut stream: TcpStream, peer: &str) {
        if stream.set_nonblocking(true).is_ok() {
            let _ = stream.write_all(b"ERROR busy\n");
        }
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

    /// One peer, from its first byte to its last.
    pub(crate) fn serve(&self, stream: TcpStream, peer: String) {
        let mut lines = match Lines::new(stream) {
            Ok(lines) => lines,
            Err(e) => {
                warn!("dropped {peer}: cannot set up the socket: {e}");
                return;
            }
        };
        if let Err(reason) = self.session(&mut lines, &peer) {
            warn!("dropped {peer}: {reason}");
            self.board().report.dropped.push((peer, reason.clone()));
            // Tell the peer why, if it still listens (the write has a timeout).
            let _ = lines.send(&Message::Error(reason));
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
        self.shared.changed.notify_all();
    }

    pub(crate) fn settle_if_finished(&self, mut board: MutexGuard<'_, Board>) {
        if !board.is_finished() || board.finished {
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
        board.finished = true;
        drop(board);
        self.shared.changed.notify_all();
    }
}

/// Where to connect to reach a listener bound to `addr`: a listener on "every interface"
/// (`0.0.0.0`, `::`) is reached through loopback.
pub fn loopback(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}
