//! Step 4: a group of threads. Three workers wait between chunks with `recv_timeout` on a crossbeam
//! channel; dropping the sender disconnects every receiver at once (the thread version of a
//! `CancellationToken` with child tokens), so they stop within a few ms. Three more do 100 ms
//! blocking steps and check an `AtomicBool` between them: they stop up to one step late
//! (measured). Every worker holds a guard whose `Drop` counts, made when the worker starts and
//! dropped when its function returns: held while it runs (counted at the cancel), and all dropped,
//! none leaked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tracing::info;

use crate::ms;

/// How many guards were made and how many dropped: equal once every thread has stopped.
#[derive(Debug, Default)]
pub(crate) struct GuardCounts {
    pub(crate) made: AtomicUsize,
    pub(crate) dropped: AtomicUsize,
}

impl GuardCounts {
    /// Guards alive now: made and not yet dropped.
    pub(crate) fn held(&self) -> usize {
        self.made.load(Ordering::SeqCst) - self.dropped.load(Ordering::SeqCst)
    }
}

/// Stands for what a worker must release however it stops. On a thread it is dropped when the
/// worker's function returns (or unwinds): the thread has to get there first.
pub(crate) struct Guard<'a>(&'a GuardCounts);

impl Guard<'_> {
    pub(crate) fn new(counts: &GuardCounts) -> Guard<'_> {
        counts.made.fetch_add(1, Ordering::SeqCst);
        Guard(counts)
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

pub(crate) const CHUNK: Duration = ms(100);
pub(crate) const WORKERS: usize = 3;
pub(crate) const GROUP_STOP: Duration = ms(250);

/// Waits chunk after chunk on the group's channel, which never carries a message: the wait ends
/// with a timeout (a chunk done) or with a disconnection (the group was cancelled).
pub(crate) fn waiting_worker(
    id: usize,
    chunk: Duration,
    cancel: crossbeam_channel::Receiver<()>,
    counts: &GuardCounts,
) -> (usize, Instant) {
    let _guard = Guard::new(counts);
    let mut chunks = 0;
    loop {
        match cancel.recv_timeout(chunk) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => chunks += 1,
            _ => {
                info!("worker {id}: cancelled after {chunks} chunks");
                return (chunks, Instant::now());
            }
        }
    }
}

/// Does 100 ms blocking steps (`thread::sleep` standing in for a computation or a blocking call)
/// and checks the flag between them: it can only stop at a step's end.
pub(crate) fn stepping_worker(
    id: usize,
    step: Duration,
    stop: &AtomicBool,
    counts: &GuardCounts,
) -> (usize, Instant) {
    let _guard = Guard::new(counts);
    let mut steps = 0;
    while !stop.load(Ordering::SeqCst) {
        thread::sleep(step);
        steps += 1;
    }
    info!("worker {id}: saw the flag after {steps} steps");
    (steps, Instant::now())
}

#[derive(Debug)]
pub(crate) struct GroupFigures {
    pub(crate) by_channel_stopped: usize,
    /// From the cancel to the last worker stopped.
    pub(crate) by_channel_latency: Duration,
    pub(crate) by_flag_stopped: usize,
    pub(crate) by_flag_latency: Duration,
    /// From the start to the last worker of each group stopped.
    pub(crate) by_channel_stopped_at: Duration,
    pub(crate) by_flag_stopped_at: Duration,
    /// Guards alive just before the cancel: one per running worker if each holds its guard for as
    /// long as it runs (a worker not yet started on a loaded machine has none yet).
    pub(crate) guards_held_at_stop: usize,
    pub(crate) guards_made: usize,
    pub(crate) guards_dropped: usize,
}

/// Starts both groups, doing `chunk`-long waits or steps, and cancels both after `stop_after`.
pub(crate) fn demo_group(chunk: Duration, stop_after: Duration) -> anyhow::Result<GroupFigures> {
    info!("--- 4. 3 waiting workers cancelled by closing a channel, 3 stepping ones by a flag ---");
    let start = Instant::now();
    let counts = GuardCounts::default();
    let stop = AtomicBool::new(false);
    let (cancel, cancelled) = crossbeam_channel::bounded::<()>(0);
    let (stopped, cancel_at, guards_held_at_stop) = thread::scope(|s| -> anyhow::Result<_> {
        let mut waiting = Vec::new();
        let mut stepping = Vec::new();
        for id in 0..WORKERS {
            let (cancelled, counts) = (cancelled.clone(), &counts);
            waiting.push(
                thread::Builder::new()
                    .name(format!("worker-{id}"))
                    .spawn_scoped(s, move || waiting_worker(id, chunk, cancelled, counts))?,
            );
        }
        for id in WORKERS..2 * WORKERS {
            let (stop, counts) = (&stop, &counts);
            stepping.push(
                thread::Builder::new()
                    .name(format!("worker-{id}"))
                    .spawn_scoped(s, move || stepping_worker(id, chunk, stop, counts))?,
            );
        }
        drop(cancelled); // the workers hold their clones
        thread::sleep(stop_after);
        let guards_held_at_stop = counts.held();
        let cancel_at = Instant::now();
        // Both signals at the same instant: one for each group.
        drop(cancel);
        stop.store(true, Ordering::SeqCst);
        let join = |handles: Vec<thread::ScopedJoinHandle<'_, (usize, Instant)>>| {
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow::anyhow!("a worker panicked")))
                .collect::<anyhow::Result<Vec<_>>>()
        };
        Ok((
            (join(waiting)?, join(stepping)?),
            cancel_at,
            guards_held_at_stop,
        ))
    })?;
    let last_since = |group: &[(usize, Instant)], since: Instant| {
        group
            .iter()
            .map(|(_, at)| at.saturating_duration_since(since))
            .max()
            .unwrap_or_default()
    };
    let (by_channel, by_flag) = stopped;
    Ok(GroupFigures {
        by_channel_stopped: by_channel.len(),
        by_channel_latency: last_since(&by_channel, cancel_at),
        by_flag_stopped: by_flag.len(),
        by_flag_latency: last_since(&by_flag, cancel_at),
        by_channel_stopped_at: last_since(&by_channel, start),
        by_flag_stopped_at: last_since(&by_flag, start),
        guards_held_at_stop,
        guards_made: counts.made.load(Ordering::SeqCst),
        guards_dropped: counts.dropped.load(Ordering::SeqCst),
    })
}
