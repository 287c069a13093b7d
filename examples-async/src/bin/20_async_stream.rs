//! # 20 · Async streams with backpressure: a producer that waits, stages in a pipeline, an error mid-way
//!
//! Upstream's JS builds a Node `Readable` that pushes chunks and a `Writable` sink that lags. Here the
//! source is a task that sends chunks into a **bounded** `tokio::sync::mpsc` channel, read by the rest
//! of the pipeline as a `Stream` (`tokio_stream::wrappers::ReceiverStream`).
//!
//! What it shows:
//! - **Backpressure end to end** (JS demo 2, "Waited for 'drain' 4 time(s)"): a producer that makes a
//!   chunk every 20 ms, a sink that writes one in 50 ms, a channel of 2. The producer's `send` waits
//!   when the channel is full; its waits are counted (4, worked out beside it), the queue never holds
//!   more than 2 (measured after every send), and the slow sink sets the pace: the total is one chunk's
//!   making plus 8 writes (420 ms). Upstream's producer ignores `push()`'s `false` and buffers without
//!   limit; this one cannot run ahead (06_data_sharing_queue contrasts an unbounded channel).
//! - **A pipeline of stages** (JS demo 3, `pipeline(source, filter, sink)`): source -> `filter` (even
//!   chunks) -> `map` (a transform) -> a concurrent stage (`enrich`, a lookup that takes 40-320 ms)
//!   -> sink. The concurrent stage runs up to 3 lookups at once, two ways: `buffered(3)` keeps the
//!   order (a slow head holds back the ones behind it: 520 ms), `buffer_unordered(3)` hands each on as
//!   it finishes (440 ms, the list-scheduling ideal). One at a time would take 1080 ms. Each figure is
//!   printed beside the ideal worked out from the stage times.
//! - **An error in the middle stage** (JS demo 4): the transform rejects chunk 6. The sink sees the
//!   `Err` (in order, after chunks 0, 2 and 4), returns it, and drops the pipeline; every stage's
//!   `Drop` runs exactly once (counted), the in-flight lookups are cancelled, and the producer's next
//!   `send` fails, so a source of 1000 chunks stops after 12: never more than the channel and the
//!   concurrent stage's window can hold past the failing chunk. No `destroy()` calls by hand.
//!
//! Paging a remote API as a stream, `unfold`, `map`/`filter`/`take` and prefetching the next page are
//! the lesson of [12_async_generator](12_async_generator.rs); this file does not repeat them.
//!
//! Upstream: `src/js/asynchrony/20_async_stream.js` (its `for await` demo 1 is 12's lesson). Threads
//! twin: `examples-threads/src/bin/20_async_stream_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 20_async_stream` (about 1.8 s; no flags but `--help`).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.000s  INFO [main] --- backpressure: a chunk every 20 ms into a channel of 2, a sink that writes one in 50 ms ---
//!   0.077s  INFO [main] sink: wrote chunk 0
//!   0.113s  INFO [main] source: channel full (2 chunks), waiting to send chunk 4
//!   0.128s  INFO [main] sink: wrote chunk 1
//!   0.150s  INFO [main] source: channel full (2 chunks), waiting to send chunk 5
//!   0.179s  INFO [main] sink: wrote chunk 2
//!   ...
//!   1.417s  INFO [main] --- the transform fails at chunk 6, with a source of 1000 chunks ---
//!   1.417s  INFO [main] source: channel full (2 chunks), waiting to send chunk 2
//!   1.417s  INFO [main] source: channel full (2 chunks), waiting to send chunk 4
//!   1.417s  INFO [main] source: channel full (2 chunks), waiting to send chunk 6
//!   1.417s  INFO [main] source: channel full (2 chunks), waiting to send chunk 7
//!   1.621s  INFO [main] sink: got chunk-0 (enriched)
//!   1.621s  WARN [main] transform: chunk 6 is corrupt
//!   1.621s  INFO [main] sink: got chunk-2 (enriched)
//!   1.621s  INFO [main] source: channel full (2 chunks), waiting to send chunk 9
//!   1.621s  INFO [main] source: channel full (2 chunks), waiting to send chunk 11
//!   1.698s  INFO [main] sink: got chunk-4 (enriched)
//!   1.699s  WARN [main] sink: transform failed at chunk 6; ending the pipeline
//!   1.699s  INFO [main] filter: cleaned up after 11 chunks
//!   1.699s  INFO [main] transform: cleaned up after 6 chunks
//!   1.699s  INFO [main] enrich: cleaned up after 6 chunks
//!   1.699s  INFO [main] sink: cleaned up after 3 chunks
//!   1.699s  INFO [main] source: the pipeline is gone, stopping at chunk 11
//!   1.699s  INFO [main] source: cleaned up after 12 chunks
//!
//! Summary
//!   backpressure: 8/8 chunks written; the producer waited 4 times (ideal 4) for 105 ms; largest queue 2 (bound 2)
//!   backpressure: total 438 ms (ideal 420 ms: the slow sink sets the pace, one chunk made + 8 writes)
//!   buffered(3): [0, 2, 4, 6, 8, 10], order kept, 525 ms (ideal 520 ms)
//!   buffer_unordered(3): [2, 6, 0, 4, 10, 8], finish order, 453 ms (ideal 440 ms)
//!   one lookup at a time would take 1080 ms
//!   the source's queue in the three pipelines: at most 2 chunks (bound 2: kept)
//!   error: transform failed at chunk 6; the sink got [0, 2, 4] first; the source made 12 of 1000 chunks, 5 past the failing one (bound 7: stopped)
//!   cleanup after the error: source 1, filter 1, transform 1, enrich 1, sink 1 (each stage once)
//! ```

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging, out, parse_args, schedule};
use futures::stream::{Stream, StreamExt};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};
use tokio_stream::wrappers::ReceiverStream;
use tracing::{info, warn};

