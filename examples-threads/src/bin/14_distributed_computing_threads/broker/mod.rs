//! 14's broker mode (threads twin: the `redis` crate's blocking connection, one per process): the same prime-counting jobs through Redis Streams instead of the home-made
//! coordinator. What [`crate::coordinator`] built by hand maps one to one onto Redis commands:
//!
//! | 14 by hand                               | Redis Streams                                         |
//! |------------------------------------------|-------------------------------------------------------|
//! | the queue of pending jobs                | the stream `dist14:<run>:jobs`, group `workers`       |
//! | a worker takes a job (or k: `--batch`)   | `XREADGROUP GROUP workers <name> COUNT k BLOCK 500`   |
//! | jobs in flight, per worker               | the group's pending entries list (`XPENDING`)         |
//! | a result, and the job leaves "in flight" | `SETBIT done <job>` + `XADD results` + `XACK`, one step |
//! | the coordinator hears of a result        | `XREAD BLOCK ... STREAMS results <last id seen>`      |
//! | requeue a dead or silent worker's job    | `XAUTOCLAIM` of entries idle past the job timeout     |
//! | at most N attempts                       | the delivery counter; past it, `dist14:<run>:dead`    |
//!
//! The coordinator only publishes the jobs and collects the results: it is not in the path of a
//! job, so it can die and start again mid-run. A restarted coordinator finds the jobs it already
//! published (a counter beside the stream) and the jobs already done (the `done` bitmap), publishes
//! only the rest and waits for what is missing: the state outlives the process. Every key carries
//! the run id, so runs share a server and a run cleans up only its own keys.
//!
//! At scale every step costs the same at the millionth job as at the first: the coordinator
//! publishes in batches ([`coordinator`]) and keeps at most [`WINDOW`] jobs in the stream, hears
//! each result once from where it left off, and trims what it has read; a worker takes up to
//! `--batch` jobs per read and records them in one step, then deletes their entries ([`worker`]).
//!
//! Every call has a deadline: the connection is made within [`CONNECT_TIMEOUT`], every reply
//! arrives within [`RESPONSE_TIMEOUT`] (a blocking read blocks for [`BLOCK`], far less), and a
//! coordinator that hears no new result for `--patience-ms` gives up with one line.

mod collect;
mod coordinator;
mod demo;
mod reclaim;
// The async twin's summary lines themselves, not a copy (as `protocol.rs`): the two broker modes print
// the very same report.
#[path = "../../../../../examples-async/src/bin/14_distributed_computing/broker/report.rs"]
mod report;
mod worker;

pub use coordinator::{CoordinatorConfig, coordinator};
pub use demo::{DemoConfig, demo};
pub use worker::{WorkerConfig, worker};

use std::time::Duration;

use anyhow::Context;
use redis::Connection;
use redis::streams::StreamId;

use crate::protocol::{Job, MAX_END, MAX_JOB_SIZE};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one blocking read waits: also how soon an idle worker notices the run is over.
pub const BLOCK: Duration = Duration::from_millis(500);
/// How often the demo looks at its children.
const POLL: Duration = Duration::from_millis(20);
/// How long a worker waits for a coordinator to publish its run.
pub const WAIT_FOR_RUN: Duration = Duration::from_secs(30);
/// The consumer group every worker of a run belongs to.
const GROUP: &str = "workers";
/// At most this many jobs published and not yet done: the job stream never holds more, whatever
/// `--jobs` says (a million jobs would otherwise sit in Redis at once).
pub const WINDOW: u32 = 20_000;
/// The most jobs one worker read takes (`--batch`): a Lua call gets them all as arguments.
pub const MAX_BATCH: u32 = 1000;

/// The names of one run's keys: all under `dist14:<run>:`.
#[derive(Debug, Clone)]
pub struct Keys {
    pub run: String,
}

impl Keys {
    pub fn new(run: &str) -> Self {
        Self {
            run: run.to_string(),
        }
    }
    fn key(&self, what: &str) -> String {
        format!("dist14:{}:{what}", self.run)
    }
    /// The stream of jobs; a worker deletes an entry once its result is recorded.
    pub fn jobs(&self) -> String {
        self.key("jobs")
    }
    /// How many jobs the coordinator has published (a restarted one resumes from here).
    fn published(&self) -> String {
        self.key("published")
    }
    /// The run's parameters, for the workers: jobs, job timeout and attempt limit.
    fn plan(&self) -> String {
        self.key("plan")
    }
    /// One bit per job id, set by the step that records its result: a job is kept once.
    fn done(&self) -> String {
        self.key("done")
    }
    /// The stream of fresh results, read by the coordinator and trimmed behind it.
    pub fn results(&self) -> String {
        self.key("results")
    }
    /// Counters kept by the recording step: done, primes, duplicates, claims, `w:<worker>`.
    pub fn tally(&self) -> String {
        self.key("tally")
    }
    /// The dead-letter stream: jobs past the attempt limit, and foreign entries.
    pub fn dead(&self) -> String {
        self.key("dead")
    }
    /// The names of the workers that joined (`--min-workers` waits for them).
    fn workers(&self) -> String {
        self.key("workers")
    }
    /// Set when the run is over, with an expiry: it tells "the run ended" from "the run vanished".
    fn stop(&self) -> String {
        self.key("stop")
    }
    fn all(&self) -> Vec<String> {
        vec![
            self.jobs(),
            self.published(),
            self.plan(),
            self.done(),
            self.results(),
            self.tally(),
            self.dead(),
            self.workers(),
        ]
    }
}

