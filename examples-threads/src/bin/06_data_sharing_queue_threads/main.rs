//! # 06 · Sharing data through a queue, with threads: a fast producer, a slow consumer, and backpressure
//!
//! The same scenario as `examples-async/src/bin/06_data_sharing_queue/main.rs`: a producer thread
//! makes an item every 30 ms, a consumer thread needs 100 ms for each, ten items.
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
//! What differs from the async twin: waiting for room blocks a whole OS thread here, where the async
//! twin suspends a task and frees the runtime's thread (with one producer that costs nothing; with ten
//! thousand it would). std's `Receiver` has no `len()`, so the queue length is counted (see `consume`).
//!
//! Seed: "Asynchrony" > Challenges and Considerations, 5. Handling Backpressure; "Asynchrony vs
//! Multithreading". Upstream: `src/python/asynchrony/data_sharing_queue.py`,
//! `src/js/asynchrony/06_data_sharing_queue.js`, the mutex + condvar queue of
//! `src/cpp/asynchrony/async_producer_consumer.cpp`.
//!
//! This file is the lesson: the producers, the consumer, the two runs. What each side records, the
//! ideals and the summary are in `report.rs`; the proofs in `tests.rs`.
//!
//! Run: `cargo run -p examples-threads --bin 06_data_sharing_queue_threads` (no flags but `--help`).
//! Output of a real run: `docs/output/06_data_sharing_queue_threads.txt`.

mod report;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::mpsc::TrySendError;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::init_logging;
use report::{Consumed, Produced, QueueKind, QueueRun, print_summary};
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
///
/// std's `Receiver` has no `len()`, so the queue length is counted: the producer counts an item in
/// `sent` after its `send` returns, the consumer counts what it has taken, and their difference, read
/// just before the consumer asks for the next item, is never more than the queue really holds (the
/// producer's count can only lag). tokio's `Receiver::len()` reads it directly.
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
        consumed.took(item, len);
        thread::sleep(CONSUME_TAKES); // processing it
        consumed.received.push(item);
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

    print_summary(&bounded, &unbounded);
    Ok(())
}

fn hung_up() -> anyhow::Error {
    anyhow::anyhow!("the consumer hung up")
}

fn panicked(who: &str) -> anyhow::Error {
    anyhow::anyhow!("the {who} panicked")
}

#[cfg(test)]
mod tests;