/// Demo 2 (backpressure): chunks, the channel's bound (Node's highWaterMark), the producer's and
/// the sink's pace. Upstream: 8 writes, highWaterMark 2, a 10 ms lag.
const CHUNKS: u32 = 8;
const BOUND: usize = 2;
const MAKE_EVERY: Duration = Duration::from_millis(20);
const WRITE_TAKES: Duration = Duration::from_millis(50);

/// The pipeline: a source of 12 chunks (6 pass the filter), the concurrent stage's window.
const PIPELINE_CHUNKS: u32 = 12;
const WINDOW: usize = 3;
/// The error run: a long source, and the chunk the transform rejects (JS: index 3; here an even one,
/// so that it passes the filter).
const LONG_SOURCE: u32 = 1000;
const FAIL_AT: u32 = 6;

/// How long the `enrich` lookup takes for chunk `id`: uneven on purpose, so `buffered` and
/// `buffer_unordered` differ. Chunks 0, 2, ..., 10 take 200, 40, 280, 80, 320, 160 ms, then again.
fn lookup_time(id: u32) -> Duration {
    const TIMES: [u64; 6] = [200, 40, 280, 80, 320, 160];
    Duration::from_millis(TIMES[(id as usize / 2) % TIMES.len()])
}

// --- The stages ----------------------------------------------------------------------------------

/// The stages, for the log and the drop counts.
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

/// What every stage owns: a name, how many chunks it saw, and a `Drop` that stands for its cleanup
/// (closing a file, returning a connection). Each stage's value lives inside the stage (the
/// producer task, a closure of the pipeline, the sink), so it is dropped when the stage is, on every
/// path: the end of the stream, an error, a cancellation. The count proves it runs once each.
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

    /// Counts a chunk. A method (not `stage.seen += 1` in a closure) so that a `move` closure takes
    /// the whole `Stage`, not just a copy of its counter: the closure owns the stage.
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

/// How often each stage's `Drop` ran, indexed by `StageName`.
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

/// What the source measured.
#[derive(Debug, Default, Clone, PartialEq)]
struct Produced {
    /// Chunks taken from the source (the last may never have been sent: the channel closed).
    made: u32,
    /// Sends that found the channel full and waited (JS's "Waited for 'drain'").
    waits: u32,
    waited: Duration,
    /// The most chunks in the channel, read right after each send (when it is longest).
    peak_queue: usize,
}

