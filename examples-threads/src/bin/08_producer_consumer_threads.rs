//! # 08 · Producer/consumer, with threads: two crawlers feed three downloaders through a bounded queue
//!
//! The same crawler as `examples-async/src/bin/08_producer_consumer.rs`: two producer threads find
//! `page-1..4` and `product-1..4`, three consumer threads take them from a queue of capacity 3,
//! "download" each (100-300 ms) and "save" it (40-120 ms). Every delay comes from a seeded generator;
//! `--seed` picks the delays (the interleaving of real threads still varies a little from run to run).
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
//! What differs from the async twin, and why:
//! - The async twin shares tokio's single `Receiver` behind a `Mutex` held while waiting; here the
//!   channel itself has many receivers, so each consumer thread blocks in `recv` on its own.
//! - Five OS threads, named, so the log shows who did what; each blocked one is parked by the OS.
//! - A seed fixes the delays but not the OS scheduler, so the same seed may hand a URL to a different
//!   consumer on another run: the accounting must hold for every interleaving, and the tests run 100
//!   seeded patterns (with delays of a few milliseconds, to stay fast).
//!
//! Seed: "Asynchrony" > Challenges and Considerations (5. Handling Backpressure); "Asynchrony vs
//! Multithreading". Upstream: `src/cpp/asynchrony/async_producer_consumer.cpp`,
//! `src/python/asynchrony/producer_consumer.py`, `src/js/asynchrony/08_producer_consumer.js`.
//!
//! Run: `cargo run -p examples-threads --bin 08_producer_consumer_threads` (about 1 s);
//! `-- --seed 7` for other delays (default 2024).
//!
//! The output will look similar to this (which consumer takes which URL varies):
//!
//! ```text
//!   0.000s  INFO [main] 2 producers, 3 consumers, a queue of 3; seed 2024
//!   0.081s  INFO [producer-products] producer products: queued https://example.com/product-1
//!   0.081s  INFO [consumer-1] consumer-1: downloading https://example.com/product-1
//!   0.110s  INFO [consumer-2] consumer-2: downloading https://example.com/page-1
//!   ...
//!   0.497s  INFO [producer-pages] producer pages: done, dropping its sender
//!   ...
//!   1.024s  INFO [consumer-3] consumer-3: queue closed and empty, stopping
//!
//! Summary
//!   produced 8 = consumed 8 (each URL exactly once)
//!   per consumer: consumer-1 3, consumer-2 2, consumer-3 3; at most 3 busy at once
//!   producers done at 496 ms; consumers stopped at 780 ms, 710 ms, 1023 ms (all after the producers)
//!   total 1023 ms (at least 727 ms: the download and save time, 2181 ms, shared by 3 consumers)
//! ```

use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{fmt_duration, init_logging};
use crossbeam_channel::{Receiver, Sender};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
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

/// The ranges the random delays are drawn from, in milliseconds (inclusive).
#[derive(Debug, Clone, Copy)]
struct Delays {
    find: (u64, u64),
    download: (u64, u64),
    save: (u64, u64),
}

const DELAYS: Delays = Delays {
    find: (30, 120),
    download: (100, 300),
    save: (40, 120),
};

/// A URL found by a producer, with the delays it will cost (drawn when the plan is made, so that a
/// seed fixes every delay whatever order the threads happen to run in).
#[derive(Debug, Clone)]
struct Page {
    url: String,
    find: Duration,
    download: Duration,
    save: Duration,
}

/// What each producer will find, in order: `plan[p]` is producer `p`'s list.
fn plan(seed: u64, delays: Delays) -> Vec<Vec<Page>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw = |(low, high): (u64, u64)| Duration::from_millis(rng.random_range(low..=high));
    PRODUCERS
        .iter()
        .map(|(_, kind)| {
            (1..=URLS_PER_PRODUCER)
                .map(|i| Page {
                    url: format!("https://example.com/{kind}-{i}"),
                    find: draw(delays.find),
                    download: draw(delays.download),
                    save: draw(delays.save),
                })
                .collect()
        })
        .collect()
}

/// What one producer did.
#[derive(Debug)]
struct ProducerReport {
    produced: Vec<String>,
    done_at: Duration,
}

/// What one consumer did.
#[derive(Debug)]
struct ConsumerReport {
    consumed: Vec<String>,
    /// When it worked on each URL: from taking it to having saved it.
    busy: Vec<(Duration, Duration)>,
    stopped_at: Duration,
}

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

/// What a whole run measured.
#[derive(Debug)]
struct CrawlRun {
    /// Every URL produced, producer by producer.
    produced: Vec<String>,
    /// What each consumer consumed (index 0 is consumer-1).
    consumers: Vec<ConsumerReport>,
    /// When the last producer was done.
    producers_done: Duration,
    total: Duration,
}

