//! 14's broker mode: the same prime-counting jobs through Redis Streams instead of the home-made
//! coordinator. What [`crate::coordinator`] built by hand maps one to one onto Redis commands:
//!
//! | 14 by hand                               | Redis Streams                                         |
//! |------------------------------------------|-------------------------------------------------------|
//! | the queue of pending jobs                | the stream `dist14:<run>:jobs`, group `workers`       |
//! | a worker takes a job                     | `XREADGROUP GROUP workers <name> COUNT 1 BLOCK 500`   |
//! | jobs in flight, per worker               | the group's pending entries list (`XPENDING`)         |
//! | a result, and the job leaves "in flight" | `HSETNX dist14:<run>:results <job>` + `XACK`, one step |
//! | requeue a dead or silent worker's job    | `XAUTOCLAIM` of entries idle past the job timeout     |
//! | at most N attempts                       | the delivery counter; past it, `dist14:<run>:dead`    |
//!
//! The coordinator only publishes the jobs and collects the results: it is not in the path of a
//! job, so it can die and start again mid-run. A restarted coordinator finds the jobs it already
//! published (a counter beside the stream) and the results already recorded, publishes only the
//! rest and waits for what is missing: the state outlives the process. Every key carries the run
//! id, so runs share a server and a run cleans up only its own keys.
//!
//! Every call has a deadline: the connection is made within [`CONNECT_TIMEOUT`], every reply
//! arrives within [`RESPONSE_TIMEOUT`] (a blocking read blocks for [`BLOCK`], far less), and a
//! coordinator that hears no new result for `--patience-ms` gives up with one line.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use common::children::ChildGuard;
use common::redis_server::RedisServer;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use tokio::time::{Instant, sleep};
use tracing::{info, warn};

use crate::protocol::{Job, MAX_END, MAX_JOB_SIZE, count_primes, plan_jobs};
use crate::{DEMO_DEADLINE, EXIT_GRACE, VICTIM};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one `XREADGROUP` waits for a new job: also how soon a worker notices the run is over.
pub const BLOCK: Duration = Duration::from_millis(500);
/// How often the coordinator looks at the results.
const POLL: Duration = Duration::from_millis(20);
/// How a worker records a result, run by the server in one step (a Lua script is atomic): a
/// crash before it leaves the entry pending, another worker redoes the job, and `HSETNX` keeps the
/// first answer (0: a duplicate, counted). Apart, a crash between the write and the `XACK` would
/// leave a recorded job pending; and a worker finishing after the coordinator cleaned up would
/// create the results key again: the stop key, set before the clean-up, shuts that door (-1).
const RECORD: &str = r"
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local fresh = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('XACK', KEYS[2], ARGV[3], ARGV[4])
if fresh == 0 then redis.call('INCR', KEYS[4]) end
return fresh
";
/// How long a worker waits for a coordinator to publish its run.
pub const WAIT_FOR_RUN: Duration = Duration::from_secs(30);
/// The consumer group every worker of a run belongs to.
const GROUP: &str = "workers";

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
    /// The stream of jobs.
    pub fn jobs(&self) -> String {
        self.key("jobs")
    }
    /// How many jobs the coordinator has published (a restarted one resumes from here).
    fn published(&self) -> String {
        self.key("published")
    }
    /// The run's parameters, for the workers: job timeout and attempt limit.
    fn plan(&self) -> String {
        self.key("plan")
    }
    /// job id -> "primes worker": one field per job, written once (`HSETNX`).
    pub fn results(&self) -> String {
        self.key("results")
    }
    /// The dead-letter stream: jobs past the attempt limit, and foreign entries.
    pub fn dead(&self) -> String {
        self.key("dead")
    }
    /// Counters: entries claimed from a silent worker, results that arrived twice.
    fn claims(&self) -> String {
        self.key("claims")
    }
    fn duplicates(&self) -> String {
        self.key("duplicates")
    }
    /// The names of the workers that joined (`--min-workers` waits for them).
    fn workers(&self) -> String {
        self.key("workers")
    }
    /// Set when the run is over; the only key left behind (it expires).
    fn stop(&self) -> String {
        self.key("stop")
    }
    fn all(&self) -> Vec<String> {
        vec![
            self.jobs(),
            self.published(),
            self.plan(),
            self.results(),
            self.dead(),
            self.claims(),
            self.duplicates(),
            self.workers(),
        ]
    }
}