/// The source stage: makes a chunk every `every` and sends it into the bounded channel. When the
/// channel is full, `send` waits until the reader takes one: that is backpressure, and the reason
/// nothing here can grow without bound. `try_send` first only to count the waits; a plain
/// `tx.send(chunk).await` waits the same way, silently. When the reader is gone (the pipeline ended
/// or failed), `send` fails and the source stops making chunks.
async fn produce(tx: mpsc::Sender<u32>, chunks: u32, every: Duration, stage: Stage) -> Produced {
    let mut stage = stage;
    let mut produced = Produced::default();
    for id in 0..chunks {
        if !every.is_zero() {
            sleep(every).await; // making the chunk
        }
        produced.made += 1;
        stage.saw();
        let sent = match tx.try_send(id) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(id)) => {
                info!(
                    "source: channel full ({} chunks), waiting to send chunk {id}",
                    tx.max_capacity()
                );
                produced.waits += 1;
                let waiting = Instant::now();
                let sent = tx.send(id).await.map_err(|_| ());
                produced.waited += waiting.elapsed();
                sent
            }
            Err(TrySendError::Closed(_)) => Err(()),
        };
        if sent.is_err() {
            info!("source: the pipeline is gone, stopping at chunk {id}");
            break;
        }
        // Chunks in the channel now: its capacity minus the free slots.
        produced.peak_queue = produced.peak_queue.max(tx.max_capacity() - tx.capacity());
    }
    produced
    // `tx` and `stage` are dropped here: the channel closes, the source cleans up.
}

/// Starts the source task and returns its channel as a `Stream`.
fn source(
    chunks: u32,
    every: Duration,
    bound: usize,
    drops: &Arc<DropCounts>,
) -> (ReceiverStream<u32>, JoinHandle<Produced>) {
    let (tx, rx) = mpsc::channel(bound);
    let stage = Stage::new(StageName::Source, drops);
    let producer = tokio::spawn(produce(tx, chunks, every, stage));
    (ReceiverStream::new(rx), producer)
}

// --- Demo 2: a slow sink and a producer that respects it -----------------------------------------

#[derive(Debug)]
struct BackpressureRun {
    written: Vec<u32>,
    produced: Produced,
    took: Duration,
}

async fn backpressure(
    chunks: u32,
    bound: usize,
    every: Duration,
    write: Duration,
) -> anyhow::Result<BackpressureRun> {
    let start = Instant::now();
    let drops = Arc::new(DropCounts::default());
    let (mut stream, producer) = source(chunks, every, bound, &drops);
    let mut written = Vec::new();
    // The slow sink: it asks for the next chunk only when it has written the last one.
    while let Some(id) = stream.next().await {
        sleep(write).await;
        info!("sink: wrote chunk {id}");
        written.push(id);
    }
    let produced = producer.await?;
    Ok(BackpressureRun {
        written,
        produced,
        took: start.elapsed(),
    })
}

/// The waits a producer that makes a chunk every `every` should see, with a sink that writes one in
/// `write` and `bound` slots between them: chunk i goes in once chunk i - bound has been taken,
/// and the sink takes chunk j when it has arrived and chunk j-1 is written.
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

// --- Demos 3 and 4: a pipeline of stages ---------------------------------------------------------

/// How the concurrent stage runs its lookups.
#[derive(Debug, Clone, Copy)]
enum Window {
    /// `buffered(n)`: up to n at once, handed on in the order they came in.
    Ordered(usize),
    /// `buffer_unordered(n)`: up to n at once, handed on as they finish.
    Unordered(usize),
}

#[derive(Debug)]
struct PipelineRun {
    /// Chunk ids in the order the sink got them.
    delivered: Vec<u32>,
    error: Option<PipelineError>,
    produced: Produced,
    drops: [usize; 5],
    took: Duration,
}

/// The concurrent stage's work: a lookup per chunk. A failed chunk passes through as its error, so
/// that `buffered` hands it on in its place in the order.
async fn enrich(
    chunk: Result<Chunk, PipelineError>,
    takes: Duration,
) -> Result<Chunk, PipelineError> {
    let mut chunk = chunk?;
    sleep(takes).await;
    chunk.data.push_str(" (enriched)");
    Ok(chunk)
}

