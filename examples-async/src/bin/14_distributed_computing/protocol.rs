//! The wire protocol. The threads twin compiles this very file (`#[path]` in its `main.rs`), so the
//! two binaries cannot drift apart: this text *is* the contract between them, whichever code frames
//! the lines (tokio-util's `LinesCodec` here, a hand-written reader over `std::net` there).
//!
//! One message per line, UTF-8, at most [`MAX_LINE`] bytes before the `\n`. A session reads:
//!
//! ```text
//! worker -> HELLO dist14/2 worker-1        coordinator -> WELCOME dist14/2
//! worker -> READY                          coordinator -> JOB 3 800000 1200000
//!                                          coordinator -> BEAT   (every 500 ms until the RESULT)
//! worker -> RESULT 3 28126 + READY         coordinator -> BEAT   (every 500 ms while no job is free)
//!                                          coordinator -> JOB 5 1600000 2000000   (or STOP)
//! ```
//!
//! The grammar, one line each (`<n>` a decimal `u64`, `<id>` a `u32`):
//!
//! ```text
//! HELLO <protocol> <name>    worker, first line; <name> is 1-32 of [A-Za-z0-9._-]
//! WELCOME <protocol>         coordinator, reply to an accepted HELLO
//! READY                      worker: I am free
//! JOB <id> <start> <end>     coordinator: count the primes in [start, end); end <= 10^12, end - start <= 10^8
//! RESULT <id> <n>            worker: the answer to job <id>
//! BEAT                       coordinator: I am alive (dist14/2)
//! STOP                       coordinator: all done, hang up
//! ERROR <reason>             either side, just before it hangs up
//! ```
//!
//! Workers *pull*: a worker asks for a job only when it is free, so a fast worker simply asks more
//! often, and the coordinator never has to guess who is idle (upstream JS pushes a task to every
//! socket every second, busy or not). Either side may send `ERROR <reason>` before it hangs up.
//!
//! Heartbeats (`BEAT`, new in `dist14/2`): a worker waiting for a job, or for the coordinator to
//! take its result, would otherwise wait for ever on a coordinator whose host hung or whose link
//! broke without a reset (a half-open connection: no FIN, no RST, just silence). The coordinator
//! says `BEAT` every [`HEARTBEAT`] while it owes the worker something; a worker that hears nothing
//! for [`MISSED_BEATS`] beats gives up. The worker sends no beat: while it owes the coordinator a
//! result, the coordinator's job timeout already covers its silence.
//!
//! Why lines and a `HELLO` with a version: TCP is a byte stream with no message boundaries, so
//! something must mark them (upstream C++ has no framing at all and prints whatever `recv` returned).
//! A line is easy to read in a log and to type by hand (`nc localhost 7878`); the length limit means
//! a peer that never sends `\n` cannot make us buffer without bound. The `HELLO` comes first so that
//! a stranger (a browser, a port scanner, a worker from an incompatible release) is told apart with
//! its first line, before it is given any work.

use std::fmt;
use std::str::FromStr;

/// Name and version of this protocol, sent in `HELLO` and `WELCOME`. A change of meaning to any
/// message would bump the number, and old and new binaries would refuse each other at once.
pub const PROTOCOL: &str = "dist14/2";

/// How often the coordinator says `BEAT` to a worker it keeps waiting.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_millis(500);

/// A worker that hears nothing for this many heartbeats (2 s) presumes its coordinator dead.
pub const MISSED_BEATS: u32 = 4;

/// The largest number a job may reach (its `end`): what a coordinator can plan at most
/// (`--jobs 10000` x `--job-size 100000000`). Far below 2^64, so trial division never gets near
/// an overflow, and a worker refuses a `JOB` that would keep it busy for years.
pub const MAX_END: u64 = 1_000_000_000_000;

/// The most numbers one job may cover (the coordinator's `--job-size` limit).
pub const MAX_JOB_SIZE: u64 = 100_000_000;

/// The longest line either side accepts (without its `\n`). Our longest message is about 50 bytes;
/// anything near this limit is not one of ours.
pub const MAX_LINE: usize = 256;

/// A worker's name: what the logs and the summary call it.
const MAX_NAME: usize = 32;

/// One unit of work: count the primes `p` with `start <= p < end`. Real work with an answer the
/// coordinator can check (upstream Python sleeps for a random time and returns a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    pub id: u32,
    pub start: u64,
    pub end: u64,
}

/// Every message of the protocol, in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Worker, first line: the protocol it speaks and its name.
    Hello { protocol: String, name: String },
    /// Coordinator, reply to a `HELLO` it accepts.
    Welcome { protocol: String },
    /// Worker: "I am free, give me a job".
    Ready,
    /// Coordinator: the job to do.
    Job(Job),
    /// Worker: the answer to job `id`.
    Result { id: u32, primes: u64 },
    /// Coordinator: I am alive (sent every [`HEARTBEAT`] while a worker waits on us).
    Beat,
    /// Coordinator: every job is done, disconnect and exit.
    Stop,
    /// Either side, just before it closes: why.
    Error(String),
}

