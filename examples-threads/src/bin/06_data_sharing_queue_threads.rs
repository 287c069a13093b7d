//! # 06 · Sharing data through a queue, with threads: a fast producer, a slow consumer, and backpressure
//!
//! The same scenario as `examples-async/src/bin/06_data_sharing_queue.rs`: a producer thread makes an
//! item every 30 ms, a consumer thread needs 100 ms for each, ten items.
//!
//! What it shows:
//! - A **bounded** `std::sync::mpsc::sync_channel(3)`: when the queue holds 3 items, `send` blocks the
//!   producer thread until the consumer takes one. That is **backpressure**, and it is logged.
//! - An **unbounded** `std::sync::mpsc::channel()` for contrast: `send` never blocks, so the backlog
//!   grows for as long as the producer is faster.
//! - **Closing by dropping the sender**: when the producer thread returns, its sender is dropped and the
//!   consumer's `recv()` returns `Err(RecvError)` once the queue is empty. No sentinel value.
//! - Every item arrives once, in order, and both runs take the same total time: the consumer sets the
//!   pace; the bound only limits how far ahead the producer can run.
//!
//! What differs from the async twin, and why:
//! - Waiting for room blocks a whole OS thread here; in the async twin it suspends a task and frees the
//!   runtime's thread. With one producer that costs nothing; with ten thousand it would.
//! - std has one `Receiver` type for both channels (only the senders differ: `SyncSender` vs `Sender`),
//!   but no `len()`: the queue length is counted instead. The producer counts an item after its `send`
//!   returns, the consumer counts what it has taken, and their difference, read just before the consumer
//!   asks for the next item, is never more than the queue really holds (the producer's count can only
//!   lag). tokio's `Receiver::len()` reads it directly.
//! - The threads are scoped (`thread::scope`), so they can borrow the counter from the caller: no `Arc`.
//!
//! Seed: "Asynchrony" > Challenges and Considerations, 5. Handling Backpressure; "Asynchrony vs
//! Multithreading". Upstream: `src/python/asynchrony/data_sharing_queue.py`,
//! `src/js/asynchrony/06_data_sharing_queue.js`, the mutex + condvar queue of
//! `src/cpp/asynchrony/async_producer_consumer.cpp`.
//!
//! Run: `cargo run -p examples-threads --bin 06_data_sharing_queue_threads` (no flags, about 2 s).
//!
//! The output will look similar to this (times vary by a few milliseconds):
//!
//! ```text
//!   0.000s  INFO [main] --- bounded (capacity 3): the producer waits when the queue is full ---
//!   0.030s  INFO [producer] producer: item 0 queued
//!   0.030s  INFO [consumer] consumer: took item 0 (queue length 0 when it asked)
//!   ...
//!   0.181s  INFO [producer] producer: queue full (3 items), waiting for room for item 5
//!   0.231s  INFO [consumer] consumer: took item 2 (queue length 3 when it asked)
//!   0.231s  INFO [producer] producer: item 5 queued after waiting 50 ms
//!   ...
//! Summary
//!   bounded (capacity 3): 10/10 items received, in order; largest queue 3 (capacity 3)
//!   bounded (capacity 3): producer waited 5 times (331 ms); done at 632 ms (ideal 630 ms)
//!   ...
//! ```

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::mpsc::TrySendError;
use std::thread;
use std::time::{Duration, Instant};

use common::{fmt_duration, init_logging};
use tracing::info;

/// How many items the producer makes.
const ITEMS: u32 = 10;
/// The bounded run's queue capacity.
const CAPACITY: usize = 3;
/// The producer makes an item this often...
const PRODUCE_EVERY: Duration = Duration::from_millis(30);
/// ...and the consumer needs this long for each: the producer is faster.
const CONSUME_TAKES: Duration = Duration::from_millis(100);

/// Which queue connects producer and consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueueKind {
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

/// What one run measured. Times count from the start of the run.
#[derive(Debug)]
struct QueueRun {
    kind: QueueKind,
    /// The items in the order the consumer received them.
    received: Vec<u32>,
    /// The most items the consumer ever found waiting in the queue.
    peak_len: usize,
    /// How many sends found the queue full and had to wait, and for how long in all.
    producer_waits: u32,
    producer_waited: Duration,
    /// When the producer had queued its last item.
    producer_done: Duration,
    /// When the consumer had finished the last item.
    consumer_done: Duration,
}

