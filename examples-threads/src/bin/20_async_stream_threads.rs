//! # 20 · Streams with backpressure, with threads: stages joined by `sync_channel`, an error mid-way
//!
//! The same scenario as `examples-async/src/bin/20_async_stream/main.rs`, with a thread per stage and a
//! bounded `std::sync::mpsc::sync_channel` between each two: the threads' form of a stream pipeline.
//!
//! What it shows:
//! - **Backpressure:** the producer thread makes a chunk every 20 ms, the sink thread writes one in
//!   50 ms, the channel holds 2. `send` blocks the producer while the channel is full; its waits are
//!   counted beside the count worked out from the rates (4), the queue never holds more than 2, and
//!   the slow sink sets the pace (420 ms ideal).
//! - **A pipeline of threads:** source -> filter -> transform -> enrich -> sink, each stage a thread
//!   that loops `for chunk in rx` and `send`s on. The enrich stage runs up to 3 lookups at once, two
//!   ways: a window of 3 lookup threads joined in the order they started (order kept, the twin of
//!   `buffered(3)`), or 3 worker threads sharing the input behind a `Mutex` (finish order, the twin
//!   of `buffer_unordered(3)`). Each total beside its ideal.
//! - **An error in the middle stage:** the transform rejects chunk 6, sends the error on in its
//!   place and returns. Returning drops its receiver and its sender: the filter's next `send` fails,
//!   so it returns and drops its own receiver, and the source's `send` fails; downstream, the sink
//!   stops at the error and drops its receiver, so the enrich stage's `send` fails. Every thread
//!   ends, each stage's `Drop` runs once (counted), and a source of 1000 chunks stops after at most
//!   what the channels between it and the transform can hold.
//!
//! What differs from the async twin, and why:
//! - A blocked `send` holds a whole OS thread; a lookup that has started cannot be cancelled from
//!   outside, so the window's threads run to their end after the error (the async twin drops its
//!   in-flight lookups). They finish, and their results are thrown away.
//! - Each stage runs on its own thread, so stages work at the same time and fill the channels
//!   between them on their own; the async twin's stages move only when the sink pulls, one task for
//!   all. The bound on what the source makes past the error is therefore counted differently (every
//!   channel upstream of the transform here, the channel and the window there).
//! - std's channels have no `len()`: the queue length is counted by the reading side (sent minus
//!   taken, read just before each `recv`), which can lag the truth but never exceed it.
//!
//! Upstream: `src/js/asynchrony/20_async_stream.js`. Paging and prefetching with an iterator are
//! [12_async_generator_threads](12_async_generator_threads.rs)'s lesson, not repeated here.
//!
//! Run: `cargo run -p examples-threads --bin 20_async_stream_threads` (about 1.8 s; no flags but `--help`).
//!
//! The output will look similar to this (times vary by a few milliseconds):
//!
//! ```text
//!   0.000s  INFO [main] --- backpressure: a chunk every 20 ms into a channel of 2, a sink that writes one in 50 ms ---
//!   0.075s  INFO [sink] sink: wrote chunk 0
//!   0.105s  INFO [source] source: channel full (2 chunks), waiting to send chunk 4
//!   0.125s  INFO [sink] sink: wrote chunk 1
//!   0.145s  INFO [source] source: channel full (2 chunks), waiting to send chunk 5
//!   0.175s  INFO [sink] sink: wrote chunk 2
//!   ...
//!   1.394s  INFO [main] --- the transform fails at chunk 6, with a source of 1000 chunks ---
//!   1.394s  INFO [source] source: channel full (2 chunks), waiting to send chunk 2
//!   1.394s  INFO [source] source: channel full (2 chunks), waiting to send chunk 4
//!   1.394s  INFO [source] source: channel full (2 chunks), waiting to send chunk 9
//!   1.394s  WARN [transform] transform: chunk 6 is corrupt
//!   1.394s  INFO [transform] transform: cleaned up after 4 chunks
//!   1.394s  INFO [source] source: channel full (2 chunks), waiting to send chunk 10
//!   1.394s  INFO [source] source: channel full (2 chunks), waiting to send chunk 11
//!   1.394s  INFO [filter] filter: the next stage is gone, stopping
//!   1.394s  INFO [source] source: the pipeline is gone, stopping at chunk 11
//!   1.394s  INFO [source] source: cleaned up after 12 chunks
//!   1.394s  INFO [filter] filter: cleaned up after 9 chunks
//!   1.594s  INFO [main] sink: got chunk-0 (enriched)
//!   1.594s  INFO [main] sink: got chunk-2 (enriched)
//!   1.674s  INFO [enrich] enrich: cleaned up after 4 chunks
//!   1.674s  INFO [main] sink: got chunk-4 (enriched)
//!   1.675s  WARN [main] sink: transform failed at chunk 6; ending the pipeline
//!   1.675s  INFO [main] sink: cleaned up after 3 chunks
//!
//! Summary
//!   backpressure: 8/8 chunks written; the producer waited 4 times (ideal 4) for 110 ms; largest queue 2 (bound 2)
//!   backpressure: total 426 ms (ideal 420 ms: the slow sink sets the pace, one chunk made + 8 writes)
//!   window of 3 in order: [0, 2, 4, 6, 8, 10], order kept, 523 ms (ideal 520 ms)
//!   3 workers: [2, 6, 0, 4, 10, 8], finish order, 444 ms (ideal 440 ms)
//!   one lookup at a time would take 1080 ms
//!   the source's queue in the three pipelines: at most 2 chunks (bound 2: kept)
//!   error: transform failed at chunk 6; the sink got [0, 2, 4] first; the source made 12 of 1000 chunks, 5 past the failing one (bound 9: stopped)
//!   cleanup after the error: source 1, filter 1, transform 1, enrich 1, sink 1 (each stage once); every thread joined
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{fmt_duration, init_logging, out, parse_args, schedule};
use tracing::{info, warn};

