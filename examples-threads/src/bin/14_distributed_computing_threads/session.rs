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
//!
//! Timeouts are socket options here (`set_read_timeout`, recomputed from a deadline before each
//! read) instead of `tokio::time::timeout` around a future. Waiting for a `RESULT` while saying
//! `BEAT` is a read in slices of one heartbeat (the framing keeps a half-read line between them);
//! a parked worker's thread waits on the `Condvar` with a timeout, to beat.

use std::time::Duration;

use std::time::Instant;

use tracing::info;

use crate::board::Take;
use crate::coordinator::Coordinator;
use crate::lines::{LineError, Lines};
use crate::protocol::{HEARTBEAT, Job, MAX_LINE, Message, PROTOCOL, quote};

impl Coordinator {
    pub(crate) fn session(&self, lines: &mut Lines, peer: &str) -> Result<(), String> {
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
    pub(crate) fn answer(&self, lines: &mut Lines, job: Job) -> Result<u64, String> {
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
    pub(crate) fn next(
        &self,
        lines: &mut Lines,
        limit: Duration,
    ) -> Result<Option<Message>, String> {
        match lines.next_line(Some(limit)) {
            Err(LineError::TimedOut) => Err(format!("said nothing for {} ms", limit.as_millis())),
            next => decode(next),
        }
    }

    /// A free worker's wait for work: a job, or `None` once every job is settled. Every
    /// [`HEARTBEAT`] it wakes to say `BEAT`, and looks at the socket without waiting: a parked
    /// worker has nothing to say, so a line or the end of the stream means it broke the protocol
    /// or left (and must not be counted).
    pub(crate) fn take_job(&self, lines: &mut Lines, worker: &str) -> Result<Option<Job>, String> {
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
}

/// A worker counted in `connected` for as long as this lives: dropped on every way out of a session
/// (return, error, panic), so the count cannot drift.
struct Present<'a>(&'a Coordinator);

impl Drop for Present<'_> {
    fn drop(&mut self) {
        self.0.board().connected -= 1;
    }
}

/// Turns what the framing produced into a message or a one-line reason to drop the peer.
pub fn decode(next: Result<Option<String>, LineError>) -> Result<Option<Message>, String> {
    match next {
        Ok(None) => Ok(None),
        Ok(Some(line)) => line.parse().map(Some).map_err(|e| format!("{e}")),
        Err(LineError::TooLong) => Err(format!("sent a line longer than {MAX_LINE} bytes")),
        Err(LineError::NotUtf8) => Err("sent bytes that are not UTF-8 text".into()),
        Err(LineError::TimedOut) => Err("timed out".into()),
        Err(LineError::Io(e)) => Err(format!("connection error: {e}")),
    }
}

pub fn send(lines: &mut Lines, message: Message) -> Result<(), String> {
    lines
        .send(&message)
        .map_err(|e| format!("cannot send: {e}"))
}
