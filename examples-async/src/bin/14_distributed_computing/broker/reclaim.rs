//! A worker's checks that need not run per job (it runs them when idle, or on a timer): is the run
//! over, which entries wore out their attempts (to the dead letters), which were left by a worker
//! that died or went silent (`XAUTOCLAIM`: take them over). And what a vanished run means.

use anyhow::bail;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use tracing::{info, warn};

use super::worker::Plan;
use super::{GROUP, Keys, parse_job, run_is_gone, vanished};

/// The coordinator sets the stop key when every job is done.
pub async fn run_is_over(con: &mut MultiplexedConnection, keys: &Keys) -> anyhow::Result<bool> {
    Ok(con.exists(keys.stop()).await?)
}

/// The job stream or its group is gone. With the stop key, the coordinator cleaned up: the run
/// ended (exit 0). Without it, someone emptied the server (`FLUSHALL`, a restart without
/// persistence): the run vanished, which is not an end (exit 1, one line).
pub async fn ended_or_vanished(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    taken: u32,
) -> anyhow::Result<()> {
    if run_is_over(con, keys).await? {
        info!("the run is over (its stream is cleaned up): exiting after {taken} jobs");
        Ok(())
    } else {
        bail!("{}", vanished(keys))
    }
}

/// Up to `count` entries idle longer than the job timeout: their worker died or went silent, so
/// this one takes them over (the delivery counter goes up).
pub async fn claim(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    name: &str,
    plan: &Plan,
    count: u32,
) -> redis::RedisResult<Vec<StreamId>> {
    let claimed: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
        .arg(keys.jobs())
        .arg(GROUP)
        .arg(name)
        .arg(plan.job_timeout.as_millis() as u64)
        .arg("0-0")
        .arg("COUNT")
        .arg(count)
        .query_async(con)
        .await?;
    if !claimed.claimed.is_empty() {
        let _: u64 = con
            .hincr(keys.tally(), "claims", claimed.claimed.len())
            .await?;
    }
    for entry in &claimed.claimed {
        warn!(
            "claimed entry {} (idle past the job timeout: its worker died or went silent)",
            entry.id
        );
    }
    Ok(claimed.claimed)
}

/// Entries idle past the job timeout that have been delivered `max_attempts` times go to the
/// dead-letter stream instead of being claimed again. Whoever's `XACK` removes the entry (returns
/// 1) writes the dead letter, so two workers racing here write it once.
pub async fn dead_letter_worn_out(
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
            .and_then(|e| parse_job(e, plan.jobs));
        let id = job.map_or_else(|| "?".to_string(), |j| j.id.to_string());
        let reason = format!(
            "delivered {} times, never answered (last to {})",
            entry.times_delivered, entry.consumer
        );
        warn!("job {id}: {reason}: to the dead-letter stream");
        // The entry goes from the job stream too: nothing acknowledged stays there.
        let () = redis::pipe()
            .cmd("XADD")
            .arg(keys.dead())
            .arg("*")
            .arg("job")
            .arg(&id)
            .arg("entry")
            .arg(&entry.id)
            .arg("reason")
            .arg(&reason)
            .ignore()
            .xdel(keys.jobs(), &[&entry.id])
            .ignore()
            .query_async(con)
            .await?;
    }
    Ok(())
}

/// The id just before `id`, so that `XREAD ... <that>` returns the entry `id` first.
pub fn entry_before(id: &str) -> String {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    let (ms, seq): (u64, u64) = (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0));
    if seq > 0 {
        format!("{ms}-{}", seq - 1)
    } else {
        format!("{}-{}", ms.saturating_sub(1), u64::MAX)
    }
}
