//! The coordinator of broker mode: publish, then collect. Not in the path of any job.
//!
//! Both halves cost the same per job at any size. Publishing: [`CHUNK`] jobs per round trip, in
//! one server-side step with the counter, and never more than [`super::WINDOW`] ahead of the
//! results, so the stream stays small. Collecting: the workers append each fresh result to a
//! stream, and the coordinator reads it with a blocking `XREAD` from the last id it saw (no
//! re-reading of everything), then trims what it has read. Each job id counts once: the `done`
//! bitmap the workers set, and a bitmap here for what this coordinator has heard.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use redis::streams::StreamPendingReply;
use redis::{Commands, Connection};
use tracing::info;

use super::collect::{Heard, collect};
use super::report::{Summary, peak_rss};
use super::{BLOCK, GROUP, Keys, POLL, Seen, WINDOW, connect, job_of, one_line, vanished};
use crate::protocol::{MAX_END, count_primes};

/// Jobs per publishing round trip.
const CHUNK: u32 = 1000;
/// How a coordinator publishes a chunk, in one step with the counter: one killed between two
/// chunks leaves a counter that matches the stream, so its successor publishes neither twice nor
/// not. A stream that is gone is a run that vanished (-1): publishing would recreate it.
const PUBLISH: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
for i = 1, #ARGV, 3 do
  redis.call('XADD', KEYS[1], '*', 'job', ARGV[i], 'start', ARGV[i + 1], 'end', ARGV[i + 2])
end
return redis.call('INCRBY', KEYS[2], #ARGV / 3)
";

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
    /// Recount every prime here at the end (the demo does; a million jobs would take long).
    pub verify: bool,
}

/// A server that dies mid-run is one line naming it, not a bare "broken pipe".
pub fn coordinator(config: CoordinatorConfig) -> anyhow::Result<ExitCode> {
    let url = config.url.clone();
    run_coordinator(config)
        .with_context(|| format!("coordinator: Redis at {url}"))
        .map_err(one_line)
}

fn run_coordinator(config: CoordinatorConfig) -> anyhow::Result<ExitCode> {
    let below = u64::from(config.jobs) * config.job_size;
    ensure!(
        below <= MAX_END,
        "--jobs x --job-size is {below}, above the {MAX_END} numbers a worker accepts"
    );
    let mut con = connect(&config.url)?;
    let keys = &config.keys;

    // The group first (MKSTREAM creates the stream): a worker reading before any job exists then
    // simply waits. BUSYGROUP means a coordinator of this run was here before: we resume.
    let created: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(keys.jobs())
        .arg(GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query(&mut con);
    if let Err(e) = created
        && e.code() != Some("BUSYGROUP")
    {
        return Err(e).context("cannot create the consumer group");
    }
    // A stop key left by an earlier run of this name (it lasts a minute) would end our workers at
    // once: this run is not over.
    let () = redis::pipe()
        .atomic()
        .del(keys.stop())
        .ignore()
        .hset_multiple(
            keys.plan(),
            &[
                ("jobs", u64::from(config.jobs)),
                ("job_timeout_ms", config.job_timeout.as_millis() as u64),
                ("max_attempts", u64::from(config.max_attempts)),
            ],
        )
        .ignore()
        .query(&mut con)?;
    wait_for_workers(&mut con, &config)?;

    let published: Option<u32> = con.get(keys.published())?;
    let already = published.unwrap_or(0).min(config.jobs);
    let done: Vec<u8> = con.get(keys.done())?;
    let mut heard = Heard {
        seen: Seen::new(done, config.jobs),
        failed: BTreeMap::new(),
        last_result: "0-0".into(),
        last_dead: "0-0".into(),
        last_news: Instant::now(),
    };
    if already > 0 {
        info!(
            "resuming run {}: {already} jobs already published, {} results already in Redis",
            keys.run,
            heard.seen.len()
        );
    }
    let started = Instant::now();
    let mut published = already;
    let mut last_result = started;
    if published == config.jobs {
        info!(
            "published 0 new jobs to {} ({already} were there already); collecting results",
            keys.jobs()
        );
    }
    loop {
        // Publish while the window has room: the stream never holds more than WINDOW jobs.
        let outstanding = published - heard.seen.len().min(published) - heard.failed.len() as u32;
        let room = WINDOW
            .saturating_sub(outstanding)
            .min(CHUNK)
            .min(config.jobs - published);
        if room > 0 {
            publish(
                &mut con,
                keys,
                published + 1..=published + room,
                config.job_size,
            )?;
            published += room;
            if published == config.jobs {
                info!(
                    "published {} new jobs to {} ({already} were there already); collecting results",
                    config.jobs - already,
                    keys.jobs()
                );
            }
        }
        // Block only when there is nothing left to publish right now.
        let block = (published == config.jobs || room == 0).then_some(BLOCK / 2);
        let news = collect(&mut con, keys, &mut heard, config.jobs, block)?;
        if news > 0 {
            last_result = Instant::now();
        }
        heard.failed.retain(|id, _| !heard.seen.contains(*id));
        if heard.seen.len() as usize + heard.failed.len() >= config.jobs as usize {
            break;
        }
        if heard.last_news.elapsed() > config.patience {
            bail!(
                "no result for {:?} ({}/{} jobs done): are the workers running? \
                 (start one with: worker --broker {} --run-id {})",
                config.patience,
                heard.seen.len(),
                config.jobs,
                config.url,
                keys.run
            );
        }
    }
    let busy = last_result.duration_since(started);

    // The run is over: tell the workers (the stop key, with an expiry: the only key left, for a
    // minute), read the tally, and delete the rest of this run's keys, all in one step.
    let (tally, pending): (HashMap<String, String>, StreamPendingReply) = redis::pipe()
        .atomic()
        .set_ex(keys.stop(), 1, 60)
        .ignore()
        .hgetall(keys.tally())
        .cmd("XPENDING")
        .arg(keys.jobs())
        .arg(GROUP)
        .del(keys.all())
        .ignore()
        .query(&mut con)?;

    let local = if config.verify {
        Some(count_primes(0, below))
    } else {
        None
    };
    let summary = Summary::new(
        config.jobs,
        &tally,
        heard.failed,
        pending.count(),
        config.max_attempts,
        below,
        busy,
    );
    summary.print(local, peak_rss());
    Ok(if summary.ok(local) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn wait_for_workers(con: &mut Connection, config: &CoordinatorConfig) -> anyhow::Result<()> {
    let since = Instant::now();
    loop {
        let joined: usize = con.scard(config.keys.workers())?;
        if joined >= config.min_workers as usize {
            return Ok(());
        }
        if since.elapsed() > config.patience {
            bail!(
                "only {joined} of --min-workers {} joined within {:?}",
                config.min_workers,
                config.patience
            );
        }
        sleep(POLL);
    }
}

fn publish(
    con: &mut Connection,
    keys: &Keys,
    ids: std::ops::RangeInclusive<u32>,
    job_size: u64,
) -> anyhow::Result<()> {
    let mut eval = redis::cmd("EVAL");
    eval.arg(PUBLISH)
        .arg(2)
        .arg(keys.jobs())
        .arg(keys.published());
    for job in ids.map(|id| job_of(id, job_size)) {
        eval.arg(job.id).arg(job.start).arg(job.end);
    }
    let counter: i64 = eval.query(con)?;
    if counter < 0 {
        bail!("{}", vanished(keys));
    }
    Ok(())
}
