//! The stall detector and the runtime metrics. A `heartbeat` task stamps the time every 20 ms; a
//! `watchdog` thread (an OS thread, so it keeps running while the runtime is stuck) sees the stamps
//! stop, warns once the gap passes 200 ms, and reports the measured gap when they resume. The same
//! thread samples tokio's stable `Handle::metrics()` every 100 ms: `num_workers`, `num_alive_tasks`,
//! and `global_queue_depth`, the tasks spawned from outside the runtime's thread (or woken there)
//! that wait in its shared queue for a worker to pick them up: a queue that grows says the workers
//! cannot keep up, or are blocked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::fmt_duration;
use tokio::runtime::Handle;
use tracing::{info, warn};

use crate::{HEARTBEAT, SAMPLE_EVERY, WATCH_EVERY};

/// The runtime's pulse, written by the `heartbeat` task and read by the watchdog thread.
#[derive(Debug)]
pub struct Pulse {
    /// When the last beat happened, and how many there were.
    pub last: Instant,
    pub beats: u64,
    /// The gap before the last beat, and the longest between any two.
    pub last_gap: Duration,
    pub longest_gap: Duration,
}

/// A task that stamps the time every `HEARTBEAT`. It only runs if the runtime's thread is free to
/// poll it: when the stamps stop, the runtime is stuck.
pub async fn heartbeat(pulse: Arc<Mutex<Pulse>>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    // After a stall, one beat, then the normal rhythm: no burst of catch-up beats hiding the gap.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let mut p = pulse.lock().expect("the watchdog never panics holding it");
        p.last_gap = now - p.last;
        p.longest_gap = p.longest_gap.max(p.last_gap);
        p.last = now;
        p.beats += 1;
    }
}

/// One reading of tokio's stable runtime metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub workers: usize,
    pub alive_tasks: usize,
    pub global_queue: usize,
}

/// Reads the stable metrics of the runtime behind `handle` (callable from any thread).
pub fn sample(handle: &Handle) -> Sample {
    let m = handle.metrics();
    Sample {
        workers: m.num_workers(),
        alive_tasks: m.num_alive_tasks(),
        global_queue: m.global_queue_depth(),
    }
}

/// What the watchdog saw.
#[derive(Debug, Default)]
pub struct WatchReport {
    /// The measured gap of every stall it detected (one that had not ended when it was stopped
    /// counts up to then).
    pub stalls: Vec<Duration>,
    /// The longest gap between two heartbeats.
    pub longest_gap: Duration,
    pub samples: Vec<Sample>,
}

/// A heartbeat task on the runtime and a watchdog thread beside it.
pub struct Watchdog {
    pub stop: Arc<AtomicBool>,
    pub heartbeat: tokio::task::JoinHandle<()>,
    pub thread: thread::JoinHandle<WatchReport>,
}

impl Watchdog {
    /// Spawns the heartbeat on the runtime behind `handle` (it starts beating once the runtime runs)
    /// and the watchdog thread, which warns when no beat came for longer than `threshold`.
    pub fn start(handle: &Handle, threshold: Duration) -> anyhow::Result<Watchdog> {
        let pulse = Arc::new(Mutex::new(Pulse {
            last: Instant::now(),
            beats: 0,
            last_gap: Duration::ZERO,
            longest_gap: Duration::ZERO,
        }));
        let heartbeat = handle.spawn(heartbeat(pulse.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::Builder::new().name("watchdog".into()).spawn({
            let (handle, stop) = (handle.clone(), stop.clone());
            move || watch(&handle, &pulse, &stop, threshold)
        })?;
        Ok(Watchdog {
            stop,
            heartbeat,
            thread,
        })
    }

    /// Stops both and returns what the watchdog saw.
    pub fn stop(self) -> WatchReport {
        self.heartbeat.abort();
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or_default()
    }
}

/// The watchdog's loop: look at the pulse every `WATCH_EVERY`, sample metrics every `SAMPLE_EVERY`.
pub fn watch(
    handle: &Handle,
    pulse: &Mutex<Pulse>,
    stop: &AtomicBool,
    threshold: Duration,
) -> WatchReport {
    let mut report = WatchReport::default();
    let mut stalled_since_beat: Option<u64> = None;
    let mut next_sample = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        thread::sleep(WATCH_EVERY);
        let (beats, since_last, last_gap, longest_gap) = {
            let p = pulse.lock().expect("the heartbeat never panics holding it");
            (p.beats, p.last.elapsed(), p.last_gap, p.longest_gap)
        };
        report.longest_gap = longest_gap;
        // Only once the runtime has started beating: before that it is not stalled, just not running.
        match stalled_since_beat {
            None if beats > 0 && since_last > threshold => {
                warn!(
                    "runtime stalled: no heartbeat for {} (threshold {})",
                    fmt_duration(since_last),
                    fmt_duration(threshold)
                );
                stalled_since_beat = Some(beats);
            }
            Some(beat) if beats != beat => {
                warn!("runtime resumed after a {} gap", fmt_duration(last_gap));
                report.stalls.push(last_gap);
                stalled_since_beat = None;
            }
            _ => {}
        }
        if Instant::now() >= next_sample {
            let s = sample(handle);
            info!(
                "metrics: {} worker(s), {} alive tasks, global queue {}",
                s.workers, s.alive_tasks, s.global_queue
            );
            report.samples.push(s);
            next_sample += SAMPLE_EVERY;
        }
    }
    if stalled_since_beat.is_some() {
        let p = pulse.lock().expect("the heartbeat never panics holding it");
        report.stalls.push(p.last.elapsed());
    }
    report
}