impl fmt::Display for Message {
    /// The wire form, without the `\n` (the framing adds it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Hello { protocol, name } => write!(f, "HELLO {protocol} {name}"),
            Message::Welcome { protocol } => write!(f, "WELCOME {protocol}"),
            Message::Ready => write!(f, "READY"),
            Message::Job(job) => write!(f, "JOB {} {} {}", job.id, job.start, job.end),
            Message::Result { id, primes } => write!(f, "RESULT {id} {primes}"),
            Message::Beat => write!(f, "BEAT"),
            Message::Stop => write!(f, "STOP"),
            Message::Error(reason) => write!(f, "ERROR {reason}"),
        }
    }
}

/// A line that is not a message of this protocol. Its text is what the logs print as the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMessage(pub String);

impl fmt::Display for BadMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadMessage {}

impl FromStr for Message {
    type Err = BadMessage;

    /// Parses one line. Never panics: every malformed line becomes a [`BadMessage`] that quotes it
    /// (upstream Python indexes `parts[1]` and dies with `IndexError` on `READY` without a name).
    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| BadMessage(format!("{why}: {}", quote(line)));
        let mut words = line.split(' ');
        let verb = words.next().unwrap_or_default();
        let args: Vec<&str> = words.collect();
        let number = |s: &str| s.parse::<u64>().map_err(|_| bad("not a number"));
        let message = match (verb, args.as_slice()) {
            ("HELLO", [protocol, name]) => {
                let valid = !name.is_empty()
                    && name.len() <= MAX_NAME
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !valid {
                    return Err(bad("a name is 1-32 letters, digits, '-', '_' or '.'"));
                }
                Message::Hello {
                    protocol: protocol.to_string(),
                    name: name.to_string(),
                }
            }
            ("WELCOME", [protocol]) => Message::Welcome {
                protocol: protocol.to_string(),
            },
            ("READY", []) => Message::Ready,
            ("JOB", [id, start, end]) => {
                let job = Job {
                    id: u32::try_from(number(id)?).map_err(|_| bad("job id too large"))?,
                    start: number(start)?,
                    end: number(end)?,
                };
                if job.start > job.end {
                    return Err(bad("a job's range ends before it starts"));
                }
                // Bounded where it is parsed: whatever a (buggy or hostile) coordinator sends, a
                // worker only ever counts below `MAX_END`, in ranges of at most `MAX_JOB_SIZE`.
                if job.end > MAX_END || job.end - job.start > MAX_JOB_SIZE {
                    return Err(bad(
                        "a job's range must end at or below 10^12 and span at most 10^8 numbers",
                    ));
                }
                Message::Job(job)
            }
            ("RESULT", [id, primes]) => Message::Result {
                id: u32::try_from(number(id)?).map_err(|_| bad("job id too large"))?,
                primes: number(primes)?,
            },
            ("BEAT", []) => Message::Beat,
            ("STOP", []) => Message::Stop,
            ("ERROR", reason) if !reason.is_empty() => Message::Error(reason.join(" ")),
            _ => return Err(bad("not a dist14 message")),
        };
        Ok(message)
    }
}

/// A line as the logs show it: quoted, escaped, cut at 40 characters (it may be a stranger's noise).
pub fn quote(line: &str) -> String {
    let mut shown: String = line.chars().take(40).collect();
    if shown.len() < line.len() {
        shown.push_str("...");
    }
    format!("{shown:?}")
}

/// The jobs of a run: `count` ranges of `size` numbers each, back to back from 0, ids from 1.
pub fn plan_jobs(count: u32, size: u64) -> Vec<Job> {
    (0..count)
        .map(|i| Job {
            id: i + 1,
            start: u64::from(i) * size,
            end: u64::from(i + 1) * size,
        })
        .collect()
}

/// The work itself: how many primes lie in `start..end`, by trial division (deliberately plain: the
/// point is CPU time that is easy to check, not a fast sieve). Tens of milliseconds for 400 000
/// numbers in a debug build.
pub fn count_primes(start: u64, end: u64) -> u64 {
    (start..end).filter(|&n| is_prime(n)).count() as u64
}

fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n.is_multiple_of(2) || n.is_multiple_of(3) {
        return false;
    }
    // Every prime above 3 is 6k - 1 or 6k + 1.
    let mut d = 5;
    while at_most_sqrt(d, n) {
        if n.is_multiple_of(d) || n.is_multiple_of(d + 2) {
            return false;
        }
        d += 6;
    }
    true
}

