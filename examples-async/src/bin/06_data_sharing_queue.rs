//! # 06 · Sharing data through a queue: a fast producer, a slow consumer, and backpressure
//!
//! A producer makes an item every 30 ms; the consumer needs 100 ms for each. Upstream's producer and
//! consumer both sleep a random 0.5-1 s around ten items; here the producer is made three times
//! faster on purpose, because that is when the choice of queue matters.
//!
//! What it shows:
//! - A **bounded** `tokio::sync::mpsc::channel(3)`: when the queue holds 3 items, `send(..).await`
//!   waits until the consumer takes one. That wait is **backpressure**, and it is logged: the producer
//!   is slowed to the consumer's pace and the queue never holds more than its capacity.
//! - An **unbounded** channel for contrast: `send` never waits, so the backlog (memory) grows for as
//!   long as the producer is faster. Upstream's Python uses an unbounded `asyncio.Queue()` and calls it
//!   buffering; a buffer with no limit is only a place for a backlog to grow.
//! - **Closing by dropping the sender.** When the producer is done, its `Sender` is dropped and the
//!   consumer's `recv()` returns `None` once the queue is empty. Upstream puts a `None` sentinel in the
//!   queue instead; the channel already knows when the last sender has gone.
//! - Both runs receive every item once, in order (a channel is FIFO), and take the same total time: the
//!   consumer sets the pace either way. What the bound changes is how far ahead the producer can run.
//!
//! Seed: "Asynchrony" > Challenges and Considerations, 5. Handling Backpressure; Examples (table row 6,
//! "Share data between asynchronous tasks using a Queue"). Upstream: `src/python/asynchrony/data_sharing_queue.py`,
//! `src/js/asynchrony/06_data_sharing_queue.js`. Threads twin:
//! `examples-threads/src/bin/06_data_sharing_queue_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 06_data_sharing_queue` (no flags but `--help`, about 2 s).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.000s  INFO [main] --- bounded (capacity 3): the producer waits when the queue is full ---
//!   0.032s  INFO [main] producer: item 0 queued
//!   0.032s  INFO [main] consumer: took item 0 (queue length 0 when it asked)
//!   ...
//!   0.193s  INFO [main] producer: queue full (3 items), waiting for room for item 5
//!   0.235s  INFO [main] consumer: took item 2 (queue length 3 when it asked)
//!   0.235s  INFO [main] producer: item 5 queued after waiting 41 ms
//!   ...
//! Summary
//!   bounded (capacity 3): 10/10 items received, in order; largest queue 3 (capacity 3)
//!   bounded (capacity 3): producer waited 5 times (338 ms); done at 657 ms (ideal 630 ms)
//!   unbounded: 10/10 items received, in order; largest queue 7 (no limit)
//!   unbounded: producer waited 0 times (0.00 ms); done at 324 ms (ideal 300 ms)
//!   consumer done: bounded (capacity 3) 1072 ms | unbounded 1065 ms (ideal 1030 ms each: the consumer sets the pace)
//! ```

use std::fmt;
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::{Instant, sleep};
use tracing::info;

/// How many items the producer makes.
const ITEMS: u32 = 10;
/// The bounded run's queue capacity.
const CAPACITY: usize = 3;
/// The producer makes an item this often...
const PRODUCE_EVERY: Duration = Duration::from_millis(30);
/// ...and the consumer needs this long for each: the producer is faster.
const CONSUME_TAKES: Duration = Duration::from_millis(100);

/// The producer sends `0..ITEMS`, one every [`PRODUCE_EVERY`], into a **bounded** channel.
///
/// `send(..).await` waits while the queue is full: that wait is the backpressure. `try_send` comes
/// first only so that the wait can be seen in the log; a plain `tx.send(item).await` waits exactly
/// the same way, silently.
///
/// Taking `tx` by value matters: when this function returns, `tx` is dropped, the channel has no
/// sender left, and the consumer's `recv()` returns `None` after the last item. No sentinel needed.
async fn produce_bounded(tx: mpsc::Sender<u32>, start: Instant) -> anyhow::Result<Produced> {
    let mut produced = Produced::default();
    for item in 0..ITEMS {
        sleep(PRODUCE_EVERY).await; // making the item
        match tx.try_send(item) {
            Ok(()) => produced.queued(item, None),
            Err(TrySendError::Full(item)) => {
                info!(
                    "producer: queue full ({} items), waiting for room for item {item}",
                    tx.max_capacity()
                );
                let waiting = Instant::now();
                // Backpressure: this task sleeps until the consumer takes an item.
                tx.send(item).await.map_err(|_| hung_up())?;
                produced.queued(item, Some(waiting.elapsed()));
            }
            Err(TrySendError::Closed(_)) => return Err(hung_up()),
        }
    }
    Ok(produced.done(start))
}

/// The same producer over an **unbounded** channel: `send` is not even `async`, it never waits. The
/// item is appended to a list that grows for as long as the producer is faster (until memory runs
/// out, with a producer that never stops).
async fn produce_unbounded(
    tx: mpsc::UnboundedSender<u32>,
    start: Instant,
) -> anyhow::Result<Produced> {
    let mut produced = Produced::default();
    for item in 0..ITEMS {
        sleep(PRODUCE_EVERY).await; // making the item
        tx.send(item).map_err(|_| hung_up())?;
        produced.queued(item, None);
    }
    Ok(produced.done(start))
}