/// source -> filter (even ids) -> transform (fails at `fail_at`) -> enrich (a window of lookups)
/// -> sink. The stages other than the source are stream adapters: one task pulls them all, and
/// each pulls from the one before only when asked, so the sink's pace travels back to the source.
async fn pipeline(
    chunks: u32,
    fail_at: Option<u32>,
    window: Window,
    lookup: fn(u32) -> Duration,
) -> anyhow::Result<PipelineRun> {
    let start = Instant::now();
    let drops = Arc::new(DropCounts::default());
    let (chunk_ids, producer) = source(chunks, Duration::ZERO, BOUND, &drops);
    let result = {
        let mut filter = Stage::new(StageName::Filter, &drops);
        let mut transform = Stage::new(StageName::Transform, &drops);
        let mut enrich_stage = Stage::new(StageName::Enrich, &drops);
        let stages = chunk_ids
            .filter(move |id| {
                filter.saw();
                std::future::ready(id % 2 == 0)
            })
            .map(move |id| {
                transform.saw();
                if Some(id) == fail_at {
                    warn!("transform: chunk {id} is corrupt");
                    return Err(PipelineError(format!("transform failed at chunk {id}")));
                }
                Ok(Chunk {
                    id,
                    data: format!("chunk-{id}"),
                })
            })
            .map(move |chunk| {
                enrich_stage.saw();
                let takes = chunk.as_ref().map_or(Duration::ZERO, |c| lookup(c.id));
                enrich(chunk, takes)
            });
        let sink = Stage::new(StageName::Sink, &drops);
        match window {
            Window::Ordered(n) => write_all(stages.buffered(n), sink).await,
            Window::Unordered(n) => write_all(stages.buffer_unordered(n), sink).await,
        }
        // The whole chain of stages was moved into `write_all` and dropped when it returned:
        // on success and on error alike, each stage's `Drop` has run by now.
    };
    let produced = producer.await?;
    let (delivered, error) = match result {
        Ok(delivered) => (delivered, None),
        Err((delivered, error)) => (delivered, Some(error)),
    };
    Ok(PipelineRun {
        delivered,
        error,
        produced,
        drops: drops.snapshot(),
        took: start.elapsed(),
    })
}

/// The sink: takes chunks until the stream ends or yields an error, which ends the pipeline. Upstream
/// `pipeline()` rejects and destroys every stream; here returning drops `chunks`, which drops every
/// stage it holds.
async fn write_all(
    chunks: impl Stream<Item = Result<Chunk, PipelineError>>,
    mut sink: Stage,
) -> Result<Vec<u32>, (Vec<u32>, PipelineError)> {
    let mut chunks = pin!(chunks);
    let mut delivered = Vec::new();
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(chunk) => {
                sink.saw();
                info!("sink: got {}", chunk.data);
                delivered.push(chunk.id);
            }
            Err(error) => {
                warn!("sink: {}; ending the pipeline", error.0);
                return Err((delivered, error));
            }
        }
    }
    Ok(delivered)
}

/// The ideal totals of the concurrent stage, from the lookup times of the chunks that pass the filter
/// (the source and the other stages take no time). `buffer_unordered(n)`: a new lookup starts as
/// soon as any finishes (list scheduling). `buffered(n)`: finished lookups wait for the head and
/// keep their slot until handed on, so lookup k starts when lookup k - n has been handed on.
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

/// `--help` text. No flags: the rates are fixed so the figures can be compared with their ideal.
#[derive(Parser, Debug)]
#[command(
    about = "20 · Async streams with backpressure: a producer that waits for a slow sink (a bounded \
             channel as a Stream), a pipeline of stages with buffered(n) and buffer_unordered(n), and \
             an error mid-pipeline that stops the source and lets every stage clean up once",
    long_about = None
)]
struct Args {}