/// `d * d <= n`, without computing `d * d`: that product overflows a `u64` once `d` passes 2^32,
/// which it does while testing a prime near 2^64 (a debug build panics, a release build wraps and
/// spins for ever). `d <= n / d` is the same test for positive `d`, and cannot overflow.
fn at_most_sqrt(d: u64, n: u64) -> bool {
    d <= n / d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_survives_the_wire() {
        let messages = [
            Message::Hello {
                protocol: PROTOCOL.into(),
                name: "worker-1".into(),
            },
            Message::Welcome {
                protocol: PROTOCOL.into(),
            },
            Message::Ready,
            Message::Job(Job {
                id: 3,
                start: 800_000,
                end: 1_200_000,
            }),
            Message::Result {
                id: 3,
                primes: 28_126,
            },
            Message::Beat,
            Message::Stop,
            Message::Error("unsupported protocol".into()),
        ];
        for message in messages {
            let line = message.to_string();
            assert!(line.len() <= MAX_LINE && !line.contains('\n'), "{line}");
            assert_eq!(line.parse::<Message>(), Ok(message), "{line}");
        }
    }

    #[test]
    fn the_exact_wire_form_is_the_contract_between_the_twins() {
        let job = Message::Job(Job {
            id: 3,
            start: 800_000,
            end: 1_200_000,
        });
        assert_eq!(job.to_string(), "JOB 3 800000 1200000");
        assert_eq!(
            "RESULT 3 28126".parse(),
            Ok(Message::Result {
                id: 3,
                primes: 28_126
            })
        );
        assert_eq!(
            "HELLO dist14/2 w-1".parse(),
            Ok(Message::Hello {
                protocol: "dist14/2".into(),
                name: "w-1".into()
            })
        );
        assert_eq!("BEAT".parse(), Ok(Message::Beat));
    }

    #[test]
    fn malformed_lines_are_errors_that_quote_the_line_never_panics() {
        for line in [
            "",
            "READY now",
            "HELLO",
            "HELLO dist14/1",
            "HELLO dist14/1 two words",
            "HELLO dist14/1 a\u{7f}b",
            "JOB 1 2",
            "JOB x 1 2",
            "JOB 1 5 2",
            "JOB 99999999999 1 2",
            "RESULT 1 -5",
            "BEAT 1",
            "JOB 1 0 1000000000001",
            "JOB 1 18446744073709551557 18446744073709551615",
            "JOB 1 0 100000001",
            "GET / HTTP/1.1",
            "ready",
        ] {
            let err = line.parse::<Message>().expect_err(line);
            assert!(err.0.contains(&quote(line)), "{err} / {line}");
        }
    }

    #[test]
    fn quote_cuts_long_noise() {
        assert_eq!(quote("GET / HTTP/1.1"), "\"GET / HTTP/1.1\"");
        assert_eq!(
            quote(&"x".repeat(100)),
            format!("\"{}...\"", "x".repeat(40))
        );
    }

    #[test]
    fn jobs_tile_the_range_and_their_counts_add_up() {
        let jobs = plan_jobs(4, 250);
        assert_eq!(jobs.first().map(|j| (j.id, j.start)), Some((1, 0)));
        assert!(jobs.windows(2).all(|w| w[0].end == w[1].start));
        let sum: u64 = jobs.iter().map(|j| count_primes(j.start, j.end)).sum();
        assert_eq!(sum, 168, "there are 168 primes below 1000");
        assert_eq!(count_primes(0, 100), 25);
        assert_eq!(count_primes(0, 2), 0);
        assert_eq!(count_primes(2, 4), 2);
    }

    #[test]
    fn a_job_at_the_edge_of_the_bounds_is_accepted_and_one_past_is_not() {
        let last = format!("JOB 1 {} {MAX_END}", MAX_END - MAX_JOB_SIZE);
        assert!(matches!(last.parse(), Ok(Message::Job(_))), "{last}");
        assert!(
            format!("JOB 1 {} {}", MAX_END - 10, MAX_END + 1)
                .parse::<Message>()
                .is_err()
        );
        // The last numbers a worker may ever be asked about are counted right (999999999989 is the
        // largest prime below 10^12).
        assert_eq!(count_primes(MAX_END - 12, MAX_END), 1);
        assert!(is_prime(999_999_999_989));
    }

    #[test]
    fn the_trial_division_bound_cannot_overflow_near_2_pow_64() {
        // With `d * d <= n`, the first line panics in a debug build ("attempt to multiply with
        // overflow") and wraps to a small number in release, so the loop never ends.
        assert!(!at_most_sqrt(1 << 32, u64::MAX));
        assert!(at_most_sqrt((1 << 32) - 1, u64::MAX));
        assert!(at_most_sqrt(5, 25) && !at_most_sqrt(6, 35));
        // Numbers at the very top of the range, with small factors (fast to check).
        assert!(!is_prime(u64::MAX)); // 3 x 5 x 17 x 257 x 641 x 65537 x 6700417
        assert!(!is_prime(u64::MAX - 1));
    }
}
