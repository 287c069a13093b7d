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
//! - **Closing by dropping the sender**: the consumer's `recv()` returns `None` once the queue is
//!   empty and the last `Sender` is gone. Upstream puts a `None` sentinel in the queue instead.
//! - Both runs receive every item once, in order (a channel is FIFO), and take the same total time: the
//!   consumer sets the pace either way. What the bound changes is how far ahead the producer can run.
//!
//! Seed: "Asynchrony" > Challenges and Considerations, 5. Handling Backpressure; Examples (table row 6,
//! "Share data between asynchronous tasks using a Queue"). Upstream: `src/python/asynchrony/data_sharing_queue.py`,
//! `src/js/asynchrony/06_data_sharing_queue.js`. Threads twin:
//! `examples-threads/src/bin/06_data_sharing_queue_threads/main.rs`.
//!
//! This file is the lesson: the producers, the consumers, the two runs. What each side records, the
//! ideals and the summary are in `report.rs`; the proofs, on tokio's paused clock, in `tests.rs`.
//!
//! Run: `cargo run -p examples-async --bin 06_data_sharing_queue` (no flags but `--help`, about 2 s).
//! Output of a real run: `docs/output/06_data_sharing_queue.txt`.

mod report;

use std::time::Duration;

use clap::Parser;
use common::init_logging;
use report::{Consumed, Produced, QueueKind, QueueRun, print_summary};
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
        consumed.took(item, len);
        sleep(CONSUME_TAKES).await; // processing it
        consumed.received.push(item);
    }
    consumed.done(start)
}

/// The consumer of the unbounded channel: the same loop; only the receiver's type differs.
async fn consume_unbounded(mut rx: mpsc::UnboundedReceiver<u32>, start: Instant) -> Consumed {
    let mut consumed = Consumed::default();
    loop {
        let len = rx.len();
        let Some(item) = rx.recv().await else { break };
        consumed.took(item, len);
        sleep(CONSUME_TAKES).await; // processing it
        consumed.received.push(item);
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

    print_summary(&bounded, &unbounded);
    Ok(())
}

fn hung_up() -> anyhow::Error {
    anyhow::anyhow!("the consumer hung up")
}

#[cfg(test)]
mod tests;