// One thread: the stages wait (on timers, on each other), they do not compute.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    info!(
        "--- backpressure: a chunk every {} into a channel of {BOUND}, a sink that writes one in {} ---",
        fmt_duration(MAKE_EVERY),
        fmt_duration(WRITE_TAKES)
    );
    let bp = backpressure(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES).await?;

    info!(
        "--- pipeline: source -> filter (even) -> transform -> buffered({WINDOW}) lookups -> sink ---"
    );
    let ordered = pipeline(PIPELINE_CHUNKS, None, Window::Ordered(WINDOW), lookup_time).await?;
    info!("--- the same with buffer_unordered({WINDOW}) ---");
    let unordered = pipeline(
        PIPELINE_CHUNKS,
        None,
        Window::Unordered(WINDOW),
        lookup_time,
    )
    .await?;
    info!("--- the transform fails at chunk {FAIL_AT}, with a source of {LONG_SOURCE} chunks ---");
    let failed = pipeline(
        LONG_SOURCE,
        Some(FAIL_AT),
        Window::Ordered(WINDOW),
        lookup_time,
    )
    .await?;

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
        bp.produced.peak_queue
    );
    out!(
        "  backpressure: total {} (ideal {}: the slow sink sets the pace, one chunk made + {CHUNKS} writes)",
        fmt_duration(bp.took),
        fmt_duration(ideal_total)
    );
    out!(
        "  buffered({WINDOW}): {:?}, {}, {} (ideal {})",
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
        "  buffer_unordered({WINDOW}): {:?}, finish order, {} (ideal {})",
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
        .map(|r| r.produced.peak_queue)
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
    let bound_after = error_run_bound(BOUND, WINDOW);
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
        "  cleanup after the error: {dropped} ({})",
        if clean {
            "each stage once"
        } else {
            "NOT ONCE EACH"
        }
    );
    Ok(())
}

/// How many chunks past the failing one the source can make before its `send` fails: the channel
/// holds `bound`, the concurrent stage's window takes up to `window - 1` chunks after the failed one
/// (each may come after an odd chunk the filter dropped: two source chunks per slot), and one more
/// is made and then finds the channel closed.
fn error_run_bound(bound: usize, window: usize) -> u32 {
    (bound + 2 * (window - 1) + 1) as u32
}

