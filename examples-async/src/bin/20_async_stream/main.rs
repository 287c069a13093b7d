//! # 20 · Async streams with backpressure: a producer that waits, stages in a pipeline, an error mid-way
//!
//! Upstream's JS builds a Node `Readable` that pushes chunks and a `Writable` sink that lags. Here the
//! source is a task that sends chunks into a **bounded** `tokio::sync::mpsc` channel, read by the rest
//! of the pipeline as a `Stream` (`tokio_stream::wrappers::ReceiverStream`).
//!
//! - **Backpressure end to end** ([`backpressure`], JS demo 2, "Waited for 'drain' 4 time(s)"): a
//!   chunk made every 20 ms, a sink that writes one in 50 ms, a channel of 2. The producer's `send`
//!   waits when the channel is full; its waits are counted (4, worked out beside it), the chunks sent
//!   and not yet taken are counted from both ends after every send (at most 2), and the slow sink sets
//!   the pace (one chunk made plus 8 writes: 420 ms). Upstream's producer ignores `push()`'s `false`
//!   and buffers without limit; this one cannot run ahead (06 contrasts an unbounded channel).
//! - **A pipeline of stages** (`pipeline.rs`, JS demo 3): source -> `filter` (even) -> `map` -> a
//!   concurrent stage (`enrich`, lookups of 40-320 ms, up to 3 at once) -> sink, with `buffered(3)`
//!   (order kept: 520 ms) and `buffer_unordered(3)` (finish order: 440 ms); one at a time: 1080 ms.
//! - **An error in the middle stage** (JS demo 4): the transform rejects chunk 6; the sink returns the
//!   `Err` and drops the pipeline; every stage's `Drop` runs once (`stages.rs`, counted), the lookups
//!   in flight are cancelled, and the source's next `send` fails: 12 chunks made of 1000.
//!
//! Paging a remote API as a stream (`unfold`, prefetching) is the lesson of
//! [12_async_generator](../12_async_generator.rs). The ideals and the summary are in `report.rs`.
//!
//! Upstream: `src/js/asynchrony/20_async_stream.js` (its `for await` demo 1 is 12's lesson). Threads
//! twin: `examples-threads/src/bin/20_async_stream_threads/main.rs`.
//!
//! Run: `cargo run -p examples-async --bin 20_async_stream` (about 1.8 s; no flags but `--help`).
//! Output of a real run: `docs/output/20_async_stream.txt`.

mod pipeline;
mod report;
mod stages;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{fmt_duration, init_logging, parse_args};
use futures::stream::StreamExt;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};
use tokio_stream::wrappers::ReceiverStream;
use tracing::info;

use pipeline::pipeline;
use report::Args;
use stages::{BackpressureRun, DropCounts, InFlight, Produced, Stage, StageName, Window};

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

/// The source stage: makes a chunk every `every` and sends it into the bounded channel. When the
/// channel is full, `send` waits until the reader takes one: that is backpressure, and the reason
/// nothing here can grow without bound. `try_send` first only to count the waits; a plain
/// `tx.send(chunk).await` waits the same way, silently. When the reader is gone (the pipeline ended
/// or failed), `send` fails and the source stops making chunks.
async fn produce(
    tx: mpsc::Sender<u32>,
    chunks: u32,
    every: Duration,
    stage: Stage,
    in_flight: Arc<InFlight>,
) -> Produced {
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
        let sent = in_flight.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let now = sent - in_flight.done.load(Ordering::SeqCst);
        produced.peak_in_flight = produced.peak_in_flight.max(now);
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
    in_flight: &Arc<InFlight>,
) -> (ReceiverStream<u32>, JoinHandle<Produced>) {
    let (tx, rx) = mpsc::channel(bound);
    let stage = Stage::new(StageName::Source, drops);
    let producer = tokio::spawn(produce(tx, chunks, every, stage, in_flight.clone()));
    (ReceiverStream::new(rx), producer)
}

// --- Demo 2: a slow sink and a producer that respects it -----------------------------------------
async fn backpressure(
    chunks: u32,
    bound: usize,
    every: Duration,
    write: Duration,
) -> anyhow::Result<BackpressureRun> {
    let start = Instant::now();
    let drops = Arc::new(DropCounts::default());
    let in_flight = Arc::new(InFlight::default());
    let (mut stream, producer) = source(chunks, every, bound, &drops, &in_flight);
    let mut written = Vec::new();
    // The slow sink: it asks for the next chunk only when it has written the last one.
    while let Some(id) = stream.next().await {
        in_flight.done_with_one();
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

    report::print_summary(&bp, &ordered, &unordered, &failed);
    Ok(())
}

#[cfg(test)]
mod tests;
