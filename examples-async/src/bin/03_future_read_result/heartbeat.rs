//! The heartbeat never misses a beat. Everything runs on one thread (`current_thread`), yet the
//! heartbeat ticks every 150 ms while `main` waits: awaiting gives the thread back. Its longest gap
//! is printed in the summary, with a verdict computed from it: a blocking wait would hold a tick
//! back (05 measures that), and the summary would say "the thread was blocked". The tests check
//! it on the real clock too: tokio's paused clock stands still while a thread is blocked.
//!
//! A tick can also come late because the machine is busy: the thread was ready, but the OS ran
//! other programs on the cores. Linux counts that wait per thread (`/proc/thread-self/schedstat`),
//! so each tick notes it, and the verdict counts only the lateness that the wait does not explain.

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

/// One tick: when it ran, and how long since the tick before its thread was ready to run but
/// waited for a core (zero where the OS does not say: not Linux).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    pub at: Duration,
    pub waited_for_core: Duration,
}

/// A task that logs a tick every `period` until told to stop, and returns when each tick happened.
pub struct Heartbeat {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<Tick>>,
}

impl Heartbeat {
    pub fn start(period: Duration) -> Self {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut ticks = Vec::new();
            let mut waited_before = run_queue_wait();
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
                        let at = start.elapsed();
                        let waited = run_queue_wait();
                        let waited_for_core = waited.saturating_sub(waited_before);
                        waited_before = waited;
                        ticks.push(Tick { at, waited_for_core });
                        info!("heartbeat {}", ticks.len());
                    }
                }
            }
            ticks
        });
        Heartbeat { stop, task }
    }

    /// Stops the heartbeat and returns its ticks.
    pub async fn stop(self) -> anyhow::Result<Vec<Tick>> {
        let _ = self.stop.send(());
        Ok(self.task.await?)
    }
}

/// The heartbeat's verdict, from its longest gap less the time the thread waited for a core in it:
/// a thread that is blocked (a `std::thread::sleep`, CPU work, a blocking read) holds back a tick
/// due meanwhile until it is free again; a thread that only awaits lets every tick come on time, up
/// to [`BUSY_MACHINE`] late (timer and wake-up slack), plus whatever the OS kept it waiting for a
/// core. Later than that is a block. (A block shorter than a period may fall between two ticks and
/// go unseen: the real-clock test ticks every 10 ms, where none can.)
pub fn heartbeat_verdict(gap: Gap, period: Duration) -> String {
    let late = gap.unexplained().saturating_sub(period);
    if late <= BUSY_MACHINE {
        "waiting never blocked the thread".to_string()
    } else {
        format!(
            "the thread was blocked: a tick came {} late",
            fmt_duration(late)
        )
    }
}

/// A gap between two ticks (or before the first one), and how much of it the thread spent waiting
/// for a core.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gap {
    pub length: Duration,
    pub waited_for_core: Duration,
}

impl Gap {
    /// What the wait for a core does not explain.
    fn unexplained(&self) -> Duration {
        self.length.saturating_sub(self.waited_for_core)
    }
}

/// The gap that the wait for a core explains least: the one a block would show in.
pub fn longest_gap(ticks: &[Tick]) -> Gap {
    let mut previous = Duration::ZERO;
    let mut longest = Gap::default();
    for tick in ticks {
        let gap = Gap {
            length: tick.at - previous,
            waited_for_core: tick.waited_for_core,
        };
        if gap.unexplained() > longest.unexplained() {
            longest = gap;
        }
        previous = tick.at;
    }
    longest
}

/// How long the calling thread has been ready to run but waiting for a core, in all: the second
/// field of `/proc/thread-self/schedstat`, in nanoseconds. Zero where there is no such file (not
/// Linux, or a kernel without scheduler statistics): then every late tick counts.
fn run_queue_wait() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}
