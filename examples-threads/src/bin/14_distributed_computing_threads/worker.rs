//! The worker: connects (retrying a bounded number of times), says hello, then asks for jobs until
//! it is told to stop. The counting runs right here, on the thread that owns the socket: blocking
//! this thread is fine, it has nothing else to do (the async twin hands it to `spawn_blocking`
//! because there the thread is shared by every task).

use std::net::{TcpStream, ToSocketAddrs};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tracing::{info, warn};

use crate::lines::{LineError, Lines};
use crate::protocol::{Message, PROTOCOL, count_primes, quote};

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
}

/// Connects to the coordinator and works until `STOP`. Returns how many jobs it did.
pub fn run(config: &Config) -> anyhow::Result<u32> {
    let stream = connect(&config.connect, config.attempts)?;
    work(stream, config)
}

/// Tries `attempts` times with a doubling pause, then fails with a message that says what to do.
/// (Upstream Python dies with a `ConnectionRefusedError` traceback when no server is up.)
pub fn connect(addr: &str, attempts: u32) -> anyhow::Result<TcpStream> {
    let mut backoff = FIRST_BACKOFF;
    let mut last_error = String::new();
    for attempt in 1..=attempts.max(1) {
        match try_connect(addr) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = e,
        }
        if attempt < attempts {
            warn!(
                "connect to {addr} failed ({last_error}); attempt {attempt} of {attempts}, retrying in {backoff:?}"
            );
            sleep(backoff);
            backoff *= 2;
        }
    }
    bail!(
        "could not connect to {addr} after {} attempts ({last_error}); is a coordinator running there? \
         (start one with: coordinator --addr {addr} --jobs 12)",
        attempts.max(1)
    )
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
        Message::Error(reason) => bail!("the coordinator refused us: {reason}"),
        other => bail!(
            "{} is not a {PROTOCOL} coordinator: it answered {}",
            config.connect,
            quote(&other.to_string())
        ),
    }
    info!("connected to {} as {}", config.connect, config.name);

    let mut jobs_done = 0;
    loop {
        lines.send(&Message::Ready).context("sending READY")?;
        // No timeout here: the coordinator may rightly keep a free worker waiting while others
        // finish the last jobs. If it dies, the OS closes the socket and the read returns.
        let job = match receive(lines.next_line(None))? {
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
        let primes = count_primes(job.start, job.end);
        info!(
            "job {}: {primes} primes ({} ms)",
            job.id,
            started.elapsed().as_millis()
        );
        let result = Message::Result { id: job.id, primes };
        lines.send(&result).context("sending RESULT")?;
        jobs_done += 1;
    }
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
