//! # 08 · Producer/consumer: two crawlers feed three downloaders through a bounded queue
//!
//! Upstream's crawler: two producers find URLs (`page-1..4` and `product-1..4`, never really fetched),
//! three consumers take them from a queue of capacity 3, "download" each (100-300 ms here, upstream
//! 0.5-1.5 s) and "save" it (40-120 ms, upstream 0.2-0.6 s). Every delay is drawn from a seeded
//! generator, so `--seed` replays a run's timing exactly.
//!
//! What it shows:
//! - **Many consumers on one queue.** tokio's `mpsc` has one `Receiver`. The three consumers share it
//!   behind an `Arc<tokio::sync::Mutex<_>>` and hold the lock only while waiting for the next URL,
//!   never while downloading: whoever holds it is the one consumer asking the queue, and the next URL
//!   goes to it; the others wait their turn at the lock (tokio's mutex is fair, first come first
//!   served), then download in parallel. An MPMC channel (the `async-channel` crate) would do the same
//!   without the lock; this workspace avoids a crate for one file, and the lock makes the hand-off
//!   visible. A `std::sync::Mutex` would not do: its guard cannot be held across the `.await`.
//! - **Backpressure**: with 3 URLs waiting, a producer's `send(..).await` waits (logged).
//! - **Shutdown when all producers are done**, with no poison pill and no hard-coded count: each
//!   producer owns a clone of the `Sender` and drops it when it returns; when the last one is gone and
//!   the queue is empty, `recv()` returns `None` to every consumer in turn. Upstream's JS sends one
//!   `POISON_PILL` per consumer, its C++ has each consumer take exactly 6 items, both of which break
//!   when the counts change.
//! - **Accounting**: produced = consumed, each URL exactly once, and how many each consumer did (upstream
//!   JS prints the number of consumers as the number of items consumed). And that the three really
//!   shared the work: the most consumers busy at the same moment, measured from when each worked.
//!
//! Seed: "Asynchrony" > Challenges and Considerations (5. Handling Backpressure); Examples table row 8,
//! "Implement a producer-consumer pattern asynchronously". Upstream: `src/python/asynchrony/producer_consumer.py`,
//! `src/js/asynchrony/08_producer_consumer.js`, `src/cpp/asynchrony/async_producer_consumer.cpp`.
//! Threads twin: `examples-threads/src/bin/08_producer_consumer_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 08_producer_consumer` (about 1 s);
//! `-- --seed 7` for other delays (default 2024).
//!
//! The output will look similar to this (which consumer takes which URL depends on the seed):
//!
//! ```text
//!   0.000s  INFO [main] 2 producers, 3 consumers, a queue of 3; seed 2024
//!   0.081s  INFO [main] producer products: queued https://example.com/product-1
//!   0.081s  INFO [main] consumer-1: downloading https://example.com/product-1
//!   ...
//!   0.218s  INFO [main] producer pages: queue full (3 URLs), waiting to add https://example.com/page-3
//!   ...
//!   0.500s  INFO [main] producer pages: done, dropping its sender
//!   ...
//!   1.028s  INFO [main] consumer-3: queue closed and empty, stopping
//!
//! Summary
//!   produced 8 = consumed 8 (each URL exactly once)
//!   per consumer: consumer-1 3, consumer-2 2, consumer-3 3; at most 3 busy at once
//!   producers done at 499 ms; consumers stopped at 786 ms, 716 ms, 1028 ms (all after the producers)
//!   total 1028 ms (at least 727 ms: the download and save time, 2181 ms, shared by 3 consumers)
//! ```

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Mutex, mpsc};
use tokio::time::{Instant, sleep};
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
/// seed fixes every delay whatever order the tasks happen to run in).
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
        // on it. The guard is a temporary, dropped at the `;`.
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
    //! On the paused clock a run takes no real time, so the accounting is checked over many seeded
    //! delay patterns: different seeds hand the URLs to different consumers in different orders.
    use super::*;
    use std::collections::BTreeSet;

    const SEEDS: u64 = 200;

    async fn run_within_a_minute(seed: u64) -> CrawlRun {
        // A consumer that never learns the queue is closed would wait forever; on the paused clock
        // this deadline then fires at once and the test fails instead of hanging.
        tokio::time::timeout(Duration::from_secs(60), run(seed, DELAYS))
            .await
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

    #[tokio::test(start_paused = true)]
    async fn every_url_is_consumed_exactly_once_whatever_the_delays() {
        let mut splits = BTreeSet::new();
        for seed in 0..SEEDS {
            let r = run_within_a_minute(seed).await;
            assert_eq!(r.produced.len(), 8, "seed {seed}");
            assert_eq!(r.consumed_sorted(), expected_urls(), "seed {seed}: {r:?}");
            assert!(r.each_exactly_once(), "seed {seed}");
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

    #[tokio::test(start_paused = true)]
    async fn consumers_stop_only_after_every_producer_is_done() {
        for seed in 0..SEEDS {
            let r = run_within_a_minute(seed).await;
            for (i, c) in r.consumers.iter().enumerate() {
                assert!(
                    c.stopped_at >= r.producers_done,
                    "seed {seed}: consumer-{} stopped at {:?}, producers done at {:?}",
                    i + 1,
                    c.stopped_at,
                    r.producers_done
                );
            }
            // Nobody lingers either: the run ends when the last consumer stops.
            let last = r.consumers.iter().map(|c| c.stopped_at).max();
            assert_eq!(last, Some(r.total), "seed {seed}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn three_consumers_share_the_work() {
        for seed in 0..SEEDS {
            let r = run_within_a_minute(seed).await;
            let (work, least) = lower_bound(seed, DELAYS);
            assert!(r.total >= least, "seed {seed}");
            // Three consumers were working at the same moment: two never could be.
            assert_eq!(r.most_busy_at_once(), 3, "seed {seed}: {r:?}");
            // And the run beat the best two consumers could ever do (half the work each): with
            // two, `total >= work / 2` always holds. The worst of these seeds takes 0.48 of the work.
            assert!(
                r.total < work / 2,
                "seed {seed}: {:?} vs half the work {:?}",
                r.total,
                work / 2
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_seed_replays_the_same_run_exactly() {
        let a = run_within_a_minute(7).await;
        let b = run_within_a_minute(7).await;
        assert_eq!(a.total, b.total);
        for (x, y) in a.consumers.iter().zip(&b.consumers) {
            assert_eq!(x.consumed, y.consumed);
        }
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
