//! One worker's conversation with the coordinator, from its first byte to its last: the hello,
//! then the pull loop `READY` -> `JOB` -> `RESULT` until `STOP` ([`crate::protocol`] has the
//! grammar).
//!
//! **Timeouts everywhere a peer can stall us**: `HELLO` within a second, an answer within the job
//! timeout; a silent worker costs one timeout, not the run. And the other way round: the
//! coordinator says `BEAT` every 500 ms to a worker it keeps waiting (parked for a job, or waiting
//! while its answer is recounted), so a worker can tell a slow coordinator from a dead one. A
//! parked worker has nothing to say: a line or a hang-up from it means it broke the protocol or
//! left, and it is no longer counted.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};
use tracing::info;

use crate::board::Take;
use crate::coordinator::Coordinator;
use crate::protocol::{HEARTBEAT, Job, MAX_LINE, Message, PROTOCOL, quote};

impl Coordinator {
    pub(crate) async fn session<S>(
        &self,
        lines: &mut Framed<S, LinesCodec>,
        peer: &str,
    ) -> Result<(), String>
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
        )
        .await?;
        info!("{name} joined from {peer}");
        let _present = {
            let mut board = self.board();
            board.connected += 1;
            board.report.workers.insert(name.clone());
            Present(self)
        };
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
            let job = match self.take_job(lines, &name).await {
                Ok(Some(job)) => job,
                Ok(None) => {
                    send(lines, Message::Stop).await?;
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
            let answer = match send(lines, Message::Job(job)).await {
                Ok(()) => self.answer(lines, job).await,
                Err(reason) => Err(reason),
            };
            let accepted = match answer {
                Ok(primes) => self.check_and_complete(lines, job, primes, &name).await,
                Err(reason) => Err(reason),
            };
            if let Err(reason) = accepted {
                self.take_back(job, &name, &reason);
                return Err(format!("{name}: {reason}"));
            }
        }
    }

    /// Waits for the `RESULT` of `job`, at most the job timeout, saying `BEAT` meanwhile so that the
    /// worker knows we are still here.
    pub(crate) async fn answer<S>(
        &self,
        lines: &mut Framed<S, LinesCodec>,
        job: Job,
    ) -> Result<u64, String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let deadline = Instant::now() + self.job_timeout;
        let mut beat = Instant::now() + HEARTBEAT;
        let next = loop {
            // Not `self.next`: the last result is what *causes* `finished`, so this read must not
            // stop at it.
            let woke = tokio::select! {
                next = lines.next() => Woke::Line(next),
                () = sleep_until(beat.min(deadline)) => Woke::Beat,
            };
            match woke {
                Woke::Line(next) => break next,
                Woke::Beat if Instant::now() >= deadline => {
                    return Err(format!(
                        "no answer to job {} within {} ms",
                        job.id,
                        self.job_timeout.as_millis()
                    ));
                }
                Woke::Beat => {
                    timeout_at(deadline, send(lines, Message::Beat))
                        .await
                        .map_err(|_| "cannot send: timed out".to_string())??;
                    beat += HEARTBEAT;
                }
                Woke::Changed => {}
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

    /// The next message, or `None` when the peer closed (or the run finished) before sending one.
    pub(crate) async fn next<S>(
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

    /// A free worker's wait for work: a job, or `None` once every job is settled. It says `BEAT`
    /// every [`HEARTBEAT`] meanwhile, and listens: a parked worker has nothing to say, so a line
    /// or the end of the stream means it broke the protocol or left (and must not be counted).
    pub(crate) async fn take_job<S>(
        &self,
        lines: &mut Framed<S, LinesCodec>,
        worker: &str,
    ) -> Result<Option<Job>, String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut beat = Instant::now() + HEARTBEAT;
        loop {
            // Register for the wake-up *before* looking at the board: a notification sent between
            // the look and the wait would otherwise be missed, and this task would sleep for ever.
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.board().take(worker) {
                Take::Job(job) => return Ok(Some(job)),
                Take::AllDone => return Ok(None),
                Take::Wait => {}
            }
            let woke = tokio::select! {
                () = changed => Woke::Changed,
                () = sleep_until(beat) => Woke::Beat,
                next = lines.next() => Woke::Line(next),
            };
            match woke {
                Woke::Changed => {}
                Woke::Beat => {
                    timeout(HEARTBEAT, send(lines, Message::Beat))
                        .await
                        .map_err(|_| "cannot send: timed out".to_string())??;
                    beat = Instant::now() + HEARTBEAT;
                }
                Woke::Line(next) => {
                    return Err(match decode(next)? {
                        None => "left while waiting for a job".into(),
                        Some(other) => format!(
                            "expected nothing while waiting for a job, got {}",
                            quote(&other.to_string())
                        ),
                    });
                }
            }
        }
    }
}

/// A worker counted in `connected` for as long as this lives: dropped on every way out of a session
/// (return, error, or the task itself dropped), so the count cannot drift.
struct Present<'a>(&'a Coordinator);

impl Drop for Present<'_> {
    fn drop(&mut self) {
        self.0.board().connected -= 1;
    }
}

/// What woke a waiting connection.
pub enum Woke {
    Line(Option<Result<String, LinesCodecError>>),
    Beat,
    Changed,
}

/// Turns what the codec produced into a message or a one-line reason to drop the peer.
pub fn decode(next: Option<Result<String, LinesCodecError>>) -> Result<Option<Message>, String> {
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

pub async fn send<S>(lines: &mut Framed<S, LinesCodec>, message: Message) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    lines
        .send(message.to_string())
        .await
        .map_err(|e| format!("cannot send: {e}"))
}
