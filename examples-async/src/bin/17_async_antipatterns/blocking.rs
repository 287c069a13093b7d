//! # 17.1 · Blocking the runtime
//!
//! `std::thread::sleep` and a CPU loop inside an `async fn` hold the runtime's only thread: a
//! heartbeat task that should tick every 25 ms misses every tick for 300 ms (its longest gap is
//! printed). `tokio::time::sleep` and `spawn_blocking` keep it ticking. Upstream: the bad demos of
//! `src/python/asynchrony/asyncio_execution_model.py` (a CPU loop and `time.sleep` that freeze its
//! ticks).

use std::hint::black_box;
use std::time::Duration;

use common::fmt_duration;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How long each blocking call holds the thread (upstream Python: 3 s, scaled down).
pub const BLOCK: Duration = Duration::from_millis(300);
/// The heartbeat's period.
pub const TICK: Duration = Duration::from_millis(25);
/// How late a tick may come before the heartbeat logs a warning: generous (a loaded 2-core machine
/// can delay a ready thread by 100 ms), and still well under [`BLOCK`].
pub const LATE: Duration = Duration::from_millis(125);

/// The mistake: a blocking sleep in an `async fn`. The thread sleeps, and with it every task of
/// this runtime: nothing here gives the thread back, there is no `.await`.
pub async fn blocking_sleep_inline() {
    std::thread::sleep(BLOCK);
}

/// CPU work for `for_how_long` of wall time: sized by the clock rather than by a count, so that it
/// blocks as long in a debug build as in a release one. `black_box` keeps the loop from being
/// optimised away.
pub fn cpu_loop(for_how_long: Duration) -> u64 {
    let start = std::time::Instant::now();
    let mut sum = 0u64;
    let mut i = 0u64;
    while start.elapsed() < for_how_long {
        for _ in 0..1000 {
            sum = sum.wrapping_add(black_box(i).wrapping_mul(i));
            i += 1;
        }
    }
    sum
}

/// The same mistake with computation: an `async fn` with no `.await` runs to its end in one poll.
pub async fn cpu_loop_inline() -> u64 {
    cpu_loop(BLOCK)
}

/// Fix for the sleep: tokio's sleep registers a timer and gives the thread back until it fires.
pub async fn async_sleep() {
    sleep(BLOCK).await;
}

/// Fix for the CPU loop: it runs on tokio's blocking pool (another thread); this task waits at the
/// `.await`, and the runtime thread is free for the heartbeat.
pub async fn cpu_loop_on_blocking_pool() -> u64 {
    tokio::task::spawn_blocking(|| cpu_loop(BLOCK))
        .await
        .expect("the CPU loop does not panic")
}

/// What the heartbeat saw while some work ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heartbeat {
    pub ticks: u32,
    pub longest_gap: Duration,
}

impl Heartbeat {
    /// The verdict's line: a blocked thread misses every tick for at least the whole [`BLOCK`], on
    /// any machine; a free one gets the thread back long before, even on a loaded machine (where a
    /// gap of `TICK + LATE` is already rare). So the verdict does not flip with the load.
    pub fn kept_time(&self) -> bool {
        self.longest_gap < BLOCK
    }

    pub fn verdict(&self) -> &'static str {
        if self.kept_time() {
            "kept time"
        } else {
            "froze"
        }
    }
}

/// Ticks every [`TICK`] until `stop`; records the longest gap between two ticks, and publishes
/// the count of ticks in `ticked`.
pub async fn heartbeat(stop: CancellationToken, ticked: watch::Sender<u32>) -> Heartbeat {
    let mut ticker = interval(TICK);
    // After a freeze, tick once and carry on (the default, `Burst`, fires the missed ticks at
    // once).
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seen = Heartbeat {
        ticks: 0,
        longest_gap: Duration::ZERO,
    };
    let mut last: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return seen,
            _ = ticker.tick() => {
                let now = Instant::now();
                seen.ticks += 1;
                let gap = last.map_or(Duration::ZERO, |last| now.duration_since(last));
                seen.longest_gap = seen.longest_gap.max(gap);
                if gap > TICK + LATE {
                    warn!(
                        "heartbeat {}: {} since the last tick, the runtime thread was blocked",
                        seen.ticks,
                        fmt_duration(gap)
                    );
                }
                last = Some(now);
                ticked.send_replace(seen.ticks);
            }
        }
    }
}

/// Runs `work` while a heartbeat ticks on the same runtime; returns what the heartbeat saw.
pub async fn with_heartbeat<T>(work: impl Future<Output = T>) -> Heartbeat {
    let stop = CancellationToken::new();
    let (ticked, mut ticks) = watch::channel(0);
    let beat = tokio::spawn(heartbeat(stop.clone(), ticked));
    // A tick before the work and one after it: the gap that spans the work lies between two ticks.
    // Waited for, not slept for: on a busy machine a `sleep(TICK)` may be over by its first poll,
    // and the work would start before the heartbeat had ticked at all.
    let running = "the heartbeat runs until stopped";
    ticks.wait_for(|&n| n >= 1).await.expect(running);
    black_box(work.await);
    let after_work = *ticks.borrow_and_update();
    ticks.wait_for(|&n| n > after_work).await.expect(running);
    stop.cancel();
    beat.await.expect("the heartbeat does not panic")
}

/// The four runs of section 1, in order: sleep inline, CPU inline, async sleep, blocking pool.
pub async fn blocking_the_runtime() -> [(&'static str, Heartbeat); 4] {
    info!("--- 1. blocking the runtime: std::thread::sleep in an async fn ---");
    let sleep_inline = with_heartbeat(blocking_sleep_inline()).await;
    info!("--- 1. blocking the runtime: a CPU loop in an async fn ---");
    let cpu_inline = with_heartbeat(cpu_loop_inline()).await;
    info!("--- 1. fixed: tokio::time::sleep, and the CPU loop on spawn_blocking ---");
    let sleep_async = with_heartbeat(async_sleep()).await;
    let cpu_pool = with_heartbeat(cpu_loop_on_blocking_pool()).await;
    [
        ("std::thread::sleep in an async fn", sleep_inline),
        ("CPU loop in an async fn", cpu_inline),
        ("fix, tokio::time::sleep", sleep_async),
        ("fix, spawn_blocking", cpu_pool),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    // 1. Blocking is a real-clock claim: on the paused clock the blocked thread would not even
    // move the clock. Bounds: a blocked thread misses every tick for the whole block (at least
    // BLOCK, on any machine); a free one keeps its gaps well under BLOCK even when busy.
    #[tokio::test(flavor = "current_thread")]
    async fn blocking_calls_freeze_the_heartbeat_and_the_fixes_do_not() {
        let [sleep_inline, cpu_inline, sleep_async, cpu_pool] = blocking_the_runtime().await;
        for (label, beat) in [sleep_inline, cpu_inline] {
            assert!(beat.longest_gap >= BLOCK, "{label}: {beat:?}");
            assert!(!beat.kept_time(), "{label}");
        }
        for (label, beat) in [sleep_async, cpu_pool] {
            assert!(beat.longest_gap < BLOCK, "{label}: {beat:?}");
            assert!(beat.ticks >= 3, "{label}: {beat:?}");
        }
    }
}