/// Connects with a deadline on the connection and on every reply. An unreachable or wrong URL is
/// one line: "cannot reach Redis at ...".
pub fn connect(url: &str) -> anyhow::Result<Connection> {
    let client = redis::Client::open(url).with_context(|| format!("bad Redis URL {url:?}"))?;
    let con = client
        .get_connection_with_timeout(CONNECT_TIMEOUT)
        .with_context(|| format!("cannot reach Redis at {url} (is redis-server running?)"))?;
    // A blocking connection waits for ever unless told otherwise: a deadline on every reply.
    con.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
    con.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
    Ok(con)
}

/// The group or stream is gone (`NOGROUP`), or a blocked read was woken by its deletion
/// (`UNBLOCKED`): the coordinator cleaned up, or someone emptied the server.
fn run_is_gone(e: &redis::RedisError) -> bool {
    if matches!(e.code(), Some("NOGROUP" | "UNBLOCKED")) {
        return true;
    }
    // A pipeline wraps the error of its failing command ("Pipeline failure: [(Index 1, error:
    // \"NOGROUP\": ...)]") and has no code of its own: the code is in its text.
    let text = e.to_string();
    text.contains("\"NOGROUP\"") || text.contains("\"UNBLOCKED\"")
}

/// Why a run ends with status 1 when its keys disappear without the stop key: that is not an end.
fn vanished(keys: &Keys) -> String {
    format!(
        "run {} vanished: its job stream or group is gone but no stop key was set \
         (FLUSHALL, or a Redis restarted empty?)",
        keys.run
    )
}

/// An error chain as one line that names each cause once: the `redis` crate repeats its I/O
/// error as its own source ("broken pipe: broken pipe"), so a link already said is skipped.
fn one_line(e: anyhow::Error) -> anyhow::Error {
    let mut line = String::new();
    for cause in e.chain().map(ToString::to_string) {
        if line.contains(cause.as_str()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&cause);
    }
    anyhow::anyhow!(line)
}

/// Job `id` of a run of `size`-number jobs, as [`crate::protocol::plan_jobs`] numbers them,
/// without a list of a million of them in memory.
fn job_of(id: u32, size: u64) -> Job {
    Job {
        id,
        start: u64::from(id - 1) * size,
        end: u64::from(id) * size,
    }
}

fn field_string(entry: &StreamId, name: &str) -> Option<String> {
    entry.get(name)
}

fn field_u64(entry: &StreamId, name: &str) -> Option<u64> {
    entry.get::<String>(name)?.parse().ok()
}

/// A job entry has `job` (1..=`jobs`), `start`, `end`, all numbers, and a sane range; anything
/// else is foreign.
fn parse_job(entry: &StreamId, jobs: u64) -> Option<Job> {
    let id = field_u64(entry, "job").filter(|id| (1..=jobs).contains(id))?;
    let (start, end) = (field_u64(entry, "start")?, field_u64(entry, "end")?);
    (start < end && end <= MAX_END && end - start <= MAX_JOB_SIZE).then_some(Job {
        id: u32::try_from(id).ok()?,
        start,
        end,
    })
}

/// The jobs done so far, one bit per job id in Redis's `SETBIT` order (bit 0 is the high bit of
/// byte 0), so a restarted coordinator loads the `done` bitmap with one `GET`: 125 kB for a million.
pub struct Seen {
    bits: Vec<u8>,
    count: u32,
}

impl Seen {
    pub fn new(mut bits: Vec<u8>, jobs: u32) -> Self {
        bits.resize(jobs as usize / 8 + 1, 0);
        let count = bits.iter().map(|b| b.count_ones()).sum();
        Self { bits, count }
    }
    /// Whether `id` was new.
    pub fn insert(&mut self, id: u32) -> bool {
        let (byte, mask) = (id as usize / 8, 0x80u8 >> (id % 8));
        let Some(slot) = self.bits.get_mut(byte) else {
            return false;
        };
        let fresh = *slot & mask == 0;
        *slot |= mask;
        self.count += u32::from(fresh);
        fresh
    }
    pub fn contains(&self, id: u32) -> bool {
        let (byte, mask) = (id as usize / 8, 0x80u8 >> (id % 8));
        self.bits.get(byte).is_some_and(|b| b & mask != 0)
    }
    pub fn len(&self) -> u32 {
        self.count
    }
}

#[cfg(test)]
mod tests;