/// Connects with a deadline on the connection and on every reply. An unreachable or wrong URL is
/// one line: "cannot reach Redis at ...".
pub async fn connect(url: &str) -> anyhow::Result<MultiplexedConnection> {
    let client = redis::Client::open(url).with_context(|| format!("bad Redis URL {url:?}"))?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .with_context(|| format!("cannot reach Redis at {url} (is redis-server running?)"))
}

// ---------------------------------------------------------------------------------------------
// The coordinator: publish, then collect. Not in the path of any job.
// ---------------------------------------------------------------------------------------------

pub struct CoordinatorConfig {
    pub url: String,
    pub keys: Keys,
    pub jobs: u32,
    pub job_size: u64,
    pub job_timeout: Duration,
    pub max_attempts: u32,
    /// Publish only once this many workers have joined (the demo: all of them, so that the one
    /// that crashes gets a job).
    pub min_workers: u32,
    /// Give up when no result arrives for this long.
    pub patience: Duration,
    /// Recount every prime here at the end (the demo does; 10 000 jobs would take long).
    pub verify: bool,
}

/// A server that dies mid-run is one line naming it, not a bare "broken pipe".
pub async fn coordinator(config: CoordinatorConfig) -> anyhow::Result<ExitCode> {
    let url = config.url.clone();
    run_coordinator(config)
        .await
        .with_context(|| format!("coordinator: Redis at {url}"))
}