/// Backpressure: chunks, the channel's bound, the producer's and the sink's pace (as the twin).
const CHUNKS: u32 = 8;
const BOUND: usize = 2;
const MAKE_EVERY: Duration = Duration::from_millis(20);
const WRITE_TAKES: Duration = Duration::from_millis(50);

/// The pipeline: a source of 12 chunks (6 pass the filter), the enrich stage's window.
const PIPELINE_CHUNKS: u32 = 12;
const WINDOW: usize = 3;
/// The error run: a long source, and the chunk the transform rejects.
const LONG_SOURCE: u32 = 1000;
const FAIL_AT: u32 = 6;

/// How long the lookup takes for chunk `id` (as the twin): 200, 40, 280, 80, 320, 160 ms, then again.
fn lookup_time(id: u32) -> Duration {
    const TIMES: [u64; 6] = [200, 40, 280, 80, 320, 160];
    Duration::from_millis(TIMES[(id as usize / 2) % TIMES.len()])
}

// --- The stages ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StageName {
    Source,
    Filter,
    Transform,
    Enrich,
    Sink,
}

impl StageName {
    fn label(self) -> &'static str {
        match self {
            StageName::Source => "source",
            StageName::Filter => "filter",
            StageName::Transform => "transform",
            StageName::Enrich => "enrich",
            StageName::Sink => "sink",
        }
    }
}

const STAGES: [StageName; 5] = [
    StageName::Source,
    StageName::Filter,
    StageName::Transform,
    StageName::Enrich,
    StageName::Sink,
];

/// What every stage owns (as the twin): a name, a count, and a `Drop` that stands for its cleanup.
/// Each stage's thread owns its value, so it is dropped when the thread's function returns, by
/// the end of its input, a failed `send` or an error alike.
struct Stage {
    name: StageName,
    seen: u32,
    drops: Arc<DropCounts>,
}

impl Stage {
    fn new(name: StageName, drops: &Arc<DropCounts>) -> Stage {
        Stage {
            name,
            seen: 0,
            drops: drops.clone(),
        }
    }

    fn saw(&mut self) {
        self.seen += 1;
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.drops.0[self.name as usize].fetch_add(1, Ordering::SeqCst);
        info!(
            "{}: cleaned up after {} chunks",
            self.name.label(),
            self.seen
        );
    }
}

#[derive(Default)]
struct DropCounts([AtomicUsize; 5]);

