//! The stages' bookkeeping: each stage's cleanup (`Drop`, counted), the chunks and the error that
//! flow through, what the source measured, and how many chunks are in flight.
//!
//! What every stage owns (a [`Stage`]) stands for its cleanup (closing a file, returning a
//! connection). Each lives inside its stage (the producer task, a closure of the pipeline, the sink),
//! so it is dropped when the stage is, on every path: the end of the stream, an error, a
//! cancellation. The count proves it runs once each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use tracing::info;

/// The stages, for the log and the drop counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageName {
    Source,
    Filter,
    Transform,
    Enrich,
    Sink,
}

impl StageName {
    pub fn label(self) -> &'static str {
        match self {
            StageName::Source => "source",
            StageName::Filter => "filter",
            StageName::Transform => "transform",
            StageName::Enrich => "enrich",
            StageName::Sink => "sink",
        }
    }
}

pub const STAGES: [StageName; 5] = [
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
pub struct Stage {
    pub name: StageName,
    pub seen: u32,
    pub drops: Arc<DropCounts>,
}

impl Stage {
    pub fn new(name: StageName, drops: &Arc<DropCounts>) -> Stage {
        Stage {
            name,
            seen: 0,
            drops: drops.clone(),
        }
    }

    /// Counts a chunk. A method (not `stage.seen += 1` in a closure) so that a `move` closure takes
    /// the whole `Stage`, not just a copy of its counter: the closure owns the stage.
    pub fn saw(&mut self) {
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
pub struct DropCounts(pub [AtomicUsize; 5]);

impl DropCounts {
    pub fn snapshot(&self) -> [usize; 5] {
        std::array::from_fn(|i| self.0[i].load(Ordering::SeqCst))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub id: u32,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineError(pub String);

/// What the source measured.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Produced {
    /// Chunks taken from the source (the last may never have been sent: the channel closed).
    pub made: u32,
    /// Sends that found the channel full and waited (JS's "Waited for 'drain'").
    pub waits: u32,
    pub waited: Duration,
    /// The most chunks sent and not yet done with, read right after each send (see [`InFlight`]).
    pub peak_in_flight: u32,
}

/// Chunks the source has sent that the pipeline is not yet done with (the sink has not taken them,
/// the filter has not dropped them), counted from both ends. The channel's own `max_capacity() -
/// capacity()` could never show more than its bound; this counts whatever the stages hold too, so a
/// stage that buffered without limit would show here.
#[derive(Default)]
pub struct InFlight {
    pub sent: AtomicU32,
    pub done: AtomicU32,
}

impl InFlight {
    pub fn done_with_one(&self) {
        self.done.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
pub struct BackpressureRun {
    pub written: Vec<u32>,
    pub produced: Produced,
    pub took: Duration,
}

/// How the concurrent stage runs its lookups.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    /// `buffered(n)`: up to n at once, handed on in the order they came in.
    Ordered(usize),
    /// `buffer_unordered(n)`: up to n at once, handed on as they finish.
    Unordered(usize),
}

#[derive(Debug)]
pub struct PipelineRun {
    /// Chunk ids in the order the sink got them.
    pub delivered: Vec<u32>,
    pub error: Option<PipelineError>,
    pub produced: Produced,
    pub drops: [usize; 5],
    pub took: Duration,
}
