//! A pipeline of threads: source -> filter -> transform -> enrich -> sink, each stage a thread that
//! loops `for chunk in rx` and `send`s on, joined by `sync_channel(BOUND)`s. The enrich stage runs up
//! to 3 lookups at once, two ways: a window of 3 lookup threads joined in the order they started
//! (order kept, the twin of `buffered(3)`), or 3 worker threads sharing the input behind a `Mutex`
//! (finish order, the twin of `buffer_unordered(3)`).
//!
//! An error in the middle stage: the transform rejects chunk 6, sends the error on in its place and
//! returns. Returning drops its receiver and its sender: the filter's next `send` fails, so it
//! returns and drops its own receiver, and the source's `send` fails; downstream, the sink stops at
//! the error and drops its receiver, so the enrich stage's `send` fails. Every thread ends, each
//! stage's `Drop` runs once (counted), and a source of 1000 chunks stops after at most what the
//! channels between it and the transform can hold. A lookup that has started cannot be cancelled
//! from outside, so the window's threads run to their end after the error (the async twin drops its
//! in-flight lookups); their results are thrown away.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::stages::{
    Chunk, Counted, DropCounts, Gauge, Item, PipelineError, PipelineRun, Stage, StageName, Window,
};
use crate::{BOUND, panicked, produce, spawn_stage};

/// The lookup itself. A failed chunk passes through as its error.
pub fn enrich(chunk: Item, takes: Duration) -> Item {
    let mut chunk = chunk?;
    thread::sleep(takes);
    chunk.data.push_str(" (enriched)");
    Ok(chunk)
}

/// The filter stage: passes on the even chunks. Ends when its input ends or its output is gone.
pub fn filter(input: Counted<'_>, tx: SyncSender<u32>, mut stage: Stage) {
    for id in input {
        stage.saw();
        if id % 2 == 0 && tx.send(id).is_err() {
            info!("filter: the next stage is gone, stopping");
            return;
        }
    }
}

/// The transform stage, the one that fails: on a corrupt chunk it sends the error on in the chunk's
/// place (so the sink learns of it, in order) and returns. Returning drops `rx`, which makes the
/// filter's next `send` fail: the stop travels upstream.
pub fn transform(rx: Receiver<u32>, tx: SyncSender<Item>, fail_at: Option<u32>, mut stage: Stage) {
    for id in rx {
        stage.saw();
        if Some(id) == fail_at {
            warn!("transform: chunk {id} is corrupt");
            let _ = tx.send(Err(PipelineError(format!(
                "transform failed at chunk {id}"
            ))));
            return;
        }
        let chunk = Chunk {
            id,
            data: format!("chunk-{id}"),
        };
        if tx.send(Ok(chunk)).is_err() {
            return;
        }
    }
}

/// The enrich stage, order kept: a window of up to `n` lookup threads. When it is full, the oldest
/// is joined and its result handed on before the next chunk is taken, as `buffered(n)` does.
pub fn enrich_ordered(
    rx: Receiver<Item>,
    tx: SyncSender<Item>,
    n: usize,
    lookup: fn(u32) -> Duration,
    mut stage: Stage,
) -> anyhow::Result<()> {
    thread::scope(|s| {
        let mut window = VecDeque::new();
        let mut input = rx.into_iter();
        loop {
            let next = if window.len() < n { input.next() } else { None };
            match next {
                Some(chunk) => {
                    stage.saw();
                    let takes = chunk
                        .as_ref()
                        .map_or(Duration::ZERO, |c: &Chunk| lookup(c.id));
                    window.push_back(spawn_stage(s, "lookup", move || enrich(chunk, takes))?);
                }
                None => {
                    // The window is full, or the input has ended: hand on the oldest.
                    let Some(oldest) = window.pop_front() else {
                        return Ok(());
                    };
                    let done = oldest.join().map_err(|_| panicked("lookup"))?;
                    if tx.send(done).is_err() {
                        info!("enrich: the sink is gone, stopping");
                        // The lookups still running cannot be cancelled: the scope waits for them.
                        return Ok(());
                    }
                }
            }
        }
    })
}

