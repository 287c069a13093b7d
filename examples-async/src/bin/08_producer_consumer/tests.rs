//! On the paused clock a run takes no real time, so the accounting is checked over many seeded
//! delay patterns: different seeds hand the URLs to different consumers in different orders.
use super::*;
use report::lower_bound;
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
