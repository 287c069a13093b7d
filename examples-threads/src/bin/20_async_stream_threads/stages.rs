//! The stages' bookkeeping (as the twin's): each stage's cleanup (`Drop`, counted), the chunks and
//! the error that flow through, what the source measured, and the source channel's length. std's
//! channels have no `len()`: the queue length is counted from both ends (sent minus taken, read just
//! before each `recv`), which can lag the truth but never exceed it.
//!
//! What every stage owns (a [`Stage`]) stands for its cleanup. Each stage's thread owns its value, so
//! it is dropped when the thread's function returns, on every path.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use tracing::info;

// --- The stages ----------------------------------------------------------------------------------

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

/// What every stage owns (as the twin): a name, a count, and a `Drop` that stands for its cleanup.
/// Each stage's thread owns its value, so it is dropped when the thread's function returns, by
/// the end of its input, a failed `send` or an error alike.
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

pub type Item = Result<Chunk, PipelineError>;

/// What the source measured.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Produced {
    /// Chunks taken from the source (the last may never have been sent: the channel closed).
    pub made: u32,
    pub waits: u32,
    pub waited: Duration,
}

/// The source's channel with its length counted: the source counts a chunk once `send` returns,
/// the reader counts what it took. Their difference, read by the reader just before each `recv`,
/// can only lag the queue's real length (the source may not have counted a chunk yet), never exceed it.
#[derive(Default)]
pub struct Gauge {
    pub sent: AtomicUsize,
    pub taken: AtomicUsize,
    pub peak: AtomicUsize,
}

/// The reading end of the source's channel as an iterator (the twin of `ReceiverStream`), measuring
/// the queue before each `recv`.
pub struct Counted<'g> {
    pub rx: Receiver<u32>,
    pub gauge: &'g Gauge,
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

#[derive(Debug)]
pub struct BackpressureRun {
    pub written: Vec<u32>,
    pub produced: Produced,
    pub peak_queue: usize,
    pub took: Duration,
}

/// How the enrich stage runs its lookups.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    /// Up to n lookup threads, joined (and handed on) in the order they started: `buffered(n)`.
    Ordered(usize),
    /// n worker threads sharing the input, each handing on what it finished: `buffer_unordered(n)`.
    Unordered(usize),
}

#[derive(Debug)]
pub struct PipelineRun {
    pub delivered: Vec<u32>,
    pub error: Option<PipelineError>,
    pub produced: Produced,
    pub peak_queue: usize,
    pub drops: [usize; 5],
    pub took: Duration,
}
