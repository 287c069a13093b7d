//! # 08 · Producer/consumer: two crawlers feed three downloaders through a bounded queue
//!
//! Upstream's crawler: two producers find URLs (`page-1..4` and `product-1..4`, never really fetched),
//! three consumers take them from a queue of capacity 3, "download" each (100-300 ms here, upstream
//! 0.5-1.5 s) and "save" it (40-120 ms, upstream 0.2-0.6 s). Every delay is drawn from a seeded
//! generator (`plan.rs`), so `--seed` replays a run's timing exactly.
//!
//! What it shows:
//! - **Many consumers on one queue.** tokio's `mpsc` has one `Receiver`: the three consumers share it
//!   behind an `Arc<tokio::sync::Mutex<_>>` held only while waiting for the next URL, never while
//!   downloading (see `consume` for why this design, and not an MPMC crate or a `std` mutex).
//! - **Backpressure**: with 3 URLs waiting, a producer's `send(..).await` waits (logged).
//! - **Shutdown when all producers are done**, with no poison pill and no hard-coded count: each
//!   producer owns a clone of the `Sender` and drops it when it returns; when the last one is gone and
//!   the queue is empty, `recv()` returns `None` to every consumer in turn. Upstream's JS sends one
//!   `POISON_PILL` per consumer, its C++ has each consumer take exactly 6 items: both break when the
//!   counts change.
//! - **Accounting**: produced = consumed, each URL exactly once, how many each consumer did (upstream JS
//!   prints the number of consumers as the number consumed), and the most consumers busy at once.
//!
//! Seed: "Asynchrony" > Challenges and Considerations (5. Handling Backpressure); Examples table row 8.
//! Upstream: `src/python/asynchrony/producer_consumer.py`, `src/js/asynchrony/08_producer_consumer.js`,
//! `src/cpp/asynchrony/async_producer_consumer.cpp`.
//! Threads twin: `examples-threads/src/bin/08_producer_consumer_threads/main.rs`.
//!
//! This file is the lesson: producers, consumers, the queue, `main`. The seeded delays are in
//! `plan.rs`, the accounting and summary in `report.rs`, the proofs (200 seeds) in `tests.rs`.
//!
//! Run: `cargo run -p examples-async --bin 08_producer_consumer` (about 1 s; `-- --seed 7`).
//! Output of a real run: `docs/output/08_producer_consumer.txt`.

mod plan;
mod report;

use std::sync::Arc;

use clap::Parser;
use common::init_logging;
use plan::{DELAYS, Delays, Page, plan};
use report::{ConsumerReport, CrawlRun, ProducerReport, print_summary};
use tokio::sync::{Mutex, mpsc};
use tokio::time::{Duration, Instant, sleep};
use tracing::info;

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "08 · Producer/consumer: 2 producers feed 3 consumers through a bounded queue of 3 \
             (tokio's single-receiver mpsc shared behind a Mutex); backpressure, shutdown when every \
             producer is done (no poison pill), every URL consumed exactly once",
    long_about = None
)]
struct Args {
    /// Seed for the random delays: the same seed gives the same delays.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
}

/// The queue's capacity: at most this many URLs wait.
const CAPACITY: usize = 3;
/// How many consumers share the queue.
const CONSUMERS: usize = 3;
/// The producers, with the URL kind each finds, and how many each finds.
const PRODUCERS: [(&str, &str); 2] = [("pages", "page"), ("products", "product")];
const URLS_PER_PRODUCER: usize = 4;

/// Finds its pages one by one and queues each.
///
/// `tx` is this producer's own clone of the sender: returning drops it, and when the last producer
/// has returned the queue is closed. That is the whole shutdown protocol.
async fn produce(
    name: &'static str,
    pages: Vec<Page>,
    tx: mpsc::Sender<Page>,
    start: Instant,
) -> anyhow::Result<ProducerReport> {
    let mut produced = Vec::new();
    for page in pages {
        sleep(page.find).await; // crawling until the next link turns up
        let url = page.url.clone();
        if tx.capacity() == 0 {
            info!("producer {name}: queue full ({CAPACITY} URLs), waiting to add {url}");
        }
        tx.send(page)
            .await
            .map_err(|_| anyhow::anyhow!("every consumer is gone"))?;
        info!("producer {name}: queued {url}");
        produced.push(url);
    }
    info!("producer {name}: done, dropping its sender");
    Ok(ProducerReport {
        produced,
        done_at: start.elapsed(),
    })
}