async fn run_coordinator(config: CoordinatorConfig) -> anyhow::Result<ExitCode> {
    let mut con = connect(&config.url).await?;
    let keys = &config.keys;
    let plan = plan_jobs(config.jobs, config.job_size);

    // The group first (MKSTREAM creates the stream): a worker reading before any job exists then
    // simply waits. BUSYGROUP means a coordinator of this run was here before: we resume.
    let created: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(keys.jobs())
        .arg(GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut con)
        .await;
    if let Err(e) = created
        && e.code() != Some("BUSYGROUP")
    {
        return Err(e).context("cannot create the consumer group");
    }
    let () = con
        .hset_multiple(
            keys.plan(),
            &[
                ("job_timeout_ms", config.job_timeout.as_millis() as u64),
                ("max_attempts", u64::from(config.max_attempts)),
            ],
        )
        .await?;

    let wait_since = Instant::now();
    loop {
        let joined: usize = con.scard(keys.workers()).await?;
        if joined >= config.min_workers as usize {
            break;
        }
        if wait_since.elapsed() > config.patience {
            bail!(
                "only {joined} of --min-workers {} joined within {:?}",
                config.min_workers,
                config.patience
            );
        }
        sleep(POLL).await;
    }
    let published: Option<u32> = con.get(keys.published()).await?;
    let published = published.unwrap_or(0).min(config.jobs);
    let recorded: usize = con.hlen(keys.results()).await?;
    if published > 0 {
        info!(
            "resuming run {}: {published} jobs already published, {recorded} results already in Redis",
            keys.run
        );
    }
    // Each job goes in with the counter, in one MULTI: a coordinator killed between two jobs
    // leaves a counter that matches the stream, and its successor publishes neither twice nor not.
    let started = Instant::now();
    for job in &plan[published as usize..] {
        let () = redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(keys.jobs())
            .arg("*")
            .arg("job")
            .arg(job.id)
            .arg("start")
            .arg(job.start)
            .arg("end")
            .arg(job.end)
            .ignore()
            .incr(keys.published(), 1)
            .ignore()
            .query_async(&mut con)
            .await?;
    }
    info!(
        "published {} new jobs to {} ({} were there already); collecting results",
        plan.len() - published as usize,
        keys.jobs(),
        published
    );

    // Collect: the results hash is the truth. Poll it (a round trip per POLL) and print what is new.
    let mut seen: BTreeMap<u32, (u64, String)> = BTreeMap::new();
    let mut failed: BTreeMap<u32, String> = BTreeMap::new();
    let mut last_news = Instant::now();
    let mut last_result = started;
    loop {
        let results: HashMap<String, String> = con.hgetall(keys.results()).await?;
        for (field, value) in results {
            let parsed = field.parse::<u32>().ok().zip(parse_result(&value));
            match parsed {
                Some((id, (primes, worker))) if (1..=config.jobs).contains(&id) => {
                    if let std::collections::btree_map::Entry::Vacant(slot) = seen.entry(id) {
                        info!("result job {id} from {worker}: {primes} primes");
                        slot.insert((primes, worker));
                        last_news = Instant::now();
                        last_result = Instant::now();
                    }
                }
                _ => {
                    // Not ours or not readable: drop it so the job can be done again.
                    warn!("skipping a garbage result {field:?} = {value:?}: deleted");
                    let _: usize = con.hdel(keys.results(), &field).await?;
                    if let Ok(id) = field.parse::<u32>()
                        && let Some(job) = plan.iter().find(|j| j.id == id)
                    {
                        republish(&mut con, keys, job).await?;
                    }
                }
            }
        }
        let dead: StreamReadReply = redis::cmd("XREAD")
            .arg("STREAMS")
            .arg(keys.dead())
            .arg("0")
            .query_async(&mut con)
            .await?;
        for entry in dead.keys.iter().flat_map(|k| &k.ids) {
            if let Some(id) = field_u64(entry, "job").and_then(|id| u32::try_from(id).ok())
                && (1..=config.jobs).contains(&id)
                && !seen.contains_key(&id)
                && !failed.contains_key(&id)
            {
                let reason = field_string(entry, "reason").unwrap_or_default();
                warn!("job {id} is in the dead-letter stream: {reason}");
                failed.insert(id, reason);
                last_news = Instant::now();
            }
        }
        failed.retain(|id, _| !seen.contains_key(id));
        if seen.len() + failed.len() >= plan.len() {
            break;
        }
        if last_news.elapsed() > config.patience {
            bail!(
                "no result for {:?} ({}/{} jobs done): are the workers running? \
                 (start one with: worker --broker {} --run-id {})",
                config.patience,
                seen.len(),
                plan.len(),
                config.url,
                keys.run
            );
        }
        sleep(POLL).await;
    }
    let busy = last_result.duration_since(started);

    // The run is over: tell the workers, then read the counters and clean up this run's keys.
    let () = con.set_ex(keys.stop(), 1, 60).await?;
    let claims: Option<u64> = con.get(keys.claims()).await?;
    let duplicates: Option<u64> = con.get(keys.duplicates()).await?;
    let pending: StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(keys.jobs())
        .arg(GROUP)
        .arg("-")
        .arg("+")
        .arg(100)
        .query_async(&mut con)
        .await?;
    let () = con.del(keys.all()).await?;

    let local = if config.verify {
        let end = u64::from(config.jobs) * config.job_size;
        let primes = tokio::task::spawn_blocking(move || count_primes(0, end))
            .await
            .context("the local count panicked")?;
        Some(primes)
    } else {
        None
    };
    let summary = Summary {
        total: plan.len(),
        done: seen,
        failed,
        requeued: claims.unwrap_or(0),
        duplicates: duplicates.unwrap_or(0),
        left_pending: pending.ids.len(),
        max_attempts: config.max_attempts,
        below: u64::from(config.jobs) * config.job_size,
        busy,
    };
    summary.print(local);
    Ok(if summary.ok(local) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn republish(con: &mut MultiplexedConnection, keys: &Keys, job: &Job) -> anyhow::Result<()> {
    let _: String = redis::cmd("XADD")
        .arg(keys.jobs())
        .arg("*")
        .arg("job")
        .arg(job.id)
        .arg("start")
        .arg(job.start)
        .arg("end")
        .arg(job.end)
        .query_async(con)
        .await?;
    Ok(())
}

/// "primes worker" -> (primes, worker)
fn parse_result(value: &str) -> Option<(u64, String)> {
    let (primes, worker) = value.split_once(' ')?;
    Some((primes.parse().ok()?, worker.to_string()))
}

fn field_string(entry: &StreamId, name: &str) -> Option<String> {
    entry.get(name)
}

fn field_u64(entry: &StreamId, name: &str) -> Option<u64> {
    entry.get::<String>(name)?.parse().ok()
}

pub struct Summary {
    pub total: usize,
    pub done: BTreeMap<u32, (u64, String)>,
    pub failed: BTreeMap<u32, String>,
    pub requeued: u64,
    pub duplicates: u64,
    pub left_pending: usize,
    pub max_attempts: u32,
    pub below: u64,
    pub busy: Duration,
}

impl Summary {
    fn lost(&self) -> usize {
        self.total - self.done.len() - self.failed.len()
    }
    fn primes(&self) -> u64 {
        self.done.values().map(|(p, _)| p).sum()
    }
    fn ok(&self, local: Option<u64>) -> bool {
        self.done.len() == self.total && local.is_none_or(|l| l == self.primes())
    }
    /// The TCP mode's summary lines, where they mean the same, so the two runs diff.
    fn print(&self, local: Option<u64>) {
        common::out!();
        common::out!("Summary");
        if self.failed.is_empty() {
            common::out!(
                "  {}/{} jobs done, {} requeued, {} lost",
                self.done.len(),
                self.total,
                self.requeued,
                self.lost()
            );
        } else {
            common::out!(
                "  {}/{} jobs done, {} failed after {} attempts, {} lost ({} requeued)",
                self.done.len(),
                self.total,
                self.failed.len(),
                self.max_attempts,
                self.lost(),
                self.requeued
            );
            for (id, reason) in &self.failed {
                common::out!("  failed job {id}: {reason}");
            }
        }
        common::out!(
            "  results that arrived twice: {} (kept once: HSETNX by job id)",
            self.duplicates
        );
        let primes = self.primes();
        match local {
            Some(local) => {
                let verdict = if primes == local && self.done.len() == self.total {
                    "correct"
                } else {
                    "WRONG"
                };
                common::out!(
                    "  primes below {}: {primes} from the workers, {local} counted here: {verdict}",
                    self.below
                );
            }
            None if self.done.len() == self.total => {
                common::out!("  primes below {}: {primes} from the workers", self.below);
            }
            None => common::out!("  primes in the jobs done: {primes} (some jobs failed)"),
        }
        let secs = self.busy.as_secs_f64().max(1e-3);
        common::out!(
            "  throughput: {} jobs in {} from the first publish to the last result: {:.0} jobs/s",
            self.done.len(),
            common::fmt_duration(self.busy),
            self.done.len() as f64 / secs
        );
        let mut per_worker: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, worker) in self.done.values() {
            *per_worker.entry(worker).or_default() += 1;
        }
        let per: Vec<String> = per_worker.iter().map(|(w, n)| format!("{w} {n}")).collect();
        common::out!("  jobs per worker: {}", per.join(", "));
        common::out!(
            "  left pending in the group (XPENDING): {}",
            self.left_pending
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The worker: claim what a silent worker left, else read a new job; record, then acknowledge.
// ---------------------------------------------------------------------------------------------

pub struct WorkerConfig {
    pub url: String,
    pub keys: Keys,
    pub name: String,
    /// Exit abruptly in the middle of the n-th job.
    pub crash_on_job: Option<u32>,
    /// Take this job and never answer it (a poison job: it wears out the attempt limit).
    pub hang_on_job: Option<u32>,
    /// How long to wait for a coordinator to publish the run.
    pub wait_for_run: Duration,
}

/// What the worker reads from the plan the coordinator wrote.
struct Plan {
    job_timeout: Duration,
    max_attempts: u64,
}

/// A server that dies mid-run is one line naming it, not a bare "broken pipe".
pub async fn worker(config: WorkerConfig) -> anyhow::Result<()> {
    let url = config.url.clone();
    run_worker(config)
        .await
        .with_context(|| format!("worker: Redis at {url}"))
}

async fn run_worker(config: WorkerConfig) -> anyhow::Result<()> {
    let mut con = connect(&config.url).await?;
    let keys = &config.keys;
    let plan = wait_for_plan(&mut con, keys, config.wait_for_run).await?;
    info!(
        "joined run {} as {} (job timeout {:?}, at most {} attempts)",
        keys.run, config.name, plan.job_timeout, plan.max_attempts
    );
    let _: usize = con.sadd(keys.workers(), &config.name).await?;
    let timeout_ms = plan.job_timeout.as_millis() as u64;
    let mut taken = 0u32;
    loop {
        let stop: bool = con.exists(keys.stop()).await?;
        if stop {
            info!("the run is over (stop key set): exiting after {taken} jobs");
            return Ok(());
        }
        dead_letter_worn_out(&mut con, keys, &plan).await?;

        // A job whose worker went silent for longer than the job timeout: take it over.
        let claimed: StreamAutoClaimReply = match redis::cmd("XAUTOCLAIM")
            .arg(keys.jobs())
            .arg(GROUP)
            .arg(&config.name)
            .arg(timeout_ms)
            .arg("0-0")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut con)
            .await
        {
            Ok(reply) => reply,
            Err(e) if run_is_gone(&e) => return run_gone(taken),
            Err(e) => return Err(e.into()),
        };
        let entry = if let Some(entry) = claimed.claimed.into_iter().next() {
            let _: u64 = con.incr(keys.claims(), 1).await?;
            warn!(
                "claimed entry {} (idle past the job timeout: its worker died or went silent)",
                entry.id
            );
            entry
        } else {
            let read: redis::RedisResult<Option<StreamReadReply>> = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg(&config.name)
                .arg("COUNT")
                .arg(1)
                .arg("BLOCK")
                .arg(BLOCK.as_millis() as u64)
                .arg("STREAMS")
                .arg(keys.jobs())
                .arg(">")
                .query_async(&mut con)
                .await;
            match read {
                Ok(Some(reply)) => match reply.keys.into_iter().flat_map(|k| k.ids).next() {
                    Some(entry) => entry,
                    None => continue,
                },
                Ok(None) => continue,
                Err(e) if run_is_gone(&e) => return run_gone(taken),
                Err(e) => return Err(e.into()),
            }
        };

        let Some(job) = parse_job(&entry) else {
            // Someone else's entry: out of the way, into the dead letters, never lost.
            warn!("skipping a foreign entry {} {:?}", entry.id, entry.map);
            let () = redis::pipe()
                .atomic()
                .cmd("XADD")
                .arg(keys.dead())
                .arg("*")
                .arg("entry")
                .arg(&entry.id)
                .arg("reason")
                .arg("foreign entry (no job/start/end)")
                .ignore()
                .xack(keys.jobs(), GROUP, &[&entry.id])
                .ignore()
                .query_async(&mut con)
                .await?;
            continue;
        };
        taken += 1;
        if config.hang_on_job == Some(job.id) {
            warn!(
                "job {}: taking it and never answering (--hang-on-job): it stays pending",
                job.id
            );
            continue;
        }
        info!(
            "job {}: counting primes in [{}, {})",
            job.id, job.start, job.end
        );
        let crash = config.crash_on_job == Some(taken);
        let primes = tokio::task::spawn_blocking(move || {
            if crash {
                // Half the work, then gone without a word: the entry stays in the pending list.
                count_primes(job.start, job.start + (job.end - job.start) / 2);
                warn!(
                    "job {}: crashing half-way on purpose (--crash-on-job)",
                    job.id
                );
                std::process::exit(crate::worker::CRASH_EXIT_CODE);
            }
            count_primes(job.start, job.end)
        })
        .await
        .context("the count panicked")?;

        // The result and the acknowledgement in one server-side step (see [`RECORD`]): they land
        // together or not at all, and never once the run is over.
        let value = format!("{primes} {}", config.name);
        let recorded: i64 = redis::cmd("EVAL")
            .arg(RECORD)
            .arg(4)
            .arg(keys.results())
            .arg(keys.jobs())
            .arg(keys.stop())
            .arg(keys.duplicates())
            .arg(job.id)
            .arg(value)
            .arg(GROUP)
            .arg(&entry.id)
            .query_async(&mut con)
            .await?;
        match recorded {
            1 => info!("job {}: {primes} primes, recorded", job.id),
            0 => info!(
                "job {}: {primes} primes, but a result was already recorded: kept the first",
                job.id
            ),
            _ => {
                info!(
                    "job {}: {primes} primes, but the run is over: dropped",
                    job.id
                );
                return Ok(());
            }
        }
    }
}

/// The coordinator deleted the run's keys: the group is gone (`NOGROUP`), or a blocked read was
/// woken by the deletion (`UNBLOCKED`).
fn run_is_gone(e: &redis::RedisError) -> bool {
    matches!(e.code(), Some("NOGROUP" | "UNBLOCKED"))
}

fn run_gone(taken: u32) -> anyhow::Result<()> {
    info!("the run's stream is gone (cleaned up): exiting after {taken} jobs");
    Ok(())
}

/// Entries idle past the job timeout that have been delivered `max_attempts` times go to the
/// dead-letter stream instead of being claimed again. Whoever's `XACK` removes the entry (returns
/// 1) writes the dead letter, so two workers racing here write it once.
async fn dead_letter_worn_out(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    plan: &Plan,
) -> anyhow::Result<()> {
    let pending: StreamPendingCountReply = match redis::cmd("XPENDING")
        .arg(keys.jobs())
        .arg(GROUP)
        .arg("IDLE")
        .arg(plan.job_timeout.as_millis() as u64)
        .arg("-")
        .arg("+")
        .arg(10)
        .query_async(con)
        .await
    {
        Ok(reply) => reply,
        Err(e) if run_is_gone(&e) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in pending.ids {
        if (entry.times_delivered as u64) < plan.max_attempts {
            continue;
        }
        let acked: u64 = con.xack(keys.jobs(), GROUP, &[&entry.id]).await?;
        if acked == 0 {
            continue;
        }
        let found: StreamReadReply = con
            .xread(&[keys.jobs()], &[entry_before(&entry.id)])
            .await?;
        let job = found
            .keys
            .iter()
            .flat_map(|k| &k.ids)
            .find(|e| e.id == entry.id)
            .and_then(parse_job);
        let id = job.map_or_else(|| "?".to_string(), |j| j.id.to_string());
        let reason = format!(
            "delivered {} times, never answered (last to {})",
            entry.times_delivered, entry.consumer
        );
        warn!("job {id}: {reason}: to the dead-letter stream");
        let _: String = redis::cmd("XADD")
            .arg(keys.dead())
            .arg("*")
            .arg("job")
            .arg(&id)
            .arg("entry")
            .arg(&entry.id)
            .arg("reason")
            .arg(&reason)
            .query_async(con)
            .await?;
    }
    Ok(())
}

/// The id just before `id`, so that `XREAD ... <that>` returns the entry `id` first.
fn entry_before(id: &str) -> String {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    let (ms, seq): (u64, u64) = (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0));
    if seq > 0 {
        format!("{ms}-{}", seq - 1)
    } else {
        format!("{}-{}", ms.saturating_sub(1), u64::MAX)
    }
}

async fn wait_for_plan(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    patience: Duration,
) -> anyhow::Result<Plan> {
    let deadline = Instant::now() + patience;
    loop {
        let plan: HashMap<String, u64> = con.hgetall(keys.plan()).await?;
        if let (Some(&timeout), Some(&attempts)) =
            (plan.get("job_timeout_ms"), plan.get("max_attempts"))
        {
            return Ok(Plan {
                job_timeout: Duration::from_millis(timeout),
                max_attempts: attempts,
            });
        }
        if Instant::now() >= deadline {
            bail!(
                "no coordinator published run {:?} within {patience:?} (start one with: \
                 coordinator --broker URL --run-id {})",
                keys.run,
                keys.run
            );
        }
        sleep(Duration::from_millis(100)).await;
    }
}

/// A job entry has `job`, `start`, `end`, all numbers, and a sane range; anything else is foreign.
fn parse_job(entry: &StreamId) -> Option<Job> {
    let id = u32::try_from(field_u64(entry, "job")?).ok()?;
    let (start, end) = (field_u64(entry, "start")?, field_u64(entry, "end")?);
    (id >= 1 && start < end && end <= MAX_END && end - start <= MAX_JOB_SIZE).then_some(Job {
        id,
        start,
        end,
    })
}

// ---------------------------------------------------------------------------------------------
// The demo: a redis-server of its own (or the one at --broker URL), a coordinator process and
// worker processes of this binary; --restart-coordinator kills the coordinator mid-run.
// ---------------------------------------------------------------------------------------------

pub struct DemoConfig {
    /// `None`: start a throwaway redis-server.
    pub url: Option<String>,
    pub workers: u32,
    pub jobs: u32,
    pub job_size: u64,
    pub job_timeout: Duration,
    pub max_attempts: u32,
    pub crash_worker: bool,
    pub restart_coordinator: bool,
    pub poison_job: Option<u32>,
    pub worker_bin: Option<PathBuf>,
}

pub async fn demo(config: DemoConfig) -> anyhow::Result<ExitCode> {
    // Declared before the children: dropped after them, so the server outlives its clients.
    let server;
    let url = match config.url {
        Some(url) => url,
        None => match RedisServer::start() {
            Ok(started) => {
                server = started;
                info!(
                    "started a throwaway redis-server on port {} (no persistence)",
                    server.port()
                );
                server.url()
            }
            Err(why) => {
                eprintln!("error: {why}");
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    let mut con = connect(&url).await?;
    let this = std::env::current_exe().context("cannot find this program")?;
    let program = config.worker_bin.clone().unwrap_or_else(|| this.clone());
    let keys = Keys::new(&format!("demo-{}", std::process::id()));
    info!(
        "run {} on {url}: {} jobs of {} numbers, {} worker processes of {}",
        keys.run,
        config.jobs,
        config.job_size,
        config.workers,
        program.display()
    );

    let mut workers = Vec::new();
    for i in 1..=config.workers {
        let name = format!("worker-{i}");
        let mut cmd = Command::new(&program);
        cmd.args([
            "worker", "--broker", &url, "--run-id", &keys.run, "--name", &name,
        ]);
        if config.crash_worker && i == VICTIM {
            cmd.args(["--crash-on-job", "1"]);
        }
        if let Some(id) = config.poison_job {
            cmd.args(["--hang-on-job", &id.to_string()]);
        }
        let child = ChildGuard::spawn(name, &mut cmd)
            .with_context(|| format!("cannot start {}", program.display()))?;
        workers.push(child);
    }
    let start_coordinator = || {
        let mut cmd = Command::new(&this);
        cmd.args([
            "coordinator",
            "--broker",
            &url,
            "--run-id",
            &keys.run,
            "--verify",
        ])
        .args(["--jobs", &config.jobs.to_string()])
        .args(["--job-size", &config.job_size.to_string()])
        .args([
            "--job-timeout-ms",
            &config.job_timeout.as_millis().to_string(),
        ])
        .args(["--max-attempts", &config.max_attempts.to_string()])
        .args(["--min-workers", &config.workers.to_string()]);
        ChildGuard::spawn("coordinator", &mut cmd).context("cannot start the coordinator")
    };
    let deadline = Instant::now() + DEMO_DEADLINE;
    let mut coordinator = start_coordinator()?;
    if config.restart_coordinator {
        // Kill it once the first result is in: some jobs are done, most are not.
        loop {
            let recorded: usize = con.hlen(keys.results()).await?;
            if recorded > 0 {
                break;
            }
            if Instant::now() >= deadline || coordinator.try_wait()?.is_some() {
                bail!("no result before the coordinator was to be killed");
            }
            sleep(POLL).await;
        }
        coordinator.kill_and_wait()?;
        let recorded: usize = con.hlen(keys.results()).await?;
        warn!(
            "killed the coordinator mid-run ({recorded} results recorded): the jobs and results \
             stay in Redis; starting a new one"
        );
        coordinator = start_coordinator()?;
    }
    let status = loop {
        if let Some(status) = coordinator.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            bail!("the demo did not finish within {DEMO_DEADLINE:?}");
        }
        sleep(POLL).await;
    };

    // The coordinator set the stop key: every worker notices within one BLOCK.
    let grace = Instant::now() + EXIT_GRACE;
    let mut unexpected = Vec::new();
    for worker in &mut workers {
        let status = loop {
            match worker.try_wait()? {
                Some(status) => break Some(status),
                None if Instant::now() >= grace => break None,
                None => sleep(POLL).await,
            }
        };
        let crashed_on_purpose = config.crash_worker && worker.name == format!("worker-{VICTIM}");
        let what = match status {
            Some(s) if crashed_on_purpose => format!("crashed mid-job on purpose ({s})"),
            Some(s) => s.to_string(),
            None => "still running after the run ended: killed".into(),
        };
        info!("{} exited: {what}", worker.name);
        let expected = status.is_some_and(|s| {
            if crashed_on_purpose {
                s.code() == Some(crate::worker::CRASH_EXIT_CODE)
            } else {
                s.success()
            }
        });
        if !expected {
            unexpected.push(format!("{}: {what}", worker.name));
        }
    }
    // With a server of its own, the server goes with the demo; with a URL, the coordinator
    // deleted the run's keys and the stop key expires.
    ensure!(
        unexpected.is_empty(),
        "workers exited unexpectedly: {unexpected:?}"
    );
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_before_is_just_before() {
        assert_eq!(entry_before("1700-5"), "1700-4");
        assert_eq!(entry_before("1700-0"), format!("1699-{}", u64::MAX));
    }

    #[test]
    fn results_parse_and_garbage_does_not() {
        assert_eq!(
            parse_result("33860 worker-1"),
            Some((33860, "worker-1".into()))
        );
        assert_eq!(parse_result("lots worker-1"), None);
        assert_eq!(parse_result("33860"), None);
    }

    #[test]
    fn every_key_carries_the_run_id() {
        let keys = Keys::new("r42");
        for key in keys.all().into_iter().chain([keys.stop()]) {
            assert!(key.starts_with("dist14:r42:"), "{key}");
        }
    }
}