impl DropCounts {
    fn snapshot(&self) -> [usize; 5] {
        std::array::from_fn(|i| self.0[i].load(Ordering::SeqCst))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Chunk {
    id: u32,
    data: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PipelineError(String);

type Item = Result<Chunk, PipelineError>;

/// What the source measured.
#[derive(Debug, Default, Clone, PartialEq)]
struct Produced {
    /// Chunks taken from the source (the last may never have been sent: the channel closed).
    made: u32,
    waits: u32,
    waited: Duration,
}

/// The source's channel with its length counted: the source counts a chunk once `send` returns,
/// the reader counts what it took. Their difference, read by the reader just before each `recv`,
/// can only lag the queue's real length (the source may not have counted a chunk yet), never exceed it.
#[derive(Default)]
struct Gauge {
    sent: AtomicUsize,
    taken: AtomicUsize,
    peak: AtomicUsize,
}

/// The reading end of the source's channel as an iterator (the twin of `ReceiverStream`), measuring
/// the queue before each `recv`.
struct Counted<'g> {
    rx: Receiver<u32>,
    gauge: &'g Gauge,
}

impl Iterator for Counted<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let len = self
            .gauge
            .sent
            .load(Ordering::SeqCst)
            .saturating_sub(self.gauge.taken.load(Ordering::SeqCst));
        self.gauge.peak.fetch_max(len, Ordering::SeqCst);
        let id = self.rx.recv().ok()?;
        self.gauge.taken.fetch_add(1, Ordering::SeqCst);
        Some(id)
    }
}

/// The source stage: makes a chunk every `every` and sends it into the bounded channel. `send`
/// blocks this thread while the channel is full (backpressure); `try_send` first only to count the
/// waits. When the reader is gone, `send` fails and the source stops making chunks.
fn produce(
    tx: SyncSender<u32>,
    chunks: u32,
    every: Duration,
    mut stage: Stage,
    gauge: &Gauge,
) -> Produced {
    let mut produced = Produced::default();
    for id in 0..chunks {
        if !every.is_zero() {
            thread::sleep(every); // making the chunk
        }
        produced.made += 1;
        stage.saw();
        let sent = match tx.try_send(id) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(id)) => {
                info!("source: channel full ({BOUND} chunks), waiting to send chunk {id}");
                produced.waits += 1;
                let waiting = Instant::now();
                let sent = tx.send(id).map_err(|_| ());
                produced.waited += waiting.elapsed();
                sent
            }
            Err(TrySendError::Disconnected(_)) => Err(()),
        };
        if sent.is_err() {
            info!("source: the pipeline is gone, stopping at chunk {id}");
            break;
        }
        gauge.sent.fetch_add(1, Ordering::SeqCst);
    }
    produced
    // `tx` and `stage` are dropped here: the channel closes, the source cleans up.
}

/// Names a thread after its stage, so the log shows who did what.
fn spawn_stage<'s, T: Send + 's>(
    scope: &'s thread::Scope<'s, '_>,
    name: &str,
    f: impl FnOnce() -> T + Send + 's,
) -> anyhow::Result<thread::ScopedJoinHandle<'s, T>> {
    Ok(thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(scope, f)?)
}

fn panicked(who: &str) -> anyhow::Error {
    anyhow::anyhow!("the {who} thread panicked")
}

// --- Backpressure: a slow sink and a producer that respects it -----------------------------------

#[derive(Debug)]
struct BackpressureRun {
    written: Vec<u32>,
    produced: Produced,
    peak_queue: usize,
    took: Duration,
}

fn backpressure(
    chunks: u32,
    bound: usize,
    every: Duration,
    write: Duration,
) -> anyhow::Result<BackpressureRun> {
    let start = Instant::now();
    let drops = Arc::new(DropCounts::default());
    let gauge = Gauge::default();
    let (tx, rx) = mpsc::sync_channel(bound);
    thread::scope(|s| {
        let stage = Stage::new(StageName::Source, &drops);
        let gauge = &gauge;
        let producer = spawn_stage(s, "source", move || {
            produce(tx, chunks, every, stage, gauge)
        })?;
        let sink = spawn_stage(s, "sink", move || {
            let mut written = Vec::new();
            // The slow sink: it takes the next chunk only when it has written the last one.
            for id in (Counted { rx, gauge }) {
                thread::sleep(write);
                info!("sink: wrote chunk {id}");
                written.push(id);
            }
            written
        })?;
        let produced = producer.join().map_err(|_| panicked("source"))?;
        let written = sink.join().map_err(|_| panicked("sink"))?;
        Ok(BackpressureRun {
            written,
            produced,
            peak_queue: gauge.peak.load(Ordering::SeqCst),
            took: start.elapsed(),
        })
    })
}

