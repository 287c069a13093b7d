//! The worker of broker mode: take up to `--batch` jobs per read, count them, record and
//! acknowledge them in one step; now and then (when idle, or every few hundred ms when busy) look
//! whether the run is over and claim what a silent worker left.
//!
//! The batch is the prefetch every broker has (RabbitMQ's `basic.qos`, Kafka's
//! `max.poll.records`): with k jobs per read a job costs 2/k round trips instead of 2, which is
//! what tiny jobs need; but a worker holds k jobs at once, so a killed worker's k jobs wait for the
//! job timeout before another worker claims them, and the first worker to read a short stream may
//! take it all while the others idle. Long jobs want a batch of 1 (the demo's), tiny ones more.

use std::time::Duration;

use anyhow::{Context, bail};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamReadReply};
use tokio::time::{Instant, sleep};
use tracing::{info, warn};

use super::reclaim::{claim, dead_letter_worn_out, ended_or_vanished, run_is_over};
use super::{BLOCK, GROUP, Keys, connect, one_line, parse_job, run_is_gone, vanished};
use crate::protocol::{Job, count_primes};

/// How a worker records a batch, run by the server in one step (a Lua script is atomic). Per job:
/// `SETBIT done <job>` says whether it is the first result for that job; only a first one goes to
/// the results stream and the tally (a later one, from a worker that was too slow or retried, is
/// counted as a duplicate). Then every entry is acknowledged and deleted from the job stream, so
/// the stream holds only jobs not yet done. Apart, a crash between the steps would leave a recorded
/// job pending. Nothing is written once the run is over (the stop key: -1) or gone (no job stream:
/// -2), so a late worker never recreates a key the coordinator deleted.
const RECORD: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {-2} end
local out, entries, fresh = {1}, {}, 0
for i = 3, #ARGV, 3 do
  local job, primes = ARGV[i], ARGV[i + 1]
  entries[#entries + 1] = ARGV[i + 2]
  if redis.call('SETBIT', KEYS[3], job, 1) == 0 then
    redis.call('XADD', KEYS[5], '*', 'job', job, 'primes', primes, 'worker', ARGV[2])
    redis.call('HINCRBY', KEYS[4], 'primes', primes)
    fresh = fresh + 1
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
redis.call('HINCRBY', KEYS[4], 'done', fresh)
if fresh > 0 then redis.call('HINCRBY', KEYS[4], 'w:' .. ARGV[2], fresh) end
if fresh < #entries then redis.call('HINCRBY', KEYS[4], 'duplicates', #entries - fresh) end
redis.call('XACK', KEYS[2], ARGV[1], unpack(entries))
redis.call('XDEL', KEYS[2], unpack(entries))
return out
";

pub struct WorkerConfig {
    pub url: String,
    pub keys: Keys,
    pub name: String,
    /// Jobs per read, recorded together.
    pub batch: u32,
    /// Record every batch twice (a retry after a lost reply): tests the kept-once rule.
    pub record_twice: bool,
    /// Exit abruptly in the middle of the n-th job.
    pub crash_on_job: Option<u32>,
    /// Take this job and never answer it (a poison job: it wears out the attempt limit).
    pub hang_on_job: Option<u32>,
    /// How long to wait for a coordinator to publish the run.
    pub wait_for_run: Duration,
}

/// What the worker reads from the plan the coordinator wrote.
pub struct Plan {
    pub jobs: u64,
    pub job_timeout: Duration,
    pub max_attempts: u64,
}

/// A server that dies mid-run is one line naming it, not a bare "broken pipe".
pub async fn worker(config: WorkerConfig) -> anyhow::Result<()> {
    let url = config.url.clone();
    run_worker(config)
        .await
        .with_context(|| format!("worker: Redis at {url}"))
        .map_err(one_line)
}

async fn run_worker(config: WorkerConfig) -> anyhow::Result<()> {
    let mut con = connect(&config.url).await?;
    let keys = &config.keys;
    let plan = wait_for_plan(&mut con, keys, config.wait_for_run).await?;
    info!(
        "joined run {} as {} (job timeout {:?}, at most {} attempts, {} jobs per read)",
        keys.run, config.name, plan.job_timeout, plan.max_attempts, config.batch
    );
    let _: usize = con.sadd(keys.workers(), &config.name).await?;
    // The checks that need not run per job: when idle, and on this timer when busy.
    let check_every =
        (plan.job_timeout / 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut checked: Option<Instant> = None;
    let mut idle = true;
    let mut taken = 0u32;
    loop {
        let mut entries = Vec::new();
        if idle || checked.is_none_or(|at| at.elapsed() >= check_every) {
            checked = Some(Instant::now());
            if run_is_over(&mut con, keys).await? {
                info!("the run is over (stop key set): exiting after {taken} jobs");
                return Ok(());
            }
            dead_letter_worn_out(&mut con, keys, &plan).await?;
            match claim(&mut con, keys, &config.name, &plan, config.batch).await {
                Ok(claimed) => entries = claimed,
                Err(e) if run_is_gone(&e) => return ended_or_vanished(&mut con, keys, taken).await,
                Err(e) => return Err(e.into()),
            }
        }
        if entries.is_empty() {
            let read: redis::RedisResult<Option<StreamReadReply>> = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg(&config.name)
                .arg("COUNT")
                .arg(config.batch)
                .arg("BLOCK")
                .arg(BLOCK.as_millis() as u64)
                .arg("STREAMS")
                .arg(keys.jobs())
                .arg(">")
                .query_async(&mut con)
                .await;
            match read {
                Ok(reply) => {
                    entries = reply
                        .into_iter()
                        .flat_map(|r| r.keys)
                        .flat_map(|k| k.ids)
                        .collect()
                }
                Err(e) if run_is_gone(&e) => return ended_or_vanished(&mut con, keys, taken).await,
                Err(e) => return Err(e.into()),
            }
        }
        idle = entries.is_empty();
        let mut todo = Vec::new();
        for entry in entries {
            let Some(job) = parse_job(&entry, plan.jobs) else {
                skip_foreign(&mut con, keys, &entry).await?;
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
            todo.push((entry.id, job, config.crash_on_job == Some(taken)));
        }
        if todo.is_empty() {
            continue;
        }
        let counted = count_batch(todo).await?;
        if !record(&mut con, keys, &config, &counted).await? {
            return Ok(());
        }
    }
}

/// The counting of a whole batch, on the blocking pool in one trip (the runtime thread stays free).
async fn count_batch(todo: Vec<(String, Job, bool)>) -> anyhow::Result<Vec<(String, Job, u64)>> {
    tokio::task::spawn_blocking(move || {
        let mut counted = Vec::with_capacity(todo.len());
        for (entry, job, crash) in todo {
            if crash {
                // Half the work, then gone without a word: the entry stays in the pending list.
                count_primes(job.start, job.start + (job.end - job.start) / 2);
                warn!(
                    "job {}: crashing half-way on purpose (--crash-on-job)",
                    job.id
                );
                std::process::exit(crate::worker::CRASH_EXIT_CODE);
            }
            counted.push((entry, job, count_primes(job.start, job.end)));
        }
        counted
    })
    .await
    .context("the count panicked")
}

/// The results and the acknowledgements in one server-side step (see [`RECORD`]): they land
/// together or not at all, and never once the run is over. False: the run is over.
async fn record(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    config: &WorkerConfig,
    counted: &[(String, Job, u64)],
) -> anyhow::Result<bool> {
    let mut eval = redis::cmd("EVAL");
    eval.arg(RECORD)
        .arg(5)
        .arg(keys.stop())
        .arg(keys.jobs())
        .arg(keys.done())
        .arg(keys.tally())
        .arg(keys.results())
        .arg(GROUP)
        .arg(&config.name);
    for (entry, job, primes) in counted {
        eval.arg(job.id).arg(primes).arg(entry);
    }
    // Twice in one round trip (a retry right behind the lost reply), so that the coordinator cannot
    // end the run in between: the second must find every job recorded.
    let mut pipe = redis::pipe();
    pipe.add_command(eval.clone());
    if config.record_twice {
        pipe.add_command(eval);
    }
    let replies: Vec<Vec<i64>> = pipe.query_async(con).await?;
    for reply in replies {
        match reply.first() {
            Some(-1) => {
                info!(
                    "{} results counted, but the run is over: dropped",
                    counted.len()
                );
                return Ok(false);
            }
            Some(-2) => bail!("{}", vanished(keys)),
            _ => {}
        }
        for ((_, job, primes), fresh) in counted.iter().zip(reply.get(1..).unwrap_or_default()) {
            if *fresh == 1 {
                info!("job {}: {primes} primes, recorded", job.id);
            } else {
                info!(
                    "job {}: {primes} primes, but a result was already recorded: kept the first",
                    job.id
                );
            }
        }
    }
    Ok(true)
}

/// Someone else's entry: out of the way, into the dead letters, never lost.
async fn skip_foreign(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    entry: &StreamId,
) -> anyhow::Result<()> {
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
        .xdel(keys.jobs(), &[&entry.id])
        .ignore()
        .query_async(con)
        .await?;
    Ok(())
}

async fn wait_for_plan(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    patience: Duration,
) -> anyhow::Result<Plan> {
    let deadline = Instant::now() + patience;
    loop {
        let plan: std::collections::HashMap<String, u64> = con.hgetall(keys.plan()).await?;
        if let (Some(&jobs), Some(&timeout), Some(&attempts)) = (
            plan.get("jobs"),
            plan.get("job_timeout_ms"),
            plan.get("max_attempts"),
        ) {
            return Ok(Plan {
                jobs,
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
