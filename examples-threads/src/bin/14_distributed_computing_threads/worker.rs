//! The worker: connects (retrying a bounded number of times), says hello, then asks for jobs until
//! it is told to stop. It must hear the coordinator's `BEAT`s while it counts, so it uses three
//! threads: a reader thread turns lines into events on a channel, a counting thread sends its
//! answer on the same channel, and this thread waits on the channel with `recv_timeout` (the
//! async twin's `select!` over `spawn_blocking` and the socket).
//!
//! **No Nagle stall**: every socket sets `TCP_NODELAY`, and `RESULT` and `READY` go in one write;
//! otherwise the second small write waits for the peer's delayed ACK, about 44 ms per job (2000
//! one-number jobs: 88 s instead of well under a second; `scripts/bench-14` measures it).

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tracing::{info, warn};

use crate::lines::{LineError, Lines, Sender};
use crate::protocol::{HEARTBEAT, MISSED_BEATS, Message, PROTOCOL, count_primes, quote};

/// How long one connection attempt may take (an unreachable host can otherwise hang for minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The first pause between attempts; it doubles after each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// How long the coordinator has to answer our `HELLO`.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(5);
/// Exit status of a worker that crashes on purpose (`--crash-on-job`).
pub const CRASH_EXIT_CODE: i32 = 3;

#[derive(Debug, Clone)]
pub struct Config {
    pub connect: String,
    pub name: String,
    /// Connection attempts before giving up (at least 1).
    pub attempts: u32,
    /// Exit abruptly in the middle of the n-th job (the demo's `--crash-worker`).
    pub crash_on_job: Option<u32>,
    /// Never answer the job with this id, like a worker stuck on a poison job.
    pub hang_on_job: Option<u32>,
    /// Answer every job with a wrong count (to see the coordinator's checks catch it).
    pub lie: bool,
}

/// How long a worker waits for any line from the coordinator before it gives up.
pub const SILENCE: Duration = HEARTBEAT.saturating_mul(MISSED_BEATS);

/// What the worker's main thread waits for.
enum Event {
    /// A line from the coordinator (or why none can come).
    Heard(Result<Option<String>, LineError>),
    /// The counting thread's answer.
    Counted(u64),
}

/// The coordinator's `ERROR busy`: all its `--max-peers` slots are taken, perhaps only for a
/// moment (a burst of strangers holds them until their hello timeout). Worth another attempt.
#[derive(Debug)]
pub struct Busy;

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the coordinator is busy (ERROR busy: its --max-peers connections are taken)")
    }
}

impl std::error::Error for Busy {}

/// The attempts a worker has (`--attempts`), shared by failed connects and `ERROR busy`, with a
/// pause that doubles from [`FIRST_BACKOFF`].
pub struct Retry {
    attempt: u32,
    attempts: u32,
    backoff: Duration,
}

impl Retry {
    pub fn new(attempts: u32) -> Self {
        Self {
            attempt: 1,
            attempts: attempts.max(1),
            backoff: FIRST_BACKOFF,
        }
    }

    /// After a failed attempt: `false` if it was the last, else says so in the log and pauses.
    fn again(&mut self, why: &str) -> bool {
        if self.attempt >= self.attempts {
            return false;
        }
        warn!(
            "{why}; attempt {} of {}, retrying in {:?}",
            self.attempt, self.attempts, self.backoff
        );
        sleep(self.backoff);
        self.backoff *= 2;
        self.attempt += 1;
        true
    }
}

/// Connects to the coordinator and works until `STOP`. Returns how many jobs it did. A busy
/// coordinator is tried again within the same `--attempts` as a refused connection.
pub fn run(config: &Config) -> anyhow::Result<u32> {
    let mut retry = Retry::new(config.attempts);
    loop {
        let stream = connect(&config.connect, &mut retry)?;
        match work(stream, config) {
            Err(e) if e.is::<Busy>() => {
                if !retry.again(&e.to_string()) {
                    bail!(
                        "{} was busy at each of {} attempts (ERROR busy); try later, or raise its \
                         --max-peers",
                        config.connect,
                        retry.attempts
                    );
                }
            }
            done => return done,
        }
    }
}

