//! The coordinator: owns the job queue, hands a job to whichever worker asks, and takes it back when
//! that worker dies, goes silent or talks nonsense. It exits once every job is done.
//!
//! One task per connection, all on one thread (`current_thread`): a connection spends its life
//! waiting on the network, which costs a task nothing. The tasks share one [`Board`] behind a
//! `std::sync::Mutex`: every critical section is a few field updates and never holds the lock
//! across an `.await` (the rule of 10_mutex), so the cheaper std lock is the right one. A
//! [`Notify`] wakes tasks that wait for a job when one is requeued, or when everything is done.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::{Instant, timeout};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::protocol::{Job, MAX_LINE, Message, PROTOCOL, quote};

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
    /// Hand out no job before this many workers said hello (the demo waits for all of its workers,
    /// so that the first jobs visibly run in parallel).
    pub min_workers: usize,
}

/// The answer to one job and who gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub primes: u64,
    pub worker: String,
}

/// What a run did: read by the summary, and by the tests.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub total: usize,
    pub done: BTreeMap<u32, Outcome>,
    /// How many times a job went back to the queue.
    pub requeued: usize,
    /// Peers dropped, with the one-line reason that was logged.
    pub dropped: Vec<(String, String)>,
    /// Every name that completed the hello.
    pub workers: BTreeSet<String>,
    /// From the first dispatch to the last result.
    pub busy: Duration,
}

impl Report {
    /// Jobs neither done nor in the queue: the number upstream gets wrong when a worker dies.
    pub fn lost(&self) -> usize {
        self.total - self.done.len()
    }

    pub fn primes(&self) -> u64 {
        self.done.values().map(|o| o.primes).sum()
    }

    pub fn jobs_by(&self, worker: &str) -> usize {
        self.done.values().filter(|o| o.worker == worker).count()
    }
}

/// The shared state. Every job is in exactly one place: `pending`, `in_flight` or `report.done`.
#[derive(Debug)]
struct Board {
    pending: VecDeque<Job>,
    in_flight: BTreeMap<u32, String>,
    report: Report,
    hellos: usize,
    min_workers: usize,
    first_dispatch: Option<Instant>,
}

/// What a free worker gets.
enum Take {
    Job(Job),
    /// Nothing to hand out yet: the queue is empty but jobs are in flight (one may come back), or
    /// too few workers are here.
    Wait,
    AllDone,
}

impl Board {
    fn take(&mut self, worker: &str) -> Take {
        if self.report.done.len() == self.report.total {
            return Take::AllDone;
        }
        if self.hellos < self.min_workers {
            return Take::Wait;
        }
        match self.pending.pop_front() {
            Some(job) => {
                self.in_flight.insert(job.id, worker.to_string());
                self.first_dispatch.get_or_insert_with(Instant::now);
                Take::Job(job)
            }
            None => Take::Wait,
        }
    }
}

/// The coordinator of one run. Cheap to clone (an `Arc`): the demo keeps a clone to read a
/// [`Report`] snapshot even if the run has to be abandoned.
#[derive(Clone)]
pub struct Coordinator {
    shared: Arc<Shared>,
    job_timeout: Duration,
    hello_timeout: Duration,
}

struct Shared {
    board: Mutex<Board>,
    /// Wakes tasks waiting for a job: a job came back, a worker arrived, or all is done.
    changed: Notify,
    /// Cancelled when the last job is done: every connection then says `STOP`.
    finished: CancellationToken,
}

impl Coordinator {
    pub fn new(config: Config) -> Self {
        let report = Report {
            total: config.jobs.len(),
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
            hellos: 0,
            min_workers: config.min_workers,
            first_dispatch: None,
        };
        Self {
            shared: Arc::new(Shared {
                board: Mutex::new(board),
                changed: Notify::new(),
                finished,
            }),
            job_timeout: config.job_timeout,
            hello_timeout: config.hello_timeout,
        }
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        // A panic while holding this lock would be a bug in a few lines of bookkeeping; there is no
        // half-updated state worth saving, so a poisoned lock is a bug too.
        self.shared
            .board
            .lock()
            .expect("no code panics while holding the board")
    }

    /// A snapshot of the run so far.
    pub fn report(&self) -> Report {
        self.board().report.clone()
    }

