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
//! Run: `cargo run -p examples-threads --bin 06_data_sharing_queue_threads` (no flags but `--help`, about 2 s).
//!
//! The output will look similar to this (times vary by a few milliseconds):
//!
//! ```text
//!   0.001s  INFO [main] --- bounded (capacity 3): the producer waits when the queue is full ---
//!   0.034s  INFO [producer] producer: item 0 queued
//!   0.034s  INFO [consumer] consumer: took item 0 (queue length 0 when it asked)
//!   ...
//!   0.185s  INFO [producer] producer: queue full (3 items), waiting for room for item 5
//!   0.235s  INFO [consumer] consumer: took item 2 (queue length 3 when it asked)
//!   0.235s  INFO [producer] producer: item 5 queued after waiting 49 ms
//!   ...
//! Summary
//!   bounded (capacity 3): 10/10 items received, in order; largest queue 3 (capacity 3)
//!   bounded (capacity 3): producer waited 5 times (332 ms); done at 638 ms (ideal 630 ms)
//!   unbounded: 10/10 items received, in order; largest queue 7 (no limit)
//!   unbounded: producer waited 0 times (0.00 ms); done at 306 ms (ideal 300 ms)
//!   consumer done: bounded (capacity 3) 1039 ms | unbounded 1057 ms (ideal 1030 ms each: the consumer sets the pace)
//! ```

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::mpsc::TrySendError;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
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

/// The producer sends `0..ITEMS`, one every [`PRODUCE_EVERY`], into a **bounded** `sync_channel`,
/// and counts each item in `sent` once it is in the queue.
///
/// `send` blocks this thread while the queue is full: that is the backpressure. `try_send` comes
/// first only so that the wait can be seen in the log; a plain `tx.send(item)` blocks exactly the
/// same way, silently. (std's `SyncSender` cannot tell its capacity, so it is passed in for the log.)
///
/// Taking `tx` by value matters: when this function returns, `tx` is dropped, the channel has no
/// sender left, and the consumer's `recv()` fails after the last item. No sentinel needed.
fn produce_bounded(
    tx: mpsc::SyncSender<u32>,
    capacity: usize,
    sent: &AtomicUsize,
    start: Instant,
) -> anyhow::Result<Produced> {
    let mut produced = Produced::default();
    for item in 0..ITEMS {
        thread::sleep(PRODUCE_EVERY); // making the item
        match tx.try_send(item) {
            Ok(()) => produced.queued(item, None, sent),
            Err(TrySendError::Full(item)) => {
                info!("producer: queue full ({capacity} items), waiting for room for item {item}");
                let waiting = Instant::now();
                // Backpressure: this thread sleeps until the consumer takes an item.
                tx.send(item).map_err(|_| hung_up())?;
                produced.queued(item, Some(waiting.elapsed()), sent);
            }
            Err(TrySendError::Disconnected(_)) => return Err(hung_up()),
        }
    }
    Ok(produced.done(start))
}

/// The same producer over an **unbounded** `channel()`: `send` never blocks. The item is appended
/// to a list that grows for as long as the producer is faster.
fn produce_unbounded(
    tx: mpsc::Sender<u32>,
    sent: &AtomicUsize,
    start: Instant,
) -> anyhow::Result<Produced> {
    let mut produced = Produced::default();
    for item in 0..ITEMS {
        thread::sleep(PRODUCE_EVERY); // making the item
        tx.send(item).map_err(|_| hung_up())?;
        produced.queued(item, None, sent);
    }
    Ok(produced.done(start))
}

/// Takes items until the queue is closed and empty. One function for both runs: std has one
/// `Receiver` type for both channels (only the senders differ).
fn consume(rx: mpsc::Receiver<u32>, sent: &AtomicUsize, start: Instant) -> Consumed {
    let mut consumed = Consumed::default();
    loop {
        // The queue is longest just before the consumer comes back for the next item. Counted, not
        // read (std has no `len()`): sent so far minus taken so far. `saturating_sub` because the
        // producer may not have counted an item the consumer already holds.
        let len = sent
            .load(Ordering::SeqCst)
            .saturating_sub(consumed.received.len());
        let Ok(item) = rx.recv() else { break };
        consumed.process(item, len);
    }
    consumed.done(start)
}

/// One producer and one consumer over a bounded `sync_channel(capacity)`, each on its own named
/// thread. Scoped threads, so both can borrow the `sent` counter: no `Arc`.
fn run_bounded(capacity: usize) -> anyhow::Result<QueueRun> {
    let start = Instant::now();
    let (tx, rx) = mpsc::sync_channel(capacity);
    let sent = AtomicUsize::new(0);
    thread::scope(|s| {
        let producer = thread::Builder::new()
            .name("producer".into())
            .spawn_scoped(s, || produce_bounded(tx, capacity, &sent, start))?;
        let consumer = thread::Builder::new()
            .name("consumer".into())
            .spawn_scoped(s, || consume(rx, &sent, start))?;
        let produced = producer.join().map_err(|_| panicked("producer"))??;
        let consumed = consumer.join().map_err(|_| panicked("consumer"))?;
        Ok(QueueRun::new(
            QueueKind::Bounded(capacity),
            produced,
            consumed,
        ))
    })
}