/// The sending half of either kind of channel: `SyncSender` (bounded) blocks when the queue is full,
/// `Sender` (unbounded) never does. The receiving half is the same type for both.
enum QueueSender {
    /// std's `SyncSender` cannot tell its capacity, so it travels with it (for the log).
    Bounded(mpsc::SyncSender<u32>, usize),
    Unbounded(mpsc::Sender<u32>),
}

impl QueueSender {
    /// Puts `item` in the queue and returns how long it had to wait for room (`None`: no wait).
    /// Fails only if the consumer is gone.
    fn put(&self, item: u32) -> anyhow::Result<Option<Duration>> {
        match self {
            QueueSender::Bounded(tx, capacity) => {
                // `try_send` first, only so that the wait can be seen in the log: a plain
                // `tx.send(item)` blocks exactly the same way, silently.
                match tx.try_send(item) {
                    Ok(()) => Ok(None),
                    Err(TrySendError::Full(item)) => {
                        info!(
                            "producer: queue full ({capacity} items), waiting for room for item {item}"
                        );
                        let waiting = Instant::now();
                        // Backpressure: this thread sleeps until the consumer takes an item.
                        tx.send(item)
                            .map_err(|_| anyhow::anyhow!("the consumer hung up"))?;
                        Ok(Some(waiting.elapsed()))
                    }
                    Err(TrySendError::Disconnected(_)) => anyhow::bail!("the consumer hung up"),
                }
            }
            // Never blocks: the item is appended to a list that can grow until memory runs out.
            QueueSender::Unbounded(tx) => {
                tx.send(item)
                    .map_err(|_| anyhow::anyhow!("the consumer hung up"))?;
                Ok(None)
            }
        }
    }
}

fn queue(kind: QueueKind) -> (QueueSender, mpsc::Receiver<u32>) {
    match kind {
        QueueKind::Bounded(capacity) => {
            let (tx, rx) = mpsc::sync_channel(capacity);
            (QueueSender::Bounded(tx, capacity), rx)
        }
        QueueKind::Unbounded => {
            let (tx, rx) = mpsc::channel();
            (QueueSender::Unbounded(tx), rx)
        }
    }
}

/// What the producer reports back: (waits, total waited, done at).
type ProducerReport = (u32, Duration, Duration);

/// Makes `ITEMS` items, one every [`PRODUCE_EVERY`], queues each and counts it in `sent`.
///
/// Taking `tx` by value matters: when this function returns, `tx` is dropped, the channel has no
/// sender left, and the consumer's `recv()` fails after the last item. No sentinel needed.
fn produce(tx: QueueSender, sent: &AtomicUsize, start: Instant) -> anyhow::Result<ProducerReport> {
    let mut waits = 0;
    let mut waited = Duration::ZERO;
    for item in 0..ITEMS {
        thread::sleep(PRODUCE_EVERY); // making the item
        let wait = tx.put(item)?;
        sent.fetch_add(1, Ordering::SeqCst);
        match wait {
            None => info!("producer: item {item} queued"),
            Some(wait) => {
                info!(
                    "producer: item {item} queued after waiting {}",
                    fmt_duration(wait)
                );
                waits += 1;
                waited += wait;
            }
        }
    }
    info!("producer: done, dropping the sender closes the queue");
    Ok((waits, waited, start.elapsed()))
}

/// Takes items until the queue is closed and empty; returns them in the order received, the largest
/// queue length it saw, and when it finished.
fn consume(
    rx: mpsc::Receiver<u32>,
    sent: &AtomicUsize,
    start: Instant,
) -> (Vec<u32>, usize, Duration) {
    let mut received = Vec::new();
    let mut peak_len = 0;
    loop {
        // The queue is longest just before the consumer comes back for the next item. Counted, not
        // read (std has no `len()`): sent so far minus taken so far. `saturating_sub` because the
        // producer may not have counted an item the consumer already holds.
        let len = sent.load(Ordering::SeqCst).saturating_sub(received.len());
        peak_len = peak_len.max(len);
        let Ok(item) = rx.recv() else {
            break;
        };
        info!("consumer: took item {item} (queue length {len} when it asked)");
        thread::sleep(CONSUME_TAKES); // processing it
        received.push(item);
    }
    info!("consumer: queue closed and empty, stopping");
    (received, peak_len, start.elapsed())
}

