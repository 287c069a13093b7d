//! The heartbeat: a task that ticks every [`TICK`] on the runtime thread and records the longest gap
//! between two ticks. It stands for everything else a program does meanwhile (answering requests,
//! reading input, drawing progress): a long gap is the time all of that stood still.

use std::time::Duration;

use common::{fmt_duration, time_async};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::TICK;
use super::report::AtOnce;

/// What the heartbeat saw, and the most calls that ran at once meanwhile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heartbeat {
    pub ticks: u32,
    pub longest_gap: Duration,
    pub calls_at_once: usize,
}

/// Ticks every [`TICK`] until `stop`, logging each tick and the gaps far past it.
pub async fn heartbeat(stop: CancellationToken) -> Heartbeat {
    let mut ticker = interval(TICK);
    // After a freeze, tick once and carry on from there (the default, `Burst`, would fire all the
    // missed ticks at once and hide the gap).
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seen = Heartbeat {
        ticks: 0,
        longest_gap: Duration::ZERO,
        calls_at_once: 0,
    };
    let mut last: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return seen,
            _ = ticker.tick() => {
                // `tick()` returns when the tick was due; a late tick is what we are measuring,
                // so read the clock.
                let now = Instant::now();
                seen.ticks += 1;
                let gap = last.map_or(Duration::ZERO, |last| now.duration_since(last));
                seen.longest_gap = seen.longest_gap.max(gap);
                if gap > TICK * 2 {
                    warn!(
                        "heartbeat {}: {} since the last tick, the runtime thread was blocked",
                        seen.ticks,
                        fmt_duration(gap)
                    );
                } else {
                    info!("heartbeat {}", seen.ticks);
                }
                last = Some(now);
            }
        }
    }
}

/// Runs `work` while a heartbeat task ticks on the same runtime; returns the work's output, what
/// the heartbeat saw (and how many calls ran at once) and how long the work took.
pub async fn with_heartbeat<T>(work: impl Future<Output = T>) -> (T, Heartbeat, Duration) {
    AtOnce::reset();
    let stop = CancellationToken::new();
    let beat = tokio::spawn(heartbeat(stop.clone()));
    // Let it tick once before the work starts, and once after it ends: the gap that spans the work
    // is then between two recorded ticks.
    sleep(TICK).await;
    let (output, took) = time_async(work).await;
    sleep(TICK).await;
    stop.cancel();
    let mut seen = beat.await.expect("the heartbeat does not panic");
    seen.calls_at_once = AtOnce::most();
    (output, seen, took)
}
