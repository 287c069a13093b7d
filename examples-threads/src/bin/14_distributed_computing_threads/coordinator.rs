//! The coordinator: owns the job queue, hands a job to whichever worker asks, and takes it back when
//! that worker dies, goes silent, talks nonsense or lies. It exits once every job is done or has
//! failed `--max-attempts` times.
//!
//! One thread per connection (named `conn-N`), blocked in `read` most of its life: that is what
//! a thread costs here and what a task costs nothing for in the async twin. The threads share one
//! [`Board`] behind a `std::sync::Mutex`; a free worker's thread sleeps on a `Condvar` until a job
//! is requeued or everything is done (the async twin's `Notify`), waking every heartbeat to say
//! `BEAT`.
//!
//! Bounds, as in the async twin: at most `max_peers` connections, so at most that many threads (a
//! newcomer past it hears `ERROR busy`), `HELLO` within a second, a `RESULT` within the job
//! timeout, `max_attempts` tries per job. Each result is checked as it arrives: every worker's
//! first, and a seeded sample of the rest, are recounted here.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{info, warn};

use crate::lines::{LineError, Lines};
use crate::protocol::{HEARTBEAT, Job, MAX_LINE, Message, PROTOCOL, count_primes, quote};

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

/// A seeded sample of about `percent`% of the jobs: the same seed checks the same jobs.
pub fn pick_sample(jobs: &[Job], percent: u32, seed: u64) -> BTreeSet<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let share = f64::from(percent.min(100)) / 100.0;
    jobs.iter()
        .filter(|_| rng.random_bool(share))
        .map(|j| j.id)
        .collect()
}

/// The answer to one job and who gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
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
struct Board {
    pending: VecDeque<Job>,
    in_flight: BTreeMap<u32, String>,
    report: Report,
    /// Workers connected now (not every `HELLO` ever heard: a worker that left is not here).
    connected: usize,
    min_workers: usize,
    /// Dispatches of each job so far.
    attempts: BTreeMap<u32, u32>,
    /// Jobs whose answers are recounted whoever gives them (seeded, picked at the start).
    sample: BTreeSet<u32>,
    /// Workers whose first result was recounted already.
    vouched: BTreeSet<String>,
    /// Every job by id, to put a done job back in the queue.
    all_jobs: BTreeMap<u32, Job>,
    first_dispatch: Option<Instant>,
    /// The last result, or the start: the patience counts from here.
    last_result: Instant,
    /// The names that answers are kept under, one allocation each.
    names: BTreeSet<Arc<str>>,
    /// Set with the last settled job: every connection then says `STOP`.
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

    fn is_finished(&self) -> bool {
        self.report.done.len() + self.report.failed.len() == self.report.total
    }

    /// Does this answer get recounted? A worker's first one always (so a worker that always lies
    /// is caught at once), then the seeded sample; and every answer of a name once caught lying
    /// (another connection under that name may still be at work).
    fn must_check(&self, job: Job, worker: &str) -> bool {
        !self.vouched.contains(worker)
            || self.sample.contains(&job.id)
            || self.report.liars.contains(worker)
    }

    /// The name to keep an answer under, shared by all of that worker's answers.
    fn name(&mut self, worker: &str) -> Arc<str> {
        if let Some(name) = self.names.get(worker) {
            return name.clone();
        }
        let name: Arc<str> = worker.into();
        self.names.insert(name.clone());
        name
    }

    /// The unfinished jobs and why, for the one line of a run that gave up: the first few ids with
    /// the attempts each used, and whether any worker is here.
    fn unfinished(&self) -> String {
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
    fn take_back(&mut self, job: Job, reason: &str) -> bool {
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
    fn redo_unchecked(&mut self, liar: &str) -> Vec<u32> {
        let redo: Vec<u32> = self
            .report
            .done
            .iter()
            .filter(|(_, o)| &*o.worker == liar && !o.checked)
            .map(|(id, _)| *id)
            .collect();
        for id in &redo {
            if let Some(job) = self.report.done.remove(id).and(self.job(*id)) {
                self.pending.push_back(job);
                self.report.requeued += 1;
            }
        }
        redo
    }

    fn job(&self, id: u32) -> Option<Job> {
        self.all_jobs.get(&id).copied()
    }
}

/// The coordinator of one run. Cheap to clone (an `Arc`): the demo keeps a clone to read a
/// [`Report`] snapshot even if the run has to be abandoned.
#[derive(Clone)]
pub struct Coordinator {
    shared: Arc<Shared>,
    job_timeout: Duration,
    hello_timeout: Duration,
    max_peers: usize,
    patience: Duration,
}

struct Shared {
    board: Mutex<Board>,
    /// Wakes threads waiting for a job (a job came back, a worker arrived, all is done) and the
    /// thread in `run` (all done, a connection closed).
    changed: Condvar,
}

/// A worker counted in `connected` for as long as this lives: dropped on every way out of a session
/// (return, error, panic), so the count cannot drift.
struct Present<'a>(&'a Coordinator);

impl Drop for Present<'_> {
    fn drop(&mut self) {
        self.0.board().connected -= 1;
    }
}