/// The consumer of the bounded channel: takes items until the queue is closed and empty.
async fn consume_bounded(mut rx: mpsc::Receiver<u32>, start: Instant) -> Consumed {
    let mut consumed = Consumed::default();
    loop {
        // The queue is longest just before the consumer comes back for the next item.
        let len = rx.len();
        let Some(item) = rx.recv().await else { break };
        consumed.process(item, len).await;
    }
    consumed.done(start)
}

/// The consumer of the unbounded channel: the same loop; only the receiver's type differs.
async fn consume_unbounded(mut rx: mpsc::UnboundedReceiver<u32>, start: Instant) -> Consumed {
    let mut consumed = Consumed::default();
    loop {
        let len = rx.len();
        let Some(item) = rx.recv().await else { break };
        consumed.process(item, len).await;
    }
    consumed.done(start)
}

/// One producer and one consumer over a bounded channel of `capacity`, each its own task.
async fn run_bounded(capacity: usize) -> anyhow::Result<QueueRun> {
    let start = Instant::now();
    let (tx, rx) = mpsc::channel(capacity);
    let producer = tokio::spawn(produce_bounded(tx, start));
    let consumer = tokio::spawn(consume_bounded(rx, start));
    let produced = producer.await??;
    Ok(QueueRun::new(
        QueueKind::Bounded(capacity),
        produced,
        consumer.await?,
    ))
}

/// The same over an unbounded channel.
async fn run_unbounded() -> anyhow::Result<QueueRun> {
    let start = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let producer = tokio::spawn(produce_unbounded(tx, start));
    let consumer = tokio::spawn(consume_unbounded(rx, start));
    let produced = producer.await??;
    Ok(QueueRun::new(
        QueueKind::Unbounded,
        produced,
        consumer.await?,
    ))
}

/// `--help` text: what the example demonstrates. No flags: the rates are fixed so the figures can
/// be compared with their ideal.
#[derive(Parser, Debug)]
#[command(
    about = "06 · Sharing data through a queue: a fast producer and a slow consumer over a bounded \
             mpsc channel (backpressure: the producer waits when it is full) and an unbounded one \
             (the backlog grows); closed by dropping the sender",
    long_about = None
)]
struct Args {}

// One thread is enough: the producer and the consumer spend their time waiting, not computing.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!("--- bounded (capacity {CAPACITY}): the producer waits when the queue is full ---");
    let bounded = run_bounded(CAPACITY).await?;
    info!("--- unbounded: the producer never waits, the backlog grows ---");
    let unbounded = run_unbounded().await?;

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

/// What the producer saw: how many sends found the queue full, how long they waited, when it was done.
#[derive(Debug, Default)]
struct Produced {
    waits: u32,
    waited: Duration,
    done_at: Duration,
}

impl Produced {
    /// Logs that `item` is in the queue, after waiting `wait` for room (`None`: no wait).
    fn queued(&mut self, item: u32, wait: Option<Duration>) {
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
    async fn process(&mut self, item: u32, len: usize) {
        self.peak_len = self.peak_len.max(len);
        info!("consumer: took item {item} (queue length {len} when it asked)");
        sleep(CONSUME_TAKES).await; // processing it
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
    //! On the paused clock the schedule is exact. With capacity 3: the consumer takes item 0 at
    //! 30 ms, items 1-3 wait in the queue, item 4 fits at 150 ms, and from item 5 on every send waits
    //! for the consumer (items 5..9 enter at 230, 330, ..., 630 ms).
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn every_item_arrives_once_and_in_order_through_both_queues() {
        for r in [
            run_bounded(CAPACITY).await.expect("the run completes"),
            run_unbounded().await.expect("the run completes"),
        ] {
            assert_eq!(r.received, (0..ITEMS).collect::<Vec<_>>(), "{}", r.kind);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_bounded_queue_never_holds_more_than_its_capacity() {
        for capacity in 1..=5 {
            let r = run_bounded(capacity).await.expect("completes");
            // The producer is faster, so the queue fills up to the bound, and no further.
            assert_eq!(r.peak_len, capacity, "capacity {capacity}");
            assert!(r.producer_waits > 0, "capacity {capacity}: no backpressure");
            assert_eq!(
                r.producer_done,
                ideal_producer_done(QueueKind::Bounded(capacity)),
                "capacity {capacity}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn backpressure_holds_the_producer_to_the_consumers_pace() {
        let r = run_bounded(3).await.expect("completes");
        assert_eq!(r.producer_waits, 5);
        // Item 5 waits 50 ms (180 -> 230), items 6..9 wait 70 ms each.
        assert_eq!(r.producer_waited, ms(50 + 4 * 70));
        assert_eq!(r.producer_done, ms(630));
        assert_eq!(r.consumer_done, ms(1030));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unbounded_queue_lets_the_backlog_grow() {
        let bounded = run_bounded(3).await.expect("completes");
        let unbounded = run_unbounded().await.expect("completes");
        assert_eq!(unbounded.producer_waits, 0);
        assert_eq!(unbounded.producer_done, ms(300));
        // At 330 ms all 10 items were sent and the consumer had taken 3: 7 waiting.
        assert_eq!(unbounded.peak_len, 7);
        assert!(unbounded.peak_len > bounded.peak_len);
        // The consumer sets the pace: the bound costs no time in total.
        assert_eq!(unbounded.consumer_done, ideal_consumer_done());
        assert_eq!(bounded.consumer_done, ideal_consumer_done());
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_consumer_makes_the_producer_fail_not_hang() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let err = produce_bounded(tx, Instant::now())
            .await
            .expect_err("nobody listens");
        assert!(err.to_string().contains("hung up"), "{err}");
        let (tx, rx) = mpsc::unbounded_channel();
        drop(rx);
        let err = produce_unbounded(tx, Instant::now())
            .await
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
