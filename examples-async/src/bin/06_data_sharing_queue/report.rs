//! What the producer and the consumer of `main.rs` record as they go, the ideals each run
//! approaches, and the summary printed at the end. No lesson here: the queues are in `main.rs`.

use std::fmt;
use std::time::Duration;

use common::fmt_duration;
use tokio::time::Instant;
use tracing::info;

use super::{CONSUME_TAKES, ITEMS, PRODUCE_EVERY};

/// Which queue a run used: for the labels and the ideals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    Bounded(usize),
    Unbounded,
}

impl fmt::Display for QueueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueKind::Bounded(capacity) => write!(f, "bounded (capacity {capacity})"),
            QueueKind::Unbounded => write!(f, "unbounded"),
        }
    }
}

/// What the producer saw: how many sends found the queue full, how long they waited, when it was done.
#[derive(Debug, Default)]
pub struct Produced {
    pub waits: u32,
    pub waited: Duration,
    pub done_at: Duration,
}

impl Produced {
    /// Logs that `item` is in the queue, after waiting `wait` for room (`None`: no wait).
    pub fn queued(&mut self, item: u32, wait: Option<Duration>) {
        match wait {
            None => info!("producer: item {item} queued"),
            Some(wait) => {
                info!(
                    "producer: item {item} queued after waiting {}",
                    fmt_duration(wait)
                );
                self.waits += 1;
                self.waited += wait;
            }
        }
    }

    pub fn done(mut self, start: Instant) -> Self {
        info!("producer: done, dropping the sender closes the queue");
        self.done_at = start.elapsed();
        self
    }
}

/// What the consumer saw: the items in the order received, the longest queue, when it was done.
#[derive(Debug, Default)]
pub struct Consumed {
    pub received: Vec<u32>,
    pub peak_len: usize,
    pub done_at: Duration,
}

impl Consumed {
    /// Logs and records that the consumer took `item` when `len` items were waiting in the queue.
    pub fn took(&mut self, item: u32, len: usize) {
        self.peak_len = self.peak_len.max(len);
        info!("consumer: took item {item} (queue length {len} when it asked)");
    }

    pub fn done(mut self, start: Instant) -> Self {
        info!("consumer: queue closed and empty, stopping");
        self.done_at = start.elapsed();
        self
    }
}

/// What one run measured. Times count from the start of the run.
#[derive(Debug)]
pub struct QueueRun {
    pub kind: QueueKind,
    /// The items in the order the consumer received them.
    pub received: Vec<u32>,
    /// The most items the consumer ever found waiting in the queue.
    pub peak_len: usize,
    /// How many sends found the queue full and had to wait, and for how long in all.
    pub producer_waits: u32,
    pub producer_waited: Duration,
    /// When the producer had queued its last item.
    pub producer_done: Duration,
    /// When the consumer had finished the last item.
    pub consumer_done: Duration,
}

impl QueueRun {
    pub fn new(kind: QueueKind, produced: Produced, consumed: Consumed) -> Self {
        info!(
            "{kind}: largest queue {}, consumer done at {}",
            consumed.peak_len,
            fmt_duration(consumed.done_at)
        );
        QueueRun {
            kind,
            received: consumed.received,
            peak_len: consumed.peak_len,
            producer_waits: produced.waits,
            producer_waited: produced.waited,
            producer_done: produced.done_at,
            consumer_done: consumed.done_at,
        }
    }
}

/// When the producer should be done: at its own pace with room to spare, or else when the consumer
/// has taken enough items to make room for the last one (item `ITEMS-1` enters when the consumer
/// takes item `ITEMS-1-capacity`, and the consumer takes item `j` at `PRODUCE_EVERY + j x CONSUME_TAKES`).
pub fn ideal_producer_done(kind: QueueKind) -> Duration {
    let own_pace = PRODUCE_EVERY * ITEMS;
    match kind {
        QueueKind::Unbounded => own_pace,
        QueueKind::Bounded(capacity) => {
            let held_back = (ITEMS as usize).saturating_sub(1 + capacity) as u32;
            own_pace.max(PRODUCE_EVERY + CONSUME_TAKES * held_back)
        }
    }
}

/// When the consumer should be done, whatever the queue: it is the bottleneck. The first item
/// arrives after one `PRODUCE_EVERY`, then it is busy without a break.
pub fn ideal_consumer_done() -> Duration {
    PRODUCE_EVERY + CONSUME_TAKES * ITEMS
}

pub fn summary_lines(r: &QueueRun) -> [String; 2] {
    let in_order = if r.received == (0..ITEMS).collect::<Vec<_>>() {
        "in order"
    } else {
        "NOT in order"
    };
    let bound = match r.kind {
        QueueKind::Bounded(capacity) => format!("capacity {capacity}"),
        QueueKind::Unbounded => "no limit".to_string(),
    };
    [
        format!(
            "{}: {}/{ITEMS} items received, {in_order}; largest queue {} ({bound})",
            r.kind,
            r.received.len(),
            r.peak_len
        ),
        format!(
            "{}: producer waited {} times ({}); done at {} (ideal {})",
            r.kind,
            r.producer_waits,
            fmt_duration(r.producer_waited),
            fmt_duration(r.producer_done),
            fmt_duration(ideal_producer_done(r.kind))
        ),
    ]
}

/// The summary: per run, what arrived and how far the producer got ahead, then the consumer's
/// finish beside its ideal.
pub fn print_summary(bounded: &QueueRun, unbounded: &QueueRun) {
    common::out!();
    common::out!("Summary");
    for r in [&bounded, &unbounded] {
        for line in summary_lines(r) {
            common::out!("  {line}");
        }
    }
    common::out!(
        "  consumer done: {} {} | {} {} (ideal {} each: the consumer sets the pace)",
        bounded.kind,
        fmt_duration(bounded.consumer_done),
        unbounded.kind,
        fmt_duration(unbounded.consumer_done),
        fmt_duration(ideal_consumer_done())
    );
}