/// The waits a producer should see, worked out from the rates (as the twin): chunk i goes in once
/// chunk i - bound has been taken, and the sink takes chunk j when it has arrived and j-1 is written.
fn ideal_waits(chunks: u32, bound: usize, every: Duration, write: Duration) -> u32 {
    let (mut sent_last, mut waits) = (Duration::ZERO, 0);
    let mut taken: Vec<Duration> = Vec::new();
    let mut written_last = Duration::ZERO;
    for i in 0..chunks as usize {
        let made = sent_last + every;
        let room = i.checked_sub(bound).map_or(Duration::ZERO, |j| taken[j]);
        if room > made {
            waits += 1;
        }
        sent_last = made.max(room);
        let take = sent_last.max(written_last);
        taken.push(take);
        written_last = take + write;
    }
    waits
}

// --- A pipeline of threads -----------------------------------------------------------------------

/// How the enrich stage runs its lookups.
#[derive(Debug, Clone, Copy)]
enum Window {
    /// Up to n lookup threads, joined (and handed on) in the order they started: `buffered(n)`.
    Ordered(usize),
    /// n worker threads sharing the input, each handing on what it finished: `buffer_unordered(n)`.
    Unordered(usize),
}

#[derive(Debug)]
struct PipelineRun {
    delivered: Vec<u32>,
    error: Option<PipelineError>,
    produced: Produced,
    peak_queue: usize,
    drops: [usize; 5],
    took: Duration,
}

/// The lookup itself. A failed chunk passes through as its error.
fn enrich(chunk: Item, takes: Duration) -> Item {
    let mut chunk = chunk?;
    thread::sleep(takes);
    chunk.data.push_str(" (enriched)");
    Ok(chunk)
}