/// One producer and one consumer over a queue of `kind`, each on its own named thread.
fn run(kind: QueueKind) -> anyhow::Result<QueueRun> {
    let start = Instant::now();
    let (tx, rx) = queue(kind);
    let sent = AtomicUsize::new(0);
    thread::scope(|s| {
        let producer = thread::Builder::new()
            .name("producer".into())
            .spawn_scoped(s, || produce(tx, &sent, start))?;
        let consumer = thread::Builder::new()
            .name("consumer".into())
            .spawn_scoped(s, || consume(rx, &sent, start))?;
        let (producer_waits, producer_waited, producer_done) = producer
            .join()
            .map_err(|_| anyhow::anyhow!("the producer panicked"))??;
        let (received, peak_len, consumer_done) = consumer
            .join()
            .map_err(|_| anyhow::anyhow!("the consumer panicked"))?;
        Ok(QueueRun {
            kind,
            received,
            peak_len,
            producer_waits,
            producer_waited,
            producer_done,
            consumer_done,
        })
    })
}

/// When the producer should be done: at its own pace with room to spare, or else when the consumer
/// has taken enough items to make room for the last one (item `ITEMS-1` enters when the consumer
/// takes item `ITEMS-1-capacity`, and the consumer takes item `j` at `PRODUCE_EVERY + j x CONSUME_TAKES`).
fn ideal_producer_done(kind: QueueKind) -> Duration {
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
fn ideal_consumer_done() -> Duration {
    PRODUCE_EVERY + CONSUME_TAKES * ITEMS
}

fn summary_lines(r: &QueueRun) -> [String; 2] {
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

fn main() -> anyhow::Result<()> {
    init_logging();

    let mut runs = Vec::new();
    for (kind, what) in [
        (
            QueueKind::Bounded(CAPACITY),
            "the producer waits when the queue is full",
        ),
        (
            QueueKind::Unbounded,
            "the producer never waits, the backlog grows",
        ),
    ] {
        info!("--- {kind}: {what} ---");
        let r = run(kind)?;
        info!(
            "{kind}: largest queue {}, consumer done at {}",
            r.peak_len,
            fmt_duration(r.consumer_done)
        );
        runs.push(r);
    }

    println!();
    println!("Summary");
    for r in &runs {
        for line in summary_lines(r) {
            println!("  {line}");
        }
    }
    let consumer_done: Vec<String> = runs
        .iter()
        .map(|r| format!("{} {}", r.kind, fmt_duration(r.consumer_done)))
        .collect();
    println!(
        "  consumer done: {} (ideal {} each: the consumer sets the pace)",
        consumer_done.join(" | "),
        fmt_duration(ideal_consumer_done())
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real time, on a machine that may be busy. What the channel guarantees is asserted exactly
    //! (order, no loss, the bound, an unbounded send never waits); timings only as lower bounds, which
    //! sleeps make exact, and generous upper bounds.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn every_item_arrives_once_and_in_order_through_both_queues() {
        for kind in [QueueKind::Bounded(CAPACITY), QueueKind::Unbounded] {
            let r = run(kind).expect("the run completes");
            assert_eq!(r.received, (0..ITEMS).collect::<Vec<_>>(), "{kind}");
        }
    }

    #[test]
    fn a_bounded_queue_never_holds_more_than_its_capacity() {
        for capacity in [1, 3] {
            let r = run(QueueKind::Bounded(capacity)).expect("completes");
            assert!(r.peak_len <= capacity, "capacity {capacity}: {r:?}");
            assert!(r.producer_waits > 0, "capacity {capacity}: no backpressure");
            // The last item cannot enter before the consumer has finished ITEMS-1-capacity items.
            assert!(
                r.producer_done >= ideal_producer_done(QueueKind::Bounded(capacity)),
                "capacity {capacity}: {r:?}"
            );
        }
    }

    #[test]
    fn an_unbounded_queue_lets_the_backlog_grow() {
        let r = run(QueueKind::Unbounded).expect("completes");
        assert_eq!(r.producer_waits, 0, "an unbounded send never waits");
        // 7 items wait at 330 ms when nothing is late; a loaded machine may shave one or two.
        assert!(r.peak_len > CAPACITY, "{r:?}");
        // The producer ran at its own pace (300 ms), far ahead of the consumer.
        assert!(r.producer_done >= ms(300), "{r:?}");
        assert!(
            r.producer_done < ideal_producer_done(QueueKind::Bounded(CAPACITY)),
            "{r:?}"
        );
        // The consumer still sets the total.
        assert!(r.consumer_done >= ideal_consumer_done(), "{r:?}");
    }

    #[test]
    fn dropping_the_consumer_makes_the_producer_fail_not_hang() {
        let (tx, rx) = queue(QueueKind::Bounded(1));
        drop(rx);
        let err = produce(tx, &AtomicUsize::new(0), Instant::now()).expect_err("nobody listens");
        assert!(err.to_string().contains("hung up"), "{err}");
    }
}
