//! # 08 · Producer/consumer, with threads: two crawlers feed three downloaders through a bounded queue
//!
//! The same crawler as `examples-async/src/bin/08_producer_consumer/main.rs`: two producer threads
//! find `page-1..4` and `product-1..4`, three consumer threads take them from a queue of capacity 3,
//! "download" each (100-300 ms) and "save" it (40-120 ms). Every delay comes from a seeded generator
//! (`plan.rs`); `--seed` picks the delays (the interleaving of real threads still varies a little).
//!
//! What it shows:
//! - **Many consumers on one queue**: std's `mpsc` has one `Receiver`, crossbeam-channel's
//!   `bounded(3)` is a multi-producer multi-consumer queue: every consumer holds its own clone of the
//!   `Receiver`, and each message goes to exactly one of them. No lock to share.
//! - **Backpressure**: with 3 URLs waiting, a producer's `send` blocks (logged).
//! - **Shutdown when all producers are done**, with no poison pill and no hard-coded count: each
//!   producer owns a clone of the `Sender` and drops it when its thread returns; when the last one is
//!   gone and the queue is empty, every consumer's `for page in rx.iter()` loop ends.
//! - **Accounting**: produced = consumed, each URL exactly once, and how many each consumer did; the
//!   most consumers busy at the same moment (3: they really shared the work).
//!
//! What differs from the async twin: the async twin shares tokio's single `Receiver` behind a `Mutex`
//! held while waiting; here the channel itself has many receivers, so each consumer thread blocks in
//! `recv` on its own. A seed fixes the delays but not the OS scheduler (see `plan.rs`).
//!
//! Seed: "Asynchrony" > Challenges and Considerations (5. Handling Backpressure); "Asynchrony vs
//! Multithreading". Upstream: `src/cpp/asynchrony/async_producer_consumer.cpp`,
//! `src/python/asynchrony/producer_consumer.py`, `src/js/asynchrony/08_producer_consumer.js`.
//!
//! This file is the lesson. Seeded delays: `plan.rs`; accounting, summary: `report.rs`; proofs: `tests.rs`.
//! Run: `cargo run -p examples-threads --bin 08_producer_consumer_threads` (about 1 s; `-- --seed 7`).
//! Output of a real run: `docs/output/08_producer_consumer_threads.txt`.

mod plan;
// The async twin's summary file itself, not a copy: the two print the same figures alike.
#[path = "../../../../examples-async/src/bin/08_producer_consumer/report.rs"]
mod report;

use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::init_logging;
use crossbeam_channel::{Receiver, Sender};
use plan::{DELAYS, Delays, Page, plan};
use report::{ConsumerReport, CrawlRun, ProducerReport, print_summary};
use tracing::info;

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "08 · Producer/consumer with threads: 2 producer threads feed 3 consumer threads through \
             crossbeam-channel's bounded(3) (many receivers, no lock); backpressure, shutdown when \
             every producer is done (no poison pill), every URL consumed exactly once",
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
fn produce(
    name: &'static str,
    pages: Vec<Page>,
    tx: Sender<Page>,
    start: Instant,
) -> anyhow::Result<ProducerReport> {
    let mut produced = Vec::new();
    for page in pages {
        thread::sleep(page.find); // crawling until the next link turns up
        let url = page.url.clone();
        if tx.is_full() {
            info!("producer {name}: queue full ({CAPACITY} URLs), waiting to add {url}");
        }
        tx.send(page)
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
fn download(page: &Page) -> String {
    thread::sleep(page.download);
    format!("<html>{}</html>", page.url)
}

/// Pretends to store it; returns the bytes written.
fn save(page: &Page, html: &str) -> usize {
    thread::sleep(page.save);
    html.len()
}

/// Takes URLs until the queue is closed and empty.
fn consume(id: usize, queue: Receiver<Page>, start: Instant) -> ConsumerReport {
    let mut consumed = Vec::new();
    let mut busy = Vec::new();
    // `iter()` blocks for the next URL and ends when every sender is gone and the queue is empty.
    // Each URL goes to exactly one of the receivers.
    for page in queue.iter() {
        let took_it = start.elapsed();
        info!("consumer-{id}: downloading {}", page.url);
        let html = download(&page);
        let bytes = save(&page, &html);
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

fn run(seed: u64, delays: Delays) -> anyhow::Result<CrawlRun> {
    let start = Instant::now();
    let (tx, rx) = crossbeam_channel::bounded(CAPACITY);

    // Five OS threads, named, so the log shows who did what; each blocked one is parked by the OS.
    thread::scope(|s| {
        let mut consumers = Vec::new();
        for id in 1..=CONSUMERS {
            let rx = rx.clone();
            consumers.push(
                thread::Builder::new()
                    .name(format!("consumer-{id}"))
                    .spawn_scoped(s, move || consume(id, rx, start))?,
            );
        }
        let mut producers = Vec::new();
        for (&(name, _), pages) in PRODUCERS.iter().zip(plan(seed, delays)) {
            let tx = tx.clone();
            producers.push(
                thread::Builder::new()
                    .name(format!("producer-{name}"))
                    .spawn_scoped(s, move || produce(name, pages, tx, start))?,
            );
        }
        // This function's own sender must go too, or the queue would never close and the consumers
        // would wait forever. Its receiver goes as well: if every consumer died, a producer's `send`
        // then fails ("every consumer is gone") instead of blocking forever on a full queue.
        drop(tx);
        drop(rx);

        let mut produced = Vec::new();
        let mut producers_done = Duration::ZERO;
        for producer in producers {
            let report = producer
                .join()
                .map_err(|_| anyhow::anyhow!("a producer panicked"))??;
            produced.extend(report.produced);
            producers_done = producers_done.max(report.done_at);
        }
        let mut reports = Vec::new();
        for consumer in consumers {
            reports.push(
                consumer
                    .join()
                    .map_err(|_| anyhow::anyhow!("a consumer panicked"))?,
            );
        }
        Ok(CrawlRun {
            produced,
            consumers: reports,
            producers_done,
            total: start.elapsed(),
        })
    })
}

fn main() -> anyhow::Result<()> {
    let args: Args = common::parse_args();
    init_logging();

    info!(
        "{} producers, {CONSUMERS} consumers, a queue of {CAPACITY}; seed {}",
        PRODUCERS.len(),
        args.seed
    );
    let r = run(args.seed, DELAYS)?;
    print_summary(args.seed, &r);
    Ok(())
}

#[cfg(test)]
mod tests;
