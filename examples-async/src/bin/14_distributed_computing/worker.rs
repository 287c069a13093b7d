//! The worker: connects (retrying a bounded number of times), says hello, then asks for jobs until
//! it is told to stop. The counting runs on tokio's blocking pool (`spawn_blocking`): CPU work
//! inside an `async fn` would hold the runtime's only thread (05_run_heavy_functions measures what
//! that costs), and the socket must stay serviceable.
//!
//! **No Nagle stall**: every socket sets `TCP_NODELAY`, and `RESULT` and `READY` go in one write;
//! otherwise the second small write waits for the peer's delayed ACK, about 44 ms per job (2000
//! one-number jobs: 88 s instead of well under a second; `scripts/bench-14` measures it).

use std::time::Duration;

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};
use tracing::{info, warn};

use crate::protocol::{HEARTBEAT, MAX_LINE, MISSED_BEATS, Message, PROTOCOL, count_primes, quote};

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
    async fn again(&mut self, why: &str) -> bool {
        if self.attempt >= self.attempts {
            return false;
        }
        warn!(
            "{why}; attempt {} of {}, retrying in {:?}",
            self.attempt, self.attempts, self.backoff
        );
        sleep(self.backoff).await;
        self.backoff *= 2;
        self.attempt += 1;
        true
    }
}

/// Connects to the coordinator and works until `STOP`. Returns how many jobs it did. A busy
/// coordinator is tried again within the same `--attempts` as a refused connection.
pub async fn run(config: &Config) -> anyhow::Result<u32> {
    let mut retry = Retry::new(config.attempts);
    loop {
        let stream = connect(&config.connect, &mut retry).await?;
        match work(stream, config).await {
            Err(e) if e.is::<Busy>() => {
                if !retry.again(&e.to_string()).await {
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
pub async fn connect(addr: &str, retry: &mut Retry) -> anyhow::Result<TcpStream> {
    loop {
        let why = match timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                // No Nagle delay: our lines are small and each waits for an answer (see the
                // coordinator's accept loop for the 44 ms it costs per job otherwise).
                stream.set_nodelay(true).context("setting TCP_NODELAY")?;
                return Ok(stream);
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {CONNECT_TIMEOUT:?}"),
        };
        if !retry
            .again(&format!("connect to {addr} failed ({why})"))
            .await
        {
            bail!(
                "could not connect to {addr} after {} attempts ({why}); is a coordinator running \
                 there? (start one with: coordinator --addr {addr} --jobs 12)",
                retry.attempts
            );
        }
    }
}

/// The session over any stream (the tests use an in-memory pipe).
pub async fn work<S>(stream: S, config: &Config) -> anyhow::Result<u32>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    let hello = Message::Hello {
        protocol: PROTOCOL.into(),
        name: config.name.clone(),
    };
    lines
        .send(hello.to_string())
        .await
        .context("sending HELLO")?;
    let reply = timeout(WELCOME_TIMEOUT, lines.next())
        .await
        .with_context(|| {
            format!(
                "{} did not answer HELLO within {WELCOME_TIMEOUT:?}",
                config.connect
            )
        })?;
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
    lines
        .send(Message::Ready.to_string())
        .await
        .context("sending READY")?;

    let mut jobs_done = 0;
    loop {
        // Parked: the coordinator may rightly keep a free worker waiting while others finish the
        // last jobs, but it says BEAT meanwhile; silence means it is gone (see `hear`).
        let job = match hear(&mut lines).await? {
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
        let hang = config.hang_on_job == Some(job.id);
        let counting = async move {
            if hang {
                warn!(
                    "job {}: hanging on purpose (--hang-on-job), saying nothing",
                    job.id
                );
                std::future::pending::<()>().await;
            }
            tokio::task::spawn_blocking(move || count_primes(job.start, job.end)).await
        };
        tokio::pin!(counting);
        // Count, and keep listening meanwhile: the coordinator's beats say it still waits for
        // this answer, and its silence means it is gone (no point counting for nobody).
        let primes = loop {
            tokio::select! {
                counted = &mut counting => break counted.context("the counting thread panicked")?,
                heard = timeout(SILENCE, lines.next()) => match heard {
                    Err(_) => bail!("{}", silent()),
                    Ok(next) => match receive(next)? {
                        Message::Beat => {}
                        Message::Error(reason) => bail!("the coordinator dropped us: {reason}"),
                        other => bail!(
                            "unexpected message while counting job {}: {}",
                            job.id,
                            quote(&other.to_string())
                        ),
                    },
                },
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
        // RESULT and READY in one write (`feed` buffers, `flush` writes): sent as two writes, the
        // second small segment would wait under Nagle's algorithm for the ACK of the first, which
        // the coordinator delays (it has nothing to send back yet). `set_nodelay` lifts that on our
        // side; one write is also one syscall and one packet instead of two.
        let result = Message::Result { id: job.id, primes };
        lines
            .feed(result.to_string())
            .await
            .context("sending RESULT")?;
        lines
            .feed(Message::Ready.to_string())
            .await
            .context("sending READY")?;
        SinkExt::<String>::flush(&mut lines)
            .await
            .context("sending RESULT and READY")?;
        jobs_done += 1;
    }
}

/// The next message that is not a `BEAT`. A coordinator that says nothing for [`MISSED_BEATS`]
/// heartbeats is presumed gone (its host hung, or the link broke without a reset, so the OS will
/// never tell us): better one clear line and exit 1 than a worker parked for ever.
async fn hear<S>(lines: &mut Framed<S, LinesCodec>) -> anyhow::Result<Message>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match timeout(SILENCE, lines.next()).await {
            Err(_) => bail!("{}", silent()),
            Ok(next) => match receive(next)? {
                Message::Beat => {}
                message => return Ok(message),
            },
        }
    }
}

/// How long a worker waits for any line from the coordinator before it gives up.
pub const SILENCE: Duration = HEARTBEAT.saturating_mul(MISSED_BEATS);

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
fn receive(next: Option<Result<String, LinesCodecError>>) -> anyhow::Result<Message> {
    match next {
        None => bail!("the coordinator closed the connection without STOP"),
        Some(Err(e)) => bail!("cannot read from the coordinator: {e}"),
        Some(Ok(line)) => Ok(line.parse()?),
    }
}
