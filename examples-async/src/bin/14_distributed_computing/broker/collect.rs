//! The coordinator's ear: one round trip trims the results it has read, checks that the run still
//! exists, and reads what is new from the last id it saw, so a result costs the same at the
//! millionth job as at the first. Each job id counts once ([`Seen`]); garbage is skipped.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamReadReply};
use tokio::time::Instant;
use tracing::{info, warn};

use super::{GROUP, Keys, Seen, field_string, field_u64, run_is_gone, vanished};

/// Results (and dead letters) taken per read.
const READ_COUNT: usize = 1000;

/// What the coordinator has heard so far.
pub struct Heard {
    pub seen: Seen,
    pub failed: BTreeMap<u32, String>,
    pub last_result: String,
    pub last_dead: String,
    pub last_news: Instant,
}

/// One round trip: trim the results read last time, check that the run still exists, and read
/// what is new in the results and dead-letter streams (blocking for `block` if nothing is). How
/// many new results it heard.
pub async fn collect(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    heard: &mut Heard,
    jobs: u32,
    block: Option<Duration>,
) -> anyhow::Result<usize> {
    let mut pipe = redis::pipe();
    if heard.last_result != "0-0" {
        pipe.cmd("XTRIM")
            .arg(keys.results())
            .arg("MINID")
            .arg(entry_after(&heard.last_result))
            .ignore();
    }
    // NOGROUP if the stream or its group is gone: the run vanished under us.
    pipe.cmd("XPENDING").arg(keys.jobs()).arg(GROUP).ignore();
    let read = pipe.cmd("XREAD").arg("COUNT").arg(READ_COUNT);
    if let Some(block) = block {
        read.arg("BLOCK").arg(block.as_millis() as u64);
    }
    read.arg("STREAMS")
        .arg(keys.results())
        .arg(keys.dead())
        .arg(&heard.last_result)
        .arg(&heard.last_dead);
    let reply: redis::RedisResult<(Option<StreamReadReply>,)> = pipe.query_async(con).await;
    let (reply,) = match reply {
        Ok(reply) => reply,
        Err(e) if run_is_gone(&e) => bail!("{}", vanished(keys)),
        Err(e) => return Err(e.into()),
    };
    let mut news = 0;
    for stream in reply.map(|r| r.keys).unwrap_or_default() {
        let is_results = stream.key == keys.results();
        for entry in &stream.ids {
            if is_results {
                heard.last_result.clone_from(&entry.id);
                news += usize::from(hear_result(heard, entry, jobs));
            } else {
                heard.last_dead.clone_from(&entry.id);
                hear_dead_letter(heard, entry, jobs);
            }
        }
    }
    Ok(news)
}

/// A result entry: `job`, `primes`, `worker`. Kept once by job id; garbage is logged and skipped
/// (the job stays pending and someone does it).
fn hear_result(heard: &mut Heard, entry: &StreamId, jobs: u32) -> bool {
    let id = field_u64(entry, "job").and_then(|id| u32::try_from(id).ok());
    let primes = field_u64(entry, "primes");
    let worker = field_string(entry, "worker");
    match (id, primes, worker) {
        (Some(id), Some(primes), Some(worker)) if (1..=jobs).contains(&id) => {
            let fresh = heard.seen.insert(id);
            if fresh {
                info!("result job {id} from {worker}: {primes} primes");
                heard.last_news = Instant::now();
            }
            fresh
        }
        _ => {
            warn!("skipping a garbage result {} {:?}", entry.id, entry.map);
            false
        }
    }
}

fn hear_dead_letter(heard: &mut Heard, entry: &StreamId, jobs: u32) {
    if let Some(id) = field_u64(entry, "job").and_then(|id| u32::try_from(id).ok())
        && (1..=jobs).contains(&id)
        && !heard.seen.contains(id)
        && !heard.failed.contains_key(&id)
    {
        let reason = field_string(entry, "reason").unwrap_or_default();
        warn!("job {id} is in the dead-letter stream: {reason}");
        heard.failed.insert(id, reason);
        heard.last_news = Instant::now();
    }
}

/// The id just after `id`: `XTRIM MINID <that>` deletes `id` and everything before it.
pub fn entry_after(id: &str) -> String {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    let (ms, seq): (u64, u64) = (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0));
    match seq.checked_add(1) {
        Some(seq) => format!("{ms}-{seq}"),
        None => format!("{}-0", ms + 1),
    }
}