#[cfg(test)]
mod tests {
    //! Everything on the paused clock, exactly.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn hundred(_: u32) -> Duration {
        ms(100)
    }

    #[tokio::test(start_paused = true)]
    async fn the_producer_waits_4_times_and_the_sink_sets_the_pace() {
        let r = backpressure(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES)
            .await
            .expect("runs");
        assert_eq!(r.written, (0..CHUNKS).collect::<Vec<_>>());
        assert_eq!(r.produced.waits, 4);
        assert_eq!(ideal_waits(CHUNKS, BOUND, MAKE_EVERY, WRITE_TAKES), 4);
        assert_eq!(r.took, ms(20 + 8 * 50));
        assert_eq!(r.produced.peak_queue, BOUND);
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_nobody_reads_stops_at_the_bound() {
        let drops = Arc::new(DropCounts::default());
        let (stream, producer) = source(LONG_SOURCE, MAKE_EVERY, BOUND, &drops);
        sleep(Duration::from_secs(60)).await;
        // A minute is time for 3000 chunks at this pace; upstream's Readable, which ignores
        // `push()`'s `false`, would have buffered all 1000. This one made the bound's worth and one
        // more, which it holds, waiting.
        assert!(!producer.is_finished());
        drop(stream);
        let produced = producer.await.expect("the source does not panic");
        assert_eq!(produced.made, BOUND as u32 + 1);
        assert_eq!(produced.peak_queue, BOUND);
        assert_eq!(produced.waits, 1);
        assert_eq!(drops.snapshot()[StageName::Source as usize], 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_count_follows_the_rates_and_the_queue_never_exceeds_its_bound() {
        // (every, write, bound): a producer as fast as the sink never waits; a slower sink, more.
        for (every, write, bound, waits) in [
            (20, 50, 2, 4),
            (20, 50, 1, 6),
            (20, 50, 4, 1),
            (50, 30, 2, 0),
            (15, 100, 3, 4),
        ] {
            let (every, write) = (ms(every), ms(write));
            let r = backpressure(CHUNKS, bound, every, write)
                .await
                .expect("runs");
            assert_eq!(r.produced.waits, waits, "{every:?} {write:?} {bound}");
            assert_eq!(r.produced.waits, ideal_waits(CHUNKS, bound, every, write));
            assert!(
                r.produced.peak_queue <= bound,
                "{:?} > {bound}",
                r.produced.peak_queue
            );
            // The slower of the two sets the pace.
            let ideal = if write > every {
                every + write * CHUNKS
            } else {
                every * CHUNKS + write
            };
            assert_eq!(r.took, ideal, "{every:?} {write:?} {bound}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn buffered_keeps_order_and_takes_ceil_items_over_n_stage_times() {
        let passed: Vec<u32> = (0..PIPELINE_CHUNKS).step_by(2).collect();
        for n in 1..=6 {
            let r = pipeline(PIPELINE_CHUNKS, None, Window::Ordered(n), hundred)
                .await
                .expect("runs");
            assert_eq!(r.delivered, passed, "window {n}");
            assert_eq!(r.took, ms(100) * 6u32.div_ceil(n as u32), "window {n}");
            assert_eq!(r.drops, [1; 5]);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn buffered_and_buffer_unordered_with_uneven_lookups() {
        let times: Vec<Duration> = (0..PIPELINE_CHUNKS).step_by(2).map(lookup_time).collect();
        let ordered = pipeline(PIPELINE_CHUNKS, None, Window::Ordered(3), lookup_time)
            .await
            .expect("runs");
        assert_eq!(ordered.delivered, [0, 2, 4, 6, 8, 10]);
        assert_eq!(ordered.took, ms(520));
        assert_eq!(ordered.took, ideal_ordered(&times, 3));
        let unordered = pipeline(PIPELINE_CHUNKS, None, Window::Unordered(3), lookup_time)
            .await
            .expect("runs");
        // Finish times: 2 at 40, 6 at 120 (started when 2 finished), 0 at 200, 4 at 280, 10 at
        // 360 (started at 200), 8 at 440 (started at 120): 80 ms apart, so the binary's real-clock
        // run keeps this order too.
        assert_eq!(unordered.delivered, [2, 6, 0, 4, 10, 8]);
        assert_eq!(unordered.took, ms(440));
        assert_eq!(unordered.took, ideal_unordered(&times, 3));
        assert_eq!(times.iter().sum::<Duration>(), ms(1080));
        // Both ran the whole source, with the queue at its bound and no further.
        for r in [&ordered, &unordered] {
            assert_eq!(r.produced.made, PIPELINE_CHUNKS);
            assert_eq!(r.produced.peak_queue, BOUND);
            assert_eq!(r.drops, [1; 5]);
            assert!(r.error.is_none());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_mid_pipeline_stops_the_source_and_every_stage_cleans_up_once() {
        let r = pipeline(LONG_SOURCE, Some(FAIL_AT), Window::Ordered(3), lookup_time)
            .await
            .expect("runs");
        assert_eq!(
            r.error,
            Some(PipelineError("transform failed at chunk 6".into()))
        );
        // In order: what came before the failing chunk, nothing after it.
        assert_eq!(r.delivered, [0, 2, 4]);
        // The sink gets the error once chunk 4's lookup (280 ms), ahead of it in the order, is
        // handed on; the lookups of 8 and 10, in flight then, are dropped, not awaited (8's would
        // end at 520 ms).
        assert_eq!(r.took, ms(280));
        assert_eq!(r.drops, [1; 5]);
        // At 0 ms the window takes 0, 2 and 4 (the filter drops 1 and 3), the channel fills with 5
        // and 6, and the source waits to send 7. At 200 ms chunk 0 is handed on; the window takes 5
        // (dropped) and 6 (the error) and hands on 2 (done since 40 ms); its head is now 4 (done at
        // 280 ms). The source sends 7 and 8, the window takes them (8 fills it), the source sends 9
        // and 10 and waits with 11. At 280 ms 4 is handed on, the window takes 9 (dropped) and 10,
        // and the error comes out: the sink drops the pipeline before the source runs again, and
        // its send of 11 fails. Made: 0..=11, five past the failing chunk.
        assert_eq!(r.produced.made, 12);
        assert!(r.produced.made - (FAIL_AT + 1) <= error_run_bound(BOUND, 3));
        assert_eq!(r.produced.peak_queue, BOUND);
    }

    #[tokio::test(start_paused = true)]
    async fn the_stop_holds_for_every_window_and_bound() {
        for n in 1..=4 {
            let r = pipeline(
                LONG_SOURCE,
                Some(FAIL_AT),
                Window::Unordered(n),
                lookup_time,
            )
            .await
            .expect("runs");
            assert!(r.error.is_some());
            assert_eq!(r.drops, [1; 5], "window {n}");
            let after = r.produced.made - (FAIL_AT + 1);
            assert!(
                after <= error_run_bound(BOUND, n),
                "window {n}: {after} past the error"
            );
        }
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["20", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("20 · Async streams"), "{help}");
        let bad = Args::try_parse_from(["20", "--bound", "4"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
