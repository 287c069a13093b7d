//! Real threads, so every seed is a different interleaving as well as different delays. The
//! accounting is exact whatever the interleaving; timings only as lower bounds.
use super::*;
use report::lower_bound;
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
