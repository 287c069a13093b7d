//! The heartbeat: the main thread itself, ticking every [`TICK`] while the work runs on a
//! `cruncher` thread, and recording the longest gap between two ticks. It sleeps in
//! `Receiver::recv_timeout`: it wakes every tick, or at once when the work is done. The OS preempts
//! busy threads, so it keeps time even with every core busy: a gap longer than the tick plus a whole
//! call would be a freeze (the async twin's heartbeat is a task, and freezes behind CPU work).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use common::{fmt_duration, time};
use tracing::{info, warn};

use super::TICK;
use super::report::AtOnce;

/// What the heartbeat saw, and the most slices that ran at once meanwhile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heartbeat {
    pub ticks: u32,
    pub longest_gap: Duration,
    pub calls_at_once: usize,
}

/// Runs `work` on a `cruncher` thread while this thread keeps a heartbeat every [`TICK`]; returns
/// the work's output, what the heartbeat saw (and how many calls ran at once) and how long the
/// work took.
pub fn with_heartbeat<T: Send>(
    work: impl FnOnce() -> T + Send,
) -> anyhow::Result<(T, Heartbeat, Duration)> {
    AtOnce::reset();
    let (done_tx, done_rx) = mpsc::channel();
    thread::scope(|scope| {
        let cruncher = thread::Builder::new()
            .name("cruncher".into())
            .spawn_scoped(scope, move || {
                // Fails only if the heartbeat is gone, and then nobody wants the result.
                let _ = done_tx.send(time(work));
            })?;

        let mut seen = Heartbeat {
            ticks: 1,
            longest_gap: Duration::ZERO,
            calls_at_once: 0,
        };
        info!("heartbeat 1");
        let mut last = Instant::now();
        loop {
            // Sleeps until the next tick is due, or wakes at once when the result arrives.
            let until_tick = (last + TICK).saturating_duration_since(Instant::now());
            match done_rx.recv_timeout(until_tick) {
                Ok((output, took)) => {
                    seen.calls_at_once = AtOnce::most();
                    return Ok((output, seen, took));
                }
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    let gap = now - last;
                    seen.ticks += 1;
                    seen.longest_gap = seen.longest_gap.max(gap);
                    if gap > TICK * 2 {
                        warn!(
                            "heartbeat {}: {} since the last tick, the main thread was kept waiting",
                            seen.ticks,
                            fmt_duration(gap)
                        );
                    } else {
                        info!("heartbeat {}", seen.ticks);
                    }
                    last = now;
                }
                // The cruncher ended without sending: it panicked. Joining it turns the panic into
                // an error (and keeps `thread::scope` from panicking on our behalf).
                Err(RecvTimeoutError::Disconnected) => {
                    return match cruncher.join() {
                        Ok(()) => Err(anyhow!("the cruncher sent no result")),
                        Err(_) => Err(anyhow!("the cruncher thread panicked")),
                    };
                }
            }
        }
    })
}