    /// Accepts workers on `listener` until every job is done, tells each connected worker `STOP`,
    /// and returns the report. Taking the listener (not an address) lets the caller bind port 0
    /// and learn the real port first, as the demo and the tests do.
    pub async fn run(&self, listener: TcpListener) -> Report {
        let connections = TaskTracker::new();
        loop {
            tokio::select! {
                _ = self.shared.finished.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
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
        self.report()
    }

    /// One peer, from its first byte to its last. Generic over the stream so that the tests can
    /// drive it through an in-memory pipe on tokio's paused clock.
    pub async fn serve<S>(&self, stream: S, peer: String)
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

    async fn session<S>(&self, lines: &mut Framed<S, LinesCodec>, peer: &str) -> Result<(), String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // 1. The hello: the first line decides whether this peer is one of ours.
        let name = match self.next(lines, self.hello_timeout).await? {
            Some(Message::Hello { protocol, name }) if protocol == PROTOCOL => name,
            Some(Message::Hello { protocol, .. }) => {
                return Err(format!("speaks {protocol}, we speak {PROTOCOL}"));
            }
            Some(other) => {
                return Err(format!(
                    "expected HELLO first, got {}",
                    quote(&other.to_string())
                ));
            }
            None => return Ok(()),
        };
        send(
            lines,
            Message::Welcome {
                protocol: PROTOCOL.into(),
            },
        )
        .await?;
        info!("{name} joined from {peer}");
        {
            let mut board = self.board();
            board.hellos += 1;
            board.report.workers.insert(name.clone());
        }
        self.shared.changed.notify_waiters();

        // 2. The pull loop: READY -> JOB -> RESULT, until STOP.
        loop {
            match self.next(lines, self.job_timeout).await {
                Ok(Some(Message::Ready)) => {}
                Ok(Some(other)) => {
                    return Err(format!(
                        "{name}: expected READY, got {}",
                        quote(&other.to_string())
                    ));
                }
                // `finished` fired while we waited for READY: fall through to say STOP.
                Ok(None) if self.shared.finished.is_cancelled() => {}
                Ok(None) => return Ok(()),
                Err(reason) => return Err(format!("{name}: {reason}")),
            }
            let Some(job) = self.take_job(&name).await else {
                send(lines, Message::Stop).await?;
                info!("{name}: sent STOP");
                return Ok(());
            };
            info!(
                "dispatch job {} [{}, {}) -> {name}",
                job.id, job.start, job.end
            );
            // From here until the result is recorded, every way out must put the job back.
            let answer = match send(lines, Message::Job(job)).await {
                Ok(()) => self.answer(lines, job).await,
                Err(reason) => Err(reason),
            };
            match answer {
                Ok(primes) => self.complete(job, primes, &name),
                Err(reason) => {
                    self.requeue(job, &name, &reason);
                    return Err(format!("{name}: {reason}"));
                }
            }
        }
    }

    /// Waits for the `RESULT` of `job`, at most the job timeout.
    async fn answer<S>(&self, lines: &mut Framed<S, LinesCodec>, job: Job) -> Result<u64, String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // Not `self.next`: the last result is what *causes* `finished`, so this read must not
        // stop at it.
        let next = match timeout(self.job_timeout, lines.next()).await {
            Err(_) => {
                return Err(format!(
                    "no answer to job {} within {} ms",
                    job.id,
                    self.job_timeout.as_millis()
                ));
            }
            Ok(next) => next,
        };
        match decode(next)? {
            Some(Message::Result { id, primes }) if id == job.id => Ok(primes),
            Some(other) => Err(format!(
                "expected RESULT {}, got {}",
                job.id,
                quote(&other.to_string())
            )),
            None => Err(format!(
                "closed the connection in the middle of job {}",
                job.id
            )),
        }
    }

    /// The next message, or `None` when the peer closed (or the run finished) before sending one.
    async fn next<S>(
        &self,
        lines: &mut Framed<S, LinesCodec>,
        limit: Duration,
    ) -> Result<Option<Message>, String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        tokio::select! {
            _ = self.shared.finished.cancelled() => Ok(None),
            next = timeout(limit, lines.next()) => match next {
                Err(_) => Err(format!("said nothing for {} ms", limit.as_millis())),
                Ok(next) => decode(next),
            },
        }
    }

    /// A free worker's wait for work: a job, or `None` once every job is done.
    async fn take_job(&self, worker: &str) -> Option<Job> {
        loop {
            // Register for the wake-up *before* looking at the board: a notification sent between
            // the look and the wait would otherwise be missed, and this task would sleep for ever.
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.board().take(worker) {
                Take::Job(job) => return Some(job),
                Take::AllDone => return None,
                Take::Wait => {}
            }
            changed.await;
        }
    }

    fn complete(&self, job: Job, primes: u64, worker: &str) {
        let mut board = self.board();
        board.in_flight.remove(&job.id);
        let outcome = Outcome {
            primes,
            worker: worker.to_string(),
        };
        info!("result job {} from {worker}: {primes} primes", job.id);
        board.report.done.insert(job.id, outcome);
        if board.report.done.len() == board.report.total {
            info!(
                "all {} jobs done: telling the workers to stop",
                board.report.total
            );
            if let Some(first) = board.first_dispatch {
                board.report.busy = first.elapsed();
            }
            drop(board);
            self.shared.finished.cancel();
            self.shared.changed.notify_waiters();
        }
    }

    fn requeue(&self, job: Job, worker: &str, reason: &str) {
        let mut board = self.board();
        board.in_flight.remove(&job.id);
        // To the front: it has waited longest.
        board.pending.push_front(job);
        board.report.requeued += 1;
        drop(board);
        warn!("requeue job {} ({worker}: {reason})", job.id);
        self.shared.changed.notify_waiters();
    }
}

/// Turns what the codec produced into a message or a one-line reason to drop the peer.
fn decode(next: Option<Result<String, LinesCodecError>>) -> Result<Option<Message>, String> {
    match next {
        None => Ok(None),
        Some(Ok(line)) => line.parse().map(Some).map_err(|e| format!("{e}")),
        Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
            Err(format!("sent a line longer than {MAX_LINE} bytes"))
        }
        Some(Err(LinesCodecError::Io(e))) if e.kind() == std::io::ErrorKind::InvalidData => {
            Err("sent bytes that are not UTF-8 text".into())
        }
        Some(Err(LinesCodecError::Io(e))) => Err(format!("connection error: {e}")),
    }
}

async fn send<S>(lines: &mut Framed<S, LinesCodec>, message: Message) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    lines
        .send(message.to_string())
        .await
        .map_err(|e| format!("cannot send: {e}"))
}