/// The same over an unbounded `channel()`.
fn run_unbounded() -> anyhow::Result<QueueRun> {
    let start = Instant::now();
    let (tx, rx) = mpsc::channel();
    let sent = AtomicUsize::new(0);
    thread::scope(|s| {
        let producer = thread::Builder::new()
            .name("producer".into())
            .spawn_scoped(s, || produce_unbounded(tx, &sent, start))?;
        let consumer = thread::Builder::new()
            .name("consumer".into())
            .spawn_scoped(s, || consume(rx, &sent, start))?;
        let produced = producer.join().map_err(|_| panicked("producer"))??;
        let consumed = consumer.join().map_err(|_| panicked("consumer"))?;
        Ok(QueueRun::new(QueueKind::Unbounded, produced, consumed))
    })
}

/// `--help` text: what the example demonstrates. No flags: the rates are fixed so the figures can
/// be compared with their ideal.
#[derive(Parser, Debug)]
#[command(
    about = "06 · Sharing data through a queue with threads: a fast producer and a slow consumer over \
             sync_channel(3) (backpressure: send blocks when it is full) and channel() (the backlog \
             grows); closed by dropping the sender",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!("--- bounded (capacity {CAPACITY}): the producer waits when the queue is full ---");
    let bounded = run_bounded(CAPACITY)?;
    info!("--- unbounded: the producer never waits, the backlog grows ---");
    let unbounded = run_unbounded()?;

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
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Support: what the producer and the consumer record, the ideals, the summary. No lesson below.
// ---------------------------------------------------------------------------------------------

/// Which queue a run used: for the labels and the ideals.
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

fn hung_up() -> anyhow::Error {
    anyhow::anyhow!("the consumer hung up")
}

fn panicked(who: &str) -> anyhow::Error {
    anyhow::anyhow!("the {who} panicked")
}

/// What the producer saw: how many sends found the queue full, how long they waited, when it was done.
#[derive(Debug, Default)]
struct Produced {
    waits: u32,
    waited: Duration,
    done_at: Duration,
}

impl Produced {
    /// Counts `item` in `sent` and logs that it is in the queue, after waiting `wait` for room
    /// (`None`: no wait).
    fn queued(&mut self, item: u32, wait: Option<Duration>, sent: &AtomicUsize) {
        sent.fetch_add(1, Ordering::SeqCst);
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

    fn done(mut self, start: Instant) -> Self {
        info!("producer: done, dropping the sender closes the queue");
        self.done_at = start.elapsed();
        self
    }
}

/// What the consumer saw: the items in the order received, the longest queue, when it was done.
#[derive(Debug, Default)]
struct Consumed {
    received: Vec<u32>,
    peak_len: usize,
    done_at: Duration,
}

impl Consumed {
    /// Processes `item`, taken when `len` items were waiting in the queue.
    fn process(&mut self, item: u32, len: usize) {
        self.peak_len = self.peak_len.max(len);
        info!("consumer: took item {item} (queue length {len} when it asked)");
        thread::sleep(CONSUME_TAKES); // processing it
        self.received.push(item);
    }

    fn done(mut self, start: Instant) -> Self {
        info!("consumer: queue closed and empty, stopping");
        self.done_at = start.elapsed();
        self
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

impl QueueRun {
    fn new(kind: QueueKind, produced: Produced, consumed: Consumed) -> Self {
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
        for r in [
            run_bounded(CAPACITY).expect("the run completes"),
            run_unbounded().expect("the run completes"),
        ] {
            assert_eq!(r.received, (0..ITEMS).collect::<Vec<_>>(), "{}", r.kind);
        }
    }

    #[test]
    fn a_bounded_queue_never_holds_more_than_its_capacity() {
        for capacity in [1, 3] {
            let r = run_bounded(capacity).expect("completes");
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
        let r = run_unbounded().expect("completes");
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
        let (tx, rx) = mpsc::sync_channel(1);
        drop(rx);
        let err = produce_bounded(tx, 1, &AtomicUsize::new(0), Instant::now())
            .expect_err("nobody listens");
        assert!(err.to_string().contains("hung up"), "{err}");
        let (tx, rx) = mpsc::channel();
        drop(rx);
        let err = produce_unbounded(tx, &AtomicUsize::new(0), Instant::now())
            .expect_err("nobody listens");
        assert!(err.to_string().contains("hung up"), "{err}");
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["06", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("06 · Sharing data"), "{help}");
        let bad = Args::try_parse_from(["06", "--capacity", "4"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