fn run(seed: u64, delays: Delays) -> anyhow::Result<CrawlRun> {
    let start = Instant::now();
    let (tx, rx) = crossbeam_channel::bounded(CAPACITY);

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

impl CrawlRun {
    /// Every consumed URL, sorted.
    fn consumed_sorted(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .consumers
            .iter()
            .flat_map(|c| c.consumed.iter().cloned())
            .collect();
        all.sort();
        all
    }

    /// The most consumers that were working on a URL at the same moment: the proof that the work
    /// was shared (with `n` consumers it can never exceed `n`).
    fn most_busy_at_once(&self) -> usize {
        // Sweep the starts and ends in time order; at equal times, ends first (one consumer handing
        // over to another is not two at once).
        let mut events: Vec<(Duration, i32)> = self
            .consumers
            .iter()
            .flat_map(|c| c.busy.iter())
            .flat_map(|&(from, to)| [(from, 1), (to, -1)])
            .collect();
        events.sort();
        let (mut now, mut most) = (0i32, 0i32);
        for (_, step) in events {
            now += step;
            most = most.max(now);
        }
        usize::try_from(most).expect("never negative")
    }

    /// True when the consumed URLs are exactly the produced ones: none lost, none twice.
    fn each_exactly_once(&self) -> bool {
        let mut produced = self.produced.clone();
        produced.sort();
        produced == self.consumed_sorted()
    }
}

/// The least the run can take: the download and save time shared perfectly among the consumers.
fn lower_bound(seed: u64, delays: Delays) -> (Duration, Duration) {
    let work: Duration = plan(seed, delays)
        .iter()
        .flatten()
        .map(|p| p.download + p.save)
        .sum();
    (work, work / CONSUMERS as u32)
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

    let consumed: usize = r.consumers.iter().map(|c| c.consumed.len()).sum();
    let per_consumer: Vec<String> = r
        .consumers
        .iter()
        .enumerate()
        .map(|(i, c)| format!("consumer-{} {}", i + 1, c.consumed.len()))
        .collect();
    let stopped: Vec<String> = r
        .consumers
        .iter()
        .map(|c| fmt_duration(c.stopped_at))
        .collect();
    let all_after = r.consumers.iter().all(|c| c.stopped_at >= r.producers_done);
    let (work, least) = lower_bound(args.seed, DELAYS);

    common::out!();
    common::out!("Summary");
    common::out!(
        "  produced {} {} consumed {consumed} ({})",
        r.produced.len(),
        if r.produced.len() == consumed {
            "="
        } else {
            "!="
        },
        if r.each_exactly_once() {
            "each URL exactly once"
        } else {
            "NOT each URL exactly once"
        }
    );
    common::out!(
        "  per consumer: {}; at most {} busy at once",
        per_consumer.join(", "),
        r.most_busy_at_once()
    );
    common::out!(
        "  producers done at {}; consumers stopped at {} ({})",
        fmt_duration(r.producers_done),
        stopped.join(", "),
        if all_after {
            "all after the producers"
        } else {
            "SOME BEFORE THE PRODUCERS"
        }
    );
    common::out!(
        "  total {} (at least {}: the download and save time, {}, shared by {CONSUMERS} consumers)",
        fmt_duration(r.total),
        fmt_duration(least),
        fmt_duration(work)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real threads, so every seed is a different interleaving as well as different delays. The
    //! accounting is exact whatever the interleaving; timings only as lower bounds.
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::mpsc;

    const SEEDS: u64 = 100;

    /// Delays of a few milliseconds: 100 runs stay well under a few seconds.
    const FAST: Delays = Delays {
        find: (0, 2),
        download: (1, 3),
        save: (0, 2),
    };

    /// A consumer that never learns the queue is closed would wait forever; this turns that hang
    /// into a failure.
    fn run_within(seed: u64, delays: Delays) -> CrawlRun {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(run(seed, delays));
        });
        rx.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("seed {seed}: the run never ended"))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"))
    }

    fn expected_urls() -> Vec<String> {
        let mut urls: Vec<String> = (1..=4)
            .flat_map(|i| {
                [
                    format!("https://example.com/page-{i}"),
                    format!("https://example.com/product-{i}"),
                ]
            })
            .collect();
        urls.sort();
        urls
    }

    #[test]
    fn every_url_is_consumed_exactly_once_and_consumers_stop_after_the_producers() {
        let mut splits = BTreeSet::new();
        for seed in 0..SEEDS {
            let r = run_within(seed, FAST);
            assert_eq!(r.produced.len(), 8, "seed {seed}");
            assert_eq!(r.consumed_sorted(), expected_urls(), "seed {seed}: {r:?}");
            assert!(r.each_exactly_once(), "seed {seed}");
            for (i, c) in r.consumers.iter().enumerate() {
                // Both instants are read from one clock, the consumer's after it saw the queue
                // closed, which happens only after the last producer dropped its sender.
                assert!(
                    c.stopped_at >= r.producers_done,
                    "seed {seed}: consumer-{} stopped at {:?}, producers done at {:?}",
                    i + 1,
                    c.stopped_at,
                    r.producers_done
                );
            }
            splits.insert(
                r.consumers
                    .iter()
                    .map(|c| c.consumed.len())
                    .collect::<Vec<_>>(),
            );
        }
        // The seeds really do vary the interleaving: the work is split in several different ways.
        assert!(splits.len() >= 3, "{splits:?}");
    }

    #[test]
    fn three_consumers_share_the_work() {
        // The real delays, once: the consumers overlap, so the run takes far less than the work.
        let r = run_within(2024, DELAYS);
        let (work, least) = lower_bound(2024, DELAYS);
        assert!(r.total >= least, "{r:?}");
        // Three consumers were working at the same moment: two never could be. (Each works
        // 140-420 ms on a URL, so a late thread start on a busy machine cannot hide the overlap.)
        assert_eq!(r.most_busy_at_once(), 3, "{r:?}");
        assert!(r.total < work, "{:?} vs {work:?}", r.total);
        assert!(r.each_exactly_once());
    }

    #[test]
    fn help_names_the_example_and_bad_flags_are_errors_not_panics() {
        let help = Args::try_parse_from(["08", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(
            help.to_string().starts_with("08 · Producer/consumer"),
            "{help}"
        );
        assert_eq!(
            Args::try_parse_from(["08", "--bogus"])
                .expect_err("no such flag")
                .exit_code(),
            2
        );
        assert!(Args::try_parse_from(["08", "--seed", "abc"]).is_err());
        assert_eq!(
            Args::try_parse_from(["08", "--seed", "5"])
                .expect("valid")
                .seed,
            5
        );
    }
}