/// Pretends to fetch the page.
async fn download(page: &Page) -> String {
    sleep(page.download).await;
    format!("<html>{}</html>", page.url)
}

/// Pretends to store it; returns the bytes written.
async fn save(page: &Page, html: &str) -> usize {
    sleep(page.save).await;
    html.len()
}

/// Takes URLs until the queue is closed and empty.
async fn consume(
    id: usize,
    queue: Arc<Mutex<mpsc::Receiver<Page>>>,
    start: Instant,
) -> ConsumerReport {
    let mut consumed = Vec::new();
    let mut busy = Vec::new();
    loop {
        // The lock is held only for this statement: while waiting for the next URL, not while working
        // on it. The guard is a temporary, dropped at the `;`. Whoever holds it is the one consumer
        // asking the queue, and the next URL goes to it; the others wait their turn at the lock
        // (tokio's mutex is fair, first come first served), then download in parallel. An MPMC
        // channel (the `async-channel` crate) would do the same without the lock; this workspace
        // avoids a crate for one file, and the lock makes the hand-off visible. A `std::sync::Mutex`
        // would not do: its guard cannot be held across the `.await`.
        let next = queue.lock().await.recv().await;
        let Some(page) = next else {
            break;
        };
        let took_it = start.elapsed();
        info!("consumer-{id}: downloading {}", page.url);
        let html = download(&page).await;
        let bytes = save(&page, &html).await;
        info!("consumer-{id}: saved {} ({bytes} bytes)", page.url);
        busy.push((took_it, start.elapsed()));
        consumed.push(page.url);
    }
    info!("consumer-{id}: queue closed and empty, stopping");
    ConsumerReport {
        consumed,
        busy,
        stopped_at: start.elapsed(),
    }
}

async fn run(seed: u64, delays: Delays) -> anyhow::Result<CrawlRun> {
    let start = Instant::now();
    let (tx, rx) = mpsc::channel(CAPACITY);
    let queue = Arc::new(Mutex::new(rx));

    let consumers: Vec<_> = (1..=CONSUMERS)
        .map(|id| tokio::spawn(consume(id, queue.clone(), start)))
        .collect();
    let producers: Vec<_> = PRODUCERS
        .iter()
        .zip(plan(seed, delays))
        .map(|(&(name, _), pages)| tokio::spawn(produce(name, pages, tx.clone(), start)))
        .collect();
    // This function's own sender must go too, or the queue would never close and the consumers would
    // wait forever. Its handle on the receiver goes as well: if every consumer died, a producer's
    // `send` then fails ("every consumer is gone") instead of waiting forever on a full queue.
    drop(tx);
    drop(queue);

    let mut produced = Vec::new();
    let mut producers_done = Duration::ZERO;
    for producer in producers {
        let report = producer.await??;
        produced.extend(report.produced);
        producers_done = producers_done.max(report.done_at);
    }
    let mut reports = Vec::new();
    for consumer in consumers {
        reports.push(consumer.await?);
    }
    Ok(CrawlRun {
        produced,
        consumers: reports,
        producers_done,
        total: start.elapsed(),
    })
}

// One thread is enough: producers and consumers wait on timers and on each other, they do not compute.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Args = common::parse_args();
    init_logging();

    info!(
        "{} producers, {CONSUMERS} consumers, a queue of {CAPACITY}; seed {}",
        PRODUCERS.len(),
        args.seed
    );
    let r = run(args.seed, DELAYS).await?;
    print_summary(args.seed, &r);
    Ok(())
}

#[cfg(test)]
mod tests;
