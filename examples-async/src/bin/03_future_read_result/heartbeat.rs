//! The heartbeat never misses a beat. Everything runs on one thread (`current_thread`), yet the
//! heartbeat ticks every 150 ms while `main` waits: awaiting gives the thread back. Its longest gap
//! is printed in the summary, with a verdict computed from it: a blocking wait would hold a tick
//! back (05 measures that), and the summary would say "the thread was blocked". The tests check
//! it on the real clock too: tokio's paused clock stands still while a thread is blocked.

use std::time::Duration;

use common::fmt_duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tracing::info;

/// The heartbeat's period (upstream: 0.5 s).
pub const HEARTBEAT: Duration = Duration::from_millis(150);
/// How late a tick may come and still count as on time: a busy machine keeps a thread that wakes
/// up waiting for a core, though rarely this long.
const BUSY_MACHINE: Duration = Duration::from_millis(100);

/// A task that logs a tick every `period` until told to stop, and returns when each tick happened.
pub struct Heartbeat {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<Duration>>,
}

impl Heartbeat {
    pub fn start(period: Duration) -> Self {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut ticks = Vec::new();
            let mut interval = interval_at(start + period, period);
            // After a stall, tick once and carry on: no burst of catch-up ticks hiding the gap.
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                // `select!` waits on both and runs the branch of whichever is ready first (15 and 16
                // teach it).
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = interval.tick() => {
                        // The time it actually ran, not the time it was due: a frozen thread shows.
                        ticks.push(start.elapsed());
                        info!("heartbeat {}", ticks.len());
                    }
                }
            }
            ticks
        });
        Heartbeat { stop, task }
    }

    /// Stops the heartbeat and returns the times of its ticks.
    pub async fn stop(self) -> anyhow::Result<Vec<Duration>> {
        let _ = self.stop.send(());
        Ok(self.task.await?)
    }
}

/// The heartbeat's verdict, from its longest gap: a thread that is blocked (a `std::thread::sleep`,
/// CPU work, a blocking read) holds back a tick due meanwhile until it is free again; a thread that
/// only awaits lets every tick come on time, or up to [`BUSY_MACHINE`] late when other programs
/// hold the cores. Later than that is a block. (A block shorter than a period may fall between two
/// ticks and go unseen: the real-clock test ticks every 10 ms, where none can.)
pub fn heartbeat_verdict(longest_gap: Duration, period: Duration) -> String {
    if longest_gap <= period + BUSY_MACHINE {
        "waiting never blocked the thread".to_string()
    } else {
        format!(
            "the thread was blocked: a tick came {} late",
            fmt_duration(longest_gap - period)
        )
    }
}

/// The longest time between two ticks (or before the first one).
pub fn longest_gap(ticks: &[Duration]) -> Duration {
    let mut previous = Duration::ZERO;
    let mut longest = Duration::ZERO;
    for &t in ticks {
        longest = longest.max(t - previous);
        previous = t;
    }
    longest
}