/// The filter stage: passes on the even chunks. Ends when its input ends or its output is gone.
fn filter(input: Counted<'_>, tx: SyncSender<u32>, mut stage: Stage) {
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
fn transform(rx: Receiver<u32>, tx: SyncSender<Item>, fail_at: Option<u32>, mut stage: Stage) {
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
fn enrich_ordered(
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
fn enrich_unordered(
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
fn pipeline(
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

/// The ideal totals of the enrich stage, as in the twin: list scheduling for the unordered workers;
/// for the ordered window, lookup k starts when lookup k - n has been joined and handed on.
fn ideal_unordered(times: &[Duration], n: usize) -> Duration {
    schedule::makespan_of_tasks(times, n)
}

fn ideal_ordered(times: &[Duration], n: usize) -> Duration {
    let mut handed_on: Vec<Duration> = Vec::new();
    for (k, &takes) in times.iter().enumerate() {
        let starts = k.checked_sub(n).map_or(Duration::ZERO, |j| handed_on[j]);
        let last = handed_on.last().copied().unwrap_or_default();
        handed_on.push(last.max(starts + takes));
    }
    handed_on.last().copied().unwrap_or_default()
}

/// How many chunks past the failing one the source can make before its `send` fails. Every stage
/// runs on its own, so all the room upstream of the transform fills: up to `bound` evens wait for
/// the transform (and the filter read up to `2 x bound` chunks to find them), the filter holds one
/// chunk and has read the odd one before it, `bound` wait in the source's channel, and the source
/// makes one more that it cannot send.
fn error_run_bound(bound: usize) -> u32 {
    (3 * bound + 3) as u32
}

/// `--help` text. No flags: the rates are fixed so the figures can be compared with their ideal.
#[derive(Parser, Debug)]
#[command(
    about = "20 · Streams with backpressure, with threads: a producer blocked by a slow sink \
             (sync_channel), a pipeline of stage threads with an ordered and an unordered window of \
             lookups, and an error mid-pipeline that ends every thread and cleans up each stage once",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    info!(
        "--- backpressure: a chunk every {} into a channel of {BOUND}, a sink that writes one in {} ---",
        fmt_duration(MAKE_EVERY),
        fmt_duration(WRITE_TAKES)
    );
    let bp = backpressure(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES)?;

    info!(
        "--- pipeline: source -> filter (even) -> transform -> {WINDOW} lookups in order -> sink ---"
    );
    let ordered = pipeline(PIPELINE_CHUNKS, None, Window::Ordered(WINDOW), lookup_time)?;
    info!("--- the same with {WINDOW} workers, in finish order ---");
    let unordered = pipeline(
        PIPELINE_CHUNKS,
        None,
        Window::Unordered(WINDOW),
        lookup_time,
    )?;
    info!("--- the transform fails at chunk {FAIL_AT}, with a source of {LONG_SOURCE} chunks ---");
    let failed = pipeline(
        LONG_SOURCE,
        Some(FAIL_AT),
        Window::Ordered(WINDOW),
        lookup_time,
    )?;

    let passed: Vec<u32> = (0..PIPELINE_CHUNKS).filter(|id| id % 2 == 0).collect();
    let times: Vec<Duration> = passed.iter().map(|&id| lookup_time(id)).collect();
    let ideal_total = MAKE_EVERY + WRITE_TAKES * CHUNKS;
    out!();
    out!("Summary");
    out!(
        "  backpressure: {}/{CHUNKS} chunks written; the producer waited {} times (ideal {}) for {}; largest queue {} (bound {BOUND})",
        bp.written.len(),
        bp.produced.waits,
        ideal_waits(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES),
        fmt_duration(bp.produced.waited),
        bp.peak_queue
    );
    out!(
        "  backpressure: total {} (ideal {}: the slow sink sets the pace, one chunk made + {CHUNKS} writes)",
        fmt_duration(bp.took),
        fmt_duration(ideal_total)
    );
    out!(
        "  window of {WINDOW} in order: {:?}, {}, {} (ideal {})",
        ordered.delivered,
        if ordered.delivered == passed {
            "order kept"
        } else {
            "ORDER LOST"
        },
        fmt_duration(ordered.took),
        fmt_duration(ideal_ordered(&times, WINDOW))
    );
    out!(
        "  {WINDOW} workers: {:?}, finish order, {} (ideal {})",
        unordered.delivered,
        fmt_duration(unordered.took),
        fmt_duration(ideal_unordered(&times, WINDOW))
    );
    out!(
        "  one lookup at a time would take {}",
        fmt_duration(times.iter().sum())
    );
    let peak = [&ordered, &unordered, &failed]
        .iter()
        .map(|r| r.peak_queue)
        .max()
        .unwrap_or_default();
    out!(
        "  the source's queue in the three pipelines: at most {peak} chunks (bound {BOUND}: {})",
        if peak <= BOUND { "kept" } else { "EXCEEDED" }
    );
    let error = failed
        .error
        .as_ref()
        .map_or("no error".to_string(), |e| e.0.clone());
    let after = failed.produced.made.saturating_sub(FAIL_AT + 1);
    let bound_after = error_run_bound(BOUND);
    out!(
        "  error: {error}; the sink got {:?} first; the source made {} of {LONG_SOURCE} chunks, {after} past the failing one (bound {bound_after}: {})",
        failed.delivered,
        failed.produced.made,
        if after <= bound_after {
            "stopped"
        } else {
            "DID NOT STOP"
        }
    );
    let dropped = STAGES
        .iter()
        .zip(failed.drops)
        .map(|(s, n)| format!("{} {n}", s.label()))
        .collect::<Vec<_>>()
        .join(", ");
    let clean = failed.drops.iter().all(|&n| n == 1);
    out!(
        "  cleanup after the error: {dropped} ({}); every thread joined",
        if clean {
            "each stage once"
        } else {
            "NOT ONCE EACH"
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real time, on a machine that may be busy: what the channels guarantee (order, the bound, the
    //! stop, one cleanup per stage) exactly; timings as lower bounds, which sleeps make exact, and
    //! generous upper bounds.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn hundred(_: u32) -> Duration {
        ms(100)
    }

    /// Slack for a busy 2-core machine: scheduling delays add up over a run's steps.
    const SLACK: Duration = Duration::from_millis(400);

    #[test]
    fn the_producer_waits_and_the_sink_sets_the_pace() {
        let r = backpressure(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES).expect("runs");
        assert_eq!(r.written, (0..CHUNKS).collect::<Vec<_>>());
        assert_eq!(ideal_waits(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES), 4);
        // The closest calls are 10 ms apart: a thread late by more turns a wait either way, and a
        // busy machine may do it twice.
        assert!((2..=6).contains(&r.produced.waits), "{}", r.produced.waits);
        assert!(r.peak_queue <= BOUND, "{} > {BOUND}", r.peak_queue);
        let ideal = ms(20 + 8 * 50);
        assert!(r.took >= ideal && r.took < ideal + SLACK, "{:?}", r.took);
    }

    #[test]
    fn a_source_nobody_reads_stops_at_the_bound() {
        let drops = Arc::new(DropCounts::default());
        let gauge = Gauge::default();
        let (tx, rx) = mpsc::sync_channel(BOUND);
        let stage = Stage::new(StageName::Source, &drops);
        let produced = thread::scope(|s| {
            let gauge = &gauge;
            let producer = s.spawn(move || produce(tx, LONG_SOURCE, ms(1), stage, gauge));
            // Time for 300 chunks at this pace: the source sent the bound's worth and holds one
            // more, blocked in `send`.
            thread::sleep(ms(300));
            assert_eq!(gauge.sent.load(Ordering::SeqCst), BOUND);
            assert!(!producer.is_finished());
            drop(rx);
            producer.join().expect("the source does not panic")
        });
        assert_eq!(produced.made, BOUND as u32 + 1);
        assert_eq!(produced.waits, 1);
        assert_eq!(drops.snapshot()[StageName::Source as usize], 1);
    }

    #[test]
    fn a_sink_faster_than_the_producer_never_makes_it_wait() {
        let r = backpressure(CHUNKS, BOUND, ms(50), ms(10)).expect("runs");
        // Only a sink thread stalled for 90 ms (two chunks) could fill the channel.
        assert!(r.produced.waits <= 1, "{}", r.produced.waits);
        assert_eq!(ideal_waits(CHUNKS, BOUND, ms(50), ms(10)), 0);
        // A sink that is much slower makes it wait for nearly every chunk past the bound.
        let r = backpressure(CHUNKS, 1, ms(5), ms(60)).expect("runs");
        assert!(r.produced.waits >= 5, "{}", r.produced.waits);
        assert!(r.peak_queue <= 1, "{}", r.peak_queue);
    }

    #[test]
    fn the_ordered_window_keeps_order_and_takes_ceil_items_over_n_lookups() {
        let passed: Vec<u32> = (0..PIPELINE_CHUNKS).step_by(2).collect();
        for n in [1, 2, 3, 6] {
            let r = pipeline(PIPELINE_CHUNKS, None, Window::Ordered(n), hundred).expect("runs");
            assert_eq!(r.delivered, passed, "window {n}");
            let ideal = ms(100) * 6u32.div_ceil(n as u32);
            assert!(
                r.took >= ideal && r.took < ideal + SLACK,
                "window {n}: {:?}",
                r.took
            );
            assert_eq!(r.drops, [1; 5]);
            assert!(r.peak_queue <= BOUND);
        }
    }

    #[test]
    fn unordered_workers_hand_on_in_finish_order() {
        let times: Vec<Duration> = (0..PIPELINE_CHUNKS).step_by(2).map(lookup_time).collect();
        let r = pipeline(PIPELINE_CHUNKS, None, Window::Unordered(3), lookup_time).expect("runs");
        // Finish times 2 at 40, 6 at 120, 0 at 200, 4 at 280, 10 at 360, 8 at 440: 80 ms apart,
        // but a busy machine can delay a thread by that much, so only what no delay can change is
        // exact: each chunk once, not in input order, 2 first (40 ms, the shortest), 8 last.
        let mut sorted = r.delivered.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 2, 4, 6, 8, 10], "each chunk once");
        assert_ne!(r.delivered, [0, 2, 4, 6, 8, 10], "not in input order");
        assert_eq!(r.delivered.first(), Some(&2));
        assert_eq!(r.delivered.last(), Some(&8));
        let ideal = ideal_unordered(&times, 3);
        assert_eq!(ideal, ms(440));
        assert!(r.took >= ideal && r.took < ideal + SLACK, "{:?}", r.took);
        assert_eq!(r.drops, [1; 5]);
    }

    #[test]
    fn an_error_mid_pipeline_ends_every_thread_and_each_stage_cleans_up_once() {
        for window in [Window::Ordered(3), Window::Unordered(3), Window::Ordered(1)] {
            let r = pipeline(LONG_SOURCE, Some(FAIL_AT), window, lookup_time).expect("runs");
            assert_eq!(
                r.error,
                Some(PipelineError("transform failed at chunk 6".into())),
                "{window:?}"
            );
            assert_eq!(r.drops, [1; 5], "{window:?}");
            let after = r.produced.made - (FAIL_AT + 1);
            assert!(
                after <= error_run_bound(BOUND),
                "{window:?}: {after} past the error"
            );
            assert!(r.peak_queue <= BOUND);
            if let Window::Ordered(_) = window {
                assert_eq!(r.delivered, [0, 2, 4], "in order, up to the error");
            }
        }
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["20", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("20 · Streams"), "{help}");
        let bad = Args::try_parse_from(["20", "--bound", "4"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
