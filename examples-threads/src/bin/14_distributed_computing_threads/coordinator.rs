//! The coordinator: owns the job queue, hands a job to whichever worker asks, and takes it back when
//! that worker dies, goes silent or talks nonsense. It exits once every job is done.
//!
//! One thread per connection (named `conn-N`), blocked in `read` most of its life: that is what
//! a thread costs here and what a task costs nothing for in the async twin. The threads share one
//! [`Board`] behind a `std::sync::Mutex`; a free worker's thread sleeps on a `Condvar` until a job
//! is requeued or everything is done (the async twin's `Notify`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::lines::{LineError, Lines};
use crate::protocol::{Job, MAX_LINE, Message, PROTOCOL, quote};

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
    /// Set with the last result: every connection then says `STOP`.
    finished: bool,
    /// Connection threads still running (the async twin's `TaskTracker`).
    connections: usize,
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
    /// Wakes threads waiting for a job (a job came back, a worker arrived, all is done) and the
    /// thread in `run` (all done, a connection closed).
    changed: Condvar,
}

impl Coordinator {
    pub fn new(config: Config) -> Self {
        let report = Report {
            total: config.jobs.len(),
            ..Report::default()
        };
        let board = Board {
            finished: config.jobs.is_empty(),
            pending: config.jobs.into(),
            in_flight: BTreeMap::new(),
            report,
            hellos: 0,
            min_workers: config.min_workers,
            first_dispatch: None,
            connections: 0,
        };
        Self {
            shared: Arc::new(Shared {
                board: Mutex::new(board),
                changed: Condvar::new(),
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
    pub fn run(&self, listener: TcpListener) -> Report {
        let wake_addr = listener.local_addr().ok().map(loopback);
        let me = self.clone();
        let acceptor = thread::Builder::new()
            .name("accept".into())
            .spawn(move || me.accept_loop(listener));
        let board = self.board();
        let board = self
            .shared
            .changed
            .wait_while(board, |b| !b.finished)
            .expect("no code panics while holding the board");
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
        self.report()
    }

    fn accept_loop(&self, listener: TcpListener) {
        let mut count = 0;
        for accepted in listener.incoming() {
            if self.board().finished {
                return;
            }
            match accepted {
                Ok(stream) => {
                    count += 1;
                    let peer = stream
                        .peer_addr()
                        .map_or_else(|_| "unknown peer".into(), |a| a.to_string());
                    self.board().connections += 1;
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

    /// One peer, from its first byte to its last.
    pub fn serve(&self, stream: TcpStream, peer: String) {
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

    fn session(&self, lines: &mut Lines, peer: &str) -> Result<(), String> {
        // 1. The hello: the first line decides whether this peer is one of ours.
        let name = match self.next(lines, self.hello_timeout)? {
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
        )?;
        info!("{name} joined from {peer}");
        {
            let mut board = self.board();
            board.hellos += 1;
            board.report.workers.insert(name.clone());
        }
        self.shared.changed.notify_all();

        // 2. The pull loop: READY -> JOB -> RESULT, until STOP.
        loop {
            match self.next(lines, self.job_timeout) {
                Ok(Some(Message::Ready)) => {}
                Ok(Some(other)) => {
                    return Err(format!(
                        "{name}: expected READY, got {}",
                        quote(&other.to_string())
                    ));
                }
                Ok(None) => return Ok(()),
                Err(reason) => return Err(format!("{name}: {reason}")),
            }
            let Some(job) = self.take_job(&name) else {
                send(lines, Message::Stop)?;
                info!("{name}: sent STOP");
                return Ok(());
            };
            info!(
                "dispatch job {} [{}, {}) -> {name}",
                job.id, job.start, job.end
            );
            // From here until the result is recorded, every way out must put the job back.
            let answer = match send(lines, Message::Job(job)) {
                Ok(()) => self.answer(lines, job),
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
    fn answer(&self, lines: &mut Lines, job: Job) -> Result<u64, String> {
        let next = match lines.next_line(Some(self.job_timeout)) {
            Err(LineError::TimedOut) => {
                return Err(format!(
                    "no answer to job {} within {} ms",
                    job.id,
                    self.job_timeout.as_millis()
                ));
            }
            next => next,
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

    /// The next message, or `None` when the peer closed before sending one.
    fn next(&self, lines: &mut Lines, limit: Duration) -> Result<Option<Message>, String> {
        match lines.next_line(Some(limit)) {
            Err(LineError::TimedOut) => Err(format!("said nothing for {} ms", limit.as_millis())),
            next => decode(next),
        }
    }

    /// A free worker's wait for work: a job, or `None` once every job is done.
    fn take_job(&self, worker: &str) -> Option<Job> {
        let mut board = self.board();
        loop {
            match board.take(worker) {
                Take::Job(job) => return Some(job),
                Take::AllDone => return None,
                // `wait` releases the lock while asleep and takes it back on waking; the loop
                // looks again, because a wake-up (or a spurious one) promises nothing.
                Take::Wait => {
                    board = self
                        .shared
                        .changed
                        .wait(board)
                        .expect("no code panics while holding the board");
                }
            }
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
            board.finished = true;
            drop(board);
            self.shared.changed.notify_all();
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
        self.shared.changed.notify_all();
    }
}

/// Turns what the framing produced into a message or a one-line reason to drop the peer.
fn decode(next: Result<Option<String>, LineError>) -> Result<Option<Message>, String> {
    match next {
        Ok(None) => Ok(None),
        Ok(Some(line)) => line.parse().map(Some).map_err(|e| format!("{e}")),
        Err(LineError::TooLong) => Err(format!("sent a line longer than {MAX_LINE} bytes")),
        Err(LineError::NotUtf8) => Err("sent bytes that are not UTF-8 text".into()),
        Err(LineError::TimedOut) => Err("timed out".into()),
        Err(LineError::Io(e)) => Err(format!("connection error: {e}")),
    }
}

fn send(lines: &mut Lines, message: Message) -> Result<(), String> {
    lines
        .send(&message)
        .map_err(|e| format!("cannot send: {e}"))
}

/// Where to connect to reach a listener bound to `addr`: a listener on "every interface"
/// (`0.0.0.0`, `::`) is reached through loopback.
fn loopback(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}