/// The enrich stage, finish order: `n` workers share the input (std's `Receiver` has one owner, so
/// behind a `Mutex`, held only while taking a chunk) and each hands on what it finished.
pub fn enrich_unordered(
    rx: Receiver<Item>,
    tx: SyncSender<Item>,
    n: usize,
    lookup: fn(u32) -> Duration,
    stage: Stage,
) -> anyhow::Result<()> {
    let rx = Mutex::new(rx);
    let stage = Mutex::new(stage);
    thread::scope(|s| {
        for w in 0..n {
            let (rx, tx, stage) = (&rx, tx.clone(), &stage);
            spawn_stage(s, &format!("enrich-{w}"), move || {
                loop {
                    // The guard is a temporary of this statement: the lock is released before the lookup.
                    let Ok(chunk) = rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()))
                    else {
                        return;
                    };
                    if let Ok(mut stage) = stage.lock() {
                        stage.saw();
                    }
                    let takes = chunk
                        .as_ref()
                        .map_or(Duration::ZERO, |c: &Chunk| lookup(c.id));
                    if tx.send(enrich(chunk, takes)).is_err() {
                        return;
                    }
                }
            })?;
        }
        Ok(())
    })
}

/// source -> filter -> transform -> enrich -> sink, a thread each (the sink on the caller's thread),
/// joined by `sync_channel(BOUND)`s.
pub fn pipeline(
    chunks: u32,
    fail_at: Option<u32>,
    window: Window,
    lookup: fn(u32) -> Duration,
) -> anyhow::Result<PipelineRun> {
    let start = Instant::now();
    let drops = Arc::new(DropCounts::default());
    let gauge = Gauge::default();
    let (source_tx, source_rx) = mpsc::sync_channel(BOUND);
    let (filter_tx, filter_rx) = mpsc::sync_channel(BOUND);
    let (transform_tx, transform_rx) = mpsc::sync_channel(BOUND);
    let (enrich_tx, enrich_rx) = mpsc::sync_channel(BOUND);
    thread::scope(|s| {
        let gauge = &gauge;
        let stage = |name| Stage::new(name, &drops);
        let (source_stage, filter_stage) = (stage(StageName::Source), stage(StageName::Filter));
        let (transform_stage, enrich_stage) =
            (stage(StageName::Transform), stage(StageName::Enrich));
        let source = spawn_stage(s, "source", move || {
            produce(source_tx, chunks, Duration::ZERO, source_stage, gauge)
        })?;
        let input = Counted {
            rx: source_rx,
            gauge,
        };
        spawn_stage(s, "filter", move || filter(input, filter_tx, filter_stage))?;
        spawn_stage(s, "transform", move || {
            transform(filter_rx, transform_tx, fail_at, transform_stage)
        })?;
        let enrich = spawn_stage(s, "enrich", move || match window {
            Window::Ordered(n) => enrich_ordered(transform_rx, enrich_tx, n, lookup, enrich_stage),
            Window::Unordered(n) => {
                enrich_unordered(transform_rx, enrich_tx, n, lookup, enrich_stage)
            }
        })?;

        // The sink, on this thread: until the input ends or brings an error.
        let mut sink = stage(StageName::Sink);
        let mut delivered = Vec::new();
        let mut error = None;
        for chunk in enrich_rx {
            match chunk {
                Ok(chunk) => {
                    sink.saw();
                    info!("sink: got {}", chunk.data);
                    delivered.push(chunk.id);
                }
                Err(e) => {
                    warn!("sink: {}; ending the pipeline", e.0);
                    error = Some(e);
                    break;
                }
            }
        }
        // Leaving the loop dropped `enrich_rx` (the `for` owned it): the enrich stage's next send
        // fails. The sink cleans up; the other threads end on their own, joined here.
        drop(sink);
        let produced = source.join().map_err(|_| panicked("source"))?;
        enrich.join().map_err(|_| panicked("enrich"))??;
        Ok((delivered, error, produced))
    })
    .map(|(delivered, error, produced)| PipelineRun {
        delivered,
        error,
        produced,
        peak_queue: gauge.peak.load(Ordering::SeqCst),
        drops: drops.snapshot(),
        took: start.elapsed(),
    })
}