/// Tries until `retry` runs out, then fails with a message that says what to do. (Upstream Python
/// dies with a `ConnectionRefusedError` traceback when no server is up.)
pub fn connect(addr: &str, retry: &mut Retry) -> anyhow::Result<TcpStream> {
    loop {
        let why = match try_connect(addr) {
            Ok(stream) => return Ok(stream),
            Err(e) => e,
        };
        if !retry.again(&format!("connect to {addr} failed ({why})")) {
            bail!(
                "could not connect to {addr} after {} attempts ({why}); is a coordinator running \
                 there? (start one with: coordinator --addr {addr} --jobs 12)",
                retry.attempts
            );
        }
    }
}

/// One attempt: every address the name resolves to, each with a timeout (`TcpStream::connect`
/// has none, and `connect_timeout` takes one resolved address).
fn try_connect(addr: &str) -> Result<TcpStream, String> {
    let resolved = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}"))?;
    let mut last = String::from("the name resolved to no address");
    for one in resolved {
        match TcpStream::connect_timeout(&one, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// The session over a connected socket.
pub fn work(stream: TcpStream, config: &Config) -> anyhow::Result<u32> {
    let mut lines = Lines::new(stream).context("setting up the socket")?;
    let hello = Message::Hello {
        protocol: PROTOCOL.into(),
        name: config.name.clone(),
    };
    lines.send(&hello).context("sending HELLO")?;
    let reply = match lines.next_line(Some(WELCOME_TIMEOUT)) {
        Err(LineError::TimedOut) => {
            bail!(
                "{} did not answer HELLO within {WELCOME_TIMEOUT:?}",
                config.connect
            )
        }
        reply => reply,
    };
    match receive(reply)? {
        Message::Welcome { protocol } if protocol == PROTOCOL => {}
        Message::Error(reason) if reason == "busy" => return Err(Busy.into()),
        Message::Error(reason) => bail!("the coordinator refused us: {reason}"),
        other => bail!(
            "{} is not a {PROTOCOL} coordinator: it answered {}",
            config.connect,
            quote(&other.to_string())
        ),
    }
    info!("connected to {} as {}", config.connect, config.name);

    // From here on, one thread reads and this one writes.
    let mut sender = lines.sender().context("setting up the socket")?;
    let _hang_up = HangUp(lines.sender().context("setting up the socket")?);
    let (events, inbox) = mpsc::channel();
    let reader_events = events.clone();
    thread::Builder::new()
        .name("reader".into())
        .spawn(move || {
            loop {
                let heard = lines.next_line(None);
                let last = !matches!(heard, Ok(Some(_)));
                if reader_events.send(Event::Heard(heard)).is_err() || last {
                    return;
                }
            }
        })
        .context("starting the reader thread")?;
    // One counting thread for the whole session, fed through a channel: a thread per job would
    // cost a spawn per job, which is most of a one-number job's time.
    let (to_count, jobs) = mpsc::channel::<(u64, u64)>();
    let counted = events; // the last sender: with both threads gone, `recv` says so
    thread::Builder::new()
        .name("count".into())
        .spawn(move || {
            for (start, end) in jobs {
                if counted
                    .send(Event::Counted(count_primes(start, end)))
                    .is_err()
                {
                    return;
                }
            }
        })
        .context("starting the counting thread")?;
    sender
        .send_all(&[Message::Ready])
        .context("sending READY")?;

    let mut jobs_done = 0;
    loop {
        // Parked: the coordinator may rightly keep a free worker waiting while others finish the
        // last jobs, but it says BEAT meanwhile; silence means it is gone (see `hear`).
        let job = match hear(&inbox)? {
            Message::Job(job) => job,
            Message::Stop => {
                info!("STOP received after {jobs_done} jobs: exiting");
                return Ok(jobs_done);
            }
            Message::Error(reason) => bail!("the coordinator dropped us: {reason}"),
            other => bail!("unexpected message {}", quote(&other.to_string())),
        };
        info!(
            "job {}: counting primes in [{}, {})",
            job.id, job.start, job.end
        );
        if config.crash_on_job == Some(jobs_done + 1) {
            crash_mid_job(job.id, job.start, job.end);
        }
        let started = Instant::now();
        if config.hang_on_job == Some(job.id) {
            warn!(
                "job {}: hanging on purpose (--hang-on-job), saying nothing",
                job.id
            );
        } else {
            to_count
                .send((job.start, job.end))
                .context("the counting thread is gone")?;
        }
        // Count, and keep listening meanwhile: the coordinator's beats say it still waits for
        // this answer, and its silence means it is gone (no point counting for nobody).
        let primes = loop {
            match inbox.recv_timeout(SILENCE) {
                Ok(Event::Counted(primes)) => break primes,
                Ok(Event::Heard(heard)) => match receive(heard)? {
                    Message::Beat => {}
                    Message::Error(reason) => bail!("the coordinator dropped us: {reason}"),
                    other => bail!(
                        "unexpected message while counting job {}: {}",
                        job.id,
                        quote(&other.to_string())
                    ),
                },
                Err(RecvTimeoutError::Timeout) => bail!("{}", silent()),
                Err(RecvTimeoutError::Disconnected) => bail!("the reader thread is gone"),
            }
        };
        info!(
            "job {}: {primes} primes ({} ms)",
            job.id,
            started.elapsed().as_millis()
        );
        let primes = if config.lie {
            warn!("job {}: answering {} instead (--lie)", job.id, primes + 1);
            primes + 1
        } else {
            primes
        };
        // RESULT and READY in one write: sent as two writes, the second small segment would wait
        // under Nagle's algorithm for the ACK of the first, which the coordinator delays (it has
        // nothing to send back yet). `set_nodelay` lifts that on our side; one write is also one
        // syscall and one packet instead of two.
        sender
            .send_all(&[Message::Result { id: job.id, primes }, Message::Ready])
            .context("sending RESULT and READY")?;
        jobs_done += 1;
    }
}

/// Closes the connection when the session ends, however it ends: that wakes the reader thread,
/// blocked in `read`, so that it returns too.
struct HangUp(Sender);

impl Drop for HangUp {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// The next message that is not a `BEAT`. A coordinator that says nothing for [`MISSED_BEATS`]
/// heartbeats is presumed gone (its host hung, or the link broke without a reset, so the OS will
/// never tell us): better one clear line and exit 1 than a worker parked for ever.
fn hear(inbox: &Receiver<Event>) -> anyhow::Result<Message> {
    loop {
        match inbox.recv_timeout(SILENCE) {
            Ok(Event::Heard(heard)) => match receive(heard)? {
                Message::Beat => {}
                message => return Ok(message),
            },
            // Only while counting; not here.
            Ok(Event::Counted(_)) => {}
            Err(RecvTimeoutError::Timeout) => bail!("{}", silent()),
            Err(RecvTimeoutError::Disconnected) => bail!("the reader thread is gone"),
        }
    }
}

fn silent() -> String {
    format!(
        "the coordinator went silent: no heartbeat for {} ms ({MISSED_BEATS} beats missed); giving up",
        SILENCE.as_millis()
    )
}

/// Does half the job, then leaves the way a killed process does: no `RESULT`, no goodbye, no
/// destructors; the OS closes the socket. (`process::exit`, not a panic: the run tests check that
/// nothing panicked.)
fn crash_mid_job(id: u32, start: u64, end: u64) -> ! {
    count_primes(start, start + (end - start) / 2);
    warn!("job {id}: crashing half-way on purpose (--crash-on-job), without a word");
    std::process::exit(CRASH_EXIT_CODE)
}

/// A message from the coordinator, or an error that says what went wrong.
fn receive(next: Result<Option<String>, LineError>) -> anyhow::Result<Message> {
    match next {
        Ok(None) => bail!("the coordinator closed the connection without STOP"),
        Err(e) => bail!("cannot read from the coordinator: {e}"),
        Ok(Some(line)) => Ok(line.parse()?),
    }
}