impl Coordinator {
    pub fn new(config: Config) -> Self {
        let report = Report {
            total: config.jobs.len(),
            max_attempts: config.max_attempts.max(1),
            ..Report::default()
        };
        let board = Board {
            finished: config.jobs.is_empty(),
            all_jobs: config.jobs.iter().map(|j| (j.id, *j)).collect(),
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

    fn board(&self) -> MutexGuard<'_, Board> {
        // A panic while holding this lock would be a bug in a few lines of bookkeeping; there is no
        // half-updated state worth saving, so a poisoned lock is a bug too.
        self.shared
            .board
            .lock()
            .expect("no code panics while holding the board")
    }

    /// Workers connected now (for the tests, which wait for the board to count a peer out).
    #[cfg(test)]
    pub fn connected(&self) -> usize {
        self.board().connected
    }

    /// A snapshot of the run so far.
    pub fn report(&self) -> Report {
        self.board().report.clone()
    }

    /// Accepts workers on `listener` until every job is settled, tells each connected worker
    /// `STOP`, and returns the report. Taking the listener (not an address) lets the caller bind
    /// port 0 and learn the real port first, as the demo and the tests do.
    pub fn run(&self, listener: TcpListener) -> Report {
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
        self.report()
    }

    /// Ends a run in which no result came for the whole patience: every waiting worker hears
    /// `STOP`, and the report says which jobs were left and why.
    fn give_up(&self, board: &mut Board) {
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

    fn accept_loop(&self, listener: TcpListener) {
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
    fn turn_away(&self, mut stream: TcpStream, peer: &str) {
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
        // A name caught lying is not welcome back: a liar that reconnects under its old name (as a
        // restarted process would) would otherwise be vouched for, and its lies only sampled.
        if self.board().report.liars.contains(&name) {
            return Err(format!("{name}: refused: caught lying earlier in this run"));
        }
        send(
            lines,
            Message::Welcome {
                protocol: PROTOCOL.into(),
            },
        )?;
        info!("{name} joined from {peer}");
        let _present = {
            let mut board = self.board();
            board.connected += 1;
            board.report.workers.insert(name.clone());
            Present(self)
        };
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
            let job = match self.take_job(lines, &name) {
                Ok(Some(job)) => job,
                Ok(None) => {
                    send(lines, Message::Stop)?;
                    info!("{name}: sent STOP");
                    return Ok(());
                }
                Err(reason) => return Err(format!("{name}: {reason}")),
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
            let accepted = match answer {
                Ok(primes) => self.check_and_complete(lines, job, primes, &name),
                Err(reason) => Err(reason),
            };
            if let Err(reason) = accepted {
                self.take_back(job, &name, &reason);
                return Err(format!("{name}: {reason}"));
            }
        }
    }

    /// Waits for the `RESULT` of `job`, at most the job timeout, saying `BEAT` meanwhile so that the
    /// worker knows we are still here: the read waits one heartbeat at a time.
    fn answer(&self, lines: &mut Lines, job: Job) -> Result<u64, String> {
        let deadline = Instant::now() + self.job_timeout;
        let mut beat = Instant::now() + HEARTBEAT;
        let next = loop {
            let until = beat.min(deadline);
            match lines.next_line(Some(until.saturating_duration_since(Instant::now()))) {
                Err(LineError::TimedOut) if Instant::now() >= deadline => {
                    return Err(format!(
                        "no answer to job {} within {} ms",
                        job.id,
                        self.job_timeout.as_millis()
                    ));
                }
                Err(LineError::TimedOut) => {
                    send(lines, Message::Beat)?;
                    beat += HEARTBEAT;
                }
                next => break next,
            }
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

    /// A free worker's wait for work: a job, or `None` once every job is settled. Every
    /// [`HEARTBEAT`] it wakes to say `BEAT`, and looks at the socket without waiting: a parked
    /// worker has nothing to say, so a line or the end of the stream means it broke the protocol
    /// or left (and must not be counted).
    fn take_job(&self, lines: &mut Lines, worker: &str) -> Result<Option<Job>, String> {
        let mut beat = Instant::now() + HEARTBEAT;
        let mut board = self.board();
        loop {
            match board.take(worker) {
                Take::Job(job) => return Ok(Some(job)),
                Take::AllDone => return Ok(None),
                Take::Wait => {}
            }
            // `wait_timeout` releases the lock while asleep and takes it back on waking; the loop
            // looks again, because a wake-up (or a spurious one) promises nothing. The beat has
            // its own deadline: wake-ups for other workers must not postpone it.
            let left = beat.saturating_duration_since(Instant::now());
            board = self
                .shared
                .changed
                .wait_timeout(board, left)
                .expect("no code panics while holding the board")
                .0;
            if Instant::now() >= beat {
                drop(board);
                send(lines, Message::Beat)?;
                match lines.next_line(Some(Duration::from_millis(1))) {
                    Err(LineError::TimedOut) => {}
                    Ok(None) => return Err("left while waiting for a job".into()),
                    next => {
                        return Err(match decode(next)? {
                            Some(other) => format!(
                                "expected nothing while waiting for a job, got {}",
                                quote(&other.to_string())
                            ),
                            None => "left while waiting for a job".into(),
                        });
                    }
                }
                beat = Instant::now() + HEARTBEAT;
                board = self.board();
            }
        }
    }

    /// Accepts an answer, after recounting it here if it is one to check. A wrong answer names
    /// the liar and comes back as an error, so that the caller drops the worker and redoes the job
    /// elsewhere.
    fn check_and_complete(
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

    fn complete(&self, job: Job, primes: u64, worker: &str, checked: bool) {
        let mut board = self.board();
        board.in_flight.remove(&job.id);
        board.last_result = Instant::now();
        let outcome = Outcome {
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
    fn take_back(&self, job: Job, worker: &str, reason: &str) {
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

    fn settle_if_finished(&self, mut board: MutexGuard<'_, Board>) {
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
