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
//! Run: `cargo run -p examples-async --bin 06_data_sharing_queue` (no flags, about 2 s).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.001s  INFO [main] --- bounded (capacity 3): the producer waits when the queue is full ---
//!   0.032s  INFO [main] producer: item 0 queued
//!   0.032s  INFO [main] consumer: took item 0 (queue length 0 when it asked)
//!   ...
//!   0.183s  INFO [main] producer: queue full (3 items), waiting for room for item 5
//!   0.233s  INFO [main] consumer: took item 2 (queue length 3 when it asked)
//!   0.233s  INFO [main] producer: item 5 queued after waiting 50 ms
//!   ...
//! Summary
//!   bounded (capacity 3): 10/10 items received, in order; largest queue 3 (capacity 3)
//!   bounded (capacity 3): producer waited 5 times (330 ms); done at 630 ms (ideal 630 ms)
//!   ...
//! ```

use std::fmt;
use std::time::Duration;

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

/// The sending half of either kind of channel. tokio has two types because an unbounded send
/// cannot wait: `UnboundedSender::send` is not even `async`.
enum QueueSender {
    Bounded(mpsc::Sender<u32>),
    Unbounded(mpsc::UnboundedSender<u32>),
}

impl QueueSender {
    /// Puts `item` in the queue and returns how long it had to wait for room (`None`: no wait).
    /// Fails only if the consumer is gone.
    async fn put(&self, item: u32) -> anyhow::Result<Option<Duration>> {
        match self {
            QueueSender::Bounded(tx) => {
                // `try_send` first, only so that the wait can be seen in the log: a plain
                // `tx.send(item).await` waits exactly the same way, silently.
                match tx.try_send(item) {
                    Ok(()) => Ok(None),
                    Err(TrySendError::Full(item)) => {
                        info!(
                            "producer: queue full ({} items), waiting for room for item {item}",
                            tx.max_capacity()
                        );
                        let waiting = Instant::now();
                        // Backpressure: this task sleeps until the consumer takes an item.
                        tx.send(item)
                            .await
                            .map_err(|_| anyhow::anyhow!("the consumer hung up"))?;
                        Ok(Some(waiting.elapsed()))
                    }
                    Err(TrySendError::Closed(_)) => anyhow::bail!("the consumer hung up"),
                }
            }
            // Never waits: the item is appended to a list that can grow until memory runs out.
            QueueSender::Unbounded(tx) => {
                tx.send(item)
                    .map_err(|_| anyhow::anyhow!("the consumer hung up"))?;
                Ok(None)
            }
        }
    }
}

/// The receiving half of either kind of channel.
enum QueueReceiver {
    Bounded(mpsc::Receiver<u32>),
    Unbounded(mpsc::UnboundedReceiver<u32>),
}

impl QueueReceiver {
    /// The next item, or `None` once every sender is gone and the queue is empty.
    async fn recv(&mut self) -> Option<u32> {
        match self {
            QueueReceiver::Bounded(rx) => rx.recv().await,
            QueueReceiver::Unbounded(rx) => rx.recv().await,
        }
    }

    /// How many items are waiting in the queue right now.
    fn len(&self) -> usize {
        match self {
            QueueReceiver::Bounded(rx) => rx.len(),
            QueueReceiver::Unbounded(rx) => rx.len(),
        }
    }
}

fn queue(kind: QueueKind) -> (QueueSender, QueueReceiver) {
    match kind {
        QueueKind::Bounded(capacity) => {
            let (tx, rx) = mpsc::channel(capacity);
            (QueueSender::Bounded(tx), QueueReceiver::Bounded(rx))
        }
        QueueKind::Unbounded => {
            let (tx, rx) = mpsc::unbounded_channel();
            (QueueSender::Unbounded(tx), QueueReceiver::Unbounded(rx))
        }
    }
}

/// What the producer reports back: (waits, total waited, done at).
type ProducerReport = (u32, Duration, Duration);

/// Makes `ITEMS` items, one every [`PRODUCE_EVERY`], and queues each.
///
/// Taking `tx` by value matters: when this function returns, `tx` is dropped, the channel has no
/// sender left, and the consumer's `recv()` returns `None` after the last item. No sentinel needed.
async fn produce(tx: QueueSender, start: Instant) -> anyhow::Result<ProducerReport> {
    let mut waits = 0;
    let mut waited = Duration::ZERO;
    for item in 0..ITEMS {
        sleep(PRODUCE_EVERY).await; // making the item
        match tx.put(item).await? {
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
async fn consume(mut rx: QueueReceiver, start: Instant) -> (Vec<u32>, usize, Duration) {
    let mut received = Vec::new();
    let mut peak_len = 0;
    loop {
        // The queue is longest just before the consumer comes back for the next item.
        let len = rx.len();
        peak_len = peak_len.max(len);
        let Some(item) = rx.recv().await else {
            break;
        };
        info!("consumer: took item {item} (queue length {len} when it asked)");
        sleep(CONSUME_TAKES).await; // processing it
        received.push(item);
    }
    info!("consumer: queue closed and empty, stopping");
    (received, peak_len, start.elapsed())
}

/// One producer and one consumer over a queue of `kind`, each its own task.
async fn run(kind: QueueKind) -> anyhow::Result<QueueRun> {
    let start = Instant::now();
    let (tx, rx) = queue(kind);
    let producer = tokio::spawn(produce(tx, start));
    let consumer = tokio::spawn(consume(rx, start));
    let (producer_waits, producer_waited, producer_done) = producer.await??;
    let (received, peak_len, consumer_done) = consumer.await?;
    Ok(QueueRun {
        kind,
        received,
        peak_len,
        producer_waits,
        producer_waited,
        producer_done,
        consumer_done,
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

// One thread is enough: the producer and the consumer spend their time waiting, not computing.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
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
        let r = run(kind).await?;
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
    //! On the paused clock the schedule is exact. With capacity 3: the consumer takes item 0 at
    //! 30 ms, items 1-3 wait in the queue, item 4 fits at 150 ms, and from item 5 on every send waits
    //! for the consumer (items 5..9 enter at 230, 330, ..., 630 ms).
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn every_item_arrives_once_and_in_order_through_both_queues() {
        for kind in [QueueKind::Bounded(CAPACITY), QueueKind::Unbounded] {
            let r = run(kind).await.expect("the run completes");
            assert_eq!(r.received, (0..ITEMS).collect::<Vec<_>>(), "{kind}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_bounded_queue_never_holds_more_than_its_capacity() {
        for capacity in 1..=5 {
            let r = run(QueueKind::Bounded(capacity)).await.expect("completes");
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
        let r = run(QueueKind::Bounded(3)).await.expect("completes");
        assert_eq!(r.producer_waits, 5);
        // Item 5 waits 50 ms (180 -> 230), items 6..9 wait 70 ms each.
        assert_eq!(r.producer_waited, ms(50 + 4 * 70));
        assert_eq!(r.producer_done, ms(630));
        assert_eq!(r.consumer_done, ms(1030));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unbounded_queue_lets_the_backlog_grow() {
        let bounded = run(QueueKind::Bounded(3)).await.expect("completes");
        let unbounded = run(QueueKind::Unbounded).await.expect("completes");
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
        let (tx, rx) = queue(QueueKind::Bounded(1));
        drop(rx);
        let err = produce(tx, Instant::now())
            .await
            .expect_err("nobody listens");
        assert!(err.to_string().contains("hung up"), "{err}");
    }
}
