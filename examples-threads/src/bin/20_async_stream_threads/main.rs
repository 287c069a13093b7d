//! # 20 · Streams with backpressure, with threads: stages joined by `sync_channel`, an error mid-way
//!
//! The same scenario as `examples-async/src/bin/20_async_stream/main.rs`, with a thread per stage and a
//! bounded `std::sync::mpsc::sync_channel` between each two: the threads' form of a stream pipeline.
//!
//! - **Backpressure** ([`backpressure`]): the producer thread makes a chunk every 20 ms, the sink
//!   thread writes one in 50 ms, the channel holds 2. `send` blocks the producer while the channel is
//!   full; its waits are counted beside the count worked out from the rates (4), the queue is counted
//!   from both ends (never more than 2), and the slow sink sets the pace (420 ms ideal).
//! - **A pipeline of threads** (`pipeline.rs`): source -> filter -> transform -> enrich -> sink, the
//!   enrich stage running up to 3 lookups at once, in order or in finish order; each total beside its
//!   ideal. **An error in the middle stage** ends every thread, each stage's `Drop` runs once
//!   (`stages.rs`), and a source of 1000 chunks stops after what the channels can hold.
//!
//! What differs from the async twin, and why:
//! - A blocked `send` holds a whole OS thread; a lookup that has started cannot be cancelled from
//!   outside, so the window's threads run to their end after the error.
//! - Each stage runs on its own thread, so stages work at the same time and fill the channels
//!   between them on their own; the async twin's stages move only when the sink pulls, one task for
//!   all. So the bound on what the source makes past the error counts every channel upstream of the
//!   transform here, and what is in flight is the source channel's length (the twin counts its whole
//!   pipeline: channel and window).
//!
//! Upstream: `src/js/asynchrony/20_async_stream.js`. Paging and prefetching with an iterator are
//! [12_async_generator_threads](../12_async_generator_threads.rs)'s lesson, not repeated here.
//!
//! Run: `cargo run -p examples-threads --bin 20_async_stream_threads` (about 1.8 s; no flags but
//! `--help`). Output of a real run: `docs/output/20_async_stream_threads.txt`.

mod pipeline;
mod report;
mod stages;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread;
use std::time::{Duration, Instant};

use common::{fmt_duration, init_logging, parse_args};
use tracing::info;

use pipeline::pipeline;
use report::Args;
use stages::{BackpressureRun, Counted, DropCounts, Gauge, Produced, Stage, StageName, Window};

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

    report::print_summary(&bp, &ordered, &unordered, &failed);
    Ok(())
}

#[cfg(test)]
mod tests;
