//! Demos 3 and 4, a pipeline of stages: source -> `filter` (even ids) -> `map` (a transform that
//! may fail) -> a concurrent stage (`enrich`, a lookup per chunk, up to n at once) -> sink. The
//! concurrent stage runs two ways: `buffered(n)` keeps the order (a slow head holds back the ones
//! behind it), `buffer_unordered(n)` hands each on as it finishes (the list-scheduling ideal).
//!
//! An error in the middle stage: the sink sees the `Err` (in order, after chunks 0, 2 and 4),
//! returns it, and drops the pipeline; every stage's `Drop` runs exactly once, the lookups in flight
//! are cancelled, and the producer's next `send` fails, so a source of 1000 chunks stops after 12:
//! never more than the channel and the window can hold past the failing chunk. No `destroy()` calls
//! by hand, as upstream's `pipeline()` needs.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{Stream, StreamExt};
use tokio::time::{Instant, sleep};
use tracing::{info, warn};

use crate::stages::{
    Chunk, DropCounts, InFlight, PipelineError, PipelineRun, Stage, StageName, Window,
};
use crate::{BOUND, source};

/// The concurrent stage's work: a lookup per chunk. A failed chunk passes through as its error, so
/// that `buffered` hands it on in its place in the order.
pub async fn enrich(
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
pub async fn pipeline(
    chunks: u32,
    fail_at: Option<u32>,
    window: Window,
    lookup: fn(u32) -> Duration,
) -> anyhow::Result<PipelineRun> {
    let start = Instant::now();
    let drops = Arc::new(DropCounts::default());
    let in_flight = Arc::new(InFlight::default());
    let (chunk_ids, producer) = source(chunks, Duration::ZERO, BOUND, &drops, &in_flight);
    let result = {
        let mut filter = Stage::new(StageName::Filter, &drops);
        let mut transform = Stage::new(StageName::Transform, &drops);
        let mut enrich_stage = Stage::new(StageName::Enrich, &drops);
        let dropped = in_flight.clone();
        let stages = chunk_ids
            .filter(move |id| {
                filter.saw();
                let keep = id % 2 == 0;
                if !keep {
                    dropped.done_with_one();
                }
                std::future::ready(keep)
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
            Window::Ordered(n) => write_all(stages.buffered(n), sink, &in_flight).await,
            Window::Unordered(n) => write_all(stages.buffer_unordered(n), sink, &in_flight).await,
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
pub async fn write_all(
    chunks: impl Stream<Item = Result<Chunk, PipelineError>>,
    mut sink: Stage,
    in_flight: &InFlight,
) -> Result<Vec<u32>, (Vec<u32>, PipelineError)> {
    let mut chunks = pin!(chunks);
    let mut delivered = Vec::new();
    while let Some(chunk) = chunks.next().await {
        in_flight.done_with_one();
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
